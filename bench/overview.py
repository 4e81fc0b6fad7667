"""Overview and alert rules on a large database (see docs/BENCHMARKS.md).

1. ``./dev.sh run`` creates or updates the database (stopped once up: the rest runs in this process).
2. Unless already there, inserts by SQL ``-n`` messages (default 1,000,000) over 90 days on 4
   accounts (SMS, MMS, WhatsApp; in and out; 5 % undelivered with error codes; 2 % still to
   send) and ``n / 10`` calls, then ``VACUUM ANALYZE``.
3. Times, as the administrator, ``SELECT count(*) FROM comm_message`` (the baseline: one index
   scan of the table), ``comm.overview.get_overview`` for 7, 30 and 90 days, and the default
   alert rules' checks; median of ``--repeat`` runs each, with the ratio to the baseline.

Goal: the overview loads in under a second on 1,000,000 messages.
Run: ``bench/run.sh overview [-n 1000000] [--repeat 5] [--reset]``
"""
import time

import common
from common import say

PREFIX = 'Bench overview'
ACCOUNTS = 4
DAYS = 90
GOAL = 1.0


def bench_accounts(env):
    return env['comm.provider'].with_context(active_test=False).search([('name', '=like', f'{PREFIX}%')])


def prepare(registry, count, reset):
    with common.environment(registry) as env:
        accounts = bench_accounts(env)
        if accounts and not reset:
            env.cr.execute('SELECT count(*) FROM comm_message WHERE provider_id = ANY(%s)', [accounts.ids])
            if env.cr.fetchone()[0] >= count:
                say(f'{count} messages already there (--reset to insert them again)')
                return
        if accounts:
            env.cr.execute('DELETE FROM comm_message WHERE provider_id = ANY(%s)', [accounts.ids])
            env.cr.execute('DELETE FROM comm_call WHERE provider_id = ANY(%s)', [accounts.ids])
            accounts.unlink()
        accounts = env['comm.provider'].create([{
            'name': f'{PREFIX} {index}', 'code': 'sandbox', 'sms_from': '+15005550006', 'channel_whatsapp': True,
            'whatsapp_from': '+14155238886'} for index in range(ACCOUNTS)])
        started = time.monotonic()
        # i: the row; its account, channel, direction, state and age follow from it
        env.cr.execute(
            """INSERT INTO comm_message (provider_id, company_id, direction, channel, state, dispatch_state, attempts,
                                         from_number, to_number, error_code, failure_type, error_message,
                                         create_date, write_date, create_uid, write_uid)
               SELECT (%(accounts)s::int[])[1 + i %% %(n_accounts)s], %(company)s,
                      CASE WHEN i %% 3 = 0 THEN 'in' ELSE 'out' END,
                      (ARRAY['sms', 'sms', 'whatsapp', 'mms', 'sms'])[1 + i %% 5],
                      CASE WHEN i %% 3 = 0 THEN 'received' WHEN i %% 20 = 1 THEN 'undelivered'
                           WHEN i %% 50 = 2 THEN 'queued' WHEN i %% 7 = 0 THEN 'sent' ELSE 'delivered' END,
                      CASE WHEN i %% 3 = 0 THEN NULL WHEN i %% 50 = 2 THEN 'todo' ELSE 'done' END,
                      CASE WHEN i %% 100 = 2 THEN 1 ELSE 0 END,
                      '+49151' || lpad((i %% 100000)::text, 8, '0'), '+15005550006',
                      CASE WHEN i %% 20 = 1 THEN (ARRAY['30003', '30005', '30007', '21610'])[1 + i %% 4] END,
                      CASE WHEN i %% 20 = 1 THEN 'unknown' END,
                      CASE WHEN i %% 20 = 1 THEN 'Provider error text' END,
                      now() at time zone 'UTC' - (i::float / %(count)s * %(days)s) * interval '1 day',
                      now() at time zone 'UTC', 1, 1
                 FROM generate_series(1, %(count)s) AS i""",
            {'accounts': accounts.ids, 'n_accounts': ACCOUNTS, 'company': env.company.id, 'count': count,
             'days': DAYS})
        env.cr.execute(
            """INSERT INTO comm_call (provider_id, company_id, direction, state, from_number, to_number,
                                      start_date, answer_date, duration, create_date, write_date)
               SELECT (%(accounts)s::int[])[1 + i %% %(n_accounts)s], %(company)s,
                      CASE WHEN i %% 2 = 0 THEN 'in' ELSE 'out' END,
                      CASE WHEN i %% 4 = 1 THEN 'no_answer' ELSE 'completed' END,
                      '+4915100000000', '+15005550006',
                      now() at time zone 'UTC' - (i::float / %(count)s * %(days)s) * interval '1 day',
                      CASE WHEN i %% 4 != 1 THEN now() at time zone 'UTC' - (i::float / %(count)s * %(days)s)
                           * interval '1 day' END,
                      CASE WHEN i %% 4 != 1 THEN 30 + i %% 300 ELSE 0 END,
                      now() at time zone 'UTC', now() at time zone 'UTC'
                 FROM generate_series(1, %(count)s) AS i""",
            {'accounts': accounts.ids, 'n_accounts': ACCOUNTS, 'company': env.company.id, 'count': count // 10,
             'days': DAYS})
        say(f'{count} messages and {count // 10} calls inserted in {time.monotonic() - started:.0f}s')
    with registry.cursor() as cr:
        cr._cnx.autocommit = True
        cr.execute('VACUUM ANALYZE comm_message')
        cr.execute('VACUUM ANALYZE comm_call')
    say('VACUUM ANALYZE done')



def measure(registry, args):
    import odoo
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        admin = env.ref('base.user_admin')
        env = env(user=admin, su=False, context={'allowed_company_ids': admin.company_ids.ids})
        env['res.users'].browse(admin.id).tz     # warm the ORM caches once
        env['comm.overview'].get_overview(30)

        def baseline():
            cr.execute('SELECT count(*) FROM comm_message')
            cr.fetchone()
        results = {'baseline': common.timed(baseline, args.repeat)}
        for period in (7, 30, 90):
            results[f'overview_{period}'] = common.timed(lambda period=period: env['comm.overview'].get_overview(period),
                                                  args.repeat)
        rules = env['comm.alert.rule'].sudo().search([])
        results['alert_rules'] = common.timed(lambda: [rule._evaluate() for rule in rules], args.repeat)
        cr.rollback()
    for name, seconds in results.items():
        say(f'{name:<14} {seconds * 1000:8.1f} ms   x{seconds / results["baseline"]:.1f} the baseline')
    worst = max(results[f'overview_{period}'] for period in (7, 30, 90))
    say(f'overview: {"OK" if worst < GOAL else "OVER"} the {GOAL:.0f} s goal (slowest period {worst * 1000:.0f} ms)')
    return results, worst < GOAL


def main():
    parser = common.size_arguments(__doc__, 1_000_000)
    parser.add_argument('--reset', action='store_true', help='insert the messages again')
    args = parser.parse_args()
    say(f'{args.messages} messages; {common.machine_load()}')
    registry = common.start_database('overview-server')
    prepare(registry, args.messages, args.reset)
    results, ok = measure(registry, args)
    if args.json:
        common.dump_json(args.json, {'date': common.now_utc(), 'args': vars(args), 'results': results})
    raise SystemExit(0 if ok else 1)


if __name__ == '__main__':
    main()
