from . import comm_whatsapp_composer
from . import sms_composer
from . import comm_send_approval
from . import comm_number_warning
