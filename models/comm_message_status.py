"""Status callbacks in batches: a campaign's statuses (two or three per SMS) applied a queue
batch at a time — the batch's messages read in one query, the ladder walked in Python, Odoo's
``sms.sms`` / ``sms.tracker`` / ``mail.notification`` mirrored once per batch.

The one-by-one path (``_receive_status`` / ``_apply_state``) walks the same ladder
(``_state_values``) and mirrors through the same :meth:`CommMessage._sync_sms_trackers`.
"""
import logging
from collections import defaultdict

from odoo import api, models

from .comm_message import CHATTER_CHANNELS, STATE_TO_SMS_STATE, UNDELIVERED_TO_DELIVERY_ERROR, _to_datetime

_logger = logging.getLogger(__name__)

# what the ladder and the mirror read of a message, fetched with the batch's one query
STATUS_FIELDS = ['provider_id', 'provider_message_id', 'state', 'channel', 'direction', 'sms_uuid',
                 'mail_message_id']


class CommMessage(models.Model):
    _inherit = 'comm.message'

    @api.model
    def _status_messages(self, pairs):
        """``{(account id, provider message id): comm.message}`` of the messages these statuses
        name by the id their send returned: one query per account (a batch has one, mostly).

        :param pairs: ``[(account, StatusUpdate)]``
        """
        by_account = defaultdict(set)
        for provider, status in pairs:
            by_account[provider.id].add(status.provider_id)
        found = {}
        for provider_id, provider_message_ids in by_account.items():
            messages = self.sudo().search_fetch([('provider_id', '=', provider_id),
                                                 ('provider_message_id', 'in', list(provider_message_ids))],
                                                STATUS_FIELDS)
            found.update(((provider_id, message.provider_message_id), message) for message in messages)
        return found

    @api.model
    def _apply_statuses(self, statuses, event_ids=None):
        """Apply a batch's statuses in the order given, never backwards (``_state_values``): one
        write per message that moved (one UPDATE when flushed), then Odoo's SMS tracking and the
        chatter's icons mirrored once for the whole batch.

        :param statuses: ``[(comm.message, StatusUpdate)]`` in arrival order
        :param event_ids: the webhook event of each status, when they come from the queue
        :returns: ``[(comm.message, StatusUpdate)]``, the statuses that moved their message, in
            order: the one place where a batch's applied statuses are known
        """
        current, values, applied = {}, defaultdict(dict), []
        for message, status in statuses:
            moved = message._state_values(current.get(message, message.state), status.status, status.error_code,
                                          status.error_message, status.failure_type, _to_datetime(status.timestamp))
            if moved:
                current[message] = status.status
                values[message].update(moved)
                applied.append((message, status))
        for message, message_values in values.items():
            message.write(message_values)
        final = {message: (status.status, status.failure_type, status.error_message) for message, status in applied}
        self._sync_sms_trackers(final)
        for message in final:
            if message.channel in CHATTER_CHANNELS and message.direction == 'out':
                message._sync_chatter_notification()
        return applied

    @api.model
    def _sync_sms_trackers(self, final):
        """Mirror our states on Odoo's own SMS tracking (``sms.sms``, ``sms.tracker`` and its
        ``mail.notification``), so the chatter's SMS icon shows the truth: one search per model
        and one write per group of like states; the chatters told once.

        :param final: ``{comm.message: (state, failure type, error message)}``, each message's
            state after the batch (Odoo's trackers never move back either: the last state is
            the one to mirror)
        """
        by_uuid = {message.sms_uuid: change for message, change in final.items() if message.sms_uuid}
        if not by_uuid:
            return
        sms_records = self.env['sms.sms'].sudo().search([('uuid', 'in', list(by_uuid))])
        sms_failures = dict(sms_records._fields['failure_type'].selection)

        def sms_failure(state, failure_type):
            if STATE_TO_SMS_STATE[state] != 'error':
                return False
            return failure_type if failure_type in sms_failures else 'unknown'

        sms_ids = defaultdict(list)     # one write per (state, failure type)
        for sms in sms_records:
            state, failure_type, _error = by_uuid[sms.uuid]
            sms_ids[STATE_TO_SMS_STATE[state], sms_failure(state, failure_type)].append(sms.id)
        for (sms_state, failure), ids in sms_ids.items():
            sms_records.browse(ids).write({'state': sms_state, 'failure_type': failure})
        trackers = self.env['sms.tracker'].sudo().with_context(sms_skip_msg_notification=True).search(
            [('sms_uuid', 'in', list(by_uuid))])
        notifications = trackers.mail_notification_id
        before = {notification: notification.notification_status for notification in notifications}
        groups = defaultdict(lambda: trackers.browse())
        for tracker in trackers:
            groups[by_uuid[tracker.sms_uuid]] |= tracker
        for (state, failure_type, error_message), group in groups.items():
            if state == 'undelivered':
                # the carrier could not deliver: a delivery error for Odoo (SMS Marketing counts a
                # number that does not exist as a bounce), not a sending error
                group.with_context(sms_known_failure_reason=error_message or False)._action_update_from_provider_error(
                    UNDELIVERED_TO_DELIVERY_ERROR.get(failure_type, 'not_delivered'))
                if error_message:   # the May 2025 layout drops the reason of a delivery error
                    group.mail_notification_id.filtered(lambda n: not n.failure_reason).write(
                        {'failure_reason': error_message})
            else:
                sms_state = STATE_TO_SMS_STATE[state]
                group._action_update_from_sms_state(sms_state, failure_type=sms_failure(state, failure_type),
                                                    failure_reason=error_message or False)
        moved = notifications.filtered(lambda n: n.notification_status != before[n])
        moved.mail_message_id._notify_message_notification_update()
        self._comm_live_statuses(notifications.mail_message_id)
