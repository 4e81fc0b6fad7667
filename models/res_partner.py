from odoo import api, fields, models


class ResPartner(models.Model):
    _inherit = 'res.partner'

    # Inbound messages are matched on these two E.164 columns, through an index, never by a scan.
    # phone_sanitized (mail.thread.phone) holds the mobile, or the phone when there is no mobile;
    # comm_phone_sanitized always holds the phone, so a reply from either number finds the contact.
    phone_sanitized = fields.Char(index='btree_not_null')
    comm_phone_sanitized = fields.Char(
        'Sanitized phone', compute='_compute_comm_phone_sanitized', compute_sudo=True, store=True,
        index='btree_not_null')
    # The "Communications" tab and its smart buttons
    comm_history_ids = fields.One2many('comm.history', 'partner_id', string='Messages and calls',
                                       groups='comm_gateway.group_comm_user')
    comm_message_count = fields.Integer('SMS and WhatsApp messages', compute='_compute_comm_counts',
                                        groups='comm_gateway.group_comm_user')
    comm_call_count = fields.Integer('Calls', compute='_compute_comm_counts', groups='comm_gateway.group_comm_user')

    def _compute_comm_counts(self):
        domain = [('partner_id', 'in', self._origin.ids)]
        messages = dict(self.env['comm.message']._read_group(domain, ['partner_id'], ['__count']))
        calls = dict(self.env['comm.call']._read_group(domain, ['partner_id'], ['__count']))
        for partner in self:
            partner.comm_message_count = messages.get(partner._origin, 0)
            partner.comm_call_count = calls.get(partner._origin, 0)

    def action_view_comm_messages(self):
        return self._comm_action('comm_gateway.action_comm_message')

    def action_view_comm_calls(self):
        return self._comm_action('comm_gateway.action_comm_call')

    def _comm_action(self, xmlid):
        self.ensure_one()
        action = self.env['ir.actions.act_window']._for_xml_id(xmlid)
        action.update(domain=[('partner_id', '=', self.id)], context={'default_partner_id': self.id})
        return action

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
