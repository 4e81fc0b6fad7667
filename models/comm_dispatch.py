"""Outbound dispatch (cron): claim, send through the pool, record, within Odoo's time limits.

What every worker and server shares lives in PostgreSQL and is changed in short transactions of
its own (:func:`run_shared`), never held by a long dispatch transaction: the circuit breaker
(``comm.provider.breaker``) and the account's pace (``comm.provider.pace``: the next free send
slot, pushed back by a 429). Two servers on one database thus send at one account's rate.

Neither lives on the account's own row, which the dispatch never locks nor updates: every
message and webhook event inserted references it, and the foreign-key check locks it (KEY SHARE);
under REPEATABLE READ an insert whose snapshot predates a committed ``FOR UPDATE`` and update of
that row fails ("could not serialize access due to concurrent update") — Odoo's SMS cron and the
webhook queue failed mid-batch so.
"""
import contextlib
import logging
import random
import threading
import time
from collections import deque

import psycopg2.errors

from odoo import _, api, fields, models
from odoo.sql_db import connection_info_for
from odoo.tools import SQL

from ..providers import ProviderError
from ..tools import pg_async
from ..tools.dispatch import NOT_SENT, SendPool, TimeBudget, cron_budget, cron_time_limit
from .comm_message import STALE_ATTEMPT
from .comm_send_guard import guarded_claim
from .comm_webhook_event import _utcnow, claim_ids

_logger = logging.getLogger(__name__)

RECONCILE_LIMIT = 50                    # interrupted attempts looked at per run
START_TIMEOUT = 5.0                     # seconds a group's start may wait (PostgreSQL's statement_timeout)
BREAKER_FIELDS = ['breaker_state', 'breaker_failures', 'breaker_open_until']
BREAKER_STATES = [('closed', 'Sending'), ('open', 'Paused after failures'), ('half_open', 'Trying one message')]


def _breaker_lets_send(now):
    """SQL: the breaker of the account ``p`` lets it send (or try one) at ``now``; no row: closed."""
    return SQL("""NOT EXISTS (SELECT 1 FROM comm_provider_breaker b WHERE b.provider_id = p.id
                                AND b.state != 'closed' AND (b.open_until IS NULL OR b.open_until > %s))""", now)


def _testing():
    return getattr(threading.current_thread(), 'testing', False)


def run_shared(env, function, attempts=5):
    """``function(cr)`` in a short transaction of its own, committed at once, so that every worker
    sees it now and no long transaction holds the row. READ COMMITTED: a concurrent update of the
    row is waited for, then built upon (atomic updates), instead of failing the transaction.
    Under tests (and in any thread of a test server, whose cursors share the test's
    transaction): the current cursor."""
    if _testing() or env.registry.in_test_mode():
        return function(env.cr)
    for attempt in range(attempts):
        try:
            with env.registry.cursor() as cr:
                cr.execute(SQL('SET TRANSACTION ISOLATION LEVEL READ COMMITTED'))
                return function(cr)
        except (psycopg2.errors.SerializationFailure, psycopg2.errors.DeadlockDetected):
            if attempt == attempts - 1:
                raise
            time.sleep(0.02 * (attempt + 1) * random.random())
    return None


def _answered(result):
    """The provider answered, unless a retryable error says it is down (a per-recipient limit is an answer)."""
    return not isinstance(result, ProviderError) or not result.retryable or result.per_recipient


def _started_sql(ids):
    """The statement that marks these claimed messages started (handed to the provider)."""
    return SQL("UPDATE comm_message SET attempt_unstarted = FALSE WHERE id IN %s", tuple(ids))


class StartRecorder:
    """The send pool's ``starter``: marks the given messages started in one statement, committed at
    once (autocommit: one round trip per group of sends), on a connection of its own, closed with
    the pool. A pool of threads calls it from a thread of its own; a pool on an event loop awaits
    :meth:`start_async` on the loop itself (an asynchronous connection: no thread to hand the
    sends to and back). A statement that fails (a lost connection, or one waiting longer than
    ``START_TIMEOUT`` for a lock) drops its connection: that group is refused, the next reconnects."""

    def __init__(self, registry):
        self.registry, self.connection = registry, None

    def _connection_info(self):
        info = dict(connection_info_for(self.registry.db_name)[1])
        info['options'] = f"{info.get('options') or ''} -c statement_timeout={int(START_TIMEOUT * 1000)}".strip()
        return info

    def __call__(self, messages):
        if self.connection is None:
            self.connection = psycopg2.connect(**self._connection_info())
            self.connection.autocommit = True
        query = _started_sql([message.id for message in messages])
        with self._dropped_on_failure(), self.connection.cursor() as cr:
            cr.execute(query.code, query.params)

    async def start_async(self, messages):
        if self.connection is None:
            self.connection = await pg_async.connect(self._connection_info())
        query = _started_sql([message.id for message in messages])
        with self._dropped_on_failure():
            await pg_async.execute(self.connection, query.code, query.params)

    @contextlib.contextmanager
    def _dropped_on_failure(self):
        """A statement that fails leaves the connection lost or in an unknown state: the next group reconnects."""
        try:
            yield
        except BaseException:
            self.close()
            raise

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class CommProviderPace(models.Model):
    """The next free send slot of an account, shared by every worker and server: each reserves
    the slots of the sends it is about to make, at the account's rate; a 429 pushes it back."""
    _name = 'comm.provider.pace'
    _description = 'Shared send pace of an account'
    _log_access = False

    provider_id = fields.Many2one('comm.provider', required=True, ondelete='cascade')
    next_slot_at = fields.Datetime(help='UTC, to the microsecond (database clock).')

    _sql_constraints = [('provider_unique', 'unique(provider_id)', 'One pace per account.')]


class CommProviderBreaker(models.Model):
    """The circuit breaker of an account, shared by every worker and server (one row per account,
    made by its first failure; none: closed)."""
    _name = 'comm.provider.breaker'
    _description = 'Circuit breaker of an account'
    _log_access = False

    provider_id = fields.Many2one('comm.provider', required=True, ondelete='cascade')
    state = fields.Selection(BREAKER_STATES, default='closed', required=True)
    failures = fields.Integer()
    open_until = fields.Datetime()

    _sql_constraints = [('provider_unique', 'unique(provider_id)', 'One breaker per account.')]


class CommProvider(models.Model):
    _inherit = 'comm.provider'

    breaker_state = fields.Selection(BREAKER_STATES, compute='_compute_breaker', inverse='_inverse_breaker',
                                     compute_sudo=True, readonly=True)
    breaker_failures = fields.Integer(compute='_compute_breaker', inverse='_inverse_breaker', compute_sudo=True,
                                      readonly=True)
    breaker_open_until = fields.Datetime(compute='_compute_breaker', inverse='_inverse_breaker',
                                         compute_sudo=True, readonly=True)

    def _compute_breaker(self):
        breakers = {b.provider_id.id: b for b in self.env['comm.provider.breaker'].search(
            [('provider_id', 'in', self.ids)])}
        for provider in self:
            breaker = breakers.get(provider.id)
            provider.breaker_state = breaker.state if breaker else 'closed'
            provider.breaker_failures = breaker.failures if breaker else 0
            provider.breaker_open_until = breaker.open_until if breaker else False

    def _inverse_breaker(self):
        Breaker = self.env['comm.provider.breaker'].sudo()
        for provider in self:
            values = {'state': provider.breaker_state or 'closed', 'failures': provider.breaker_failures,
                      'open_until': provider.breaker_open_until}
            breaker = Breaker.search([('provider_id', '=', provider.id)])
            if breaker:
                breaker.write(values)
            else:
                Breaker.create(dict(values, provider_id=provider.id))

    def _send_reserve(self):
        """Seconds left below which this account claims nothing more: a send (one timeout) and
        the recording of its answer; the pool starts none later than one timeout before the end."""
        return (self.timeout or 15.0) + 2.0

    def _pace_reserve(self, count, within=None):
        """Monotonic times of up to ``count`` consecutive send slots at this account's rate
        (reserved in PostgreSQL, so another server's sends take other slots); ``None`` each
        without a limit. With ``within``, only the slots that begin within that many seconds are
        reserved (fewer, or none: a slot a run could not use would push every later one back)."""
        self.ensure_one()
        if not count or not self.rate_limit or self.rate_limit <= 0:
            return [None] * count
        interval = 1.0 / self.rate_limit
        horizon = 1e9 if within is None else max(within, 0.0)

        def reserve(cr):
            # the row locked first (a concurrent reservation waits, or makes this one retry)
            cr.execute(SQL(
                """WITH pace AS (SELECT GREATEST(next_slot_at, clock_timestamp() at time zone 'UTC') AS base,
                                        clock_timestamp() at time zone 'UTC' AS now
                                   FROM comm_provider_pace WHERE provider_id = %(id)s FOR UPDATE),
                        granted AS (SELECT base, now, LEAST(%(count)s, GREATEST(0, FLOOR(
                                        (EXTRACT(EPOCH FROM now - base) + %(horizon)s) / %(interval)s) + 1))::int AS n
                                      FROM pace)
                   UPDATE comm_provider_pace SET next_slot_at = granted.base + granted.n * %(interval)s * interval '1 second'
                     FROM granted WHERE provider_id = %(id)s
                   RETURNING EXTRACT(EPOCH FROM granted.base - granted.now), granted.n""",
                id=self.id, count=count, horizon=horizon, interval=interval))
            row = cr.fetchone()
            if row is None:     # the account's first reservation: its row, then the same statement
                cr.execute(SQL("INSERT INTO comm_provider_pace (provider_id) VALUES (%s) ON CONFLICT DO NOTHING",
                               self.id))
                return reserve(cr)
            # read the local clock now, not after the commit: the slots are as far off as the answer was
            return time.monotonic() + float(row[0]), row[1]
        start, granted = run_shared(self.env, reserve)
        return [start + index * interval for index in range(granted)]

    def _pace_pause(self, seconds):
        """A 429: no worker of any server sends for this account before ``seconds`` from now."""
        self.ensure_one()
        seconds = min(max(seconds or 1.0, 0.0), 30.0)

        def pause(cr):
            cr.execute(SQL(
                """INSERT INTO comm_provider_pace AS pace (provider_id, next_slot_at)
                   VALUES (%s, (clock_timestamp() at time zone 'UTC') + %s * interval '1 second')
                   ON CONFLICT (provider_id) DO UPDATE
                      SET next_slot_at = GREATEST(pace.next_slot_at, EXCLUDED.next_slot_at)
                   RETURNING provider_id""", self.id, seconds))
            return cr.fetchone()
        run_shared(self.env, pause)
        _logger.info('comm.provider %s: the provider asked to slow down; sending paused %.1fs', self.id, seconds)

    def _breaker_admit(self):
        """``'closed'``: send; ``'trial'``: the cool-down is over and this worker took the one
        test message (half-open, for one more cool-down); ``False``: paused, or archived."""
        self.ensure_one()

        def admit(cr):
            cr.execute(SQL(
                """SELECT p.active, COALESCE(b.state, 'closed') FROM comm_provider p
                     LEFT JOIN comm_provider_breaker b ON b.provider_id = p.id WHERE p.id = %s""", self.id))
            active, state = cr.fetchone()
            if not active:
                return False
            if state == 'closed':
                return 'closed'
            cr.execute(SQL(
                """UPDATE comm_provider_breaker SET state = 'half_open',
                          open_until = (clock_timestamp() at time zone 'UTC') + %s * interval '1 second'
                    WHERE provider_id = %s AND state != 'closed' AND open_until <= (clock_timestamp() at time zone 'UTC')
                RETURNING id""", max(self.breaker_cooldown, 1), self.id))
            return 'trial' if cr.fetchone() else False
        return self._breaker_shared(admit)

    def _breaker_shared(self, function):
        """``function(cr)`` on the breaker's row through :func:`run_shared`, the cache in line."""
        self.env['comm.provider.breaker'].flush_model()
        result = run_shared(self.env, function)
        self.env['comm.provider.breaker'].invalidate_model()
        self.invalidate_recordset(BREAKER_FIELDS)
        return result

    def _breaker_record(self, outcomes):
        """Circuit breaker, shared: ``outcomes`` are sends in the order they were answered, True
        when the provider answered (success or a permanent refusal), False when it failed (5xx,
        timeout…). Opens after ``breaker_threshold`` failures in a row — across answer groups,
        runs and servers —, and again when the half-open test fails; closes on an answer.

        :returns: the breaker's state afterwards
        """
        self.ensure_one()
        if not outcomes:
            return self.breaker_state
        trailing = 0
        for ok in reversed(outcomes):
            if ok:
                break
            trailing += 1
        answered = trailing < len(outcomes)
        threshold, cooldown = max(self.breaker_threshold, 1), max(self.breaker_cooldown, 1)

        def record(cr):
            cr.execute(SQL(
                """INSERT INTO comm_provider_breaker (provider_id, state, failures) VALUES (%s, 'closed', 0)
                   ON CONFLICT (provider_id) DO NOTHING""", self.id))
            cr.execute(SQL("SELECT state, failures FROM comm_provider_breaker WHERE provider_id = %s FOR UPDATE",
                           self.id))
            was, failures = cr.fetchone()
            failures = trailing if answered else (failures or 0) + trailing
            if failures >= threshold or (was == 'half_open' and not answered):
                cr.execute(SQL(
                    """UPDATE comm_provider_breaker SET state = 'open', failures = %s,
                              open_until = (clock_timestamp() at time zone 'UTC') + %s * interval '1 second'
                        WHERE provider_id = %s RETURNING open_until""", failures, cooldown, self.id))
                return was, 'open', failures, cr.fetchone()[0]
            state = 'closed' if answered else was
            cr.execute(SQL(
                """UPDATE comm_provider_breaker SET state = %s, failures = %s,
                          open_until = CASE WHEN %s = 'closed' THEN NULL ELSE open_until END
                    WHERE provider_id = %s AND (state != %s OR failures IS DISTINCT FROM %s)""",
                state, failures, state, self.id, state, failures))
            return was, state, failures, None
        was, state, failures, until = self._breaker_shared(record)
        if state == 'open':
            _logger.warning('comm.provider %s (%s): %s consecutive failures, sending paused until %s',
                            self.id, self.code, failures, until)
            self.env['comm.message']._trigger_dispatch(until)
        elif was != 'closed' and state == 'closed':
            _logger.info('comm.provider %s (%s): the provider answers again, sending resumed', self.id, self.code)
        return state


class CommMessage(models.Model):
    _inherit = 'comm.message'

    attempt_unstarted = fields.Boolean(copy=False, help='Claimed for a send not handed to the provider yet: '
                                       'a worker that dies now sent nothing, and the message is sent again.')

    @api.model
    def _cron_dispatch(self, batch_size=200, budget=None):
        """Send what is due, account by account, within the run's time budget.

        Each account's pool is kept fed with further claims while its last sends are in flight;
        answers are committed as they come, so a killed worker loses nothing recorded. Once the
        budget is spent nothing more is claimed, and the rest goes to the next run.

        :param budget: a :class:`~..tools.dispatch.TimeBudget` (default: from Odoo's limits)
        """
        budget = budget or cron_budget(self.env)
        self.env.flush_all()
        done = self._reconcile_stale_attempts(budget)
        while True:
            accounts = self._due_accounts()
            for provider in accounts:
                if budget.spent(provider._send_reserve()):
                    if budget.seconds < provider._send_reserve():
                        # no run of this cron can ever send for the account: say why, each run
                        _logger.warning(
                            'comm.provider %s: a dispatch run may use %.1fs (its share of Odoo\'s cron time '
                            'limit, less a prefork cron worker\'s idle sleep), shorter than one send (the '
                            'account\'s timeout plus 2s: %.1fs): nothing is sent. Raise limit_time_real_cron '
                            '(120 or more with workers) or lower the account\'s timeout.',
                            provider.id, budget.seconds, provider._send_reserve())
                    break
                try:
                    done += self._dispatch_account(provider, batch_size, budget)
                except Exception:  # noqa: BLE001  one account's trouble never stops the others
                    if _testing():
                        raise
                    _logger.exception('comm.provider %s: dispatch failed', provider.id)
                    self.env.cr.rollback()      # what was answered is committed; the claimed rest is reconciled
            self._commit()
            if not self._wait_for_next_due(budget):
                break
        remaining = self._count_due()
        if remaining and done and budget.spent(max([p._send_reserve() for p in accounts], default=1.0)):
            # the watchdog counts our calls together: the next round of the cron worker goes on
            self._trigger_dispatch()
            remaining = 0
        self._schedule_next_dispatch()
        self.env['ir.cron']._notify_progress(done=done, remaining=remaining)
        return done

    @api.model
    def _due_accounts(self):
        """Active accounts with due messages whose breaker lets them send (or try one), in a random
        order: when the budget ends a run early, the next one does not start with the same account."""
        self.env.cr.execute(SQL(
            """SELECT p.id FROM comm_provider p
                WHERE p.active AND %s
                  AND EXISTS (SELECT 1 FROM comm_message m WHERE m.provider_id = p.id
                                 AND m.dispatch_state = 'todo' AND m.next_try_at <= %s)
                ORDER BY random()""", _breaker_lets_send(_utcnow()), _utcnow()))
        return self.env['comm.provider'].sudo().browse([row[0] for row in self.env.cr.fetchall()])

    @api.model
    def _count_due(self):
        self.env.cr.execute(SQL(
            """SELECT count(*) FROM comm_message m JOIN comm_provider p ON p.id = m.provider_id
                WHERE m.dispatch_state = 'todo' AND m.next_try_at <= %s AND p.active AND %s""",
            _utcnow(), _breaker_lets_send(_utcnow())))
        return self.env.cr.fetchone()[0]

    @api.model
    def _wait_for_next_due(self, budget):
        """In a cron job with nothing due now: sleep until the earliest retry or end of a pause
        when it comes within the budget (a send reserve left), and say so. Odoo wakes a prefork
        cron worker for a trigger due now, not for a later one, which it sees only at its next
        poll (60-69 s): a retry due in 15 s would wait a minute."""
        if not self.env.context.get('cron_id') or self._count_due():
            return False
        at = self._next_due_at()
        if not at:
            return False
        self.env.cr.execute(SQL("SELECT COALESCE(max(timeout), 15) FROM comm_provider WHERE active"))
        reserve = float(self.env.cr.fetchone()[0] or 15.0) + 2.0
        wait = max((at - _utcnow()).total_seconds(), 0.0)
        if budget.spent(wait + reserve):
            return False
        self._commit()      # no snapshot held while sleeping
        time.sleep(wait + 0.05)
        return True

    @api.model
    def _next_due_at(self):
        """When the earliest retry or end of a pause comes, if any."""
        self.env.cr.execute(SQL(
            """SELECT LEAST((SELECT min(m.next_try_at) FROM comm_message m JOIN comm_provider p ON p.id = m.provider_id
                              WHERE m.dispatch_state = 'todo' AND m.next_try_at > %s AND p.active),
                             (SELECT min(b.open_until) FROM comm_provider_breaker b JOIN comm_provider p ON p.id = b.provider_id
                               WHERE p.active AND b.state != 'closed' AND b.open_until > %s))""",
            _utcnow(), _utcnow()))
        return self.env.cr.fetchone()[0]

    @api.model
    def _schedule_next_dispatch(self):
        """One wake-up for the earliest retry or end of a pause (not one trigger per retry)."""
        if at := self._next_due_at():
            self._trigger_dispatch(at)

    def _dispatch_account(self, provider, batch_size, budget):
        """Claim and send this account's due messages. :returns: how many got an answer (sent or
        failed); those given back count for nothing"""
        admitted = provider._breaker_admit()
        if not admitted:
            return 0
        chunk = max(1, min(batch_size, 2 * max(provider.max_concurrency, 1)))
        if admitted == 'trial':
            # one message tests the water; the others keep their place and their attempts
            messages = self._claim_outbound(1, provider, trial=True)
            return messages._send_through(provider, 0, budget)
        messages = self._claim_outbound(chunk, provider)
        return messages._send_through(provider, chunk, budget)

    @api.model
    def _claim_outbound(self, limit, provider=None, trial=False):
        """Record the attempt (committed) before any provider call: the base of exactly-once.
        ``provider``: claim that account's messages only; ``trial``: even though its breaker is
        half-open (this worker holds the test)."""
        now = _utcnow()
        candidates = SQL(
            """SELECT m.id FROM comm_message m JOIN comm_provider p ON p.id = m.provider_id
                WHERE m.dispatch_state = 'todo' AND m.next_try_at <= %s AND p.active
                  AND (%s OR NOT EXISTS (SELECT 1 FROM comm_provider_breaker b
                                          WHERE b.provider_id = p.id AND b.state != 'closed')) %s
                ORDER BY m.id LIMIT %s FOR NO KEY UPDATE OF m SKIP LOCKED""",
            now, bool(trial), SQL('AND m.provider_id = %s', provider.id) if provider else SQL(), limit)
        # the account's daily cap and allowed destinations, in the same statement (models/comm_send_guard.py)
        ids = claim_ids(self.env, guarded_claim(now, candidates))
        self.invalidate_model()
        return self.browse(ids)._guard_refused()

    def _mark_started(self):
        """These claimed sends go to the provider now: once committed, a crash leaves them to
        reconciliation (they may have gone out) instead of the queue."""
        self.flush_recordset()
        self.env.cr.execute(_started_sql(self.ids))
        self.invalidate_recordset(['attempt_unstarted'])

    @api.model
    def _starter(self):
        """How the sends' start is recorded: in production, by the send pool itself, for the sends
        about to start together, on a connection of its own, each statement committed at once
        (:class:`StartRecorder`), so a send never waits for a round of the dispatch; under tests
        (one cursor for all), ``None``: the dispatch records them with its answers
        (:meth:`_mark_started`)."""
        if _testing() or self.env.registry.in_test_mode():
            return None
        return StartRecorder(self.env.registry)

    def _release(self):
        """Claimed, never handed to the provider: back in the queue, the attempt not counted."""
        if not self:
            return
        self.flush_model()
        self.env.cr.execute(SQL(
            """UPDATE comm_message SET dispatch_state = 'todo', attempt_at = NULL, attempt_unstarted = FALSE,
                      attempts = GREATEST(COALESCE(attempts, 0) - 1, 0)
                WHERE id IN %s AND dispatch_state = 'attempt'""", tuple(self.ids)))
        self.invalidate_recordset(['dispatch_state', 'attempt_at', 'attempt_unstarted', 'attempts'])

    @api.model
    def _reconcile_stale_attempts(self, budget=None, limit=RECONCILE_LIMIT):
        """Attempts left by a worker that died during the call: ask the provider, never resend
        blindly. Bounded (``limit`` per run, within the budget); one savepoint and one commit
        each, and one that cannot be reconciled fails with the reason instead of blocking the queue.

        :returns: how many were looked at
        """
        budget = budget or TimeBudget(cron_time_limit())
        stale = self.search([('dispatch_state', '=', 'attempt'),
                             ('attempt_at', '<', fields.Datetime.now() - STALE_ATTEMPT)],
                            order='attempt_at, id', limit=limit)
        done = 0
        for message in stale:
            if budget.spent(message.provider_id._send_reserve()):
                break
            try:
                with self.env.cr.savepoint():
                    message._reconcile_attempt()    # models/comm_message_reconcile.py
            except Exception as exc:  # noqa: BLE001  one bad item never stops the queue
                _logger.exception('comm.message %s: the interrupted send could not be reconciled', message.id)
                try:
                    with self.env.cr.savepoint():
                        message._fail(ProviderError(_(
                            'The send was interrupted and could not be checked (%(error)s); not resent, to '
                            'avoid a duplicate.', error=type(exc).__name__), code='uncertain'))
                except Exception:  # noqa: BLE001
                    _logger.exception('comm.message %s: could not be marked failed', message.id)
            done += 1
            self._commit()
        return done

    def _send_through(self, provider, chunk=0, budget=None):
        """Send these claimed messages (one account) through a bounded pool; each answer group
        is recorded and committed as it arrives, while the other sends are still in flight.

        Inside the loop: the breaker (once open, nothing more goes out: the sends not made yet
        are given back), the shared pace, and the budget (no send starts that could outlive it).
        With ``chunk``, once the sends left fit in the pool, ``chunk`` more of this account are
        claimed, until the breaker opens or the budget is spent: failures are the breaker's call.

        :returns: how many messages got an answer (sent or failed), those claimed on the way included
        """
        budget = budget or TimeBudget(cron_time_limit())
        adapter = provider._get_adapter()
        timeout, reserve = provider.timeout or 15.0, provider._send_reserve()
        callback = provider._webhook_url('status') or ''
        state, answered = provider.breaker_state, 0
        clean = state == 'closed' and not provider.breaker_failures
        interval = 1.0 / provider.rate_limit if provider.rate_limit and provider.rate_limit > 0 else 0.0
        starter = self._starter()

        def prepared(messages):
            """What the adapter sends, built once a claim is read (each commit empties the ORM cache)."""
            return [(message, message._to_outbound(callback)) for message in messages]
        waiting = deque(prepared(self))
        with SendPool(adapter, provider.max_concurrency or 1, f'comm-send-{provider.id}', budget, timeout,
                      interval, starter) as pool:
            while True:
                batch = []
                if waiting and pool.room():
                    if budget.spent(timeout):     # a send started now could outlive the run
                        self.browse([message.id for message, _outbound in waiting])._release()
                        waiting.clear()
                    else:
                        batch = [waiting.popleft() for _index in range(min(pool.room(), len(waiting)))]
                slots = provider._pace_reserve(len(batch), budget.left() - timeout) if interval else [None] * len(batch)
                if len(slots) < len(batch):
                    # the account's next slots begin after this run could start a send: the rest goes
                    # back to the queue, and nothing more is claimed (a later run takes them)
                    late, batch = batch[len(slots):] + list(waiting), batch[:len(slots)]
                    waiting.clear()
                    chunk = 0
                    self.browse([message.id for message, _outbound in late])._release()
                pool.submit_all([(message, outbound, at) for (message, outbound), at in zip(batch, slots)])
                if not len(pool):
                    break
                answers, starting = pool.collect()
                if starter:
                    # the pool committed the start of these sends meanwhile: recorded in a snapshot that
                    # sees it (REPEATABLE READ; no round trip when nothing ran since the last commit)
                    self._commit()
                not_sent = self.browse([message.id for message, result in answers if result is NOT_SENT])
                answers = [(message, result) for message, result in answers if result is not NOT_SENT]
                if answers:
                    self._record_answers(answers)
                    answered += len(answers)
                if starting:
                    self.browse([message.id for message in starting])._mark_started()
                # these answers, and the start of the sends that have their thread and slot, in one commit
                self._commit()
                pool.start(starting)
                outcomes = [_answered(result) for _message, result in answers]
                pauses = [result.retry_after or 1.0 for _message, result in answers
                          if isinstance(result, ProviderError) and not result.per_recipient
                          and (result.http_status == 429 or result.retry_after)]
                if pauses:
                    provider._pace_pause(max(pauses))
                if outcomes and not (clean and all(outcomes)):
                    state = provider._breaker_record(outcomes)
                    clean = state == 'closed' and all(outcomes)
                if state == 'open':
                    not_sent |= self.browse([message.id for message, _result in pool.stop()])
                    not_sent |= self.browse([message.id for message, _outbound in waiting])
                    waiting.clear()
                if starter and not_sent:
                    self._commit()      # a snapshot that sees the start the pool recorded of any of them
                not_sent._release()
                if (chunk and state == 'closed' and len(pool) + len(waiting) <= pool.workers
                        and not budget.spent(reserve)):
                    more = self._claim_outbound(chunk, provider)      # committed with the answers so far
                    chunk = chunk if more else 0
                    waiting.extend(prepared(more))
        return answered
