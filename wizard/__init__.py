from . import comm_whatsapp_composer
