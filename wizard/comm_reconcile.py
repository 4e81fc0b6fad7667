"""Reconciliation report: the provider's message list for a period compared with Odoo's records,
with one-click fixes (import the missing inbound messages, refresh the statuses)."""
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..models.comm_message import STATES, _to_datetime
from ..providers import ProviderError
from ..providers.base import InboundMessage

LIST_LIMIT = 1000
KINDS = [('missing_odoo', 'At the provider, unknown in Odoo'), ('missing_provider', 'In Odoo, unknown at the provider'),
         ('mismatch', 'Status differs')]


class CommReconcileWizard(models.TransientModel):
    _name = 'comm.reconcile.wizard'
    _description = 'Reconciliation with a provider'

    provider_id = fields.Many2one('comm.provider', 'Account', required=True,
                                  domain=lambda self: self.env['comm.provider']._able_domain('message_list'))
    date_from = fields.Datetime('From', required=True, default=lambda self: fields.Datetime.now() - timedelta(days=1))
    date_to = fields.Datetime('To', required=True, default=fields.Datetime.now)
    line_ids = fields.One2many('comm.reconcile.line', 'wizard_id', 'Differences')
    compared = fields.Boolean(readonly=True)
    complete = fields.Boolean(readonly=True, help='The provider listed every message of the period')
    listed_count = fields.Integer('Listed by the provider', readonly=True)
    known_count = fields.Integer('Recorded in Odoo', readonly=True)

    def _check_rights(self):
        self.env['comm.message']._check_review_access()
        self.provider_id.check_access('read')

    def _reopen(self):
        return {'type': 'ir.actions.act_window', 'res_model': self._name, 'res_id': self.id, 'view_mode': 'form',
                'target': 'new', 'name': _('Reconciliation')}

    def action_compare(self):
        """List the account's messages of the period at the provider and compare them with ours."""
        self.ensure_one()
        self._check_rights()
        provider = self.provider_id.sudo()
        if not provider.filtered_domain(provider._able_domain('message_list')):
            raise UserError(_('%(provider)s has no list of messages to compare with (Meta has none; Vonage '
                              'only when the account uses its Reports API, a paid product).', provider=provider.name))
        try:
            listed, complete = provider._get_adapter().list_messages(self.date_from, self.date_to, limit=LIST_LIMIT)
        except ProviderError as exc:
            raise UserError(_('%(provider)s could not list the messages: %(error)s', provider=provider.name,
                              error=exc.message)) from None
        known = self._known(provider, [item.provider_id for item in listed])
        ours = self._ours(provider)
        lines = []
        for item in listed:
            message = known.get(item.provider_id)
            if not message:
                lines.append(self._line('missing_odoo', item))
            elif message.direction == 'out' and item.status != message.state:
                lines.append(self._line('mismatch', item, message))
        if complete:     # else absence from the list proves nothing
            seen = {message.id for message in known.values()}
            lines += [{'kind': 'missing_provider', 'message_id': m.id, 'direction': m.direction,
                       'provider_message_id': m.provider_message_id, 'odoo_state': m.state,
                       'number': m._comm_number()}
                      for m in ours if m.id not in seen]
        self.line_ids.unlink()
        self.write({'line_ids': [fields.Command.create(values) for values in lines], 'compared': True,
                    'complete': complete, 'listed_count': len(listed), 'known_count': len(ours)})
        return self._reopen()

    @api.model
    def _known(self, provider, provider_ids):
        """``{provider id: comm.message}`` of the listed ids Odoo knows, in whichever period."""
        Message = self.env['comm.message'].sudo()
        messages = Message.search([('provider_id', '=', provider.id), ('provider_message_id', 'in', provider_ids)])
        known = {m.provider_message_id: m for m in messages}
        refs = self.env['comm.message.ref'].sudo().search([('provider_id', '=', provider.id), ('ref', 'in', provider_ids)])
        known.update({ref.ref: ref.message_id for ref in refs})
        return known

    def _ours(self, provider):
        """Odoo's messages of the account and period that the provider should list: received, or
        accepted by it (sent then)."""
        return self.env['comm.message'].sudo().search([
            ('provider_id', '=', provider.id), ('provider_message_id', '!=', False),
            '|', '&', ('direction', '=', 'in'), '&', ('received_at', '>=', self.date_from), ('received_at', '<=', self.date_to),
            '&', ('direction', '=', 'out'), '&', ('attempt_at', '>=', self.date_from), ('attempt_at', '<=', self.date_to)])

    @staticmethod
    def _line(kind, item, message=None):
        return {
            'kind': kind, 'direction': item.direction, 'provider_message_id': item.provider_id,
            'provider_state': item.status, 'provider_status': item.provider_status, 'error_code': item.error_code,
            'number': item.sender if item.direction == 'in' else item.recipient, 'recipient': item.recipient,
            'channel': item.channel, 'body': item.body,
            'at': _to_datetime(item.timestamp),
            'message_id': message.id if message else False, 'odoo_state': message.state if message else False,
        }

    def action_import_missing(self):
        """Record the inbound messages Odoo missed, as their webhook would have (contact, chatter)."""
        self.ensure_one()
        self._check_rights()
        lines = self.line_ids.filtered(lambda l: l.kind == 'missing_odoo' and l.direction == 'in')
        if not lines:
            raise UserError(_('No inbound message is missing from Odoo.'))
        provider = self.provider_id.sudo()
        inbounds = [InboundMessage(
            provider_id=line.provider_message_id, sender=line.number or '', recipient=line.recipient or '',
            body=line.body or '', channel=line.channel or 'sms',
            timestamp=line.at.timestamp() if line.at else None) for line in lines]
        self.env['comm.message'].sudo()._receive_inbound(provider, inbounds, provider._get_adapter())
        return self.action_compare()

    def action_refresh_statuses(self):
        """Ask the provider again for the status of each message whose status differs."""
        self.ensure_one()
        self._check_rights()
        messages = self.line_ids.filtered(lambda l: l.kind == 'mismatch').message_id.sudo()
        if not messages:
            raise UserError(_('No status differs.'))
        for message in messages:
            message._poll_status()
        return self.action_compare()


class CommReconcileLine(models.TransientModel):
    _name = 'comm.reconcile.line'
    _description = 'Difference between a provider and Odoo'
    _order = 'kind, at desc, id'

    wizard_id = fields.Many2one('comm.reconcile.wizard', required=True, ondelete='cascade')
    kind = fields.Selection(KINDS, required=True)
    direction = fields.Selection([('in', 'Inbound'), ('out', 'Outbound')])
    channel = fields.Char()
    provider_message_id = fields.Char('Provider id')
    number = fields.Char(help='The other party: the sender of an inbound message, the recipient of an outbound one')
    recipient = fields.Char()
    at = fields.Datetime('At the provider')
    body = fields.Text()
    provider_state = fields.Selection(STATES, 'Provider status')
    provider_status = fields.Char("Provider's word")
    error_code = fields.Char()
    message_id = fields.Many2one('comm.message', 'Odoo message')
    odoo_state = fields.Selection(STATES, 'Odoo status')
