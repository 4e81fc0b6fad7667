from odoo import api, fields, models


class ResPartner(models.Model):
    _name = 'res.partner'
    _inherit = ['res.partner', 'comm.history.mixin']
    _comm_link_field = 'partner_id'

    # Inbound messages are matched on these two E.164 columns, through an index, never by a scan.
    # phone_sanitized (mail.thread.phone) holds the mobile, or the phone when there is no mobile;
    # comm_phone_sanitized always holds the phone, so a reply from either number finds the contact.
    phone_sanitized = fields.Char(index='btree_not_null')
    comm_phone_sanitized = fields.Char(
        'Sanitized phone', compute='_compute_comm_phone_sanitized', compute_sudo=True, store=True,
        index='btree_not_null')
    # The "Communications" tab and smart buttons list every message and call of the contact,
    # wherever it was made from.
    comm_history_ids = fields.One2many('comm.history', 'partner_id')

    @api.depends('phone', 'country_id')
    def _compute_comm_phone_sanitized(self):
        for partner in self:
            partner.comm_phone_sanitized = partner._phone_format(fname='phone') or False

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
        domain = ['|', ('phone_sanitized', 'in', numbers), ('comm_phone_sanitized', 'in', numbers)]
        if company:
            domain = ['&', ('company_id', 'in', [False, company.id])] + domain
        wanted, found = set(numbers), {}
        partners = self.sudo().with_context(active_test=True).search_fetch(
            domain, ['phone_sanitized', 'comm_phone_sanitized'], order='id')
        for partner in partners:
            for number in (partner.phone_sanitized, partner.comm_phone_sanitized):
                if number in wanted:
                    found.setdefault(number, partner)
        return found
