from odoo import api, fields, models
from odoo.tools import SQL, ormcache

from ..tools.sms_api import CommSmsApi


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
    comm_sms_route = fields.Char(
        'SMS go through', compute='_compute_comm_sms_route',
        help="Which way this company's SMS leave Odoo today: one of our accounts, Odoo's own Twilio, or IAP.")

    @api.depends('comm_sms_provider_id.active', 'comm_sms_provider_id.channel_sms')
    @api.depends_context('uid')
    def _compute_comm_sms_route(self):
        accounts = self._comm_sms_accounts()
        for company in self:
            if company.id in accounts:
                company.comm_sms_route = self.env._('The account %(account)s (this module)',
                                                    account=company.sudo().comm_sms_provider_id.display_name)
            elif company._fields.get('sms_provider') and company.sms_provider == 'twilio':
                company.comm_sms_route = self.env._("Odoo's own Twilio connection (SMS: Twilio)")
            else:
                company.comm_sms_route = self.env._('Odoo IAP (SMS credits bought from Odoo)')

    def write(self, vals):
        result = super().write(vals)
        if 'comm_sms_provider_id' in vals:
            self.env.registry.clear_cache()
        return result

    @api.model
    @ormcache()
    def _comm_sms_accounts(self):
        """``{company id: account id}`` of the companies whose default SMS account is an active
        account of ours that serves SMS: those companies' SMS go through it, and only them."""
        self.env['comm.provider'].flush_model(['active', 'channel_sms'])
        self.flush_model(['comm_sms_provider_id'])
        self.env.cr.execute(SQL(
            "SELECT c.id, p.id FROM res_company c JOIN comm_provider p ON p.id = c.comm_sms_provider_id "
            "WHERE p.active AND p.channel_sms"))
        return dict(self.env.cr.fetchall())

    def _get_sms_api_class(self):
        """Current 18.0 layout: Odoo's SMS API of the company (no such hook on the May layout)."""
        self.ensure_one()
        if self.id in self._comm_sms_accounts():
            return CommSmsApi
        return super()._get_sms_api_class()
