{
    'name': 'Communications Gateway (Twilio, Plivo, Vonage, WhatsApp)',
    'version': '18.0.1.0.0',
    'category': 'Marketing/SMS',
    'summary': 'SMS, MMS, WhatsApp and voice through Twilio, Plivo, Vonage and the Meta WhatsApp Cloud API',
    'author': 'comm_gateway',
    'license': 'LGPL-3',
    'depends': ['sms', 'mail', 'phone_validation', 'crm'],
    'external_dependencies': {
        'python': ['requests', 'phonenumbers', 'cryptography', 'twilio', 'plivo', 'vonage'],
    },
    'data': [
        'security/comm_security.xml',
        'security/ir.model.access.csv',
        'security/comm_message_media_security.xml',
        'security/comm_governance_security.xml',
        'data/ir_cron.xml',
        'views/comm_provider_views.xml',
        'views/comm_message_views.xml',
        'views/comm_call_views.xml',
        'views/res_partner_views.xml',
        'views/crm_lead_views.xml',
        'views/res_users_views.xml',
        'views/comm_webhook_event_views.xml',
        'wizard/comm_retention_preview_views.xml',
        'views/res_config_settings_views.xml',
        'views/comm_whatsapp_template_views.xml',
        'views/ir_actions_server_views.xml',
        'wizard/comm_whatsapp_composer_views.xml',

        'views/comm_menus.xml',
        'views/comm_governance_views.xml',
    ],
    'demo': [
        'data/comm_demo.xml',
        'data/comm_whatsapp_demo.xml',
    ],
    'assets': {
        'web.assets_backend': [
            'comm_gateway/static/src/**/*',
        ],
        'web.assets_tests': [
            'comm_gateway/static/tests/tours/**/*',
        ],
    },
    'installable': True,
    'application': False,
}
