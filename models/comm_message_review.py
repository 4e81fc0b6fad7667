"""Contact matching review: messages attached to no contact, or to a contact created from a
number, listed for an administrator to re-attach (wizard/comm_message_reattach.py)."""
from odoo import _, api, models
from odoo.exceptions import AccessError


class CommMessage(models.Model):
    _inherit = 'comm.message'

    @api.model
    def _contact_review_domain(self):
        """The messages to review, in this one place: attached to no contact (held for review
        included), or to a contact the queue created for an unknown sender (``comm_sender_number``)."""
        return ['|', ('partner_id', '=', False), ('partner_id.comm_sender_number', '!=', False)]

    def _check_review_access(self):
        if not self.env.user.has_group('comm_gateway.group_comm_manager'):
            raise AccessError(_('Only Communications administrators may review contact matching.'))

    @api.model
    def action_open_contact_review(self):
        """The list of the messages to review (menu Communications → Contact matching)."""
        self._check_review_access()
        return {
            'type': 'ir.actions.act_window', 'name': _('Contact matching review'), 'res_model': 'comm.message',
            'view_mode': 'list,form', 'domain': self._contact_review_domain(),
            'views': [(self.env.ref('comm_gateway.comm_message_view_list_review').id, 'list'), (False, 'form')],
            'context': {'search_default_group_by_number': 0},
        }

    def _comm_number(self):
        """The other party's number: the sender of an inbound message, the recipient of an outbound one."""
        self.ensure_one()
        return self.from_number if self.direction == 'in' else self.to_number
