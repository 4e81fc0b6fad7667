from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError


class CommAgentPhone(models.TransientModel):
    """Asked at the first click-to-call of a user without a phone for calls: the number is saved
    on the user (their preferences show it too) and the call goes on."""
    _name = 'comm.agent.phone'
    _description = 'Your phone for calls'

    phone = fields.Char('Your phone for calls', required=True,
                        default=lambda self: self.env.user.comm_agent_phone)
    number = fields.Char('Number to call', required=True, readonly=True)
    res_model = fields.Char()
    res_id = fields.Integer()

    @api.model
    def _ask(self, number, res_model, res_id):
        return {
            'type': 'ir.actions.act_window', 'res_model': self._name, 'view_mode': 'form',
            'views': [[False, 'form']], 'target': 'new', 'name': _('Your phone for calls'),
            'context': {'default_number': number, 'default_res_model': res_model or False,
                        'default_res_id': res_id or 0},
        }

    def action_save_and_call(self):
        """Save the phone on the current user, then place the call (``comm.call.action_click_to_call``)."""
        self.ensure_one()
        if not self.env.user.has_group('comm_gateway.group_comm_user'):
            raise AccessError(_('Only Communications users can place calls.'))
        self.env.user.comm_agent_phone = self.phone
        if not self.env.user._comm_agent_number():
            raise UserError(_('%(phone)s is not a phone number: write it with its country code, e.g. '
                              '+32 470 12 34 56.', phone=self.phone))
        return self.env['comm.call'].action_click_to_call(self.number, self.res_model, self.res_id)
