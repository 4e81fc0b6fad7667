from odoo import _, api, fields, models


class CommMessageReattach(models.TransientModel):
    """Attach messages, and every other message from or to the same numbers, to the right contact."""
    _name = 'comm.message.reattach'
    _description = 'Re-attach messages to a contact'

    message_ids = fields.Many2many('comm.message', string='Messages', required=True)
    partner_id = fields.Many2one('res.partner', 'Contact', required=True)
    numbers = fields.Char(compute='_compute_numbers')
    count = fields.Integer('Messages moved', compute='_compute_numbers')

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if self.env.context.get('active_model') == 'comm.message' and 'message_ids' in fields_list:
            values['message_ids'] = [(6, 0, self.env.context.get('active_ids') or [])]
        return values

    @api.depends('message_ids')
    def _compute_numbers(self):
        for wizard in self:
            wizard.numbers = ', '.join(sorted(wizard._numbers()))
            wizard.count = len(wizard._same_numbers()) if wizard.message_ids else 0

    def _numbers(self):
        return {number for number in (m._comm_number() for m in self.message_ids) if number}

    def _same_numbers(self):
        """The chosen messages and every other from or to their numbers, in their companies."""
        numbers = list(self._numbers())
        companies = self.message_ids.company_id.ids
        return self.message_ids | self.env['comm.message'].sudo().search([
            ('company_id', 'in', companies),
            '|', '&', ('direction', '=', 'in'), ('from_number', 'in', numbers),
            '&', ('direction', '=', 'out'), ('to_number', 'in', numbers)])

    def action_apply(self):
        """Re-attach: the messages' contact, and their conversation (and its chatter messages)
        when it was the previous contact's."""
        self.ensure_one()
        self.env['comm.message']._check_review_access()
        self.message_ids.check_access('read')
        self.partner_id.check_access('read')
        messages = self._same_numbers().sudo()
        partner = self.partner_id
        moved = messages.filtered(lambda m: m.res_model == 'res.partner' and m.res_id and m.res_id != partner.id
                                  and m.res_id == m.partner_id.id)
        posts = moved.mail_message_id.filtered(lambda p: p.model == 'res.partner' and p.res_id != partner.id)
        posts.write({'res_id': partner.id})
        moved.write({'res_id': partner.id})
        messages.write({'partner_id': partner.id})
        partner._message_log(body=_('%(count)s message(s) from %(numbers)s attached to this contact.',
                                    count=len(messages), numbers=self.numbers))
        return {'type': 'ir.actions.client', 'tag': 'display_notification', 'params': {
            'title': _('Contact matching'), 'type': 'success',
            'message': _('%(count)s message(s) attached to %(partner)s.', count=len(messages),
                         partner=partner.display_name),
            'next': {'type': 'ir.actions.act_window_close'}}}
