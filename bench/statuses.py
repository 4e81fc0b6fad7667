"""Status callback drain against inbound drain, in one run (see docs/BENCHMARKS.md).

1. Serves Odoo once through ``./dev.sh run`` (``--workers=0 --max-cron-threads=0``: it updates
   the bench database; nothing else runs meanwhile), then works in this process.
2. A campaign: ``-n`` contacts get an SMS from Odoo's mass SMS composer, queued on a Sandbox
   account, each given the chatter message, ``mail.notification`` and ``sms.tracker`` the chatter
   composer would leave (``track``), so that Odoo's whole SMS tracking is mirrored, and a
   provider id as a dispatch run would.
3. Their callbacks: queued, sent and delivered for each SMS (undelivered for one in ten),
   shuffled, ``--duplicates`` of them queued twice under another key; ``-n`` / 3 plain inbound
   messages from 50 known contacts beside them. Rows are inserted as ``_receive`` inserts them
   (intake is measured by ``bench/webhooks.py``).
4. Drain in ``--slices`` rounds, so that the machine's other load weighs on all alike: a slice
   of inbound events made due and drained, then a slice of status events, then (``--alone``
   share) status events of other SMS through the one-by-one path (the path every status took
   before batches, still the fallback), each by ``_cron_process(200)`` in this one process until
   none is due. Reports events/s and queries per event of each, and the ratios.
5. Checks: every event done, every SMS in its last state (delivered, or undelivered with its
   reason), every chatter notification with it; then deletes what the run created.

Run: ``bench/run.sh statuses [-n 10000] [--slices 5] [--duplicates 0.1] [--alone 0.1]``
"""
import argparse
import json
import random
import secrets
import time
from unittest.mock import patch

import common
from common import say

PROVIDER_NAME = 'Bench Sandbox (statuses)'
OWN = '+15005550006'
SENDERS = [f'+1415555{100 + k:04d}' for k in range(50)]
ERROR = 'Unreachable handset (simulated)'


def prepare(registry, count, run):
    """The account, ``count`` contacts, the campaign. :returns: (provider id, [(message id, to, unreachable)])"""
    with common.environment(registry) as env:
        env['ir.config_parameter'].set_param('comm_gateway.public_base_url', common.BASE_URL)
        Provider = env['comm.provider'].with_context(active_test=False)
        provider = Provider.search([('name', '=', PROVIDER_NAME)]) or Provider.create({
            'name': PROVIDER_NAME, 'code': 'sandbox', 'sms_from': OWN, 'channel_sms': True})
        provider.write({'active': True, 'sandbox_auto_reply': False})
        env.company.comm_sms_provider_id = provider
        _cleanup(env.cr, provider.id)
        Partner = env['res.partner']
        numbers = [f'+3249{index:07d}' for index in range(count)]
        known = set(Partner.search([('mobile', 'in', numbers)]).mapped('mobile'))
        Partner.create([{'name': f'Bench customer {number[-7:]}', 'mobile': number}
                        for number in numbers if number not in known])
        missing = set(SENDERS) - set(Partner.search([('mobile', 'in', SENDERS)]).mapped('mobile'))
        Partner.create([{'name': f'Bench sender {number[-4:]}', 'mobile': number} for number in sorted(missing)])
        partners = Partner.search([('mobile', 'in', numbers)])
        provider_id = provider.id
    started = time.perf_counter()
    with common.environment(registry) as env:
        composer = env['sms.composer'].with_context(
            active_model='res.partner', active_ids=partners.ids, default_composition_mode='mass').create(
            {'body': f'Bench sale {run}', 'mass_keep_log': True, 'mass_force_send': True})
        composer.action_send_sms()
    say(f'campaign: {count} SMS queued from the mass composer in {time.perf_counter() - started:.1f}s')
    with common.environment(registry) as env:
        track(env, provider_id)
    with common.environment(registry) as env:
        env.cr.execute("""UPDATE comm_message SET provider_message_id = 'SB' || %s || id, dispatch_state = 'done'
                           WHERE provider_id = %s AND direction = 'out' RETURNING id, to_number""",
                       [run, provider_id])
        rows = sorted(env.cr.fetchall())
        env.cr.execute("""SELECT count(*) FROM comm_message m JOIN sms_tracker t ON t.sms_uuid = m.sms_uuid
                           WHERE m.provider_id = %s""", [provider_id])
        tracked = env.cr.fetchone()[0]
    say(f'campaign: {len(rows)} messages, {tracked} with an sms.tracker')
    return provider_id, [(message_id, to, index % 10 == 9) for index, (message_id, to) in enumerate(rows)]


def track(env, provider_id):
    """What the chatter composer leaves beside each SMS (the mass composer keeps no tracker):
    a chatter message, its SMS notification and the ``sms.tracker`` linking them, created in
    bulk (a comment-mode composer posts one message at a time: 0.1 s each here)."""
    messages = env['comm.message'].search([('provider_id', '=', provider_id), ('direction', '=', 'out')], order='id')
    posts = env['mail.message'].create([{
        'model': 'res.partner', 'res_id': message.partner_id.id, 'body': message.body, 'message_type': 'sms',
        'subtype_id': env.ref('mail.mt_note').id} for message in messages])
    notifications = env['mail.notification'].create([{
        'mail_message_id': post.id, 'res_partner_id': message.partner_id.id, 'notification_type': 'sms',
        'notification_status': 'process', 'sms_number': message.to_number, 'is_read': True,
        'author_id': post.author_id.id} for message, post in zip(messages, posts)])
    env['sms.tracker'].create([{'sms_uuid': message.sms_uuid, 'mail_notification_id': notification.id}
                               for message, notification in zip(messages, notifications)])
    for message, post in zip(messages, posts):
        message.mail_message_id = post


def _cleanup(cr, provider_id):
    cr.execute("""DELETE FROM mail_message WHERE id IN (
                      SELECT mail_message_id FROM comm_message WHERE provider_id = %s)""", [provider_id])
    cr.execute("DELETE FROM sms_tracker WHERE sms_uuid IN (SELECT sms_uuid FROM comm_message WHERE provider_id = %s)",
               [provider_id])
    cr.execute("DELETE FROM sms_sms WHERE uuid IN (SELECT sms_uuid FROM comm_message WHERE provider_id = %s)",
               [provider_id])
    cr.execute('DELETE FROM comm_message WHERE provider_id = %s', [provider_id])
    cr.execute('DELETE FROM comm_webhook_event WHERE provider_id = %s', [provider_id])


def status_payloads(run, messages, duplicates, rng):
    """[(key, payload)] of every SMS's callbacks, shuffled, some twice."""
    payloads = []
    for message_id, to, unreachable in messages:
        steps = [('queued', {}), ('sent', {})]
        steps.append(('undelivered', {'error_code': '30003', 'error_message': ERROR}) if unreachable
                     else ('delivered', {}))
        for offset, (status, extra) in enumerate(steps):
            provider_message_id = f'SB{run}{message_id}'
            payloads.append((f's:{provider_message_id}:{status}', {
                'type': 'status', 'id': provider_message_id, 'status': status, 'to': to,
                'timestamp': time.time() + offset, **extra}))
    rng.shuffle(payloads)
    again = rng.sample(payloads, int(len(payloads) * duplicates))
    payloads += [(key + ':again', payload) for key, payload in again]
    rng.shuffle(payloads)
    return payloads


def inbound_payloads(run, count):
    return [(f'm:SM{run}{index}', {
        'type': 'message', 'id': f'SM{run}{index}', 'from': SENDERS[index % len(SENDERS)], 'to': OWN,
        'body': f'Bench reply {index}', 'channel': 'sms', 'timestamp': time.time(), 'media': []})
        for index in range(count)]


def insert(registry, provider_id, purpose, payloads):
    """The rows ``_receive`` would insert for these payloads (signed as the Sandbox signs)."""
    with common.environment(registry) as env:
        provider = env['comm.provider'].browse(provider_id)
        adapter = provider._get_adapter()
        url = provider._webhook_url(purpose)
        rows = []
        for key, payload in payloads:
            request = adapter._signed(url, payload)
            rows.append((provider_id, provider.company_id.id, purpose, key, 'POST', url,
                         json.dumps({'Content-Type': 'application/json'}), request.body.decode(), '127.0.0.1'))
        from psycopg2.extras import execute_values
        execute_values(env.cr._obj, """
            INSERT INTO comm_webhook_event (provider_id, company_id, purpose, event_key, method, url, headers, body,
                                            remote_addr, state, attempts, next_try_at, create_date, write_date)
            VALUES %s""", rows, template="(%s, %s, %s, %s, %s, %s, %s, %s, %s, 'pending', 0,"
                                         " now() at time zone 'UTC', now() at time zone 'UTC', now() at time zone 'UTC')",
                       page_size=1000)


def drain(registry, provider_id, batch_size, alone=False):
    """``_cron_process`` until nothing is due. :returns: (events, seconds, queries)"""
    from odoo.addons.comm_gateway.models.comm_webhook_event import CommWebhookEvent
    queries = [0]

    def step(env):
        before = env.cr.sql_log_count
        env['comm.webhook.event']._cron_process(batch_size=batch_size)
        queries[0] += env.cr.sql_log_count - before
        env.cr.execute("""SELECT count(*) FROM comm_webhook_event WHERE provider_id = %s
                             AND (state = 'processing' OR (state = 'pending' AND next_try_at <= now() at time zone 'UTC'))""",
                       [provider_id])
        return env.cr.fetchone()[0]

    with common.environment(registry) as env:
        env.cr.execute("SELECT count(*) FROM comm_webhook_event WHERE provider_id = %s AND state = 'pending'",
                       [provider_id])
        todo = env.cr.fetchone()[0]
    one_by_one = patch.object(CommWebhookEvent, '_process_statuses', lambda self, events, parsed: events)
    with one_by_one if alone else _nothing():
        seconds, left = common.run_cron_until_done(registry, step, todo, batch_size, 1800, 'events due')
    return todo - left, seconds, queries[0]


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def check(registry, provider_id, messages):
    with common.environment(registry) as env:
        cr = env.cr
        cr.execute("SELECT state, count(*) FROM comm_webhook_event WHERE provider_id = %s GROUP BY state",
                   [provider_id])
        events = dict(cr.fetchall())
        cr.execute("""SELECT m.id, m.state, m.error_message, n.notification_status, n.failure_reason
                        FROM comm_message m
                        LEFT JOIN sms_tracker t ON t.sms_uuid = m.sms_uuid
                        LEFT JOIN mail_notification n ON n.id = t.mail_notification_id
                       WHERE m.provider_id = %s AND m.direction = 'out'""", [provider_id])
        found = {row[0]: row[1:] for row in cr.fetchall()}
        cr.execute("SELECT count(*) FROM comm_message WHERE provider_id = %s AND direction = 'in'", [provider_id])
        inbound = cr.fetchone()[0]
    wrong = 0
    for message_id, _to, unreachable in messages:
        expected = ('undelivered', ERROR, 'exception', ERROR) if unreachable else ('delivered', None, 'sent', None)
        wrong += found.get(message_id) != expected
    counts = {'events_by_state': events, 'sms': len(messages), 'sms_in_a_wrong_state': wrong,
              'inbound_messages': inbound}
    ok = set(events) == {'done'} and not wrong
    return common.report_check(ok, counts)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-n', '--sms', type=int, default=10_000, help='SMS in the campaign (3 callbacks each)')
    parser.add_argument('--slices', type=int, default=5, help='rounds of inbound, batch, one-by-one drains')
    parser.add_argument('--duplicates', type=float, default=0.1, help='share of callbacks queued twice')
    parser.add_argument('--alone', type=float, default=0.1,
                        help='share of the SMS whose callbacks take the one-by-one path (0: none)')
    parser.add_argument('--batch-size', type=int, default=200)
    parser.add_argument('--keep', action='store_true')
    parser.add_argument('--json')
    args = parser.parse_args()
    run = secrets.token_hex(3)
    rng = random.Random(run)
    results = {'date': common.now_utc(), 'run': run, 'args': vars(args)}
    say(f'run {run}: {args.sms} SMS, {args.sms * 3} callbacks; {common.machine_load()}')
    with common.odoo_server('--workers=0 --max-cron-threads=0', 'statuses-server'):
        registry = common.open_registry()
    provider_id, messages = prepare(registry, args.sms, run)
    split = int(len(messages) * (1 - args.alone))
    workloads = {'inbound': inbound_payloads(run, args.sms // 3),
                 'statuses': status_payloads(run, messages[:split], args.duplicates, rng),
                 'alone': status_payloads(run, messages[split:], args.duplicates, rng)}
    totals = {name: {'events': 0, 'seconds': 0.0, 'queries': 0} for name, payloads in workloads.items() if payloads}
    results['load_before'] = common.machine_load()
    for k in range(args.slices):
        for name in totals:
            payloads = workloads[name]
            part = payloads[len(payloads) * k // args.slices:len(payloads) * (k + 1) // args.slices]
            insert(registry, provider_id, 'inbound' if name == 'inbound' else 'status', part)
            events, seconds, queries = drain(registry, provider_id, args.batch_size, alone=name == 'alone')
            total = totals[name]
            total['events'] += events
            total['seconds'] += seconds
            total['queries'] += queries
        say(f'slice {k + 1}/{args.slices} drained; {common.machine_load()}')
    results['load_after'] = common.machine_load()
    for name, total in totals.items():
        total['events_per_s'] = round(total['events'] / total['seconds'], 1)
        total['queries_per_event'] = round(total['queries'] / max(total['events'], 1), 2)
        total['seconds'] = round(total['seconds'], 1)
        say(f'{name:8}: {total["events"]} events in {total["seconds"]}s = {total["events_per_s"]} events/s '
            f'per worker, {total["queries_per_event"]} queries per event')
    results.update(totals)
    results['statuses_to_inbound'] = round(totals['statuses']['events_per_s'] / totals['inbound']['events_per_s'], 2)
    say(f'ratio   : statuses/inbound = {results["statuses_to_inbound"]} (goal >= 1.0: '
        f'{"met" if results["statuses_to_inbound"] >= 1.0 else "NOT met"})')
    if 'alone' in totals:
        results['batch_to_alone'] = round(totals['statuses']['events_per_s'] / totals['alone']['events_per_s'], 2)
        say(f'ratio   : statuses in batches / one by one = {results["batch_to_alone"]}')
    results['check_ok'], results['counts'] = check(registry, provider_id, messages)
    if not args.keep:
        with common.environment(registry) as env:
            _cleanup(env.cr, provider_id)
        say('run data deleted')
    common.finish(results, args.json)


if __name__ == '__main__':
    main()
