from odoo import fields, models


class ResCompany(models.Model):
    _inherit = 'res.company'

    comm_sms_provider_id = fields.Many2one(
        'comm.provider', string='Default SMS account', domain="[('channel_sms', '=', True)]")
    comm_whatsapp_provider_id = fields.Many2one(
        'comm.provider', string='Default WhatsApp account', domain="[('channel_whatsapp', '=', True)]")
    comm_voice_provider_id = fields.Many2one(
        'comm.provider', string='Default voice account', domain="[('channel_voice', '=', True)]")
    comm_unknown_sender = fields.Selection(
        [('create', 'Create a contact'), ('ignore', 'Keep the message unattached')],
        string='Messages from unknown numbers', default='create', required=True)
