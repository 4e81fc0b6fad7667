from odoo import fields, models

from .comm_provider import PUBLIC_BASE_URL_PARAM


class ResConfigSettings(models.TransientModel):
    _inherit = 'res.config.settings'

    comm_sms_provider_id = fields.Many2one(
        related='company_id.comm_sms_provider_id', readonly=False,
        domain="[('channel_sms', '=', True), ('company_id', '=', company_id)]")
    comm_whatsapp_provider_id = fields.Many2one(
        related='company_id.comm_whatsapp_provider_id', readonly=False,
        domain="[('channel_whatsapp', '=', True), ('company_id', '=', company_id)]")
    comm_voice_provider_id = fields.Many2one(
        related='company_id.comm_voice_provider_id', readonly=False,
        domain="[('channel_voice', '=', True), ('company_id', '=', company_id)]")
    comm_sms_route = fields.Char(related='company_id.comm_sms_route')
    comm_unknown_sender = fields.Selection(related='company_id.comm_unknown_sender', readonly=False)
    comm_public_base_url = fields.Char(
        'Public webhook base URL', config_parameter=PUBLIC_BASE_URL_PARAM, groups='base.group_system',
        help='The scheme and host providers use to reach this Odoo (e.g. https://odoo.example.com), '
             'as seen from outside any reverse proxy. Webhook signatures are checked against it. '
             'Empty: the web.base.url parameter.')
