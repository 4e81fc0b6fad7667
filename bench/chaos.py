"""Chaos bench of issue 12 (see docs/BENCHMARKS.md): both queues under Odoo's prefork watchdog
while the provider fails, the cron workers are killed and a second server joins.

1. ``./dev.sh run`` with ``--workers=2 --max-cron-threads=2 --limit-time-real-cron=N`` (120 s by
   default, Odoo's ``limit_time_real``): the real cron workers under the real watchdog.
2. bench/fake_twilio.py with a mix of failures (``--mix``: 5xx, 429 with Retry-After, slow
   answers, timeouts that hold the request past the account's timeout), which counts the sends
   it accepted (2xx) per (To, Body) and per second.
3. A Twilio account on the fake (``--rate`` msg/s, ``--concurrency``, 2 s timeout, breaker after
   5 failures, 10 s cool-down), the company's default SMS account; ``-n`` SMS from Odoo's mass SMS
   composer (``--mass-sms``, the default: "Put in queue" on ``-n`` bench contacts with distinct
   mobiles, one body per contact, no log; Odoo's SMS cron, woken as the composer commits, hands
   them to our queue in a cron worker) or, with ``--direct``, queued as ``comm.message`` rows and
   the dispatch cron triggered; meanwhile ``--inbound`` signed inbound webhooks are posted to the
   server (the webhook cron processes them).
4. While Odoo's crons send and process, driven by progress: ``kill -9`` of the worker running the
   dispatch cron while sends are in flight; a full outage of the fake (every send 503) for
   ``--outage`` seconds, then recovery; ``kill -9`` of the worker running the webhook cron while
   events are processing; a second server (``ODOO_HTTP_PORT`` + 10, ``--workers=1
   --max-cron-threads=1``) on the same database; a second ``kill -9`` of the dispatch worker,
   wherever it runs. Claims and events a killed worker left are aged by 10 minutes (their stale
   threshold) instead of waiting for it: what runs then is the real reconciliation. So are the
   claims of a worker Odoo's watchdog killed while it ran one of our crons (that fails a check).
5. Until every message and event is final (or ``--deadline``), then the checks, printed; the exit
   status is 1 when one fails: no SMS left in Odoo's SMS queue; every message final; each one sent (accepted by the fake) exactly
   once, none recorded failed that the fake accepted, every failure with a reason; every webhook
   stored once and processed (one message, one chatter post); both crons active with no failure;
   the breaker seen open during the outage and closed at the end; never more sends in one second
   than the account's rate (+1 for the second's edges).

Run: ``bench/run.sh chaos [-n 2000] [--inbound 2000] [--rate 40] [--outage 30] [--direct] [--keep]``
"""
import argparse
import asyncio
import contextlib
import math
import os
import re
import signal
import threading
import time
from datetime import datetime, timedelta, timezone

import common
import dispatch as bench
import webhooks
from common import say

DISPATCH_CRON, WEBHOOK_CRON = 'Communications: send queued messages', 'Communications: process webhook events'
JOB_LINE = re.compile(r"^\S+ \S+ (\d+) \w+ \S+ odoo\.addons\.base\.models\.ir_cron: Job '(.+?)' \(\d+\) (starting|done)")
WATCHDOG_LINE = re.compile(r'^(\S+ \S+),\d+ \d+ ERROR \S+ odoo\.service\.server: WorkerCron \((\d+)\) timeout after')
CONTACTS_PREFIX = '+1415556'                # the mass SMS contacts' mobiles (bench/webhooks.py's: +1415555)
STALE = timedelta(minutes=10)            # comm_message.STALE_ATTEMPT, comm_webhook_event.STALE_AFTER


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def running_job(logs, cron_name):
    """The pid of the server process whose last line about ``cron_name`` says it started."""
    last = {}
    for log in logs:
        with contextlib.suppress(FileNotFoundError), open(log, errors='replace') as lines:
            for line in lines:
                if (match := JOB_LINE.match(line)) and match[2] == cron_name:
                    last[int(match[1])] = (line[:23], match[3])
    for pid, (_at, what) in sorted(last.items(), key=lambda item: item[1][0], reverse=True):
        if what == 'starting' and os.path.exists(f'/proc/{pid}'):
            return pid
    return None


def last_job(logs, pid):
    """The name of the last job the server process ``pid`` started."""
    last = None
    for log in logs:
        with contextlib.suppress(FileNotFoundError), open(log, errors='replace') as lines:
            for line in lines:
                if (match := JOB_LINE.match(line)) and int(match[1]) == pid and match[3] == 'starting':
                    last = match[2]
    return last


def watchdog_kills(logs):
    """``[(pid, naive UTC datetime)]`` of the cron workers Odoo's watchdog killed (server time is UTC)."""
    kills = []
    for log in logs:
        with contextlib.suppress(FileNotFoundError), open(log, errors='replace') as lines:
            kills += [(int(m[2]), datetime.fromisoformat(m[1])) for m in map(WATCHDOG_LINE.match, lines) if m]
    return kills


def backend_alive(cr, pid):
    cr.execute('SELECT count(*) FROM pg_stat_activity WHERE application_name = %s', [f'odoo-{pid}'])
    return cr.fetchone()[0] > 0


class Chaos:
    """The run's state: what was done to the servers, and what was seen."""

    def __init__(self, args, registry, fake_port, provider_id, inbound_provider_id):
        self.args, self.registry, self.fake_port = args, registry, fake_port
        self.provider_id, self.inbound_provider_id = provider_id, inbound_provider_id
        self.logs = [common.LOG_DIR / 'chaos-server.log']
        self.groups = set()             # process groups of our servers: only their processes are killed
        self.kills = []                 # (what, pid, at)
        self.to_age = []                # (table, pid, at): claims of a killed worker, aged once it is gone
        self.breaker_states = []        # (seconds since start, state)
        self.outage = None              # (start, end) in seconds since start
        self.recovered_after = None
        self.second = None              # the second server's context manager, once up
        self.starting = None            # the thread starting it
        self.second_error = None
        self.watchdog_pids = set()
        self.all_queued_at = None       # seconds since start when all ``-n`` messages were in our queue
        self.started = time.monotonic()
        self.account_rows = self.account_versions()     # the accounts' rows, never updated by the run

    def account_versions(self):
        return self.query('SELECT id, xmin::text FROM comm_provider WHERE id IN %s ORDER BY id',
                          [(self.provider_id, self.inbound_provider_id)])

    def elapsed(self):
        return time.monotonic() - self.started

    def query(self, sql, params=()):
        with common.environment(self.registry) as env:
            env.cr.execute(sql, params)
            return env.cr.fetchall()

    def counts(self):
        rows = self.query("""SELECT dispatch_state, count(*) FROM comm_message WHERE provider_id = %s
                              GROUP BY dispatch_state""", [self.provider_id])
        events = self.query("""SELECT state, count(*) FROM comm_webhook_event WHERE provider_id = %s
                                GROUP BY state""", [self.inbound_provider_id])
        return dict(rows), dict(events)

    def kill(self, what, cron_name, busy_sql, params):
        """``kill -9`` of the worker running ``cron_name`` once ``busy_sql`` counts work in its
        hands; :returns: whether it was killed (else: not now, try again)."""
        pid = running_job(self.logs, cron_name)
        if not pid or not self.query(busy_sql, params)[0][0]:
            return False
        try:
            if os.getpgid(pid) not in self.groups:
                return False        # not one of our servers' processes (a log line of a previous run)
            at = utcnow()
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        self.kills.append((what, pid, at))
        self.to_age.append(('comm_message' if what == 'dispatch' else 'comm_webhook_event', pid, at))
        say(f'kill -9 of the {what} cron worker (pid {pid}) at {self.elapsed():.0f}s, work in its hands')
        return True

    def watch_the_watchdog(self):
        """A worker Odoo's watchdog killed leaves claims too when it ran one of our crons (one cron
        never runs in two workers at once, so the claims before the kill were its own)."""
        for pid, at in watchdog_kills(self.logs):
            if pid not in self.watchdog_pids:
                self.watchdog_pids.add(pid)
                job = last_job(self.logs, pid)
                say(f'Odoo\'s watchdog killed the cron worker {pid} at {at}, running {job!r} '
                    '(its sleep counts in limit_time_real_cron)')
                if job == DISPATCH_CRON:
                    self.to_age.append(('comm_message', pid, at))
                elif job == WEBHOOK_CRON:
                    self.to_age.append(('comm_webhook_event', pid, at))

    def age_claims_of_dead_workers(self):
        """Once a killed worker's connections are gone, its claims look 10 minutes old."""
        with common.environment(self.registry) as env:
            for item in list(self.to_age):
                table, pid, at = item
                if backend_alive(env.cr, pid):
                    continue
                if table == 'comm_message':
                    env.cr.execute("""UPDATE comm_message SET attempt_at = attempt_at - %s
                                       WHERE provider_id = %s AND dispatch_state = 'attempt' AND attempt_at <= %s""",
                                   [STALE, self.provider_id, at])
                else:
                    env.cr.execute("""UPDATE comm_webhook_event SET locked_at = locked_at - %s
                                       WHERE provider_id = %s AND state = 'processing' AND locked_at <= %s""",
                                   [STALE, self.inbound_provider_id, at])
                say(f'{env.cr.rowcount} {table} rows the killed worker {pid} held aged by 10 minutes')
                self.to_age.remove(item)
                xmlid = 'ir_cron_comm_message_dispatch' if table == 'comm_message' else 'ir_cron_comm_webhook_event'
                env.ref(f'comm_gateway.{xmlid}')._trigger()

    def outage_set(self, on):
        bench.fake(self.fake_port, f'/_mode?outage={int(on)}', 'POST')

    def start_second_server(self):
        """In a thread: the main loop goes on while it starts."""
        def start():
            manager = common.odoo_server('--workers=1 --max-cron-threads=1 '
                                         f'--limit-time-real-cron={self.args.limit_time_real_cron}',
                                         'chaos-server-2', port=common.HTTP_PORT + 10)
            try:
                proc = manager.__enter__()
            except SystemExit as exc:
                self.second_error = str(exc)
                say(f'the second server did not start: {exc}')
                return
            self.groups.add(proc.pid)
            self.second = manager
            say(f'second server up at {self.elapsed():.0f}s')
        self.logs.append(common.LOG_DIR / 'chaos-server-2.log')
        self.starting = threading.Thread(target=start, daemon=True)
        self.starting.start()

    def stop_second_server(self):
        if self.starting:
            self.starting.join(900)         # never leave a server behind
        if self.second:
            self.second.__exit__(None, None, None)


def mass_sms(registry, provider_id, count):
    """What "Put in queue" of Odoo's mass SMS composer does on ``count`` bench contacts (created
    once; distinct mobiles, none of bench/webhooks.py's senders), the company's default SMS account
    set to ``provider_id``: one SMS per contact, its body rendered per contact (``Chaos <id>``, so
    the checks tell them apart), no log. Odoo's SMS cron, triggered as this commits (see
    models/sms_sms.py), queues them. :returns: the company's previous default SMS account"""
    started = time.monotonic()
    with common.environment(registry) as env:
        previous = env.company.comm_sms_provider_id.id
    partner_ids = bench.customers(registry, provider_id, count, prefix=CONTACTS_PREFIX, name='Bench chaos')
    with common.environment(registry) as env:
        env['sms.composer'].with_context(
            active_model='res.partner', active_ids=partner_ids, default_composition_mode='mass').create(
            {'body': 'Chaos {{ object.id }}', 'mass_keep_log': False, 'mass_force_send': False}).action_send_sms()
        waiting = env['sms.sms'].search_count([('state', '=', 'outgoing')])
        say(f'mass SMS composer: {waiting} SMS in Odoo\'s queue in {time.monotonic() - started:.1f}s '
            f'({len(partner_ids)} contacts)')
    return previous


def restore_sms_account(registry, previous):
    with common.environment(registry) as env:
        env.company.comm_sms_provider_id = previous


def post_webhooks(requests, concurrency, deadline, result):
    result['seconds'], result['statuses'], _latencies = asyncio.run(webhooks._hammer(requests, concurrency, deadline))


def run(args, chaos):
    """Drive the chaos until every message and event is final. :returns: seconds it took"""
    n = args.messages
    plan = {'kill dispatch 1': False, 'outage': False, 'kill webhooks': not args.inbound, 'second server': False,
            'kill dispatch 2': False}
    busy_dispatch = ("SELECT count(*) FROM comm_message WHERE provider_id = %s AND dispatch_state = 'attempt' "
                     "AND NOT attempt_unstarted", [chaos.provider_id])
    busy_events = ("SELECT count(*) FROM comm_webhook_event WHERE provider_id = %s AND state = 'processing'",
                   [chaos.inbound_provider_id])
    while chaos.elapsed() < args.deadline:
        time.sleep(0.5)
        messages, events = chaos.counts()
        done = messages.get('done', 0) + messages.get('failed', 0)
        if chaos.all_queued_at is None and sum(messages.values()) >= n:
            chaos.all_queued_at = round(chaos.elapsed(), 1)
            say(f'all {n} SMS in our queue at {chaos.all_queued_at}s ({done} final)')
        state = (chaos.query('SELECT state FROM comm_provider_breaker WHERE provider_id = %s',
                             [chaos.provider_id]) or [('closed',)])[0][0]
        if not chaos.breaker_states or chaos.breaker_states[-1][1] != state:
            chaos.breaker_states.append((round(chaos.elapsed(), 1), state))
            say(f'breaker {state} at {chaos.elapsed():.0f}s ({done} of {n} messages final)')
        if not plan['kill dispatch 1'] and done >= 0.15 * n:
            plan['kill dispatch 1'] = chaos.kill('dispatch', DISPATCH_CRON, *busy_dispatch)
        if plan['kill dispatch 1'] and not plan['outage'] and done >= 0.3 * n:
            chaos.outage_set(True)
            chaos.outage = (chaos.elapsed(), None)
            plan['outage'] = True
            say(f'outage: every send answered 503 for {args.outage}s, from {chaos.elapsed():.0f}s')
        if chaos.outage and chaos.outage[1] is None and chaos.elapsed() >= chaos.outage[0] + args.outage:
            chaos.outage_set(False)
            chaos.outage = (chaos.outage[0], chaos.elapsed())
            say(f'recovery: the fake answers again at {chaos.elapsed():.0f}s')
        if chaos.outage and chaos.outage[1] and chaos.recovered_after is None and state == 'closed':
            chaos.recovered_after = chaos.elapsed() - chaos.outage[1]
            say(f'breaker closed {chaos.recovered_after:.1f}s after the recovery')
        if not plan['kill webhooks'] and events.get('processing'):
            plan['kill webhooks'] = chaos.kill('webhook', WEBHOOK_CRON, *busy_events)
        if chaos.recovered_after is not None and not plan['second server'] and done >= 0.5 * n:
            chaos.start_second_server()
            plan['second server'] = True
        if chaos.second and not plan['kill dispatch 2'] and done >= 0.6 * n:
            plan['kill dispatch 2'] = chaos.kill('dispatch', DISPATCH_CRON, *busy_dispatch)
        if chaos.second_error:
            break
        chaos.watch_the_watchdog()
        chaos.age_claims_of_dead_workers()
        # the webhook worker is killed if it is caught processing: events may all be done before
        finished = (done == n and all(v for k, v in plan.items() if k != 'kill webhooks')
                    and chaos.recovered_after is not None
                    and not events.get('pending') and not events.get('processing')
                    and sum(events.values()) >= args.inbound)
        if finished:
            break
        if int(chaos.elapsed()) % 30 == 0:
            say(f'{chaos.elapsed():.0f}s: messages {messages}, events {events}, plan {plan}')
    else:
        say(f'deadline of {args.deadline}s reached')
    return chaos.elapsed(), plan


def check(args, chaos, fake_stats, plan, inbound_sids, webhook_result):
    """The checks, printed. :returns: (all passed, figures)"""
    rows = chaos.query("""SELECT dispatch_state, error_code, count(*), sum(attempts) FROM comm_message
                           WHERE provider_id = %s GROUP BY dispatch_state, error_code""", [chaos.provider_id])
    by_state = {}
    for state, code, count, _attempts in rows:
        by_state[f'{state}:{code}' if state == 'failed' else state] = count
    attempts = sum(row[3] or 0 for row in rows)
    done_bodies = {row[0] for row in chaos.query(
        "SELECT body FROM comm_message WHERE provider_id = %s AND dispatch_state = 'done'", [chaos.provider_id])}
    sms_waiting = chaos.query("SELECT count(*) FROM sms_sms WHERE state = 'outgoing'")[0][0]
    failed = chaos.query("""SELECT body, error_code, error_message FROM comm_message
                             WHERE provider_id = %s AND dispatch_state = 'failed'""", [chaos.provider_id])
    accepted = set(fake_stats['accepted_bodies'])
    crons = chaos.query("""SELECT c.cron_name, c.active, c.failure_count FROM ir_cron c
                            JOIN ir_model_data d ON d.res_id = c.id AND d.model = 'ir.cron'
                           WHERE d.module = 'comm_gateway'
                             AND d.name IN ('ir_cron_comm_message_dispatch', 'ir_cron_comm_webhook_event')""")
    logs = ''.join(log.read_text(errors='replace') for log in chaos.logs if log.exists())
    inbound_ok, inbound = (webhooks.check(chaos.registry, chaos.inbound_provider_id, args.run, inbound_sids)
                           if args.inbound else (True, {}))
    seen = [state for at, state in chaos.breaker_states
            if chaos.outage and chaos.outage[0] <= at <= (chaos.outage[1] or at) + 15]
    checks = {
        'every SMS left Odoo\'s SMS queue': not sms_waiting,
        'every message final': sum(by_state.values()) == args.messages
                               and not by_state.get('todo') and not by_state.get('attempt'),
        'done ones sent exactly once': done_bodies == accepted and not fake_stats['accepted_duplicates'],
        'no failed one was sent': not accepted & {row[0] for row in failed},
        'every failure has a reason': all(row[1] and row[2] for row in failed),
        'every webhook stored and processed once': inbound_ok,
        'crons active, no failure': len(crons) == 2 and all(active and not count for _name, active, count in crons),
        'no cron timed out': ' timed out' not in logs,
        'no serialization failure, accounts\' rows never updated': 'could not serialize' not in logs
                                                                  and chaos.account_versions() == chaos.account_rows,
        'no worker killed by Odoo\'s watchdog': not chaos.watchdog_pids,
        'breaker opened in the outage, closed at the end': 'open' in seen
                                                           and chaos.breaker_states[-1][1] == 'closed',
        'rate kept (per second)': fake_stats['max_accepted_per_second'] <= math.floor(args.rate) + 1,
        'every chaos step happened': all(plan.values()),
    }
    figures = {'by_state': by_state, 'sms_left_in_odoo_queue': sms_waiting, 'attempts': attempts, 'retries': attempts - args.messages,
               'fake': {k: v for k, v in fake_stats.items() if k != 'accepted_bodies'}, 'inbound': inbound,
               'webhooks_posted': webhook_result, 'kills': chaos.kills, 'breaker': chaos.breaker_states,
               'outage': chaos.outage, 'all_queued_at': chaos.all_queued_at, 'recovered_after': chaos.recovered_after, 'crons': crons,
               'watchdog_kills': sorted(chaos.watchdog_pids), 'failed_examples': failed[:3]}
    for name, ok in checks.items():
        say(f'check   : {"OK    " if ok else "FAILED"} {name}')
    return all(checks.values()), figures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-n', '--messages', type=int, default=2000)
    parser.add_argument('--inbound', type=int, default=2000, help='signed inbound webhooks posted meanwhile')
    parser.add_argument('--rate', type=float, default=40.0, help='the account\'s messages per second')
    parser.add_argument('--concurrency', type=int, default=4, help='the account\'s max_concurrency')
    parser.add_argument('--mix', default='5xx=0.05,429=0.03,slow=0.05,timeout=0.02')
    parser.add_argument('--outage', type=float, default=30.0, help='seconds of full outage')
    parser.add_argument('--limit-time-real-cron', type=int, default=120,
                        help='120 = limit_time_real\'s default; below ~110 s the watchdog kills cron workers '
                             'that slept their 60-69 s and then work (docs/BENCHMARKS.md)')
    parser.add_argument('--deadline', type=float, default=1200.0)
    parser.add_argument('--mass-sms', dest='mass_sms', action='store_true', default=True,
                        help='the SMS from Odoo\'s mass SMS composer (the default)')
    parser.add_argument('--direct', dest='mass_sms', action='store_false',
                        help='the SMS queued directly as comm.message rows')
    parser.add_argument('--keep', action='store_true', help='keep the run\'s messages and events')
    parser.add_argument('--json', help='also write the figures to this file')
    args = parser.parse_args()
    args.run = f'{int(time.time()):x}'
    say(f'chaos: {args.messages} SMS {"from the mass SMS composer" if args.mass_sms else "queued directly"} at {args.rate}/s (concurrency {args.concurrency}), {args.inbound} webhooks, '
        f'mix {args.mix}, outage {args.outage}s, limit_time_real_cron {args.limit_time_real_cron}; '
        f'{common.machine_load()}')
    fake_port = bench.free_port()
    fake = bench.fake_provider(fake_port, 0.05, ['--mix', args.mix, '--hold', '4', '--retry-after', '1'])
    webhook_result, ok = {}, False
    try:
        with contextlib.ExitStack() as stack:
            server = stack.enter_context(common.odoo_server(
                f'--workers=2 --max-cron-threads=2 --limit-time-real-cron={args.limit_time_real_cron}',
                'chaos-server'))
            registry = common.open_registry()
            provider_id = bench.prepare(registry, fake_port, args.concurrency)
            inbound_provider_id, token = webhooks.prepare(registry)
            with common.environment(registry) as env:
                env['comm.provider'].browse(provider_id).write({
                    'rate_limit': args.rate, 'timeout': 2, 'breaker_threshold': 5, 'breaker_cooldown': 10})
                env.cr.execute('DELETE FROM comm_provider_pace WHERE provider_id = %s', [provider_id])
            chaos = Chaos(args, registry, fake_port, provider_id, inbound_provider_id)
            chaos.groups.add(server.pid)
            stack.callback(chaos.stop_second_server)
            requests, sids = webhooks.signed_webhooks(token, args.run, args.inbound)
            bench.fake(fake_port, '/_reset', 'POST')
            chaos.started = time.monotonic()
            if args.mass_sms:
                previous = mass_sms(registry, provider_id, args.messages)
                stack.callback(restore_sms_account, registry, previous)
            else:
                bench.queue(registry, provider_id, args.messages)
                with common.environment(registry) as env:
                    env.ref('comm_gateway.ir_cron_comm_message_dispatch')._trigger()
            poster = threading.Thread(target=post_webhooks, args=(requests, 4, args.deadline, webhook_result),
                                      daemon=True)
            poster.start()
            seconds, plan = run(args, chaos)
            poster.join(10)
            statuses = webhook_result.pop('statuses', [])
            webhook_result['accepted'] = statuses.count(200)
            webhook_result['other'] = len(statuses) - statuses.count(200)
            stats = bench.fake(fake_port, '/_stats')
            ok, figures = check(args, chaos, stats, plan, sids, webhook_result)
            final = sum(v for k, v in figures['by_state'].items() if k == 'done' or k.startswith('failed'))
            say(f'chaos   : {final} of {args.messages} SMS final in {seconds:.1f}s ({final / seconds:.1f} msg/s '
                f'overall, rate limit {args.rate}/s); retries {figures["retries"]}; by state {figures["by_state"]}; '
                f'fake {figures["fake"]}; breaker {figures["breaker"]}; recovered {figures["recovered_after"]}s '
                f'after the outage; kills {[(what, pid) for what, pid, _at in chaos.kills]}; watchdog kills '
                f'{figures["watchdog_kills"]}; crons {figures["crons"]}; webhooks posted {webhook_result}')
            say(f'load    : {common.machine_load()}')
            if args.json:
                common.dump_json(args.json, {'date': common.now_utc(), 'args': vars(args), 'ok': ok, **figures})
            if not args.keep:
                with common.environment(registry) as env:
                    env.cr.execute('DELETE FROM comm_message WHERE provider_id = %s', [provider_id])
                    webhooks._cleanup(env.cr, inbound_provider_id)
                    env.cr.execute("DELETE FROM sms_sms WHERE number LIKE %s", [f'{CONTACTS_PREFIX}%'])
    finally:
        fake.terminate()
        fake.wait(timeout=10)
    say(f'check   : {"OK" if ok else "FAILED"}')
    raise SystemExit(0 if ok else 1)


if __name__ == '__main__':
    main()
