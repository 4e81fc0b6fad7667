from . import comm_whatsapp_composer
from . import sms_composer
