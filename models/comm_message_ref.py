"""Statuses find their message by more than the provider id the send returned.

* A long SMS split by the provider (Vonage's SMS API) gets one id per part, and a receipt per part:
  every part id is kept here.
* A send interrupted by a crash has no provider id at all; providers without a lookup (Meta,
  Vonage) echo our own reference (``client_ref``: Meta ``biz_opaque_callback_data``, Vonage
  ``client-ref`` / ``client_ref``) in their statuses: the status names the message, which was
  sent after all.
"""
import logging

from odoo import _, api, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)


class CommMessageRef(models.Model):
    _name = 'comm.message.ref'
    _description = 'Further provider id of a message (parts of a long SMS)'
    _log_access = False

    provider_id = fields.Many2one('comm.provider', required=True, ondelete='cascade')
    ref = fields.Char('Provider id', required=True)
    message_id = fields.Many2one('comm.message', required=True, ondelete='cascade', index=True)

    _sql_constraints = [('provider_ref_unique', 'unique(provider_id, ref)', 'A provider id names one message.')]

    @api.model
    def _remember(self, message, refs):
        refs = [ref for ref in refs or () if ref and ref != message.provider_message_id]
        if not refs:
            return
        self.env.cr.execute(SQL(
            """INSERT INTO comm_message_ref (provider_id, ref, message_id)
               SELECT %s, unnest(%s::varchar[]), %s ON CONFLICT DO NOTHING""",
            message.provider_id.id, refs, message.id))

    @api.model
    def _find(self, provider, status):
        """The message a status names by a further part id, else by our reference (then the
        message learns the provider's id: an interrupted send that had gone out)."""
        Message = self.env['comm.message'].sudo()
        self.env.cr.execute(SQL("SELECT message_id FROM comm_message_ref WHERE provider_id = %s AND ref = %s",
                                provider.id, status.provider_id))
        if row := self.env.cr.fetchone():
            return Message.browse(row[0])
        if not status.client_ref:
            return Message
        message = Message.search([('provider_id', '=', provider.id), ('direction', '=', 'out'),
                                  ('client_ref', '=', status.client_ref)], limit=1)
        if not message:
            return Message
        if message.provider_message_id:
            self._remember(message, [status.provider_id])       # another part of the same send
        else:
            message._adopt_provider_id(status.provider_id)
        return message


class CommMessage(models.Model):
    _inherit = 'comm.message'

    def _adopt_provider_id(self, provider_id):
        """A status names this message by our reference: the send went out (an interrupted
        attempt, perhaps failed as uncertain): it takes the provider's id and its statuses."""
        self.ensure_one()
        values = {'provider_message_id': provider_id, 'dispatch_state': 'done', 'next_try_at': False}
        uncertain = self.state == 'failed' and self.error_code == 'uncertain'
        if uncertain:
            values.update(state='queued', error_code=False, error_message=False, failure_type=False,
                          failed_at=False)
        self.write(values)
        _logger.info('comm.message %s: a status names it by our reference: sent as %s', self.id, provider_id)
        if uncertain:
            self._log_on_document(self.mail_message_id, _(
                'The interrupted send to %(number)s had reached the provider after all.', number=self.to_number))
