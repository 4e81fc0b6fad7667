from odoo import api, fields, models

from ..providers.base import to_e164


class ResPartner(models.Model):
    _name = 'res.partner'
    _inherit = ['res.partner', 'comm.history.mixin']
    _comm_link_field = 'partner_id'

    # Inbound messages are matched on these E.164 columns, through an index, never by a scan.
    # phone_sanitized (mail.thread.phone) holds the mobile, or the phone when there is no mobile;
    # comm_phone_sanitized always holds the phone, so a reply from either number finds the contact.
    # Odoo leaves phone_sanitized empty for numbers libphonenumber calls possible but not valid
    # (test ranges, newly allocated ones): ours keep them (comm_mobile_sanitized for the mobile).
    phone_sanitized = fields.Char(index='btree_not_null')
    comm_phone_sanitized = fields.Char(
        'Sanitized phone', compute='_compute_comm_phone_sanitized', compute_sudo=True, store=True,
        index='btree_not_null')
    comm_mobile_sanitized = fields.Char(
        'Sanitized mobile', compute='_compute_comm_phone_sanitized', compute_sudo=True, store=True,
        index='btree_not_null')
    # The "Communications" tab and smart buttons list every message and call of the contact,
    # wherever it was made from.
    comm_history_ids = fields.One2many('comm.history', 'partner_id')

    @api.depends('phone', 'mobile', 'country_id')
    def _compute_comm_phone_sanitized(self):
        for partner in self:
            partner.comm_phone_sanitized = partner._comm_e164('phone')
            partner.comm_mobile_sanitized = partner._comm_e164('mobile')

    def _comm_e164(self, fname):
        """The number of field ``fname`` in E.164: as Odoo formats it, else (possible but not
        valid numbers) as we read provider numbers, in the contact's country."""
        number = self[fname]
        if not number:
            return False
        country = self.country_id or self.env.company.country_id
        return self._phone_format(fname=fname) or to_e164(number, country.code, national=True) or False

    @api.model
    def _comm_find_by_number(self, number, company=None):
        """The contact whose mobile or phone is ``number`` (E.164); the oldest on ties."""
        return self._comm_find_by_numbers([number], company).get(number, self.browse())

    @api.model
    def _comm_find_by_numbers(self, numbers, company=None):
        """``{number: contact}`` for the E.164 ``numbers`` that match one (the oldest on ties), in
        one indexed search."""
        numbers = list({number for number in numbers if number})
        if not numbers:
            return {}
        domain = ['|', '|', ('phone_sanitized', 'in', numbers), ('comm_phone_sanitized', 'in', numbers),
                  ('comm_mobile_sanitized', 'in', numbers)]
        if company:
            domain = ['&', ('company_id', 'in', [False, company.id])] + domain
        wanted, found = set(numbers), {}
        partners = self.sudo().with_context(active_test=True).search_fetch(
            domain, ['phone_sanitized', 'comm_phone_sanitized', 'comm_mobile_sanitized'], order='id')
        for partner in partners:
            for number in (partner.phone_sanitized, partner.comm_phone_sanitized, partner.comm_mobile_sanitized):
                if number in wanted:
                    found.setdefault(number, partner)
        return found
