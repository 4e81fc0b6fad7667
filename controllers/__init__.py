from . import media
from . import webhook
