from . import res_company
from . import sms_sms
