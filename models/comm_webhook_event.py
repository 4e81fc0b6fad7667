import json
import logging
import random
import threading
import time
from datetime import datetime, timedelta, timezone

import psycopg2.errors

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..providers import ProviderError
from ..providers.base import WebhookRequest

_logger = logging.getLogger(__name__)

PURPOSES = [('inbound', 'Inbound message'), ('status', 'Status callback'), ('voice', 'Voice answer'),
            ('voice_status', 'Call event')]
# Only these headers are kept with an event: what signatures and parsing need, nothing else.
KEPT_HEADERS = ('content-type', 'user-agent', 'x-twilio-signature', 'x-twilio-webhooks-signature-settings',
                'x-plivo-signature-v2', 'x-plivo-signature-v2-nonce', 'x-plivo-signature-v3',
                'x-plivo-signature-v3-nonce', 'x-plivo-signature-ma-v2', 'x-plivo-signature-ma-v3',
                'authorization', 'x-hub-signature-256', 'x-sandbox-signature', 'i-twilio-idempotency-token')
MAX_ATTEMPTS_PARAM = 'comm_gateway.webhook_max_attempts'
DEFAULT_MAX_ATTEMPTS = 8
STALE_AFTER = timedelta(minutes=10)      # a 'processing' event older than this lost its worker


def claim_ids(env, query, attempts=3):
    """Run a claiming ``UPDATE … WHERE id IN (SELECT … FOR NO KEY UPDATE SKIP LOCKED) RETURNING id``
    in a fresh transaction and commit it; sorted ids of the claimed rows.

    Under REPEATABLE READ, a row another worker claimed and committed after our snapshot was
    taken raises a serialization failure instead of being skipped: start again with a new
    snapshot (nothing else is in the transaction), and give up quietly after a few tries — the
    next run will claim what is left.
    """
    testing = getattr(threading.current_thread(), 'testing', False)
    for attempt in range(attempts):
        if not testing:
            env.cr.commit()   # a fresh snapshot for the claim
        try:
            env.cr.execute(query, log_exceptions=False)
            ids = sorted(row[0] for row in env.cr.fetchall())
        except psycopg2.errors.SerializationFailure:
            if testing:
                raise
            env.cr.rollback()
            time.sleep(0.05 * (attempt + 1) * random.random())
            continue
        if not testing:
            env.cr.commit()
        return ids
    return []


def _utcnow():
    """Now, to the microsecond (fields.Datetime.now() truncates to the second)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class RetryLater(Exception):
    """Processing cannot finish yet (e.g. a status for a message not committed yet): try again."""


class CommWebhookEvent(models.Model):
    _name = 'comm.webhook.event'
    _description = 'Webhook event (queue)'
    _order = 'id desc'
    _rec_name = 'event_key'

    provider_id = fields.Many2one('comm.provider', required=True, ondelete='cascade',
                                  readonly=True)
    provider_code = fields.Selection(related='provider_id.code', string='Provider type')
    company_id = fields.Many2one(related='provider_id.company_id', store=True)
    purpose = fields.Selection(PURPOSES, required=True, readonly=True)
    event_key = fields.Char(required=True, readonly=True)
    method = fields.Char(readonly=True)
    url = fields.Char('Signed URL', readonly=True)
    headers = fields.Json(readonly=True)
    form_data = fields.Json('Form fields', readonly=True, help='Form fields as received: [[name, value], …]')
    body = fields.Text('Raw body', readonly=True)
    remote_addr = fields.Char(readonly=True)
    state = fields.Selection(
        [('pending', 'Pending'), ('processing', 'Processing'), ('done', 'Done'), ('waiting', 'Kept for later'),
         ('dead', 'Dead'), ('discarded', 'Discarded')],
        default='pending', required=True, readonly=True, index=True)
    attempts = fields.Integer(readonly=True)
    next_try_at = fields.Datetime(readonly=True, default=fields.Datetime.now)
    locked_at = fields.Datetime(readonly=True)
    processed_at = fields.Datetime(readonly=True)
    error = fields.Text(readonly=True)
    payload_pretty = fields.Text('Payload', compute='_compute_payload_pretty')

    _sql_constraints = [
        ('event_key_unique', 'unique(provider_id, event_key)',
         'This provider event is already in the queue.'),
    ]

    def init(self):
        self.env.cr.execute(SQL(
            "CREATE INDEX IF NOT EXISTS comm_webhook_event_todo_idx ON comm_webhook_event (next_try_at, id)"
            " WHERE state IN ('pending', 'processing')"))

    @api.depends('body', 'form_data')
    def _compute_payload_pretty(self):
        for event in self:
            if event.form_data:
                event.payload_pretty = '\n'.join(f'{k} = {v}' for k, v in event.form_data)
            else:
                try:
                    event.payload_pretty = json.dumps(json.loads(event.body or ''), indent=2, ensure_ascii=False)
                except ValueError:
                    event.payload_pretty = event.body

    # ------------------------------------------------------------------------------------------
    # Enqueue (request path: verify happened before; one INSERT, no processing)
    # ------------------------------------------------------------------------------------------

    @api.model
    def _receive(self, provider, purpose, request):
        """Verify, dedupe and store one webhook request; the only entry of the queue.

        Used by the HTTP controller and by the Sandbox's simulated webhooks alike.

        :param request: :class:`WebhookRequest`
        :returns: ``'forged'`` (signature invalid: nothing stored), ``'duplicate'`` or ``'queued'``
        :raises ValueError: the payload is malformed (nothing stored)
        """
        adapter = provider._get_adapter()
        if not adapter.verify_webhook(request):
            _logger.warning('comm.provider %s (%s): rejected a webhook with an invalid signature from %s;'
                            ' URL checked: %s', provider.id, provider.code, request.remote_addr,
                            request.url.split('?')[0])
            self.env['comm.webhook.rejection']._count(provider)
            return 'forged'
        key = adapter.event_key(request, purpose)
        headers = {k: v for k, v in request.headers.items() if k.lower() in KEPT_HEADERS}
        cron_id = self._processing_cron_id()
        # one round trip: the insert, and whether a wake-up of the cron is already due
        self.env.cr.execute(SQL(
            """WITH new AS (
                   INSERT INTO comm_webhook_event (provider_id, company_id, purpose, event_key, method, url,
                                                   headers, form_data, body, remote_addr, state, attempts,
                                                   next_try_at, create_date, write_date, create_uid, write_uid)
                   VALUES (%s, (SELECT company_id FROM comm_provider WHERE id = %s), %s, %s, %s, %s, %s, %s,
                           %s, %s, 'pending', 0, %s, now() at time zone 'UTC', now() at time zone 'UTC', %s, %s)
                   ON CONFLICT (provider_id, event_key) DO NOTHING RETURNING id)
               SELECT (SELECT id FROM new),
                      EXISTS(SELECT 1 FROM ir_cron_trigger WHERE cron_id = %s AND call_at <= %s)""",
            provider.id, provider.id, purpose, key, request.method, request.url, json.dumps(headers),
            json.dumps(request.form) if request.form else None,
            request.body.decode('utf-8') if request.body else None, request.remote_addr,
            fields.Datetime.now(), self.env.uid, self.env.uid, cron_id, fields.Datetime.now()))
        event_id, wake_up_due = self.env.cr.fetchone()
        if not event_id:
            return 'duplicate'
        if not wake_up_due:
            # under a burst of webhooks one trigger serves them all (each trigger is a row, and a
            # NOTIFY over a new connection)
            self.env['ir.cron'].browse(cron_id)._trigger()
        return 'queued'

    @api.model
    def _processing_cron_id(self):
        return self.env['ir.model.data']._xmlid_to_res_id('comm_gateway.ir_cron_comm_webhook_event')

    def _as_webhook_request(self):
        self.ensure_one()
        return WebhookRequest(
            method=self.method or 'POST', url=self.url or '', headers=dict(self.headers or {}),
            form=[tuple(pair) for pair in self.form_data or []],
            body=(self.body or '').encode('utf-8'), remote_addr=self.remote_addr or '')

    # ------------------------------------------------------------------------------------------
    # Processing (cron)
    # ------------------------------------------------------------------------------------------

    @api.model
    def _cron_process(self, batch_size=200):
        """Claim a batch (SKIP LOCKED), process each event in its own savepoint, report progress."""
        self.env.flush_all()
        self._requeue_stale()
        self.env['comm.message.part']._flush_orphans()
        events = self._claim(batch_size)
        if not events:
            self.env['ir.cron']._notify_progress(done=0, remaining=0)
            return
        events._process_batch()
        self._commit()
        self.env.cr.execute(SQL(
            "SELECT count(*) FROM comm_webhook_event WHERE state = 'pending' AND next_try_at <= %s",
            _utcnow()))
        remaining = self.env.cr.fetchone()[0]
        self.env['ir.cron']._notify_progress(done=len(events), remaining=remaining)
        _logger.info('comm.webhook.event: processed %s events, %s remaining', len(events), remaining)

    @api.model
    def _claim(self, limit):
        """Lock up to ``limit`` due events for this worker and mark them processing (committed)."""
        self.flush_model()
        ids = claim_ids(self.env, SQL(
            """UPDATE comm_webhook_event SET state = 'processing', locked_at = now() at time zone 'UTC',
                      attempts = attempts + 1
                WHERE id IN (SELECT id FROM comm_webhook_event
                              WHERE state = 'pending' AND next_try_at <= %s
                              ORDER BY id LIMIT %s FOR NO KEY UPDATE SKIP LOCKED)
            RETURNING id""", _utcnow(), limit))
        self.invalidate_model()
        return self.browse(ids)

    @api.model
    def _requeue_stale(self):
        self.flush_model()
        self.env.cr.execute(SQL(
            """UPDATE comm_webhook_event SET state = 'pending'
                WHERE state = 'processing' AND locked_at < %s RETURNING id""",
            fields.Datetime.now() - STALE_AFTER))
        if stale := self.env.cr.fetchall():
            _logger.warning('comm.webhook.event: %s events left processing by a dead worker requeued', len(stale))
            self.invalidate_model()

    def _process_batch(self):
        """Process claimed events: plain inbound messages together (one query per step and one
        chatter post per document model for all of them), everything else one by one. Each
        event of the one-by-one path has its own savepoint; when the together path fails, its
        events take the one-by-one path, so one bad event never blocks the others."""
        parsed = self._parse_inbound()
        together = self.filtered(lambda e: e.id in parsed and all(
            item.kind == 'message' and not item.media for item in parsed[e.id]))
        alone = self - together
        if together:
            try:
                with self.env.cr.savepoint():
                    together._process_together(parsed)
            except Exception:  # noqa: BLE001  retried one by one below, where the culprit fails alone
                _logger.info('comm.webhook.event: %s inbound messages failed together, processing them one '
                             'by one', len(together), exc_info=True)
                alone = self
        for event in alone:
            try:
                with self.env.cr.savepoint():
                    outcome = event._process(parsed.get(event.id))
                    if isinstance(outcome, RetryLater):
                        # what could be applied stays (inbound is idempotent, statuses monotonic);
                        # the retry applies the whole event again
                        event._schedule_retry(outcome)
                        continue
                    event._mark_done(outcome or 'done')
            except Exception as exc:  # noqa: BLE001  one bad event never stops the batch
                event._schedule_retry(exc)

    def _parse_inbound(self):
        """``{event id: normalized items}`` of the inbound events that parse: those carrying only
        messages without media are processed together (downloads stay apart: they are slow and
        may fail); the others are not parsed twice."""
        parsed = {}
        for event in self.filtered(lambda e: e.purpose == 'inbound'):
            try:
                parsed[event.id] = event._parse()
            except Exception:  # noqa: BLE001  the one-by-one path parses again and records the error
                continue
        return {event_id: items for event_id, items in parsed.items() if items}

    def _parse(self):
        self.ensure_one()
        return self.provider_id._get_adapter().parse_webhook(self._as_webhook_request(), self.purpose)

    def _process_together(self, parsed):
        by_provider = {}
        for event in self:
            by_provider.setdefault(event.provider_id, []).extend(parsed[event.id])
        for provider, inbounds in by_provider.items():
            self.env['comm.message']._receive_inbound(provider, inbounds, provider._get_adapter())
        self._mark_done('done')

    def _mark_done(self, state):
        self.write({'state': state, 'processed_at': fields.Datetime.now(), 'error': False, 'locked_at': False})

    def _process(self, normalized=None):
        """Apply one event (a request may carry several messages and statuses).

        :param normalized: its items when already parsed

        :returns: the final state ('done'), or a :class:`RetryLater` when a status could not be
            applied yet — the event's other items are applied all the same.
        """
        self.ensure_one()
        provider = self.provider_id
        adapter = provider._get_adapter()
        normalized = self._parse() if normalized is None else normalized
        outcome = 'done'
        for item in normalized:
            if item.kind == 'message':
                self.env['comm.message']._receive_inbound(provider, [item], adapter)
            elif item.kind == 'status':
                try:
                    with self.env.cr.savepoint():
                        self.env['comm.message']._receive_status(provider, item)
                except RetryLater as exc:
                    outcome = exc
            elif item.kind == 'template':
                self.env['comm.whatsapp.template']._receive_update(provider, item)
            else:
                self._apply_call_event(provider, item)
        return outcome

    def _apply_call_event(self, provider, event):
        """Call events update the call log (``comm.call``)."""
        self.env['comm.call']._receive_event(provider, event)
        return 'done'

    def _schedule_retry(self, exc):
        self.ensure_one()
        max_attempts = int(self.env['ir.config_parameter'].sudo().get_param(MAX_ATTEMPTS_PARAM, DEFAULT_MAX_ATTEMPTS))
        error = self._describe_error(exc)
        if self.attempts >= max_attempts or isinstance(exc, ValueError):
            state, next_try = 'dead', False
            _logger.error('comm.webhook.event %s (provider %s): dead after %s attempts: %s',
                          self.id, self.provider_id.id, self.attempts, error)
            error = (_('Malformed: not retried. %(error)s', error=error) if isinstance(exc, ValueError) else
                     _('Gave up after %(attempts)s attempts: %(error)s', attempts=self.attempts, error=error))
        else:
            state = 'pending'
            delay = min(30 * 2 ** (self.attempts - 1), 6 * 3600)
            retry_after = getattr(exc, 'retry_after', None) or 0
            next_try = fields.Datetime.now() + timedelta(seconds=max(delay, retry_after) * random.uniform(0.8, 1.2))
            _logger.info('comm.webhook.event %s: attempt %s failed, retry at %s: %s',
                         self.id, self.attempts, next_try, error)
            error = _('Attempt %(attempt)s of %(max)s failed, retried automatically: %(error)s',
                      attempt=self.attempts, max=max_attempts, error=error)
        self.write({'state': state, 'error': error, 'next_try_at': next_try, 'locked_at': False})

    @staticmethod
    def _describe_error(exc):
        if isinstance(exc, ProviderError):
            return f'{exc.message} (provider code {exc.code})'
        if isinstance(exc, (RetryLater, UserError, ValueError)):
            return str(exc)
        return f'{type(exc).__name__}: {exc}'

    def _commit(self):
        if not getattr(threading.current_thread(), 'testing', False):
            self.env.cr.commit()

    # ------------------------------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------------------------------

    def action_reprocess(self):
        """Queue again (the cron runs at once) and say so."""
        events = self.filtered(lambda e: e.state != 'processing')
        events.write({'state': 'pending', 'next_try_at': fields.Datetime.now(), 'attempts': 0, 'locked_at': False})
        self.env.ref('comm_gateway.ir_cron_comm_webhook_event')._trigger()
        return {'type': 'ir.actions.client', 'tag': 'display_notification', 'params': {
            'title': _('Webhook Queue'), 'type': 'success',
            'message': _('%(count)s event(s) queued again: they are processed within seconds.', count=len(events))
            + (_(' %(count)s being processed were left alone.', count=len(self) - len(events))
               if len(events) < len(self) else ''),
            'next': {'type': 'ir.actions.client', 'tag': 'soft_reload'}}}

    def action_discard(self):
        if self.filtered(lambda e: e.state == 'processing'):
            raise UserError(_('An event being processed cannot be discarded.'))
        self.write({'state': 'discarded', 'locked_at': False})

    @api.autovacuum
    def _gc_done_events(self):
        """Processed events are kept 30 days for audit, then deleted in slices."""
        self.env.cr.execute(SQL(
            """DELETE FROM comm_webhook_event WHERE id IN (
                   SELECT id FROM comm_webhook_event
                    WHERE state IN ('done', 'discarded') AND processed_at < %s LIMIT 10000)""",
            fields.Datetime.now() - timedelta(days=30)))


class CommWebhookRejection(models.Model):
    """Forged webhooks counted per account and day, apart from the account's row (no contention)."""
    _name = 'comm.webhook.rejection'
    _description = 'Rejected webhooks per day'
    _log_access = False

    provider_id = fields.Many2one('comm.provider', required=True, ondelete='cascade', index=True)
    day = fields.Date(required=True)
    count = fields.Integer()

    _sql_constraints = [('provider_day_unique', 'unique(provider_id, day)', 'One counter per day.')]

    @api.model
    def _count(self, provider):
        self.env.cr.execute(SQL(
            """INSERT INTO comm_webhook_rejection (provider_id, day, count)
               VALUES (%s, (now() at time zone 'UTC')::date, 1)
               ON CONFLICT (provider_id, day) DO UPDATE SET count = comm_webhook_rejection.count + 1""",
            provider.id))
