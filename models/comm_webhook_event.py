import hashlib
import json
import logging
import random
import threading
import time
from datetime import datetime, timedelta, timezone

import psycopg2.errors

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, create_index, ormcache, sql

from ..providers import ProviderError
from ..providers.base import WebhookRequest
from ..tools.redact import redact_token
from ..tools.dispatch import WEBHOOK_SHARE, TimeBudget, cron_budget, cron_time_limit

_logger = logging.getLogger(__name__)

PURPOSES = [('inbound', 'Inbound message'), ('status', 'Status callback'), ('voice', 'Voice answer'),
            ('voice_dialed', 'Dial ended'), ('voice_status', 'Call event')]
# Only these headers are kept with an event: what processing needs. Signatures, nonces and the
# Authorization header were checked on receipt and are replay material: never stored.
KEPT_HEADERS = ('content-type', 'user-agent', 'i-twilio-idempotency-token')
NONCE_WINDOW = timedelta(days=7)     # how long a signature's nonce / token id is remembered
# What a provider sent: evidence, written once by ``_receive`` and never changed after.
RAW_FIELDS = frozenset({'provider_id', 'purpose', 'event_key', 'method', 'url', 'headers', 'form_data', 'body',
                        'remote_addr', 'company_id'})
# Passed in the context by the queue's own writes: an object, so no RPC call can carry it.
QUEUE_WRITE = object()
MAX_ATTEMPTS_PARAM = 'comm_gateway.webhook_max_attempts'
DEFAULT_MAX_ATTEMPTS = 8
STALE_AFTER = timedelta(minutes=10)      # a 'processing' event older than this lost its worker
SUSPECTS_PER_RUN = 10                    # events whose worker died, processed alone, per run
EVENT_RESERVE = 16.0                     # seconds one event may take (a media download)
DONE_KEPT_DAYS = 30
DEAD_KEPT_DAYS_PARAM = 'comm_gateway.webhook_dead_kept_days'
DEFAULT_DEAD_KEPT_DAYS = 90
GC_SLICE = 5000


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


def body_key(request):
    """The dedup key of a request whose event cannot be read: a hash of what was signed."""
    payload = request.body or json.dumps(request.form or request.query).encode()
    return 'body:' + hashlib.sha256(payload).hexdigest()


def _utcnow():
    """Now, to the microsecond (fields.Datetime.now() truncates to the second)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class RetryLater(Exception):
    """Processing cannot finish yet (e.g. a status for a message not committed yet): try again."""


class UnprocessedParts(ValueError):
    """Parts of a request that cannot be applied: the rest was, these are parked (dead letter)."""

    def __init__(self, reasons):
        super().__init__('; '.join(reasons))
        self.reasons = reasons

    def __str__(self):
        return f'{len(self.reasons)} part(s) not processed, the rest was: ' + '; '.join(self.reasons)


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
    attempts = fields.Integer(readonly=True, help='Tries so far, those its worker did not survive included.')
    crashes = fields.Integer(readonly=True, help='Times the worker processing it stopped (killed, out of '
                                                'memory, over its time limit): then it is processed alone.')
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

    @api.model_create_multi
    def create(self, vals_list):
        raise AccessError(_('Webhook events are recorded by the webhook controller only.'))

    def write(self, vals):
        """Nobody edits an event through the ORM or RPC, administrators included: the queue moves
        its state through :meth:`_queue_write`, and its raw fields never change."""
        if self.env.context.get('comm_queue_write') is not QUEUE_WRITE or RAW_FIELDS.intersection(vals):
            raise AccessError(_('Webhook events are evidence: only the queue changes their state.'))
        return super().write(vals)

    def _queue_write(self, vals):
        return self.with_context(comm_queue_write=QUEUE_WRITE).write(vals)

    # ------------------------------------------------------------------------------------------
    # Enqueue (request path: verify happened before; one INSERT, no processing)
    # ------------------------------------------------------------------------------------------

    @api.model
    def _receive(self, provider, purpose, request):
        """Verify, dedupe and store one webhook request; the only entry of the queue.

        Used by the HTTP controller and by the Sandbox's simulated webhooks alike.

        :param request: :class:`WebhookRequest`
        :returns: ``'forged'`` (signature invalid: nothing stored), ``'duplicate'`` or ``'queued'``;
            a verified request whose event cannot be read is queued all the same (keyed on a hash
            of its body): the cron records why it cannot be processed
        :raises ValueError: a verified JSON body that is not well-formed JSON (nothing stored)
        """
        adapter = provider._get_adapter()
        if not adapter.verify_webhook(request):
            _logger.warning('comm.provider %s (%s): rejected a webhook with an invalid signature from %s;'
                            ' URL checked: %s', provider.id, provider.code, request.remote_addr,
                            redact_token(request.url.split('?')[0]))
            self.env['comm.webhook.rejection']._count(provider)
            return 'forged'
        if request.body and request.is_json:
            request.json()      # ValueError: not even well-formed, refused
        if guard := adapter.replay_guard(request):
            seen = self.env['comm.webhook.nonce']._remember(provider, *guard)
            if seen == 'replayed':
                _logger.warning('comm.provider %s (%s): refused a replayed signature (nonce or token id already '
                                'used) from %s', provider.id, provider.code, request.remote_addr)
                self.env['comm.webhook.rejection']._count(provider)
                return 'forged'
            if seen == 'duplicate':
                return 'duplicate'
        try:
            key = adapter.event_key(request, purpose)
        except Exception:  # noqa: BLE001  a verified request is stored: parsing is the cron's job
            _logger.info('comm.provider %s: a signed %s webhook whose event we cannot read is kept for the queue',
                         provider.id, purpose)
            key = body_key(request)
        headers = {k: v for k, v in request.headers.items() if k.lower() in KEPT_HEADERS}
        cron_id = self._processing_cron_id()
        # one round trip: the insert, and whether a wake-up of the cron is already due; no
        # create_uid / write_uid: the public user's id says nothing, and costs two foreign-key checks;
        # the company is the account's, known from the token (comm.provider._find_by_webhook_token)
        self.env.cr.execute(SQL(
            """INSERT INTO comm_webhook_event (provider_id, company_id, purpose, event_key, method, url, headers,
                                               form_data, body, remote_addr, state, attempts, next_try_at,
                                               create_date, write_date)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'pending', 0, date_trunc('second', now() at time zone 'UTC'),
                       now() at time zone 'UTC', now() at time zone 'UTC')
               ON CONFLICT (provider_id, event_key) DO NOTHING
               RETURNING EXISTS(SELECT 1 FROM ir_cron_trigger WHERE cron_id = %s AND call_at <= now() at time zone 'UTC')""",
            provider.id, provider.company_id.id or None, purpose, key, request.method, request.url,
            json.dumps(headers), json.dumps(request.form) if request.form else None,
            request.body.decode('utf-8') if request.body else None, request.remote_addr, cron_id))
        row = self.env.cr.fetchone()
        if not row:             # the same event again: nothing inserted
            return 'duplicate'
        wake_up_due = row[0]
        if not wake_up_due:
            # under a burst of webhooks one trigger serves them all (each trigger is a row, and a
            # NOTIFY over a new connection)
            self.env['ir.cron'].browse(cron_id)._trigger()
        return 'queued'

    @api.model
    @ormcache()
    def _processing_cron_id(self):
        # one cache lookup per webhook instead of the two of the xmlid's (and its model's)
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
    def _cron_process(self, batch_size=200, budget=None):
        """Claim a batch (SKIP LOCKED), process it committing per event (per group for the plain
        messages processed together), within the run's time budget; report progress.

        Events whose worker died are first processed one at a time, each alone: a poison event
        takes no other with it, and goes dead after its attempts.

        :param budget: a :class:`~..tools.dispatch.TimeBudget` (default: from Odoo's limits)
        """
        budget = budget or cron_budget(self.env, WEBHOOK_SHARE)
        self.env.flush_all()
        self._requeue_stale()
        self.env['comm.message.part']._flush_orphans()
        done = 0
        for _index in range(SUSPECTS_PER_RUN):
            if budget.spent(EVENT_RESERVE) or not (suspect := self._claim(1, suspects=True)):
                break
            done += suspect._process_batch(budget)
            self._commit()
        events = self.browse() if budget.spent(EVENT_RESERVE) else self._claim(batch_size)
        done += events._process_batch(budget)
        self._commit()
        self.env.cr.execute(SQL(
            "SELECT count(*) FROM comm_webhook_event WHERE state = 'pending' AND next_try_at <= %s",
            _utcnow()))
        remaining = self.env.cr.fetchone()[0]
        if remaining and budget.spent(EVENT_RESERVE):
            # the watchdog counts the runner's calls together: the next round goes on
            self.env['ir.cron'].browse(self._processing_cron_id())._trigger()
            remaining = 0
        self.env['ir.cron']._notify_progress(done=done, remaining=remaining)
        if done:
            _logger.info('comm.webhook.event: processed %s events, %s remaining', done, remaining)

    @api.model
    def _claim(self, limit, suspects=False):
        """Lock up to ``limit`` due events for this worker and mark them processing, the attempt
        counted (committed): an event whose worker dies has used one. ``suspects``: the events
        whose worker died (else the others)."""
        self.flush_model()
        ids = claim_ids(self.env, SQL(
            """UPDATE comm_webhook_event SET state = 'processing', locked_at = now() at time zone 'UTC',
                      attempts = attempts + 1
                WHERE id IN (SELECT id FROM comm_webhook_event
                              WHERE state = 'pending' AND next_try_at <= %s AND %s
                              ORDER BY id LIMIT %s FOR NO KEY UPDATE SKIP LOCKED)
            RETURNING id""", _utcnow(), SQL('crashes > 0') if suspects else SQL('COALESCE(crashes, 0) = 0'),
            limit))
        self.invalidate_model()
        return self.browse(ids)

    @api.model
    def _requeue_stale(self):
        """Events left processing by a dead worker: pending again, to be processed alone; dead once
        their attempts are used up, with the reason."""
        self.flush_model()
        max_attempts = self._max_attempts()
        self.env.cr.execute(SQL(
            """UPDATE comm_webhook_event
                  SET state = CASE WHEN attempts >= %s THEN 'dead' ELSE 'pending' END,
                      crashes = COALESCE(crashes, 0) + 1, locked_at = NULL, write_date = now() at time zone 'UTC',
                      next_try_at = CASE WHEN attempts >= %s THEN NULL ELSE %s END,
                      error = %s || ' (' || attempts || ')'
                WHERE state = 'processing' AND locked_at < %s RETURNING state""",
            max_attempts, max_attempts, fields.Datetime.now(),
            _('The worker processing it stopped (killed, out of memory or over its time limit); attempts so far'),
            fields.Datetime.now() - STALE_AFTER))
        if stale := [row[0] for row in self.env.cr.fetchall()]:
            _logger.warning('comm.webhook.event: %s events left processing by a dead worker requeued, %s dead',
                            len(stale), stale.count('dead'))
            self.invalidate_model()

    def _release(self):
        """Claimed, not processed (the budget is spent): pending again, the attempt not counted."""
        if not self:
            return
        self.flush_model()
        self.env.cr.execute(SQL(
            """UPDATE comm_webhook_event SET state = 'pending', locked_at = NULL, attempts = GREATEST(attempts - 1, 0)
                WHERE id IN %s AND state = 'processing'""", tuple(self.ids)))
        self.invalidate_recordset(['state', 'locked_at', 'attempts'])

    @api.model
    def _max_attempts(self):
        return int(self.env['ir.config_parameter'].sudo().get_param(MAX_ATTEMPTS_PARAM, DEFAULT_MAX_ATTEMPTS))

    def _process_batch(self, budget=None):
        """Process claimed events: plain inbound messages together (one query per step and one
        chatter post per document model for all of them), status callbacks together (their
        messages read in one query, Odoo's SMS tracking mirrored once), everything else one by
        one. Each event of the one-by-one path has its own savepoint; when a together path
        fails, its events take the one-by-one path, so one bad event never blocks the others.
        Committed after each group and after each event; once ``budget`` is spent the rest is
        given back.

        :returns: how many events were processed
        """
        parsed = self._parse_events()
        messages = self.filtered(lambda e: e.purpose == 'inbound' and e.id in parsed
                                 and all(item.kind == 'message' for item in parsed[e.id]))
        # statuses on the ladder; the others (Meta's "deleted", "warning") are noted one by one
        statuses = self.filtered(lambda e: e.purpose == 'status' and e.id in parsed
                                 and all(item.kind == 'status' and item.status for item in parsed[e.id]))
        alone = self - messages - statuses
        for together, process in ((messages, self._process_together), (statuses, self._process_statuses)):
            if not together:
                continue
            try:
                with self.env.cr.savepoint():
                    alone |= process(together, parsed)
            except Exception:  # noqa: BLE001  retried one by one below, where the culprit fails alone
                _logger.info('comm.webhook.event: %s %s events failed together, processing them one by one',
                             len(together), together[0].purpose, exc_info=True)
                alone |= together
            else:
                self._commit()
        alone = self & alone        # in claim order
        done = len(self) - len(alone)
        for index, event in enumerate(alone):
            if budget is not None and budget.spent((event.provider_id.timeout or 15.0) + 1.0):
                alone[index:]._release()
                break
            done += 1
            event._process_one(parsed)
            self._commit()
        return done

    def _process_one(self, parsed):
        for event in self:
            try:
                with self.env.cr.savepoint():
                    outcome = event._process(parsed.get(event.id))
                    if isinstance(outcome, (RetryLater, UnprocessedParts)):
                        # what could be applied stays (inbound is idempotent, statuses monotonic);
                        # the retry applies the whole event again; unprocessed parts go dead
                        event._schedule_retry(outcome)
                        continue
                    event._mark_done(outcome or 'done')
            except Exception as exc:  # noqa: BLE001  one bad event never stops the batch
                event._schedule_retry(exc)

    def _parse_events(self):
        """``{event id: normalized items}`` of the inbound and status events that parse: those
        carrying only messages, or only statuses, are processed together (the media of
        messages are fetched afterwards, apart: ``comm.message.media``); the others are not
        parsed twice."""
        parsed = {}
        for event in self.filtered(lambda e: e.purpose in ('inbound', 'status')):
            try:
                parsed[event.id] = event._parse()
            except Exception:  # noqa: BLE001  the one-by-one path parses again and records the error
                continue
        return {event_id: items for event_id, items in parsed.items() if items}

    def _parse(self):
        self.ensure_one()
        return self.provider_id._get_adapter().parse_webhook(self._as_webhook_request(), self.purpose)

    @api.model
    def _process_together(self, events, parsed):
        """Plain inbound messages of ``events``, recorded and posted together.

        :returns: the events left for the one-by-one path (none)"""
        by_provider = {}
        for event in events:
            for provider, item in event._route(parsed[event.id]):
                by_provider.setdefault(provider, []).append(item)
        for provider, inbounds in by_provider.items():
            self.env['comm.message']._receive_inbound(provider, inbounds, provider._get_adapter())
        events._mark_done('done')
        return self.browse()

    @api.model
    def _process_statuses(self, events, parsed):
        """Status callbacks of ``events`` applied together, in the order they came
        (``comm.message._apply_statuses``), and marked done in one statement.

        :returns: the events left for the one-by-one path: those naming a message not found by
            the id its send returned (a part of a long SMS, our reference, a message not committed
            yet: ``_receive_status`` finds it, or retries later)
        """
        routed = [(event, provider, status) for event in events for provider, status in event._route(parsed[event.id])]
        Message = self.env['comm.message']
        found = Message._status_messages([(provider, status) for _event, provider, status in routed])
        unknown = self.browse({event.id for event, provider, status in routed
                               if (provider.id, status.provider_id) not in found})
        known = [(event, provider, status) for event, provider, status in routed if event not in unknown]
        Message._apply_statuses([(found[provider.id, status.provider_id], status) for _event, provider, status in known],
                                event_ids=[event.id for event, _provider, _status in known])
        (events - unknown)._mark_done('done')
        return unknown

    def _mark_done(self, state):
        self._queue_write({'state': state, 'processed_at': fields.Datetime.now(), 'error': False, 'locked_at': False})

    def _process(self, normalized=None):
        """Apply one event (a request may carry several messages and statuses).

        :param normalized: its items when already parsed

        :returns: the final state ('done'), or a :class:`RetryLater` when a status could not be
            applied yet, or an :class:`UnprocessedParts` for parts that cannot be applied (an
            unknown shape, an error the provider reports) — the event's other items are applied
            all the same.
        """
        self.ensure_one()
        normalized = self._parse() if normalized is None else normalized
        outcome = 'done'
        unparsed = [item.reason for item in normalized if item.kind == 'unparsed']
        for provider, item in self._route([item for item in normalized if item.kind != 'unparsed']):
            adapter = provider._get_adapter()
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
        if unparsed:
            if not isinstance(outcome, RetryLater):
                return UnprocessedParts(unparsed)
            # retried for the status; the event says why, and which parts will not be processed
            outcome.args = (f'{outcome}; {UnprocessedParts(unparsed)}',)
        return outcome

    def _route(self, items):
        """``[(account, item)]``. Meta posts the events of every phone number of an app to one
        callback URL: each goes to the account of its ``metadata.phone_number_id`` among the
        accounts of the same app, else stays with the account called."""
        self.ensure_one()
        provider = self.provider_id
        refs = {item.account_ref for item in items if getattr(item, 'account_ref', '')}
        if provider.code != 'meta' or not refs:
            return [(provider, item) for item in items]
        accounts = provider._meta_accounts_by_number(refs)
        return [(accounts.get(getattr(item, 'account_ref', ''), provider), item) for item in items]

    def _apply_call_event(self, provider, event):
        """Call events update the call log (``comm.call``)."""
        self.env['comm.call']._receive_event(provider, event)
        return 'done'

    def _schedule_retry(self, exc):
        self.ensure_one()
        max_attempts = self._max_attempts()
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
        self._queue_write({'state': state, 'error': error, 'next_try_at': next_try, 'locked_at': False})

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
        self.check_access('write')
        events = self.filtered(lambda e: e.state != 'processing')
        events._queue_write({'state': 'pending', 'next_try_at': fields.Datetime.now(), 'attempts': 0, 'crashes': 0,
                             'locked_at': False})
        self.env.ref('comm_gateway.ir_cron_comm_webhook_event')._trigger()
        return {'type': 'ir.actions.client', 'tag': 'display_notification', 'params': {
            'title': _('Webhook Queue'), 'type': 'success',
            'message': _('%(count)s event(s) queued again: they are processed within seconds.', count=len(events))
            + (_(' %(count)s being processed were left alone.', count=len(self) - len(events))
               if len(events) < len(self) else ''),
            'next': {'type': 'ir.actions.client', 'tag': 'soft_reload'}}}

    def action_discard(self):
        self.check_access('write')
        if self.filtered(lambda e: e.state == 'processing'):
            raise UserError(_('An event being processed cannot be discarded.'))
        self._queue_write({'state': 'discarded', 'locked_at': False})

    @api.model
    def _erase_payloads(self, formats):
        """The one path that changes an event's raw fields: a contact's erasure (models/comm_rights.py)
        empties the payload of every event that mentions one of its numbers, written in any of
        ``formats``; the row and its key stay, so a retry of the same event is still a duplicate.
        An event waiting to be processed is discarded (it would bring the number back).

        :returns: how many events were anonymized
        :raises AccessError: the caller is no Communications Administrator
        """
        if not self.env.user.has_group('comm_gateway.group_comm_manager'):
            raise AccessError(_('Only Communications Administrators erase webhook payloads.'))
        patterns = [f'%{written}%' for written in formats if written]
        if not patterns:
            return 0
        self.flush_model()
        self.env.cr.execute(SQL(
            """UPDATE comm_webhook_event
                  SET body = NULL, form_data = NULL, url = NULL, headers = NULL, remote_addr = NULL, error = %s,
                      state = CASE WHEN state IN ('pending', 'waiting') THEN 'discarded' ELSE state END,
                      write_uid = %s, write_date = now() at time zone 'UTC'
                WHERE state != 'processing'
                  AND (body ILIKE ANY(%s) OR form_data::text ILIKE ANY(%s) OR url ILIKE ANY(%s)
                       OR error ILIKE ANY(%s))""",
            _('Payload erased on request of the person concerned.'), self.env.uid,
            patterns, patterns, patterns, patterns))
        count = self.env.cr.rowcount
        self.invalidate_model()
        return count

    @api.model
    def _gc_rules(self):
        """What the clean-up deletes: processed and discarded events after their company's payload
        retention (``res.company.comm_keep_payload_days``, 30 days by default), dead letters after
        ``comm_gateway.webhook_dead_kept_days`` days (90 by default; 0 keeps them)."""
        now = fields.Datetime.now()
        self.env['res.company'].flush_model(['comm_keep_payload_days'])
        dead_days = int(self.env['ir.config_parameter'].sudo().get_param(
            DEAD_KEPT_DAYS_PARAM, DEFAULT_DEAD_KEPT_DAYS) or 0)
        rules = [SQL(
            """state IN ('done', 'discarded') AND processed_at < %s - interval '1 day' * COALESCE(
                   (SELECT GREATEST(c.comm_keep_payload_days, 1) FROM res_company c WHERE c.id = company_id), %s)""",
            now, DONE_KEPT_DAYS)]
        if dead_days > 0:
            # a dead letter never processed has no processed_at: its last change counts
            rules.append(SQL("state = 'dead' AND COALESCE(processed_at, write_date) < %s",
                             now - timedelta(days=dead_days)))
        return rules

    @api.model
    def _gc_count(self, company):
        """How many events of ``company`` the next clean-up deletes (the retention preview)."""
        self.flush_model()
        self.env.cr.execute(SQL("SELECT count(*) FROM comm_webhook_event WHERE company_id = %s AND (%s)",
                                company.id, SQL(' OR ').join(self._gc_rules())))
        return self.env.cr.fetchone()[0]

    @api.autovacuum
    def _gc_done_events(self, budget=None):
        """Delete what :meth:`_gc_rules` says in slices, each committed, until none is left or the
        budget is spent (also run by the daily retention purge, models/comm_retention.py).

        :returns: how many were deleted
        """
        budget = budget or TimeBudget(cron_time_limit() / 4)
        deleted = 0
        for rule in self._gc_rules():
            while not budget.spent(1.0):
                self.env.cr.execute(SQL(
                    "DELETE FROM comm_webhook_event WHERE id IN (SELECT id FROM comm_webhook_event WHERE %s LIMIT %s)",
                    rule, GC_SLICE))
                count = self.env.cr.rowcount
                deleted += count
                self._commit()
                if count < GC_SLICE:
                    break
        if deleted:
            _logger.info('comm.webhook.event: %s old events deleted', deleted)
        return deleted


class CommWebhookRejection(models.Model):
    """Forged webhooks counted per account and minute (UTC), apart from the account's row.

    One row per database connection (``bucket``, the backend's pid) and minute: concurrent
    requests never update the same row, so a flood of forged requests never waits on, nor fails
    to serialize with, another; a figure is the sum of its rows — per day for the overview's
    history, over the last 60 minutes for the alert rule "forged requests per hour". Rows older
    than two days are folded into one per account and day (:meth:`_gc_fold_minutes`).
    """
    _name = 'comm.webhook.rejection'
    _description = 'Rejected webhooks per minute'
    _log_access = False

    provider_id = fields.Many2one('comm.provider', required=True, ondelete='cascade', index=True)
    day = fields.Date(required=True)
    minute = fields.Datetime(required=True, help='UTC minute of the rejections (midnight once folded into the day).')
    bucket = fields.Integer(required=True, default=0, help='The database connection that counted them.')
    count = fields.Integer()

    _sql_constraints = [('provider_minute_unique', 'unique(provider_id, minute, bucket)', 'One counter per minute.')]

    def _auto_init(self):
        # before the per-minute counts, one row per day: those rows count at their midnight (filled
        # before the ORM makes the new column NOT NULL)
        cr = self.env.cr
        if sql.table_exists(cr, self._table) and not sql.column_exists(cr, self._table, 'minute'):
            sql.create_column(cr, self._table, 'minute', 'timestamp')
            cr.execute("UPDATE comm_webhook_rejection SET minute = day")
        cr.execute("ALTER TABLE IF EXISTS comm_webhook_rejection DROP CONSTRAINT IF EXISTS"
                   " comm_webhook_rejection_provider_day_unique")
        return super()._auto_init()

    def init(self):
        create_index(self.env.cr, 'comm_webhook_rejection_minute_idx', self._table, ['minute', 'provider_id'])

    @api.model
    def _count(self, provider):
        self.env.cr.execute(SQL(
            """INSERT INTO comm_webhook_rejection (provider_id, day, minute, bucket, count)
               VALUES (%s, (now() at time zone 'UTC')::date, date_trunc('minute', now() at time zone 'UTC'),
                       pg_backend_pid(), 1)
               ON CONFLICT (provider_id, minute, bucket) DO UPDATE SET count = comm_webhook_rejection.count + 1""",
            provider.id))

    @api.model
    def _total(self, provider, day=None):
        """How many forged requests ``provider`` got on ``day`` (today, UTC)."""
        self.env.cr.execute(SQL(
            "SELECT COALESCE(sum(count), 0) FROM comm_webhook_rejection WHERE provider_id = %s AND day = %s",
            provider.id, day or fields.Date.today()))
        return self.env.cr.fetchone()[0]

    @api.model
    def _last_hour(self, providers):
        """``{provider id: forged requests in the last 60 minutes}`` (the current minute included)."""
        self.env.cr.execute(SQL(
            """SELECT provider_id, sum(count) FROM comm_webhook_rejection
                WHERE minute >= date_trunc('minute', now() at time zone 'UTC') - interval '59 minutes'
                  AND provider_id = ANY(%s) GROUP BY provider_id""", providers.ids))
        return dict(self.env.cr.fetchall())

    @api.autovacuum
    def _gc_fold_minutes(self):
        """Fold the minutes of the days before yesterday into one row per account and day."""
        self.env.cr.execute(SQL(
            """WITH folded AS (DELETE FROM comm_webhook_rejection
                                WHERE day < %(day)s AND (bucket != 0 OR minute != day) RETURNING provider_id, day, count)
               INSERT INTO comm_webhook_rejection AS r (provider_id, day, minute, bucket, count)
               SELECT provider_id, day, day, 0, sum(count) FROM folded GROUP BY provider_id, day
               ON CONFLICT (provider_id, minute, bucket) DO UPDATE SET count = r.count + EXCLUDED.count""",
            day=fields.Date.today() - timedelta(days=1)))


class CommWebhookNonce(models.Model):
    """The nonces and token ids of verified webhooks (Plivo V3 nonce, Vonage JWT ``jti``), kept
    :data:`NONCE_WINDOW`: a signature is good for one request (and its identical retries)."""
    _name = 'comm.webhook.nonce'
    _description = 'Webhook signature nonces seen'
    _log_access = False

    provider_id = fields.Many2one('comm.provider', required=True, ondelete='cascade')
    key = fields.Char(required=True)
    digest = fields.Char(required=True, help='sha256 of what the signature covers')
    seen_at = fields.Datetime(required=True, index=True)

    _sql_constraints = [('provider_key_unique', 'unique(provider_id, key)', 'A nonce is used once.')]

    @api.model
    def _remember(self, provider, key, digest, repeat_is_duplicate):
        """``'new'`` (remembered now), ``'duplicate'`` (same key, same signed content, and the
        provider retries that way) or ``'replayed'`` (to refuse)."""
        self.env.cr.execute(SQL(
            """INSERT INTO comm_webhook_nonce (provider_id, key, digest, seen_at)
               VALUES (%s, %s, %s, now() at time zone 'UTC')
               ON CONFLICT (provider_id, key) DO NOTHING RETURNING id""", provider.id, key, digest))
        if self.env.cr.fetchone():
            return 'new'
        self.env.cr.execute(SQL("SELECT digest FROM comm_webhook_nonce WHERE provider_id = %s AND key = %s",
                                provider.id, key))
        row = self.env.cr.fetchone()
        return 'duplicate' if repeat_is_duplicate and row and row[0] == digest else 'replayed'

    @api.autovacuum
    def _gc_nonces(self):
        self.env.cr.execute(SQL("DELETE FROM comm_webhook_nonce WHERE seen_at < %s",
                                fields.Datetime.now() - NONCE_WINDOW))
