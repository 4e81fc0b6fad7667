"""Exactly once: an attempt left by a worker that died during the provider call is reconciled
by asking the provider (``find_sent``), never resent blindly."""
import logging

from odoo import _, fields, models

from ..providers import ProviderError
from .comm_message import MAX_SEND_ATTEMPTS

_logger = logging.getLogger(__name__)


class CommMessage(models.Model):
    _inherit = 'comm.message'

    def _reconcile_attempt(self):
        """Found at the provider: recorded as sent. Confirmed absent: queued again. Unknown:
        failed with a note. The provider unreachable: asked again at the next run."""
        self.ensure_one()
        try:
            # claimed, never handed to the provider (models/comm_dispatch.py): it cannot have gone out
            found = False if self.attempt_unstarted else self._find_interrupted_send()
        except ProviderError as exc:
            if exc.retryable:
                _logger.warning('comm.message %s: the provider cannot be asked about an interrupted send (%s); '
                                'will ask again', self.id, exc.code)
                return
            _logger.warning('comm.message %s: the provider refused the lookup of an interrupted send (%s)',
                            self.id, exc.code)
            found = None
        if found:
            _logger.info('comm.message %s: the interrupted send had reached the provider (%s)',
                         self.id, found.provider_id)
            self._apply_send_result(found)
        elif found is False and self.attempts >= MAX_SEND_ATTEMPTS:
            # a send that kills its worker every time (poison) must not loop forever
            self._fail(ProviderError(_(
                'The send was interrupted %(count)s times (the worker stopped: killed, out of memory or over '
                'its time limit); not tried again.', count=self.attempts), code='interrupted'))
        elif found is False:   # the provider confirms it never got it: safe to send
            _logger.info('comm.message %s: the interrupted send never reached the provider; queued again', self.id)
            self.write({'dispatch_state': 'todo', 'next_try_at': fields.Datetime.now(), 'attempt_unstarted': False})
            self.flush_recordset(['dispatch_state', 'next_try_at', 'attempt_unstarted'])   # claimed by SQL in this very run
        else:
            self._fail(ProviderError(_(
                'The send was interrupted and %(provider)s cannot tell whether it went out; '
                'not resent, to avoid a duplicate.', provider=self.provider_id.name), code='uncertain'))

    def _find_interrupted_send(self):
        """Ask the provider whether this interrupted send reached it (see ``find_sent``)."""
        # ids our other messages to this number got since the attempt are not this one
        others = self.sudo().search([
            ('provider_id', '=', self.provider_id.id), ('to_number', '=', self.to_number), ('id', '!=', self.id),
            ('provider_message_id', '!=', False), ('write_date', '>=', self.attempt_at)])
        return self.provider_id._get_adapter().find_sent(
            self._to_outbound(), self.attempt_at, exclude=frozenset(others.mapped('provider_message_id')))
