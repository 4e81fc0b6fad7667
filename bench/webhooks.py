"""Webhook ingest and processing benchmark (see docs/BENCHMARKS.md).

1. Serves Odoo through ``./dev.sh run`` with ``--workers=2 --max-cron-threads=0`` (no cron: the
   ingest phase measures the request path alone, processing is measured apart in phase 3).
2. Ingest: from this process (asyncio + a pooled aiohttp client, ``-c`` requests in flight),
   sends ``-n`` GET /web/health and ``-n`` signed Twilio inbound webhooks
   (POST /comm/webhook/<token>/inbound) in 10 alternating slices (health, webhook, health…), so
   that other load on the machine weighs on both alike; reports accepted requests/s, p50 and p99
   latency for both and the ratio webhook rps / health rps (goal >= 0.8). With ``--profile``,
   py-spy samples the server meanwhile (health and webhook requests together).
3. Drain: runs ``comm.webhook.event._cron_process(200)`` in a loop in this one process until no
   event is due, and reports events/s for that one worker.
4. Checks that nothing was lost or duplicated: N events done, N inbound comm.message with the
   run's MessageSids, N chatter posts; then deletes what the run created (``--keep`` keeps it).

Run: ``bench/run.sh webhooks [-n 10000] [-c 16] [--profile] [--keep]``

``--forged N`` runs a flood instead: N webhooks with a wrong signature at ``-c`` in flight,
which must all be answered 403 (no 5xx) with no serialization failure in the server log, and
be counted (``comm.webhook.rejection``) to the last one.
"""
import argparse
import asyncio
import os
import secrets
import time
from urllib.parse import urlencode

import aiohttp
from twilio.request_validator import RequestValidator

import common
from common import say

ACCOUNT_SID = 'AC' + 'b' * 32
AUTH_TOKEN = 'bench-twilio-auth-token-0123456789'
OWN_NUMBER = '+15005550006'
SENDERS = [f'+1415555{100 + k:04d}' for k in range(50)]      # 50 known contacts write in
PROVIDER_NAME = 'Bench Twilio (webhooks)'


# ------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------

def prepare(registry):
    """The bench account, its contacts and the public base URL; removes a previous run's leftovers.

    :returns: (provider id, webhook token)
    """
    with common.environment(registry) as env:
        env['ir.config_parameter'].set_param('comm_gateway.public_base_url', common.BASE_URL)
        provider = env['comm.provider'].with_context(active_test=False).search([('name', '=', PROVIDER_NAME)])
        if not provider:
            provider = env['comm.provider'].create({
                'name': PROVIDER_NAME, 'code': 'twilio', 'twilio_account_sid': ACCOUNT_SID,
                'twilio_auth_token': AUTH_TOKEN, 'sms_from': OWN_NUMBER, 'channel_sms': True})
        provider.active = True
        partners = env['res.partner'].search([('mobile', 'in', SENDERS)])
        missing = sorted(set(SENDERS) - set(partners.mapped('mobile')))
        env['res.partner'].create([{'name': f'Bench sender {number[-4:]}', 'mobile': number} for number in missing])
        _cleanup(env.cr, provider.id)
        token = provider.webhook_token
        provider_id = provider.id
    registry.signal_changes()           # the workers drop their caches (config parameter, accounts)
    return provider_id, token


def _cleanup(cr, provider_id):
    cr.execute("""DELETE FROM mail_message WHERE id IN (
                      SELECT mail_message_id FROM comm_message WHERE provider_id = %s)""", [provider_id])
    cr.execute('DELETE FROM comm_message WHERE provider_id = %s', [provider_id])
    cr.execute('DELETE FROM comm_webhook_event WHERE provider_id = %s', [provider_id])
    cr.execute("""DELETE FROM ir_cron_trigger WHERE cron_id = (
                      SELECT res_id FROM ir_model_data
                       WHERE module = 'comm_gateway' AND name = 'ir_cron_comm_webhook_event')""")


BARE_ADDON = 'comm_gateway_bench_bare'


def link_baseline_addon():
    """Link bench/addons/comm_gateway_bench_bare beside the checkout's link (bench database only)
    and give it the bench's base URL and Twilio token; :returns: extra server arguments."""
    link = common.addons_dir() / BARE_ADDON
    if not link.exists():
        link.symlink_to(common.ROOT / 'bench' / 'addons' / BARE_ADDON)
    os.environ.update(COMM_BENCH_BASE_URL=common.BASE_URL, COMM_BENCH_AUTH_TOKEN=AUTH_TOKEN)
    return f' -i {BARE_ADDON}'


def signed_webhooks(token, run, count, url=None):
    """``count`` Twilio inbound webhooks (PROTOCOLS 1.3), signed, with MessageSids SM<run>…"""
    url = url or f'{common.BASE_URL}/comm/webhook/{token}/inbound'
    validator = RequestValidator(AUTH_TOKEN)
    requests, sids = [], []
    for i in range(count):
        sid = f'SM{run}{i:0{32 - len(run)}x}'
        params = {'MessageSid': sid, 'SmsSid': sid, 'SmsMessageSid': sid, 'AccountSid': ACCOUNT_SID,
                  'From': SENDERS[i % len(SENDERS)], 'To': OWN_NUMBER, 'Body': f'Bench message {i}',
                  'NumMedia': '0', 'NumSegments': '1', 'SmsStatus': 'received', 'ApiVersion': '2010-04-01'}
        headers = {'Content-Type': 'application/x-www-form-urlencoded', 'User-Agent': 'TwilioProxy/1.1',
                   'X-Twilio-Signature': validator.compute_signature(url, params)}
        requests.append(('POST', url, headers, urlencode(params)))
        sids.append(sid)
    return requests, sids


# ------------------------------------------------------------------------------------------------
# Load
# ------------------------------------------------------------------------------------------------

async def _hammer(requests, concurrency, deadline):
    """Send ``requests`` with ``concurrency`` in flight on one pooled client.

    :returns: (seconds, [status or error name], [latency in seconds])
    """
    statuses, latencies = [None] * len(requests), [None] * len(requests)
    jobs = iter(enumerate(requests))
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency), timeout=timeout) as session:
        async def worker():
            for i, (method, url, headers, body) in jobs:
                started = time.perf_counter()
                try:
                    async with session.request(method, url, headers=headers, data=body) as response:
                        await response.read()
                        statuses[i] = response.status
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    statuses[i] = type(exc).__name__
                latencies[i] = time.perf_counter() - started
        started = time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), deadline)
        except asyncio.TimeoutError:
            say(f'deadline of {deadline}s reached: the requests not sent count as failed')
        return time.perf_counter() - started, statuses, latencies


def load(workloads, concurrency, deadline, slices=10, server_pid=None):
    """Run the workloads ({name: requests}) in ``slices`` rounds, one slice of each in turn, so
    that whatever else the machine does weighs on all of them alike. With ``server_pid``, also
    the CPU each accepted request cost the Odoo server and PostgreSQL (ms).

    :returns: {name: result dict}
    """
    totals = {name: {'seconds': 0.0, 'statuses': [], 'latencies': [], 'rps_by_slice': [], 'cpu': [0.0, 0.0]}
              for name in workloads}
    for k in range(slices):
        for name, requests in workloads.items():
            part = requests[len(requests) * k // slices:len(requests) * (k + 1) // slices]
            before = common.cpu_seconds(server_pid) if server_pid else (0.0, 0.0)
            seconds, statuses, latencies = asyncio.run(_hammer(part, concurrency, deadline / slices))
            total = totals[name]
            if server_pid:
                after = common.cpu_seconds(server_pid)
                total['cpu'] = [used + a - b for used, a, b in zip(total['cpu'], after, before)]
            total['seconds'] += seconds
            total['statuses'] += statuses
            total['latencies'] += latencies
            total['rps_by_slice'].append(round(statuses.count(200) / seconds, 1))
    results = {}
    for name, total in totals.items():
        ok = [lat for status, lat in zip(total['statuses'], total['latencies']) if status == 200]
        failures = {}
        for status in total['statuses']:
            if status != 200:
                failures[str(status)] = failures.get(str(status), 0) + 1
        result = results[name] = {
            'requests': len(total['statuses']), 'accepted': len(ok), 'seconds': round(total['seconds'], 1),
            'rps': round(len(ok) / total['seconds'], 1), 'p50_ms': round(common.percentile(ok, 50), 1),
            'p99_ms': round(common.percentile(ok, 99), 1), 'failures': failures,
            'rps_by_slice': total['rps_by_slice']}
        if server_pid and ok:
            result['cpu_ms_per_request'] = {'odoo': round(1000 * total['cpu'][0] / len(ok), 2),
                                            'postgres': round(1000 * total['cpu'][1] / len(ok), 2)}
        say(f'{name:8}: {len(ok)}/{result["requests"]} accepted in {result["seconds"]}s = {result["rps"]} req/s, '
            f'p50 {result["p50_ms"]} ms, p99 {result["p99_ms"]} ms' + (f', failures {failures}' if failures else ''))
        if 'cpu_ms_per_request' in result:
            say(f'{"":8}  CPU per request: Odoo {result["cpu_ms_per_request"]["odoo"]} ms, '
                f'PostgreSQL {result["cpu_ms_per_request"]["postgres"]} ms')
        say(f'{"":8}  req/s in each slice: {result["rps_by_slice"]}')
    return results


# ------------------------------------------------------------------------------------------------
# Processing and checks
# ------------------------------------------------------------------------------------------------

def pending_count(cr, provider_id):
    cr.execute("""SELECT count(*) FROM comm_webhook_event WHERE provider_id = %s
                     AND (state = 'processing' OR (state = 'pending' AND next_try_at <= now() at time zone 'UTC'))""",
               [provider_id])
    return cr.fetchone()[0]


def drain(registry, provider_id, batch_size, deadline):
    """Run the cron's method in this process until nothing is due. :returns: (events, seconds)"""
    with common.environment(registry) as env:
        env.cr.execute("SELECT count(*) FROM comm_webhook_event WHERE provider_id = %s AND state = 'pending'",
                       [provider_id])
        todo = env.cr.fetchone()[0]
    say(f'draining {todo} events with _cron_process(batch_size={batch_size}) in one process')
    def step(env):
        env['comm.webhook.event']._cron_process(batch_size=batch_size)
        return pending_count(env.cr, provider_id)

    elapsed, left = common.run_cron_until_done(registry, step, todo, batch_size, deadline, 'events due')
    say(f'drain   : {todo - left} events in {elapsed:.1f}s = {(todo - left) / elapsed:.1f} events/s per worker')
    return todo - left, elapsed


def check(registry, provider_id, run, sids):
    """Counts that prove nothing was lost or duplicated for this run's MessageSids."""
    with common.environment(registry) as env:
        cr = env.cr
        cr.execute("""SELECT state, count(*) FROM comm_webhook_event
                       WHERE provider_id = %s AND event_key LIKE %s GROUP BY state""", [provider_id, f'%{run}%'])
        events = dict(cr.fetchall())
        cr.execute("""SELECT count(*), count(DISTINCT provider_message_id), count(DISTINCT mail_message_id)
                        FROM comm_message
                       WHERE provider_id = %s AND direction = 'in' AND provider_message_id = ANY(%s)""",
                   [provider_id, sids])
        messages, distinct, posts = cr.fetchone()
        cr.execute("""SELECT count(*) FROM ir_cron_trigger WHERE cron_id = (
                          SELECT res_id FROM ir_model_data
                           WHERE module = 'comm_gateway' AND name = 'ir_cron_comm_webhook_event')""")
        triggers = cr.fetchone()[0]
    counts = {'events_by_state': events, 'inbound_messages': messages, 'distinct_message_sids': distinct,
              'chatter_posts': posts, 'cron_triggers_left': triggers}
    ok = events == {'done': len(sids)} and messages == distinct == posts == len(sids)
    say(f'check   : {"OK" if ok else "FAILED"} {counts}')
    return ok, counts


def forged_flood(registry, server_log, token, provider_id, count, concurrency):
    """``count`` forged webhooks at once: all 403, none lost from the counter, no serialization
    failure in the server log. :returns: (ok, result dict)"""
    requests, _sids = signed_webhooks(token, secrets.token_hex(4), count)
    requests = [(method, url, {**headers, 'X-Twilio-Signature': 'forged' + headers['X-Twilio-Signature'][6:]}, body)
                for method, url, headers, body in requests]
    with common.environment(registry) as env:
        before = env['comm.webhook.rejection']._total(env['comm.provider'].browse(provider_id))
    log_offset = server_log.stat().st_size
    seconds, statuses, _latencies = asyncio.run(_hammer(requests, concurrency, 600))
    by_status = {}
    for status in statuses:
        by_status[str(status)] = by_status.get(str(status), 0) + 1
    with open(server_log, errors='replace') as log:
        log.seek(log_offset)
        tail = log.read()
    # psycopg2's 'could not serialize access…', Odoo's 'SERIALIZATION_FAILURE, n tries left…'
    serialization = tail.lower().count('serializ')
    with common.environment(registry) as env:
        counted = env['comm.webhook.rejection']._total(env['comm.provider'].browse(provider_id)) - before
    result = {'requests': count, 'concurrency': concurrency, 'seconds': round(seconds, 1), 'statuses': by_status,
              'serialization_errors_in_log': serialization, 'counted': counted}
    ok = by_status == {'403': count} and not serialization and counted == count
    say(f'forged  : {"OK" if ok else "FAILED"} {result}')
    return ok, result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-n', '--requests', type=int, default=10_000, help='webhooks (and health checks) to send')
    parser.add_argument('-c', '--concurrency', type=int, default=16, help='requests in flight')
    parser.add_argument('--batch-size', type=int, default=200, help='_cron_process batch size (the cron uses 200)')
    parser.add_argument('--workers', type=int, default=2, help='Odoo HTTP workers')
    parser.add_argument('--profile', action='store_true',
                        help='py-spy the server during the webhook load, cProfile the drain')
    parser.add_argument('--no-gevent-shim', action='store_true',
                        help='serve exactly as dev.sh does, gevent respawn loop included (see common.py)')
    parser.add_argument('--no-baseline', action='store_true',
                        help=f'skip the bare signed-insert route (bench/addons/{BARE_ADDON}) measured beside them')
    parser.add_argument('--keep', action='store_true', help='keep the run\'s events and messages')
    parser.add_argument('--json', help='also write the results to this file')
    parser.add_argument('--forged', type=int, default=0, metavar='N',
                        help='only flood the webhook URL with N forged requests (see above)')
    args = parser.parse_args()
    run = secrets.token_hex(4)
    deadline = max(300, args.requests // 5)           # seconds per workload: at least 5 req/s
    results = {'date': common.now_utc(), 'run': run, 'args': vars(args)}
    say(f'run {run}: {args.requests} webhooks at concurrency {args.concurrency}; {common.machine_load()}')

    odoo_args = f'--workers={args.workers} --max-cron-threads=0'
    if not args.no_baseline:
        odoo_args += link_baseline_addon()
    with common.odoo_server(odoo_args, 'webhooks-server', shim=not args.no_gevent_shim) as server:
        registry = common.open_registry()
        provider_id, token = prepare(registry)
        warmup, _ = signed_webhooks(token, secrets.token_hex(4), 100)
        health = [('GET', f'{common.BASE_URL}/web/health', {}, None)] * args.requests
        warm = load({'warm-up': warmup + health[:100]}, args.concurrency, 60, slices=1)['warm-up']
        if warm['accepted'] != 200:
            raise SystemExit('warm-up requests were refused: see the server log in ' + str(common.LOG_DIR))
        if args.forged:
            results['check_ok'], results['forged'] = forged_flood(
                registry, common.LOG_DIR / 'webhooks-server.log', token, provider_id, args.forged, args.concurrency)
            if args.json:
                common.dump_json(args.json, results)
            raise SystemExit(0 if results['check_ok'] else 1)
        requests, sids = signed_webhooks(token, run, args.requests)
        workloads = {'health': health}
        if not args.no_baseline:
            workloads['bare'] = signed_webhooks(token, run, args.requests, url=f'{common.BASE_URL}/comm_bench/bare')[0]
        workloads['webhook'] = requests
        results['load_before'] = common.machine_load()
        spy_out = common.LOG_DIR / 'webhooks-py-spy.txt'
        spy = common.py_spy_start(server.pid, spy_out) if args.profile else None
        results.update(load(workloads, args.concurrency, deadline, server_pid=server.pid))
        common.py_spy_stop(spy, spy_out)
        results['ratio'] = round(results['webhook']['rps'] / results['health']['rps'], 2)
        say(f'ratio   : webhook/health = {results["ratio"]} (goal >= 0.8: '
            f'{"met" if results["ratio"] >= 0.8 else "NOT met"})')
        if 'bare' in results:
            results['bare_ratio'] = round(results['bare']['rps'] / results['health']['rps'], 2)
            results['webhook_to_bare'] = round(results['webhook']['rps'] / results['bare']['rps'], 2)
            say(f'baseline: bare signed insert/health = {results["bare_ratio"]} (the floor Odoo sets), '
                f'webhook/bare = {results["webhook_to_bare"]}')

        with common.maybe_profile(common.LOG_DIR / 'webhooks-drain.prof' if args.profile else None):
            events, seconds = drain(registry, provider_id, args.batch_size, deadline=max(600, args.requests // 5))
        results['drain'] = {'events': events, 'seconds': round(seconds, 1),
                            'events_per_s_per_worker': round(events / seconds, 1)}
        results['check_ok'], results['counts'] = check(registry, provider_id, run, sids)
        if not args.keep:
            with common.environment(registry) as env:
                _cleanup(env.cr, provider_id)
                if not args.no_baseline:
                    env.cr.execute('DELETE FROM comm_bench_bare_event')
            say('run data deleted')
    common.finish(results, args.json)


if __name__ == '__main__':
    main()
