from . import sms_twilio_account_manage
