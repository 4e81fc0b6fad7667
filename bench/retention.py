"""Retention purge and its preview on a large database (see docs/BENCHMARKS.md).

1. ``./dev.sh run`` creates or updates the database (stopped once up: the rest runs in this process).
2. Inserts by SQL ``-n`` messages (default 100,000; again at each run: the purge consumes them)
   over 120 days on 2 accounts (SMS, MMS, WhatsApp; in and out; 2 % still to send, which the
   purge keeps), each with a text; the company keeps texts 30 days. Then ``VACUUM ANALYZE``.
3. Prints the plans (``EXPLAIN ANALYZE``) of the first purge batch and of the preview's counts,
   and times, next to ``SELECT count(*) FROM comm_message`` (the baseline): the preview (median of
   ``--repeat``), then the purge through the cron's method, every batch committed, until nothing
   is due: messages purged per second. Twice: the backlog (three quarters of the texts due at
   once, as on the first run), then the next day's run (one more day due among the purged rows).
4. ``--without-indexes`` drops the retention indexes first (and makes them again at the end), to
   compare in one database.

Run: ``bench/run.sh retention [-n 100000] [--repeat 5] [--without-indexes]``
"""
import time

import common
from common import say

PREFIX = 'Bench retention'
DAYS, KEEP_DAYS = 120, 30
INDEXES = ('comm_message_retention_text_idx',)


def prepare(registry, count):
    with common.environment(registry) as env:
        accounts = env['comm.provider'].with_context(active_test=False).search([('name', '=like', f'{PREFIX}%')])
        if accounts:
            env.cr.execute('DELETE FROM comm_message WHERE provider_id = ANY(%s)', [accounts.ids])
        else:
            accounts = env['comm.provider'].create([{
                'name': f'{PREFIX} {index}', 'code': 'sandbox', 'sms_from': '+15005550006', 'channel_whatsapp': True,
                'whatsapp_from': '+14155238886'} for index in range(2)])
        env.company.write({'comm_keep_sms_days': KEEP_DAYS, 'comm_keep_whatsapp_days': KEEP_DAYS})
        started = time.monotonic()
        env.cr.execute(
            """INSERT INTO comm_message (provider_id, company_id, direction, channel, state, dispatch_state, attempts,
                                         from_number, to_number, body, create_date, write_date, create_uid, write_uid)
               SELECT (%(accounts)s::int[])[1 + i %% 2], %(company)s,
                      CASE WHEN i %% 3 = 0 THEN 'in' ELSE 'out' END,
                      (ARRAY['sms', 'sms', 'whatsapp', 'mms', 'sms'])[1 + i %% 5],
                      CASE WHEN i %% 3 = 0 THEN 'received' WHEN i %% 50 = 2 THEN 'queued' ELSE 'delivered' END,
                      CASE WHEN i %% 3 = 0 THEN NULL WHEN i %% 50 = 2 THEN 'todo' ELSE 'done' END, 0,
                      '+49151' || lpad((i %% 100000)::text, 8, '0'), '+15005550006',
                      'Your order ' || i || ' is on its way; reply STOP to opt out.',
                      now() at time zone 'UTC' - ((%(count)s - i)::float / %(count)s * %(days)s) * interval '1 day',
                      now() at time zone 'UTC', 1, 1
                 FROM generate_series(1, %(count)s) AS i""",
            {'accounts': accounts.ids, 'company': env.company.id, 'count': count, 'days': DAYS})
        say(f'{count} messages inserted in {time.monotonic() - started:.0f}s')
        company_id = env.company.id
    with registry.cursor() as cr:
        cr._cnx.autocommit = True
        cr.execute('VACUUM ANALYZE comm_message')
    say('VACUUM ANALYZE done')
    return company_id


def drop_indexes(registry):
    with registry.cursor() as cr:
        for name in INDEXES:
            cr.execute(f'DROP INDEX IF EXISTS {name}')
    say(f'dropped {", ".join(INDEXES)}')


def restore_indexes(registry):
    with common.environment(registry) as env:
        env['comm.message'].init()
    say('indexes made again')


def next_day(registry, company_id):
    """The daily run after the backlog is gone: one more day of texts becomes due."""
    with common.environment(registry) as env:
        env['res.company'].browse(company_id).write({'comm_keep_sms_days': KEEP_DAYS - 1,
                                                    'comm_keep_whatsapp_days': KEEP_DAYS - 1})
    with registry.cursor() as cr:
        cr._cnx.autocommit = True
        cr.execute('VACUUM ANALYZE comm_message')


def explain(registry, company_id):
    from odoo.tools import SQL
    with common.environment(registry) as env:
        company = env['res.company'].browse(company_id)
        for kind, _days, query in env['comm.retention']._due(company):
            for label, statement in ((f'purge batch ({kind})', SQL('%s ORDER BY 2, 1 LIMIT 500', query)),
                                     (f'preview count ({kind})', SQL('SELECT count(*) FROM (%s) due', query))):
                env.cr.execute(SQL('EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) %s', statement))
                say(f'plan of the {label}:\n    ' + '\n    '.join(row[0] for row in env.cr.fetchall()))
        env.cr.rollback()


def measure(registry, company_id, repeat):
    import odoo
    results = {}
    with common.environment(registry) as env:
        def baseline():
            env.cr.execute('SELECT count(*) FROM comm_message')
            env.cr.fetchone()
        company = env['res.company'].browse(company_id)
        env['comm.retention']._preview(company)     # warm the caches once
        results['baseline'] = common.timed(baseline, repeat)
        results['preview'] = common.timed(lambda: env['comm.retention']._preview(company), repeat)
        due = env['comm.retention']._preview(company)
        results['due'] = due['body_sms'] + due['body_whatsapp']
    started, purged = time.perf_counter(), 0
    for _run in range(1000):
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            done = env['comm.retention']._cron_purge()
        purged += done
        if not done:
            break
    results['purge_seconds'] = time.perf_counter() - started
    results['purged'] = purged
    with common.environment(registry) as env:
        left = env['comm.retention']._preview(env['res.company'].browse(company_id))
        env.cr.execute("SELECT count(*) FROM comm_message WHERE dispatch_state = 'todo' AND body_removed")
        results['unsent_purged'] = env.cr.fetchone()[0]
    results['left'] = left['body_sms'] + left['body_whatsapp']
    return results



def main():
    parser = common.size_arguments(__doc__, 100_000)
    parser.add_argument('--without-indexes', action='store_true', help='drop the retention indexes for this run')
    args = parser.parse_args()
    say(f'{args.messages} messages; {common.machine_load()}')
    registry = common.start_database('retention-server')
    company_id = prepare(registry, args.messages)
    if args.without_indexes:
        drop_indexes(registry)
    runs = {}
    try:
        explain(registry, company_id)
        runs['backlog'] = measure(registry, company_id, args.repeat)
        next_day(registry, company_id)
        explain(registry, company_id)
        runs['next day'] = measure(registry, company_id, args.repeat)
    finally:
        if args.without_indexes:
            restore_indexes(registry)
    ok = True
    for name, results in runs.items():
        say(f'{name}: baseline (count(*))  {results["baseline"] * 1000:8.1f} ms')
        say(f'{name}: preview              {results["preview"] * 1000:8.1f} ms   '
            f'x{results["preview"] / results["baseline"]:.2f} the baseline ({results["due"]} texts due)')
        rate = results['purged'] / results['purge_seconds'] if results['purge_seconds'] else 0
        say(f'{name}: purge                {results["purged"]} texts in {results["purge_seconds"]:.2f} s: '
            f'{rate:.0f} per second; {results["left"]} left due')
        ok &= results['left'] == 0 and results['purged'] >= results['due'] and not results['unsent_purged']
    say('checks: ' + ('OK (every due text purged, none of the messages still to send)' if ok else 'FAILED'))
    if args.json:
        common.dump_json(args.json, {'date': common.now_utc(), 'args': vars(args), 'results': runs})
    raise SystemExit(0 if ok else 1)


if __name__ == '__main__':
    main()
