{
    'name': 'Communications Gateway (Twilio, Plivo, Vonage, WhatsApp)',
    'version': '18.0.1.0.0',
    'category': 'Marketing/SMS',
    'summary': 'SMS, MMS, WhatsApp and voice through Twilio, Plivo, Vonage and the Meta WhatsApp Cloud API',
    'author': 'comm_gateway',
    'license': 'LGPL-3',
    'depends': ['sms', 'mail', 'phone_validation'],
    'external_dependencies': {
        'python': ['requests', 'phonenumbers', 'cryptography', 'twilio', 'plivo', 'vonage'],
    },
    'data': [],
    'installable': True,
    'application': False,
}
