from odoo import api, fields, models

from .comm_provider import PUBLIC_BASE_URL_PARAM, public_url_warning


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
    comm_keep_sms_days = fields.Integer(related='company_id.comm_keep_sms_days', readonly=False)
    comm_keep_whatsapp_days = fields.Integer(related='company_id.comm_keep_whatsapp_days', readonly=False)
    comm_keep_media_days = fields.Integer(related='company_id.comm_keep_media_days', readonly=False)
    comm_keep_recording_days = fields.Integer(related='company_id.comm_keep_recording_days', readonly=False)
    comm_keep_payload_days = fields.Integer(related='company_id.comm_keep_payload_days', readonly=False)
    comm_approval_threshold = fields.Integer(related='company_id.comm_approval_threshold', readonly=False)
    comm_public_base_url = fields.Char(
        'Public webhook base URL', config_parameter=PUBLIC_BASE_URL_PARAM, groups='base.group_system',
        help='The scheme and host providers use to reach this Odoo (e.g. https://odoo.example.com), '
             'as seen from outside any reverse proxy. Webhook signatures are checked against it. '
             'Empty: the web.base.url parameter.')
    comm_public_base_url_warning = fields.Char(compute='_compute_comm_public_base_url_warning')

    @api.depends('comm_public_base_url')
    def _compute_comm_public_base_url_warning(self):
        web_base = self.env['ir.config_parameter'].sudo().get_param('web.base.url') or ''
        for settings in self:
            base = (settings.sudo().comm_public_base_url or web_base).rstrip('/')
            settings.comm_public_base_url_warning = public_url_warning(self.env, base)
