{
    'name': 'Communications Gateway: SMS Marketing',
    'version': '18.0.1.0.0',
    'category': 'Marketing/SMS',
    'summary': "SMS Marketing's test SMS through the company's comm_gateway account",
    'author': 'comm_gateway',
    'license': 'LGPL-3',
    'depends': ['comm_gateway', 'mass_mailing_sms'],
    'auto_install': True,
    'installable': True,
}
