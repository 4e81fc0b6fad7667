from . import test_beside_sms_twilio
