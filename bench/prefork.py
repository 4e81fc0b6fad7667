"""Dispatch by Odoo's own cron in prefork mode (see docs/BENCHMARKS.md). Not the chaos bench of
issue 12: no failures injected, no kill -9, no second server; a first step towards it.

1. ``./dev.sh run`` with ``--workers=2 --max-cron-threads=2`` (plus ``--limit-time-real-cron``
   when given): the real cron workers, under the real watchdog.
2. bench/fake_twilio.py (answers after ``--delay``, counts requests per To/Body) in its own process.
3. A Twilio account on the fake with ``rate_limit`` = ``--rate``; ``-n`` SMS queued, the dispatch
   cron triggered once; then nothing but Odoo's cron sends, until none is left (or 300 s).
4. Checks: every message sent exactly once (the fake's counts), none left, the cron still active
   with no failure, no "WorkerCron … timeout" in the server log, and the whole run not shorter
   than ``(n - 1) / rate`` (the account's rate kept over all runs of the cron).

Run: ``bench/run.sh prefork [-n 2000] [--rate 50] [--limit-time-real-cron 120]``. A cron limit
below the cron worker's idle sleep (60–70 s) gets the idle worker itself killed by Odoo.
"""
import argparse
import time

import common
import dispatch as bench
from common import say


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-n', '--messages', type=int, default=2000)
    parser.add_argument('--rate', type=float, default=50.0, help='the account\'s messages per second')
    parser.add_argument('--delay', type=float, default=0.05, help='the fake provider\'s answer time (s)')
    parser.add_argument('--limit-time-real-cron', type=int, default=120)
    args = parser.parse_args()
    say(f'{args.messages} SMS at {args.rate}/s, limit_time_real_cron {args.limit_time_real_cron}; '
        f'{common.machine_load()}')
    port = bench.free_port()
    fake = bench.fake_provider(port, args.delay)
    log = common.LOG_DIR / 'prefork-server.log'
    try:
        with common.odoo_server(f'--workers=2 --max-cron-threads=2 '
                                f'--limit-time-real-cron={args.limit_time_real_cron}', 'prefork-server'):
            registry = common.open_registry()
            provider_id = bench.prepare(registry, port, 8)
            with common.environment(registry) as env:
                env['comm.provider'].browse(provider_id).write({'rate_limit': args.rate})
                cron = env.ref('comm_gateway.ir_cron_comm_message_dispatch')
                cron_id = cron.id
            bench.fake(port, '/_reset', 'POST')
            bench.queue(registry, provider_id, args.messages)
            with common.environment(registry) as env:
                env['ir.cron'].browse(cron_id)._trigger()
            started, left = time.monotonic(), args.messages
            while left and time.monotonic() - started < 300:
                time.sleep(1)
                with common.environment(registry) as env:
                    left = bench.left(env.cr, provider_id)
            seconds = time.monotonic() - started
            with common.environment(registry) as env:
                env.cr.execute('SELECT active, failure_count FROM ir_cron WHERE id = %s', [cron_id])
                active, failures = env.cr.fetchone()
                env.cr.execute('DELETE FROM comm_message WHERE provider_id = %s', [provider_id])
            stats = bench.fake(port, '/_stats')
    finally:
        fake.terminate()
        fake.wait(timeout=10)
    timeouts = log.read_text().count('timeout after')
    runs = log.read_text().count("'Communications: send queued messages' (%s) done" % cron_id)
    floor = (args.messages - 1) / args.rate
    ok = (not left and stats['requests'] == stats['distinct'] == args.messages and not stats['duplicates']
          and active and not failures and not timeouts and seconds >= floor)
    say(f'prefork : {args.messages} SMS in {seconds:.1f}s ({args.messages / seconds:.1f} msg/s; not below '
        f'{floor:.1f}s at {args.rate}/s) over {runs} cron runs; left {left}; fake {stats}; cron active '
        f'{active}, failures {failures}; worker timeouts {timeouts}')
    say(f'check   : {"OK" if ok else "FAILED"}')
    raise SystemExit(0 if ok else 1)


if __name__ == '__main__':
    main()
