from . import fields_secret
from . import comm_provider
from . import res_company
from . import res_config_settings
