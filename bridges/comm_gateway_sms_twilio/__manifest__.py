{
    'name': "Communications Gateway: beside Odoo's Twilio SMS",
    'version': '18.0.1.0.0',
    'category': 'Marketing/SMS',
    'summary': "Odoo's own Twilio SMS (sms_twilio) and comm_gateway accounts side by side",
    'author': 'comm_gateway',
    'license': 'LGPL-3',
    'depends': ['comm_gateway', 'sms_twilio'],
    'auto_install': True,
    'installable': True,
}
