"""Outbound dispatch benchmark (see docs/BENCHMARKS.md).

1. ``./dev.sh run`` creates or updates the database (the server stays up, idle, without cron:
   ``--max-cron-threads=0``, so only this process sends).
2. Starts bench/fake_twilio.py (answers after 100 ms, counts requests per To/Body) in its own process.
3. For each ``--concurrency`` (default 16 and 32): a Twilio account with ``api_base_url`` = the fake,
   ``max_concurrency`` = that value and ``rate_limit`` = 0; queues ``-n`` outbound SMS; runs
   ``comm.message._cron_dispatch(200)`` in a loop in this process until none is left; reports
   messages/s and the ratio to the ideal (concurrency / 0.1 s); checks that every message was
   accepted once and the fake saw each To/Body exactly once; deletes the messages. Meanwhile a
   process of its own probes the server's ``/web/health`` every 50 ms: its p99 during the dispatch
   against its p99 in the ``--probe-idle`` seconds before (goal < 2x: the dispatch does not starve
   the machine). Before it, the fake's ceiling here: ``--ceiling`` POSTs from a bare aiohttp client at
   the same concurrency (no SDK, no ORM); after it, the CPU per message of this process, the fake
   and PostgreSQL.

With ``--composer``, each level is measured twice end to end, in turn: the SMS queued directly
(``comm.message`` rows) then dispatched, and the same number of SMS from Odoo's mass SMS composer
("Put in queue", on ``-n`` bench contacts whose company uses the bench account), then Odoo's SMS
queue (``sms.sms._process_queue``, what its cron runs — woken at commit — run again until empty,
in a thread) beside the dispatch loop, as two cron workers run them; the ratio composer / direct
is the cost of Odoo's side (goal >= 0.97). ``--profile`` profiles the dispatch loop's thread.

Goal: >= 150 messages/s, every message sent exactly once.
Run: ``bench/run.sh dispatch [-n 10000] [--concurrency 16 32] [--composer] [--profile] [--ceiling 3000]``
"""
import argparse
import json
import logging
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timezone

import common
from common import say

ACCOUNT_SID = 'AC' + 'd' * 32
PROVIDER_NAME = 'Bench Twilio (dispatch)'
GOAL = 150.0


class PoolFullCounter(logging.Filter):
    """Counts (and silences) urllib3's 'Connection pool is full, discarding connection' warnings:
    each one is a provider connection opened for one request and thrown away."""
    count = 0

    def filter(self, record):
        if 'Connection pool is full' in record.getMessage():
            PoolFullCounter.count += 1
            return False
        return True


logging.getLogger('urllib3.connectionpool').addFilter(PoolFullCounter())


def fake_provider(port, delay, options=()):
    """bench/fake_twilio.py in its own process; ``options``: more of its arguments (``--mix`` …)."""
    proc = subprocess.Popen([sys.executable, str(common.ROOT / 'bench' / 'fake_twilio.py'), '--port', str(port),
                             '--delay', str(delay), '--lifetime', '7200', *options], stdout=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != 'ready':
        proc.kill()
        raise SystemExit('the fake provider did not start')
    return proc


def fake(port, path, method='GET'):
    request = urllib.request.Request(f'http://127.0.0.1:{port}{path}', method=method,
                                     data=b'' if method == 'POST' else None)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def ceiling(fake_port, concurrency, count):
    """What the fake serves here at ``concurrency`` in flight to a bare aiohttp client (no SDK, no
    ORM, one event loop): the most any dispatch can reach on this machine. :returns: req/s"""
    import asyncio
    import aiohttp
    url = f'http://127.0.0.1:{fake_port}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json'

    async def run():
        limit = asyncio.Semaphore(concurrency)
        async with aiohttp.ClientSession() as session:
            async def post(index):
                async with limit, session.post(url, data={'To': f'+1415556{index:04d}', 'From': '+15005550006',
                                                          'Body': f'Bench ceiling {index}'}) as response:
                    await response.read()
            started = time.perf_counter()
            await asyncio.gather(*(post(index) for index in range(count)))
            return count / (time.perf_counter() - started)
    rate = asyncio.run(run())
    fake(fake_port, '/_reset', 'POST')
    return rate


def cpu_used(fake_pid):
    """CPU seconds used so far by this process (the dispatch and its sends), the fake provider and
    PostgreSQL: read around the dispatch, CPU per message of each."""
    import psutil
    times = [psutil.Process(pid).cpu_times() for pid in (None, fake_pid)]
    return [sum(t[:2]) for t in times] + [common.cpu_seconds(fake_pid)[1]]


def prepare(registry, fake_port, concurrency):
    with common.environment(registry) as env:
        provider = env['comm.provider'].with_context(active_test=False).search([('name', '=', PROVIDER_NAME)])
        values = {'active': True, 'code': 'twilio', 'twilio_account_sid': ACCOUNT_SID,
                  'twilio_auth_token': 'bench-dispatch-token', 'sms_from': '+15005550006', 'channel_sms': True,
                  'api_base_url': f'http://127.0.0.1:{fake_port}', 'max_concurrency': concurrency,
                  'rate_limit': 0, 'timeout': 15, 'breaker_state': 'closed', 'breaker_failures': 0}
        if provider:
            provider.write(values)
        else:
            provider = env['comm.provider'].create(dict(values, name=PROVIDER_NAME))
        env.cr.execute('DELETE FROM comm_message WHERE provider_id = %s', [provider.id])
        env.cr.execute("SELECT count(*) FROM comm_message WHERE dispatch_state IN ('todo', 'attempt')")
        if others := env.cr.fetchone()[0]:
            say(f'note: {others} other outbound messages are queued in {common.DB}; they are sent too')
        return provider.id


def queue(registry, provider_id, count):
    with common.environment(registry) as env:
        now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
        for start in range(0, count, 1000):
            env['comm.message'].create([{
                'direction': 'out', 'channel': 'sms', 'provider_id': provider_id, 'state': 'queued',
                'dispatch_state': 'todo', 'next_try_at': now, 'queued_at': now, 'from_number': '+15005550006',
                'to_number': f'+1415555{i % 10000:04d}', 'body': f'Bench dispatch {i}'}
                for i in range(start, min(count, start + 1000))])
    say(f'queued {count} outbound SMS')


def customers(registry, provider_id, count, prefix='+1415555', name='Bench dispatch'):
    """``count`` bench contacts with distinct mobiles ``prefix`` + 4 digits (created once), the
    company's SMS account set to ``provider_id``. :returns: their ids"""
    with common.environment(registry) as env:
        env.company.comm_sms_provider_id = provider_id
        Partner = env['res.partner']
        numbers = [f'{prefix}{i:04d}' for i in range(count)]
        known = set(Partner.search([('mobile', 'in', numbers)]).mapped('mobile'))
        Partner.create([{'name': f'{name} {number[-4:]}', 'mobile': number}
                        for number in numbers if number not in known])
        return Partner.search([('mobile', 'in', numbers)]).ids


def from_composer(registry, partner_ids):
    """What a click on "Put in queue" does, in its transaction. :returns: seconds"""
    started = time.perf_counter()
    with common.environment(registry) as env:
        env['sms.composer'].with_context(
            active_model='res.partner', active_ids=partner_ids, default_composition_mode='mass').create(
            {'body': 'Bench composer sale', 'mass_keep_log': False, 'mass_force_send': False}).action_send_sms()
    return time.perf_counter() - started


def outgoing(cr):
    """SMS waiting in Odoo's own SMS queue."""
    cr.execute("SELECT count(*) FROM sms_sms WHERE state = 'outgoing' AND to_delete IS NOT TRUE")
    return cr.fetchone()[0]


def sms_queue(registry, count, deadline, result):
    """Odoo's SMS cron (``_process_queue``, within its budget) run again until its queue is empty,
    as its triggers make it; each run in its transaction. Sets ``result['seconds']``."""
    def step(env):
        env['sms.sms']._process_queue()
        return outgoing(env.cr)

    from odoo.addons.comm_gateway.models.sms_sms import QUEUE_SLICE     # what one run hands over
    result['seconds'] = common.run_cron_until_done(registry, step, count, QUEUE_SLICE, deadline,
                                                   'SMS in Odoo\'s queue')[0]


def left(cr, provider_id):
    cr.execute("""SELECT count(*) FROM comm_message
                   WHERE provider_id = %s AND dispatch_state IN ('todo', 'attempt')""", [provider_id])
    return cr.fetchone()[0]


def dispatch(registry, provider_id, count, batch_size, deadline, waiting=None):
    """The dispatch cron in a loop until none is left; ``waiting(cr)``: messages still to come (then
    a run that found nothing waits 50 ms before the next). :returns: seconds"""
    def step(env):
        done = env['comm.message']._cron_dispatch(batch_size=batch_size)
        more = waiting(env.cr) if waiting else 0
        if more and not done:
            time.sleep(0.05)
        return left(env.cr, provider_id) + more

    bound = batch_size if not waiting else 10      # a waiting loop needs more (short) runs
    return common.run_cron_until_done(registry, step, count, bound, deadline, 'messages')[0]


def from_composer_to_provider(registry, provider_id, partner_ids, args, profile):
    """The click, then Odoo's SMS cron and our dispatch at once, as two cron workers run them (the
    SMS cron in a thread of this process; Odoo's default is two cron workers). :returns: (click s,
    SMS queue s, dispatch s from the click's end)"""
    clicked = from_composer(registry, partner_ids)
    deadline = max(600, args.messages // 10)
    queue_result = {}
    thread = threading.Thread(target=sms_queue, args=(registry, args.messages, deadline, queue_result))
    thread.start()
    try:
        with common.maybe_profile(profile):
            seconds = dispatch(registry, provider_id, args.messages, args.batch_size, deadline,
                               waiting=outgoing)
    finally:
        thread.join()
    say(f'composer: the click {clicked:.1f}s, then Odoo\'s SMS queue {queue_result.get("seconds", 0):.1f}s '
        f'beside the dispatch {seconds:.1f}s')
    return clicked, queue_result.get('seconds'), seconds


def check(registry, provider_id, count, stats):
    with common.environment(registry) as env:
        env.cr.execute("""SELECT dispatch_state, count(*), count(DISTINCT provider_message_id) FROM comm_message
                           WHERE provider_id = %s GROUP BY dispatch_state""", [provider_id])
        states = {state: (n, distinct) for state, n, distinct in env.cr.fetchall()}
    done, distinct_ids = states.get('done', (0, 0))
    ok = (done == distinct_ids == count and len(states) == 1
          and stats['requests'] == stats['distinct'] == count and not stats['duplicates'])
    say(f'check   : {"OK" if ok else "FAILED"} messages by dispatch state {states}; fake provider saw {stats}')
    return ok, {'dispatch_states': {k: v[0] for k, v in states.items()}, 'fake': stats}


def measure(registry, provider_id, concurrency, fake_port, args, partner_ids=None, fake_pid=None):
    """Queue, dispatch, check one concurrency level; with ``partner_ids``, from the composer and
    timed from the click. :returns: the level's result dict"""
    fake(fake_port, '/_reset', 'POST')
    PoolFullCounter.count = 0
    load = common.machine_load()
    path = 'composer' if partner_ids else 'direct'
    profile = args.profile and common.LOG_DIR / f'dispatch-{path}-{concurrency}.prof'
    health = None           # the composer path is timed end to end, without the probe
    if partner_ids:
        queued, queue_s, seconds = from_composer_to_provider(registry, provider_id, partner_ids, args, profile)
    else:
        started = time.perf_counter()
        queue(registry, provider_id, args.messages)
        queued = time.perf_counter() - started
        bare = args.ceiling and ceiling(fake_port, concurrency, args.ceiling)
        with common.health_probe() as idle:
            time.sleep(args.probe_idle)
        cpu_before = cpu_used(fake_pid)
        with common.health_probe() as during, common.maybe_profile(profile):
            seconds = dispatch(registry, provider_id, args.messages, args.batch_size,
                               deadline=max(600, args.messages // 10))
        cpu = [round((after - before) * 1000 / args.messages, 2)
               for before, after in zip(cpu_before, cpu_used(fake_pid))]
        say(f'cpu     : per message: this process {cpu[0]} ms (dispatch and sends), the fake {cpu[1]} ms, '
            f'PostgreSQL {cpu[2]} ms')
        health = {'idle': idle, 'during': during, 'p99_during_to_idle': round(during['p99_ms'] / idle['p99_ms'], 2)}
        say(f'health  : /web/health p99 idle {idle["p99_ms"]} ms ({idle["probes"]} probes), during the dispatch '
            f'{during["p99_ms"]} ms ({during["probes"]} probes, p50 {during["p50_ms"]} ms): '
            f'{health["p99_during_to_idle"]}x (goal < 2x)')
    if args.composer:       # end to end, the queueing included
        say(f'{path}: {"clicked" if partner_ids else "queued"} in {queued:.1f}s, dispatched in {seconds:.1f}s')
        seconds += queued
    rate, ideal = args.messages / seconds, concurrency / args.delay
    say(f'dispatch: concurrency {concurrency}: {args.messages} messages in {seconds:.1f}s = '
        f'{rate:.1f} msg/s; ideal {ideal:.0f} msg/s, ratio {rate / ideal:.2f}; goal >= {GOAL:.0f} '
        f'msg/s {"met" if rate >= GOAL else "NOT met"}; connections discarded because the pool was '
        f'full: {PoolFullCounter.count}')
    if not partner_ids and bare:
        say(f'ceiling : the fake serves a bare aiohttp client {bare:.1f} req/s at {concurrency} in flight '
            f'({bare / ideal:.2f} of the ideal); the dispatch reached {rate / bare:.2f} of that')
    stats = fake(fake_port, '/_stats')
    stats.pop('accepted_bodies', None)      # the chaos bench's, thousands of them
    ok, counts = check(registry, provider_id, args.messages, stats)
    return {'concurrency': concurrency, 'path': path,
            'queued_s': round(queued, 1), 'sms_queue_s': partner_ids and round(queue_s or 0, 1), 'messages': args.messages, 'seconds': round(seconds, 1),
            'msg_per_s': round(rate, 1), 'ideal': ideal, 'ratio': round(rate / ideal, 2),
            'pool_full_discards': PoolFullCounter.count, 'check_ok': ok, 'load_before': load,
            'load_after': common.machine_load(), 'health': health,
            'cpu_ms_per_message': None if partner_ids else dict(zip(('dispatch', 'fake', 'postgres'), cpu)),
            'fake_ceiling': bare and round(bare, 1), **counts}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-n', '--messages', type=int, default=10_000, help='messages per concurrency level')
    parser.add_argument('--concurrency', type=int, nargs='+', default=[16, 32], help='max_concurrency values')
    parser.add_argument('--batch-size', type=int, default=200, help='_cron_dispatch batch size (the cron uses 200)')
    parser.add_argument('--delay', type=float, default=0.1, help='the fake provider\'s answer time (s)')
    parser.add_argument('--composer', action='store_true',
                        help='each level also from Odoo\'s mass SMS composer, end to end (see above)')
    parser.add_argument('--profile', action='store_true',
                        help='cProfile the queueing and the dispatch loop (main thread), apart')
    parser.add_argument('--probe-idle', type=float, default=10.0,
                        help='seconds of /web/health probes before the dispatch (its idle p99)')
    parser.add_argument('--ceiling', type=int, default=3000,
                        help='requests of the bare client measuring the fake\'s ceiling first (0: none)')
    parser.add_argument('--json', help='also write the results to this file')
    args = parser.parse_args()
    results = {'date': common.now_utc(), 'args': vars(args), 'runs': []}
    say(f'{args.messages} SMS per level, concurrency {args.concurrency}; {common.machine_load()}')

    fake_port = free_port()
    provider_proc = fake_provider(fake_port, args.delay)
    try:
        with common.odoo_server('--max-cron-threads=0', 'dispatch-server'):
            registry = common.open_registry()
            for concurrency in args.concurrency:
                provider_id = prepare(registry, fake_port, concurrency)
                try:
                    results['runs'].append(measure(registry, provider_id, concurrency, fake_port, args,
                                                   fake_pid=provider_proc.pid))
                    if args.composer:
                        partner_ids = customers(registry, provider_id, args.messages)
                        with common.environment(registry) as env:
                            env.cr.execute('DELETE FROM comm_message WHERE provider_id = %s', [provider_id])
                        results['runs'].append(measure(registry, provider_id, concurrency, fake_port, args,
                                                       partner_ids))
                        direct, composer = results['runs'][-2:]
                        composer['to_direct'] = round(composer['msg_per_s'] / direct['msg_per_s'], 2)
                        say(f'ratio   : composer / direct = {composer["to_direct"]} (goal >= 0.97)')
                finally:
                    with common.environment(registry) as env:
                        env.cr.execute('DELETE FROM comm_message WHERE provider_id = %s', [provider_id])
                        env.cr.execute("DELETE FROM sms_sms WHERE body = 'Bench composer sale'")
                    say('run messages deleted')
    finally:
        provider_proc.terminate()
        provider_proc.wait(timeout=10)
    if args.json:
        common.dump_json(args.json, results)
    raise SystemExit(0 if all(run['check_ok'] for run in results['runs']) else 1)


if __name__ == '__main__':
    main()
