from . import comm_whatsapp_composer
from . import sms_composer
from . import comm_reconcile
from . import comm_message_reattach
from . import comm_whatsapp_composer_mass
from . import comm_agent_phone
from . import comm_send_approval
from . import comm_number_warning
