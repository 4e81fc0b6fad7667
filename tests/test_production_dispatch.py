"""Production mode, outbound: the dispatch cron within Odoo's time limits, the breaker inside the
send loop, the half-open test, archived accounts, crashes, and the pace shared by two servers.

Twilio against the local fake provider; time budgets use an injected clock, never the wall clock."""
import asyncio
import contextlib
import itertools
import threading
import time
from datetime import datetime, timedelta
from types import SimpleNamespace
from unittest.mock import patch

import psycopg2
import psycopg2.errors

from odoo import api, fields
from odoo.addons.base.tests.test_ir_cron import CronMixinCase
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, TransactionCase, tagged
from odoo.tests.common import get_db_name
from odoo.tools import mute_logger

from ..models import comm_dispatch
from ..models.comm_dispatch import StartRecorder
from ..providers import ProviderError
from ..providers.base import Outbound, SendResult
from ..tools.dispatch import (BUDGET_SHARE, IDLE_SLEEP, NOT_SENT, SMALL_SHARE, WEBHOOK_SHARE, Pace, SendPool, TimeBudget,
                              cron_seconds)
from .common import FakeProviderMixin, reported_progress

SID = 'AC' + '9' * 32
MESSAGES = rf'/2010-04-01/Accounts/{SID}/Messages\.json'
LOGGERS = ('odoo.addons.comm_gateway.models.comm_message', 'odoo.addons.comm_gateway.models.comm_dispatch',
           'odoo.addons.comm_gateway.models.comm_message_reconcile', 'odoo.addons.comm_gateway.tools.dispatch')
_sids = itertools.count(1)


def twilio_accepts(request):
    return {'sid': f'SM{next(_sids):032x}', 'status': 'queued', 'to': request.form_dict().get('To')}


class TickingClock:
    """A clock for :class:`TimeBudget` that moves ``step`` seconds each time it is read, or when
    the fake provider answers (``tick``)."""

    def __init__(self, step=0.0):
        self.now, self.step = 0.0, step

    def __call__(self):
        self.now += self.step
        return self.now

    def tick(self, seconds):
        self.now += seconds


class DispatchCase(FakeProviderMixin, CronMixinCase, TransactionCase):

    def setUp(self):
        super().setUp()
        self.twilio = self.env['comm.provider'].create({
            'name': 'Twilio', 'code': 'twilio', 'sms_from': '+15005550006', 'api_base_url': self.fake.base_url,
            'twilio_account_sid': SID, 'twilio_auth_token': 'tok', 'timeout': 5, 'rate_limit': 0,
            'max_concurrency': 1, 'breaker_threshold': 3, 'breaker_cooldown': 60})
        self.fake.route('POST', MESSAGES, 201, json=twilio_accepts)
        self.cron = self.env.ref('comm_gateway.ir_cron_comm_message_dispatch')

    def queue(self, count, provider=None, **values):
        now = fields.Datetime.now()
        return self.env['comm.message'].create([{
            'direction': 'out', 'channel': 'sms', 'provider_id': (provider or self.twilio).id, 'state': 'queued',
            'dispatch_state': 'todo', 'next_try_at': now, 'queued_at': now, 'from_number': '+15005550006',
            'to_number': f'+3247011{index:04d}', 'body': f'message {index}', **values,
        } for index in range(count)])

    def sends(self):
        return [r for r in self.fake.requests if r.method == 'POST']

    def progress(self, **kwargs):
        """Run the cron method; ``[(done, remaining)]`` it reported."""
        return reported_progress(self.env, lambda: self.env['comm.message']._cron_dispatch(**kwargs))


@tagged('post_install', '-at_install')
class TestDispatchLimits(DispatchCase):

    def set_pace(self, seconds_ahead):
        """The account's next shared slot, ``seconds_ahead`` from now: :returns: it"""
        self.env.cr.execute(
            """INSERT INTO comm_provider_pace (provider_id, next_slot_at)
               VALUES (%s, (clock_timestamp() at time zone 'UTC') + %s * interval '1 second')
               ON CONFLICT (provider_id) DO UPDATE SET next_slot_at = EXCLUDED.next_slot_at RETURNING next_slot_at""",
            [self.twilio.id, seconds_ahead])
        return self.env.cr.fetchone()[0]

    def next_slot(self):
        self.env.cr.execute('SELECT next_slot_at FROM comm_provider_pace WHERE provider_id = %s', [self.twilio.id])
        return self.env.cr.fetchone()[0]

    def test_a_budget_shorter_than_one_send_says_so(self):
        """With workers, a cron limit just above the idle sleep leaves a run less than one send
        (timeout + 2 s): nothing can be sent, and every run says why instead of staying silent."""
        messages = self.queue(2)
        with self.assertLogs('odoo.addons.comm_gateway.models.comm_dispatch', 'WARNING') as logs:
            self.env['comm.message']._cron_dispatch(budget=TimeBudget(4.5))
        self.assertIn('shorter than one send', logs.output[0])
        self.assertIn('limit_time_real_cron', logs.output[0])
        self.assertEqual(self.sends(), [])
        self.assertEqual(set(messages.mapped('dispatch_state')), {'todo'})

    def test_only_the_slots_a_run_can_use_are_reserved(self):
        self.twilio.rate_limit = 10
        ahead = self.set_pace(60)
        self.assertEqual(self.twilio._pace_reserve(5, within=20), [], 'the next slot begins after 20 s')
        self.assertEqual(self.next_slot(), ahead, 'nothing reserved: the later slots are not pushed back')
        slots = self.twilio._pace_reserve(5, within=60.25)
        self.assertEqual(len(slots), 3, 'the slots at +60, +60.1 and +60.2 s, not those after 60.25 s')
        self.assertAlmostEqual(slots[2] - slots[0], 0.2, places=3)
        self.assertGreater(slots[0] - time.monotonic(), 59)
        self.assertAlmostEqual((self.next_slot() - ahead).total_seconds(), 0.3, places=3)
        self.assertEqual(len(self.twilio._pace_reserve(4)), 4, 'without a bound: every slot asked for')

    def test_a_run_the_shared_pace_is_ahead_of_gives_its_claims_back(self):
        """After pauses the account's next slot can be later than this run could send: the run
        gives the claims back untouched and does not push the pace further (each run would push
        it by its claims' slots, until no run could send any more)."""
        self.twilio.rate_limit = 10
        messages = self.queue(3)
        ahead = self.set_pace(300)
        self.env['comm.message']._cron_dispatch(budget=TimeBudget(30))
        self.assertEqual(self.sends(), [])
        messages.invalidate_recordset()
        self.assertEqual(set(messages.mapped('dispatch_state')), {'todo'})
        self.assertEqual(messages.mapped('attempts'), [0, 0, 0], 'given back: no attempt counted')
        self.assertEqual(self.next_slot(), ahead)
        self.set_pace(0)
        self.env['comm.message']._cron_dispatch(budget=TimeBudget(30))
        messages.invalidate_recordset()
        self.assertEqual(len(self.sends()), 3, 'once the slots come within a run, they go')
        self.assertEqual(set(messages.mapped('dispatch_state')), {'done'})

    @mute_logger(*LOGGERS)
    def test_breaker_opens_mid_batch_when_every_call_times_out(self):
        """A provider that never answers in time: the breaker opens after 3 failures within the
        run, the sends not made yet are given back untouched, nothing more is claimed."""
        self.twilio.timeout = 0.3
        self.fake.route('POST', MESSAGES, 201, json=twilio_accepts, delay=1.0)
        messages = self.queue(12)
        self.env['comm.message']._cron_dispatch(batch_size=200)
        self.assertEqual(self.twilio.breaker_state, 'open')
        tried = messages.filtered('attempts')
        # one thread, two sends queued per thread: at most the one picked up meanwhile goes on
        self.assertLessEqual(len(self.sends()), 4)
        self.assertEqual(len(tried), len(self.sends()))
        self.assertEqual(set(tried.mapped('error_code')), {'timeout'})
        untouched = messages - tried
        self.assertGreaterEqual(len(untouched), 8)
        self.assertEqual(set(untouched.mapped('dispatch_state')), {'todo'}, 'given back, not stuck in attempt')
        self.assertFalse(any(untouched.mapped('error_code')))
        calls = len(self.fake.requests)
        self.env['comm.message']._cron_dispatch(batch_size=200)
        self.assertEqual(len(self.fake.requests), calls, 'open: nothing claimed for the account')
        self.assertEqual(set(untouched.mapped('attempts')), {0})

    @mute_logger(*LOGGERS)
    def test_budget_stops_claiming_and_hands_the_rest_over(self):
        clock = TickingClock()

        def slow_provider(request):
            clock.tick(20)      # each call "takes" 20 s of the run's budget
            return twilio_accepts(request)
        self.fake.route('POST', MESSAGES, 201, json=slow_provider)
        messages = self.queue(10)
        with self.capture_triggers(self.cron.id) as capture:
            reported = self.progress(batch_size=200, budget=TimeBudget(80, clock=clock))
        done = messages.filtered(lambda m: m.dispatch_state == 'done')
        self.assertTrue(2 <= len(done) < 10, len(done))
        self.assertEqual(len(self.sends()), len(done), 'nothing claimed is lost or sent twice')
        rest = messages - done
        self.assertEqual(set(rest.mapped('dispatch_state')), {'todo'})
        self.assertEqual(set(rest.mapped('attempts')), {0}, 'given back without counting an attempt')
        self.assertEqual(reported, [(len(done), 0)], 'the runner stops calling: the watchdog times the round')
        self.assertTrue(capture.records.filtered(lambda t: t.call_at <= fields.Datetime.now()),
                        'the next round is triggered at once')

    @mute_logger(*LOGGERS)
    def test_half_open_sends_one_and_keeps_the_others_attempts(self):
        messages = self.queue(4, attempts=2)
        self.twilio.sudo().write({'breaker_state': 'open', 'breaker_failures': 3,
                                  'breaker_open_until': fields.Datetime.now() - timedelta(seconds=1)})
        self.fake.route('POST', MESSAGES, 503, json={'code': 20500, 'message': 'Down', 'status': 503})
        self.env['comm.message']._cron_dispatch()
        self.assertEqual(len(self.sends()), 1, 'half-open: one message tests the water')
        self.assertEqual(self.twilio.breaker_state, 'open', 'the test failed: paused again')
        self.assertGreater(self.twilio.breaker_open_until, fields.Datetime.now())
        self.assertEqual(messages.mapped('attempts'), [3, 2, 2, 2], 'the others keep their attempts')
        # the provider is back; the cool-down ends: one test, then everything
        self.fake.route('POST', MESSAGES, 201, json=twilio_accepts)
        self.twilio.breaker_open_until = fields.Datetime.now() - timedelta(seconds=1)
        messages.write({'next_try_at': fields.Datetime.now() - timedelta(seconds=1)})
        self.env['comm.message']._cron_dispatch()
        self.assertEqual(self.twilio.breaker_state, 'closed')
        self.assertEqual(len(self.sends()), 2)
        self.assertEqual(messages.mapped('attempts'), [4, 2, 2, 2])
        self.env['comm.message']._cron_dispatch()
        self.assertEqual(set(messages.mapped('dispatch_state')), {'done'})
        self.assertEqual(messages.mapped('attempts'), [4, 3, 3, 3])
        self.assertEqual(len(self.sends()), 5, 'each message reached the provider once more')

    def test_half_open_test_is_taken_by_one_worker(self):
        self.queue(2)
        self.twilio.sudo().write({'breaker_state': 'open', 'breaker_open_until': '2000-01-01 00:00:00'})
        self.assertEqual(self.twilio._breaker_admit(), 'trial')
        self.assertEqual(self.twilio.breaker_state, 'half_open')
        self.assertFalse(self.twilio._breaker_admit(), 'another worker waits for the test to end')

    def test_archived_account_does_not_send(self):
        messages = self.queue(2)
        self.twilio.active = False
        reported = self.progress()
        self.assertFalse(self.sends())
        self.assertEqual(set(messages.mapped('dispatch_state')), {'todo'})
        self.assertEqual(reported, [(0, 0)], 'not counted as work left: the runner does not spin')

    @mute_logger(*LOGGERS)
    def test_retries_wake_the_cron_once(self):
        self.twilio.breaker_threshold = 100
        self.fake.route('POST', MESSAGES, 503, json={'code': 20500, 'message': 'Down', 'status': 503})
        messages = self.queue(6)
        with self.capture_triggers(self.cron.id) as capture:
            self.env['comm.message']._cron_dispatch()
        self.assertEqual(set(messages.mapped('dispatch_state')), {'todo'})
        self.assertEqual(len(capture.records), 1, 'one trigger for the earliest retry, not one per message')
        retried = messages.filtered('attempts')
        self.assertEqual(len(retried), 6, 'the pool was fed on (the breaker stays closed)')
        self.assertLess(abs(capture.records.call_at - min(retried.mapped('next_try_at'))), timedelta(seconds=1))
        with self.capture_triggers(self.cron.id) as capture:
            self.env['comm.message']._cron_dispatch()
        self.assertFalse(capture.records, 'a wake-up is already due by then')

    def test_a_retry_due_within_the_budget_is_waited_for_in_the_run(self):
        """Odoo wakes a prefork cron worker for a trigger due now only; a later one waits for its next
        poll (60-69 s). In a cron job, a retry due within the budget is waited for and sent in the
        run; one due beyond it is left to the trigger."""
        # a wake-up planned by then (committed by an earlier run on this database) serves the late one
        self.env['ir.cron.trigger'].search([('cron_id', '=', self.cron.id)]).unlink()
        soon, late = self.queue(2)
        now = fields.Datetime.now()
        soon.next_try_at, late.next_try_at = now + timedelta(seconds=5), now + timedelta(minutes=5)
        slept = []

        def sleep(seconds):
            slept.append(seconds)
            soon.next_try_at = fields.Datetime.now() - timedelta(seconds=1)     # the time has come
            soon.flush_recordset()
        with patch('odoo.addons.comm_gateway.models.comm_dispatch.time.sleep', sleep), \
                self.capture_triggers(self.cron.id) as capture:
            self.env['comm.message'].with_context(cron_id=self.cron.id)._cron_dispatch(budget=TimeBudget(60))
        self.assertEqual(len(slept), 1)
        self.assertAlmostEqual(slept[0], 5, delta=2)
        self.assertEqual((soon.dispatch_state, late.dispatch_state), ('done', 'todo'))
        self.assertEqual(len(self.sends()), 1)
        self.assertEqual(len(capture.records), 1, 'the late one: a trigger')
        self.assertLess(abs(capture.records.call_at - late.next_try_at), timedelta(seconds=1))


@tagged('post_install', '-at_install')
class TestDispatchCrashes(DispatchCase):

    def interrupted(self, count, **values):
        messages = self.queue(count, **values)
        messages.write({'dispatch_state': 'attempt', 'attempt_at': datetime(2026, 1, 2, 10, 0), 'attempts': 1,
                        **values})
        return messages

    @mute_logger(*LOGGERS)
    def test_one_unreconcilable_attempt_does_not_stop_the_others(self):
        sandbox = self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox'})
        bad = self.interrupted(1)
        good = self.queue(1, provider=sandbox)
        good.write({'dispatch_state': 'attempt', 'attempt_at': datetime(2026, 1, 2, 10, 0), 'attempts': 1})
        # Twilio's message list answers something that is not JSON: the lookup itself breaks
        self.fake.route('GET', MESSAGES, 200, body='<html>gateway</html>')
        fresh = self.queue(1)
        self.env['comm.message']._cron_dispatch()
        self.assertEqual((bad.dispatch_state, bad.error_code), ('failed', 'uncertain'))
        self.assertIn('could not be checked', bad.error_message)
        self.assertEqual((good.dispatch_state, good.error_code), ('failed', 'uncertain'), 'reconciled all the same')
        self.assertEqual(fresh.dispatch_state, 'done', 'and the queue went on')
        self.assertEqual([r.form_dict()['Body'] for r in self.sends()], [fresh.body], 'nothing resent blindly')

    @mute_logger(*LOGGERS)
    def test_reconciliation_is_bounded_per_run(self):
        self.fake.route('GET', MESSAGES, 200, json={'messages': [], 'end': 0, 'page': 0, 'page_size': 50,
                                                    'next_page_uri': None})
        stale = self.interrupted(5)
        looked_at = self.env['comm.message']._reconcile_stale_attempts(TimeBudget(100), limit=2)
        self.assertEqual(looked_at, 2)
        self.assertEqual(sorted(stale.mapped('dispatch_state')), ['attempt', 'attempt', 'attempt', 'failed', 'failed'])

    @mute_logger(*LOGGERS)
    def test_poison_send_fails_after_its_attempts(self):
        """A send whose worker dies each time (confirmed never sent: Plivo) is not retried forever."""
        auth_id = 'MA' + 'C' * 18
        plivo = self.env['comm.provider'].create({
            'name': 'Plivo', 'code': 'plivo', 'plivo_auth_id': auth_id, 'plivo_auth_token': 'plivo-token',
            'sms_from': '+15005550006', 'api_base_url': self.fake.base_url, 'timeout': 5, 'rate_limit': 0})
        self.fake.route('GET', rf'/v1/Account/{auth_id}/Message/', 200, json={
            'api_id': 'l', 'objects': [], 'meta': {'limit': 20, 'offset': 0, 'total_count': 0, 'next': None}})
        message = self.queue(1, provider=plivo)
        message.write({'dispatch_state': 'attempt', 'attempt_at': datetime(2026, 1, 2, 10, 0), 'attempts': 6})
        self.env['comm.message']._cron_dispatch()
        self.assertEqual((message.dispatch_state, message.state, message.error_code), ('failed', 'failed', 'interrupted'))
        self.assertIn('interrupted 6 times', message.error_message)
        self.assertFalse(self.sends())

    @mute_logger(*LOGGERS)
    def test_claim_never_started_is_sent_once_after_a_crash(self):
        """A worker died between its claim and the provider call: the message is queued again and
        sent once, without asking the provider; one that died during the call (Sandbox: no lookup)
        stays "uncertain"."""
        sandbox = self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox'})
        self.queue(3)
        claimed = self.env['comm.message']._claim_outbound(3, self.twilio)     # then the worker died
        self.queue(1, provider=sandbox)
        during = self.env['comm.message']._claim_outbound(1, sandbox)
        during._mark_started()                                                 # died during the call
        self.assertEqual(claimed.mapped('attempt_unstarted'), [True] * 3)
        (claimed | during).write({'attempt_at': fields.Datetime.now() - timedelta(minutes=11)})
        self.env['comm.message']._cron_dispatch()
        self.assertEqual(set(claimed.mapped('dispatch_state')), {'done'})
        self.assertEqual(claimed.mapped('attempts'), [2] * 3, 'the crash counts: a poison claim ends')
        self.assertEqual(sorted(r.form_dict()['Body'] for r in self.sends()), sorted(claimed.mapped('body')),
                         'each sent exactly once')
        self.assertFalse([r for r in self.fake.requests if r.method == 'GET'], 'no lookup needed')
        self.assertEqual((during.dispatch_state, during.error_code), ('failed', 'uncertain'))

    @mute_logger(*LOGGERS)
    def test_only_sends_in_their_call_are_marked_started(self):
        """At every commit of the dispatch (what a worker that dies leaves behind), the sends
        marked started are the ones in their call: none still waiting for a thread or a pace slot
        (those go back to the queue, sent once); and each call begins after its mark is committed."""
        self.twilio.write({'max_concurrency': 2, 'rate_limit': 50})
        messages = self.queue(9)
        commits, calls = [], []
        Message = type(self.env['comm.message'])
        commit, call = Message._commit, SendPool._log_send     # right before the adapter's call, on either path

        def committed(records):
            records.env.flush_all()
            records.env.cr.execute(
                "SELECT id FROM comm_message WHERE dispatch_state = 'attempt' AND NOT attempt_unstarted AND id IN %s",
                [tuple(messages.ids)])
            commits.append({row[0] for row in records.env.cr.fetchall()})
            return commit(records)

        def calling(pool, outbound):
            calls.append((outbound.client_ref, len(commits)))
            return call(pool, outbound)
        with patch.object(Message, '_commit', committed), patch.object(SendPool, '_log_send', calling):
            self.env['comm.message']._cron_dispatch()
        self.assertEqual(set(messages.mapped('dispatch_state')), {'done'})
        self.assertEqual(len(self.sends()), 9, 'each sent once')
        ids = dict(zip(messages.mapped('client_ref'), messages.ids))
        self.assertEqual(len(calls), 9)
        for ref, seen in calls:
            self.assertIn(ids[ref], commits[seen - 1], 'its start committed before its call')
        self.assertLessEqual(max(len(started) for started in commits), 2,
                         'never more marked started than threads in a call (4 were handed to the pool at once)')


@tagged('post_install', '-at_install')
class TestSharedPace(BaseCase):
    """Two servers (two threads, each with its own connections) send for one account: together
    they keep to its rate, and a 429 one of them gets pauses the other."""

    def test_two_servers_share_one_rate_and_one_pause(self):
        registry = Registry(get_db_name())
        with registry.cursor() as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            provider_id = env['comm.provider'].create({'name': 'Shared pace', 'code': 'sandbox',
                                                       'rate_limit': 20}).id
        with registry.cursor() as cr:
            cr.execute("SELECT clock_timestamp() at time zone 'UTC'")
            [started] = cr.fetchone()
        envs = {name: api.Environment(registry.cursor(), api.SUPERUSER_ID, {}) for name in ('a', 'b')}
        slots, calls, errors = {'a': [], 'b': []}, [], []
        barrier = threading.Barrier(2)

        def server(name):
            provider = envs[name]['comm.provider'].browse(provider_id)
            try:
                barrier.wait(timeout=10)
                for _wave in range(5):
                    before = time.monotonic()
                    slots[name] += provider._pace_reserve(4)
                    calls.append(time.monotonic() - before)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        try:
            threads = [threading.Thread(target=server, args=(name,)) for name in envs]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            self.assertFalse(errors)
            every = sorted(slots['a'] + slots['b'])
            self.assertEqual(len(every), 40)
            # in PostgreSQL, exactly: 40 slots of 50 ms, one after the other, whoever took them
            with registry.cursor() as cr:
                cr.execute("SELECT next_slot_at FROM comm_provider_pace WHERE provider_id = %s", [provider_id])
                [reserved_until] = cr.fetchone()
            self.assertGreaterEqual((reserved_until - started).total_seconds(), 40 * 0.05)
            # on this server's clock, each slot is read when its answer arrives: off by at most
            # the duration of its call (a loaded machine widens that, never the reservations)
            gaps = [later - earlier for earlier, later in zip(every, every[1:])]
            self.assertGreaterEqual(min(gaps), 0.05 - 0.005 - 2 * max(calls),
                                    'never two sends closer than the rate allows')
            # a 429 seen by one server holds back the other's next slots
            a, b = (envs[name]['comm.provider'].browse(provider_id) for name in ('a', 'b'))
            thread = threading.Thread(target=a._pace_pause, args=(10.0,))
            thread.start()
            thread.join(10)
            result = []
            thread = threading.Thread(target=lambda: result.extend(b._pace_reserve(1)))
            thread.start()
            thread.join(10)
            self.assertGreater(result[0] - time.monotonic(), 9.0, 'the other server waits for the pause too')
        finally:
            for env in envs.values():
                env.cr.close()
            with registry.cursor() as cr:
                env = api.Environment(cr, api.SUPERUSER_ID, {})
                env['comm.provider'].browse(provider_id).unlink()

    def test_two_servers_share_one_breaker(self):
        registry = Registry(get_db_name())
        with registry.cursor() as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            provider_id = env['comm.provider'].create({'name': 'Shared breaker', 'code': 'sandbox',
                                                       'breaker_threshold': 3}).id
        envs = [api.Environment(registry.cursor(), api.SUPERUSER_ID, {}) for _index in range(2)]
        states = []

        def record(env, outcomes):
            states.append(env['comm.provider'].browse(provider_id)._breaker_record(outcomes))

        try:
            for env, outcomes in ((envs[0], [False, False]), (envs[1], [False])):
                thread = threading.Thread(target=record, args=(env, outcomes))
                thread.start()
                thread.join(10)
            self.assertEqual(states, ['closed', 'open'], 'two failures on one server, one on the other: three')
            with registry.cursor() as cr:
                cr.execute('SELECT state, failures FROM comm_provider_breaker WHERE provider_id = %s', [provider_id])
                self.assertEqual(cr.fetchone(), ('open', 3))
        finally:
            for env in envs:
                env.cr.close()
            with registry.cursor() as cr:
                env = api.Environment(cr, api.SUPERUSER_ID, {})
                env['comm.provider'].browse(provider_id).unlink()

    def test_breaker_update_does_not_fail_an_older_snapshots_insert(self):
        """Odoo's SMS cron inserts messages in a REPEATABLE READ transaction while the dispatch of
        another worker records its answers: the account's row, which the insert's foreign-key check
        locks, is never updated, so the insert goes through (it failed "could not serialize access
        due to concurrent update" when the breaker lived on that row)."""
        registry = Registry(get_db_name())
        with registry.cursor() as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            provider_id = env['comm.provider'].create({'name': 'Busy account', 'code': 'sandbox',
                                                       'breaker_threshold': 2}).id
        inserting, dispatching = (api.Environment(registry.cursor(), api.SUPERUSER_ID, {}) for _index in range(2))
        states, errors = [], []

        def dispatch():
            """What a dispatch worker does to the breaker: admit, then record each answer group."""
            try:
                provider = dispatching['comm.provider'].browse(provider_id)
                provider._breaker_admit()
                states.extend(provider._breaker_record(outcomes) for outcomes in ([False], [False], [True]))
                dispatching.cr.commit()
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
        try:
            inserting.cr.execute('SELECT xmin FROM comm_provider WHERE id = %s', [provider_id])    # the snapshot
            [row_version] = inserting.cr.fetchone()
            thread = threading.Thread(target=dispatch)
            thread.start()
            thread.join(10)
            self.assertEqual(errors, [])
            self.assertEqual(states, ['closed', 'open', 'closed'], 'the other worker committed its breaker changes')
            message = inserting['comm.message'].create({
                'direction': 'out', 'channel': 'sms', 'provider_id': provider_id, 'state': 'queued',
                'dispatch_state': 'todo', 'to_number': '+32470110000', 'body': 'queued by Odoo'})
            inserting.cr.commit()
            inserting.cr.execute('SELECT xmin FROM comm_provider WHERE id = %s', [provider_id])
            self.assertEqual(inserting.cr.fetchone()[0], row_version, "the account's row was never updated")
            self.assertTrue(message.exists())
        finally:
            for env in (inserting, dispatching):
                env.cr.close()
            with registry.cursor() as cr:
                env = api.Environment(cr, api.SUPERUSER_ID, {})
                cr.execute('DELETE FROM comm_message WHERE provider_id = %s', [provider_id])
                env['comm.provider'].browse(provider_id).unlink()


@tagged('post_install', '-at_install')
class TestStartsRecordedByThePool(FakeProviderMixin, BaseCase):
    """Production mode (committed data, no test cursor): the pool records the start of the sends
    about to go, together, in a transaction of its own; each call begins once its start is
    committed, and none waits for a round of the dispatch."""

    def test_each_call_begins_after_its_start_is_committed(self):
        registry = Registry(get_db_name())
        with registry.cursor() as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            provider = env['comm.provider'].create({
                'name': 'Started by the pool', 'code': 'twilio', 'sms_from': '+15005550006',
                'api_base_url': self.fake.base_url, 'twilio_account_sid': SID, 'twilio_auth_token': 'tok',
                'timeout': 5, 'rate_limit': 0, 'max_concurrency': 4})
            provider_id = provider.id
            now = fields.Datetime.now()
            ids = env['comm.message'].create([{
                'direction': 'out', 'channel': 'sms', 'provider_id': provider_id, 'state': 'queued',
                'dispatch_state': 'todo', 'next_try_at': now, 'from_number': '+15005550006',
                'to_number': f'+3247022{index:04d}', 'body': f'pool start {index}'} for index in range(12)]).ids
        seen, errors = {}, []

        def accepts(request):
            """The provider's side of each call: what the database holds, committed, at that moment."""
            body = request.form_dict()['Body']
            with registry.cursor() as cr:
                cr.execute("SELECT dispatch_state, attempt_unstarted FROM comm_message WHERE body = %s "
                           "AND provider_id = %s", [body, provider_id])
                seen[body] = cr.fetchone()
            return twilio_accepts(request)
        self.fake.route('POST', MESSAGES, 201, json=accepts, delay=0.05)

        # made here: the test runner holds the registry's lock, which a new environment needs
        env = api.Environment(registry.cursor(), api.SUPERUSER_ID, {})

        def dispatch():
            try:
                account = env['comm.provider'].browse(provider_id)
                starters.append(env['comm.message']._starter())
                with patch.object(type(env['comm.message']), '_mark_started',
                                  side_effect=AssertionError('the dispatch does not wait to record starts')), \
                        patch.object(StartRecorder, '__call__',
                                     side_effect=AssertionError('Twilio sends on a loop: its starts are recorded there')):
                    env['comm.message']._claim_outbound(12, account)._send_through(account)
                env.cr.commit()
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
        starters = []
        try:
            thread = threading.Thread(target=dispatch)      # not a test thread: real transactions
            thread.start()
            thread.join(60)
            self.assertEqual(errors, [])
            self.assertIsNotNone(starters[0], 'production: the pool records the starts')
            self.assertEqual(len(seen), 12, 'each sent once')
            self.assertEqual(set(seen.values()), {('attempt', False)}, 'each call began after its start was committed')
            with registry.cursor() as cr:
                cr.execute("SELECT dispatch_state, count(*) FROM comm_message WHERE id IN %s GROUP BY 1",
                           [tuple(ids)])
                self.assertEqual(cr.fetchall(), [('done', 12)])
        finally:
            env.cr.close()
            with registry.cursor() as cr:
                env = api.Environment(cr, api.SUPERUSER_ID, {})
                cr.execute('DELETE FROM comm_message WHERE provider_id = %s', [provider_id])
                env['comm.provider'].browse(provider_id).unlink()

    @staticmethod
    def _recorders(registry):
        """Each way a pool records its starts: ``(name, recorder, record(group) -> backend pid)``."""
        threaded, looped = StartRecorder(registry), StartRecorder(registry)

        def in_thread(group):
            threaded(group)
            return threaded.connection.get_backend_pid()

        async def on_loop(group):
            await looped.start_async(group)
            return looped.connection.get_backend_pid()
        return [('thread', threaded, in_thread), ('loop', looped, lambda group: asyncio.run(on_loop(group)))]

    def test_a_lost_connection_fails_one_group_and_the_next_reconnects(self):
        registry = Registry(get_db_name())
        group = [SimpleNamespace(id=-1)]
        for name, recorder, record in self._recorders(registry):
            with self.subTest(name), contextlib.closing(recorder):
                backend = record(group)
                with registry.cursor() as cr:
                    cr.execute('SELECT pg_terminate_backend(%s)', [backend])
                with self.assertRaises(psycopg2.OperationalError):
                    record(group)
                self.assertIsNone(recorder.connection, 'the lost connection is dropped')
                self.assertNotEqual(record(group), backend, 'the next group records on a new connection')
            self.assertIsNone(recorder.connection)

    def test_a_start_held_by_a_lock_fails_its_group_in_time(self):
        """A start that would wait for a row another transaction holds gives up after START_TIMEOUT
        (its sends given back) instead of holding the pool, and its stop, for as long."""
        registry = Registry(get_db_name())
        with registry.cursor() as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            provider = env['comm.provider'].create({'name': 'Start held by a lock', 'code': 'sandbox'})
            message = env['comm.message'].create({
                'direction': 'out', 'channel': 'sms', 'state': 'sent', 'provider_id': provider.id,
                'to_number': '+32470220000', 'body': 'held by a lock'})
        group = [SimpleNamespace(id=message.id)]
        try:
            for name, recorder, record in self._recorders(registry):
                with self.subTest(name), contextlib.closing(recorder), registry.cursor() as holder, \
                        patch.object(comm_dispatch, 'START_TIMEOUT', 0.3):
                    # let go by PostgreSQL itself after 8 s: a start that waits for it fails the test, not hangs it
                    holder.execute("SET LOCAL idle_in_transaction_session_timeout = '8s'")
                    holder.execute('SELECT 1 FROM comm_message WHERE id = %s FOR UPDATE', [message.id])
                    started = time.monotonic()
                    with self.assertRaises(psycopg2.errors.QueryCanceled):
                        record(group)
                    self.assertLess(time.monotonic() - started, 5, 'given up after the start timeout')
                    self.assertIsNone(recorder.connection, 'dropped: the next group reconnects')
                    holder.execute('ROLLBACK')
                    holder.execute('UPDATE comm_message SET attempt_unstarted = TRUE WHERE id = %s', [message.id])
                    holder.commit()
                    record(group)
                    holder.execute('SELECT attempt_unstarted FROM comm_message WHERE id = %s', [message.id])
                    self.assertEqual(holder.fetchone(), (False,), 'the next group is recorded')
        finally:
            with registry.cursor() as cr:
                cr.execute('DELETE FROM comm_message WHERE id = %s', [message.id])
                api.Environment(cr, api.SUPERUSER_ID, {})['comm.provider'].browse(provider.id).unlink()

    def test_sends_whose_start_cannot_be_recorded_are_not_made(self):
        adapter = type('Adapter', (), {'code': 'stub', 'calls': [],
                                       'send_message': lambda self, outbound: self.calls.append(outbound)})()

        def starter(keys):
            raise RuntimeError('the database is gone')
        with mute_logger('odoo.addons.comm_gateway.tools.dispatch'), SendPool(adapter, 2, starter=starter) as pool:
            for key in ('a', 'b', 'c'):
                pool.submit(key, object())
            answers = []
            while len(pool):
                answers += pool.collect()[0]
        self.assertEqual(sorted(answers, key=lambda answer: answer[0]), [(key, NOT_SENT) for key in 'abc'],
                         'given back, never sent unrecorded')
        self.assertEqual(adapter.calls, [])


@tagged('post_install', '-at_install')
class TestPace(BaseCase):
    """The pool's local pacing after a 429 (times are monotonic seconds, computed, not waited for)."""

    def test_a_pause_moves_the_slots_reserved_before_it_only(self):
        pace = Pace(interval=0.025)
        with patch('odoo.addons.comm_gateway.tools.dispatch.time.monotonic', return_value=100.0):
            pace.pause(1.0)
            pace.pause(1.0)                 # the other sends in flight got their 429 too: one pause
        before, after = 99.0, 100.5         # when the slot was reserved
        self.assertAlmostEqual(pace.due(100.2, before), 101.2, msg='moved by the pause: the spacing kept')
        self.assertAlmostEqual(pace.due(101.4, after), 101.4, msg='reserved after the pause: its slot already follows it')
        self.assertAlmostEqual(pace.due(100.6, after), 101.0, msg='never within the pause')
        with patch('odoo.addons.comm_gateway.tools.dispatch.time.monotonic', return_value=120.0):
            pace.pause(1.0)
        self.assertAlmostEqual(pace.due(125.0, 110.0), 126.0, msg='one pause since it was reserved: one second')
        self.assertAlmostEqual(pace.due(125.0, 90.0), 127.0)

    def test_a_slot_beyond_the_budget_is_not_waited_for(self):
        """A send whose slot comes later than its run could cover gives up at once (given back),
        instead of waiting past the budget."""
        pace, now = Pace(interval=0.025), time.monotonic()
        self.assertFalse(pace.wait(now + 30, now, threading.Event(), patience=lambda: 5.0))
        self.assertTrue(pace.wait(now - 1, now, threading.Event(), patience=lambda: 5.0), 'due: it goes')


class _LoopAdapter:
    """An adapter that sends without blocking, on the pool's event loop: how many calls at once, on which threads."""
    code, sends_async = 'stub', True

    def __init__(self, delay):
        self.delay, self.in_call, self.most, self.calls, self.threads = delay, 0, 0, [], set()

    @contextlib.asynccontextmanager
    async def async_client(self):
        yield 'client'

    async def send_message_async(self, outbound, client):
        self.in_call += 1
        self.most = max(self.most, self.in_call)
        self.threads.add(threading.get_ident())
        await asyncio.sleep(self.delay)
        self.in_call -= 1
        self.calls.append(outbound.body)
        if outbound.body == 'busy':
            raise ProviderError('Too many requests', code='20429', retryable=True, http_status=429, retry_after=3)
        if outbound.body == 'bug':
            raise KeyError('sdk')
        return SendResult(provider_id=f'SM{outbound.body}', elapsed=None)


@tagged('post_install', '-at_install')
class TestSendPoolOnALoop(BaseCase):
    """An adapter whose SDK sends without blocking (Twilio): all the sends of an account on one
    event loop in one thread, never more at once than the account's concurrency."""

    def run_pool(self, adapter, bodies, workers, stop_after=None):
        answers = []
        with mute_logger('odoo.addons.comm_gateway.tools.dispatch'), \
                SendPool(adapter, workers, starter=lambda keys: None) as pool:
            for body in bodies:
                pool.submit(body, Outbound(to='+32470110000', body=body))
            if stop_after is not None:
                time.sleep(stop_after)
                self.assertEqual(pool.stop(), [], 'nothing cancelled under way: what has not started returns by itself')
            while len(pool):
                answers += pool.collect()[0]
        # the pauses the pool took (a send still waiting for its turn is held back by them, then
        # goes: how long is left of one when the last answer comes depends on that send's timing)
        return dict(answers), [seconds for _start, seconds in pool.pace.pauses]

    def test_sends_on_one_loop_at_most_the_concurrency_at_once(self):
        adapter = _LoopAdapter(0.02)
        bodies = [str(index) for index in range(20)]
        answers, _pauses = self.run_pool(adapter, bodies, 4)
        self.assertEqual(sorted(answers), sorted(bodies))
        self.assertEqual({result.provider_id for result in answers.values()}, {f'SM{body}' for body in bodies})
        self.assertEqual(adapter.most, 4)
        self.assertEqual(len(adapter.threads), 1, 'one thread for all of them')
        self.assertTrue(all(result.elapsed >= 0.02 for result in answers.values()))

    def test_starts_are_recorded_on_the_loop_before_each_call(self):
        recorded, threads, unrecorded = [], set(), []

        class Adapter(_LoopAdapter):
            async def send_message_async(self, outbound, client):
                unrecorded.extend([outbound.body] if outbound.body not in recorded else [])
                return await super().send_message_async(outbound, client)
        adapter = Adapter(0.01)

        class Starter:
            def __call__(self, keys):
                raise AssertionError('recorded from a thread')

            async def start_async(self, keys):
                threads.add(threading.get_ident())
                await asyncio.sleep(0.005)
                recorded.extend(keys)
        with SendPool(adapter, 3, starter=Starter()) as pool:
            for body in map(str, range(9)):
                pool.submit(body, Outbound(to='+32470110000', body=body))
            answers = []
            while len(pool):
                answers += pool.collect()[0]
        self.assertEqual(sorted(recorded), sorted(map(str, range(9))), 'each start recorded once')
        self.assertEqual(unrecorded, [], 'each call began after its start was recorded')
        self.assertEqual(threads, adapter.threads, 'on the loop\'s own thread')
        self.assertEqual(sorted(body for body, result in answers if result is not NOT_SENT), sorted(recorded))
        self.assertEqual(pool.threads[1:], [], 'no starter thread')

    def test_sends_whose_start_fails_on_the_loop_are_not_made(self):
        adapter = _LoopAdapter(0.0)

        class Starter:
            def __call__(self, keys):
                raise AssertionError('recorded from a thread')

            async def start_async(self, keys):
                raise OSError('the database is gone')
        with mute_logger('odoo.addons.comm_gateway.tools.dispatch'), SendPool(adapter, 2, starter=Starter()) as pool:
            for key in 'abc':
                pool.submit(key, Outbound(to='+32470110000', body=key))
            answers = []
            while len(pool):
                answers += pool.collect()[0]
        self.assertEqual(sorted(answers, key=lambda answer: answer[0]), [(key, NOT_SENT) for key in 'abc'])
        self.assertEqual(adapter.calls, [], 'never sent unrecorded')

    def test_sends_handed_over_together_wake_the_loop_once(self):
        adapter = _LoopAdapter(0.01)
        with SendPool(adapter, 4, starter=lambda keys: None) as pool:
            with patch.object(pool.loop, 'call_soon_threadsafe', wraps=pool.loop.call_soon_threadsafe) as wake:
                pool.submit_all([(str(index), Outbound(to='+32470110000', body=str(index)), None) for index in range(10)])
                handed = [call for call in wake.call_args_list if call.args[0] == pool._create_tasks]
            answers = []
            while len(pool):
                answers += pool.collect()[0]
        self.assertEqual(len(handed), 1, 'one hand-over for the ten sends')
        self.assertEqual(sorted(key for key, _result in answers), sorted(map(str, range(10))))
        self.assertEqual(sorted(adapter.calls), sorted(map(str, range(10))), 'each sent once')

    def test_errors_on_the_loop_are_answers(self):
        adapter = _LoopAdapter(0.0)
        answers, pauses = self.run_pool(adapter, ['ok', 'busy', 'bug'], 3)
        self.assertEqual(answers['ok'].provider_id, 'SMok')
        self.assertEqual((answers['busy'].code, answers['busy'].retry_after), ('20429', 3))
        self.assertEqual(pauses, [3], 'a 429 holds the pool back for its Retry-After')
        self.assertEqual((answers['bug'].code, answers['bug'].retryable), ('internal', True))

    def test_stop_gives_back_what_has_not_started_and_lets_the_calls_end(self):
        adapter = _LoopAdapter(0.3)
        answers, _pauses = self.run_pool(adapter, [str(index) for index in range(6)], 2, stop_after=0.1)
        sent = sorted(body for body, result in answers.items() if result is not NOT_SENT)
        self.assertEqual(len(answers), 6)
        self.assertEqual(sent, sorted(adapter.calls), 'the two calls under way ended with their answer')
        self.assertEqual(len(sent), 2)
