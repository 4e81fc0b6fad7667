from . import fields_secret
from . import comm_provider
from . import comm_webhook_event
from . import comm_message
from . import res_company
from . import res_config_settings
from . import res_partner
from . import sms_sms
