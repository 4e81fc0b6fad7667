{
    'name': 'comm_gateway benchmark baseline (bench only, never installed elsewhere)',
    'summary': 'A bare signed-insert webhook route: the floor Odoo itself sets for any webhook',
    'version': '18.0.1.0.0',
    'depends': ['base'],
    'license': 'LGPL-3',
    'installable': True,
}
