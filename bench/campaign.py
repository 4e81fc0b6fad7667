"""A campaign from the click, under Odoo's real cron workers (see docs/BENCHMARKS.md; issue 17).

1. ``./dev.sh run`` with ``--workers=2 --max-cron-threads=1 --limit-time-real-cron=120``: two HTTP
   workers answer the clicks; one cron worker, under the prefork watchdog, runs Odoo's SMS cron,
   our dispatch and our webhook queue. This process only clicks (JSON-RPC, as the administrator,
   as the web client sends it) and watches the database.
2. First send (``--first`` contacts, each way to send in turn): a Twilio account on
   bench/fake_twilio.py (answers after ``--delay``) is the company's SMS account. The clicks: the
   mass SMS composer saved, then its button "Put in queue" or "Send now"; a "Send SMS" server
   action run on the contacts. Measured, ``--repeat`` times each after a warm-up click: seconds
   from the click (before the composer is saved) to the fake's first accepted request, and to
   its last; each SMS must reach it once.
3. Campaign on the Sandbox (``-n`` contacts, Belgian mobiles; the Sandbox reports a number ending
   in 99 undelivered): a Sandbox account is the company's SMS account; the click is a "Send SMS
   (with note)" server action on the contacts: Odoo's composer in comment mode, a chatter message
   with its SMS icon (``mail.notification`` + ``sms.tracker``) per contact. Then the crons: our
   queue sends, the Sandbox posts its status webhooks (sent, then delivered or undelivered), our
   webhook queue applies them to the messages and to the chatter icons. Sampled every ``--poll``
   seconds: SMS queued, accepted by the provider, icons final. Reports, from the click: all queued,
   first and last accepted, last icon final; and the parts (queueing, sending all, statuses).
4. Checks: one SMS per contact, each accepted once (distinct provider ids; the fake's counts for
   step 2), every status event done, every icon in its final state (delivered, or the
   undelivered reason), one icon per SMS. Then what the run created is deleted.

Run: ``bench/run.sh campaign [-n 10000] [--first 200] [--repeat 3] [--ways queue now action] [--no-campaign]``
"""
import argparse
import time

import common
import dispatch as bench
from common import say

SANDBOX_NAME = 'Bench Sandbox (campaign)'
CAMPAIGN_PREFIX = '+3249700'    # + 4 digits: valid Belgian mobiles (the Sandbox refuses invalid ones)
WAYS = ('queue', 'now', 'action')


def server_action(registry, name, method):
    """A "Send SMS" server action on contacts (``sms_method``: 'sms' without note, 'comment' with). :returns: its id"""
    with common.environment(registry) as env:
        template = env['sms.template'].search([('name', '=', name)]) or env['sms.template'].create({
            'name': name, 'model_id': env.ref('base.model_res_partner').id, 'body': f'{name} {{{{ object.id }}}}'})
        action = env['ir.actions.server'].search([('name', '=', name)]) or env['ir.actions.server'].create({
            'name': name, 'model_id': env.ref('base.model_res_partner').id, 'state': 'sms'})
        action.write({'sms_template_id': template.id, 'sms_method': method})
        return action.id


def click(rpc, way, partner_ids, body, action_id=None):
    """What the web client sends for one click on the contacts ``partner_ids``."""
    context = {'active_model': 'res.partner', 'active_ids': partner_ids}
    if way == 'action':
        return rpc.call('ir.actions.server', 'run', [action_id], context=context)
    composer_id = rpc.call('sms.composer', 'create', {'body': body, 'mass_keep_log': False},
                           context=dict(context, default_composition_mode='mass'))
    button = 'action_send_sms' if way == 'queue' else 'action_send_sms_mass_now'
    return rpc.call('sms.composer', button, [composer_id], context=context)


def first_send(registry, rpc, fake_port, provider_id, partner_ids, way, action_id, deadline=300):
    """One click; seconds to the fake's first accepted request and to the last. :returns: result dict"""
    bench.fake(fake_port, '/_reset', 'POST')
    load = common.machine_load()
    clicked = time.time()
    click(rpc, way, partner_ids, f'Bench first send ({way}) {{{{ object.id }}}}', action_id)
    answered = time.time() - clicked
    stats = bench.fake(fake_port, '/_stats')
    while stats['accepted'] < len(partner_ids) and time.time() - clicked < deadline:
        time.sleep(0.2)
        stats = bench.fake(fake_port, '/_stats')
    time.sleep(1)       # a send twice would show now
    stats = bench.fake(fake_port, '/_stats')
    first = stats['first_accepted_at'] and stats['first_accepted_at'] - clicked
    last = stats['last_accepted_at'] and stats['last_accepted_at'] - clicked
    ok = stats['requests'] == stats['accepted'] == stats['distinct'] == len(partner_ids) and not stats['duplicates']
    say(f'{way:6}: {len(partner_ids)} SMS, click answered in {answered:.2f}s, first accepted at '
        f'{first or float("nan"):.2f}s, last at {last or float("nan"):.2f}s (goal: first within 2 s); '
        f'fake {stats["requests"]} requests, {stats["distinct"]} distinct, {stats["duplicates"]} duplicates: '
        f'{"OK" if ok else "FAILED"}')
    with common.environment(registry) as env:
        env.cr.execute('DELETE FROM comm_message WHERE provider_id = %s', [provider_id])
    return {'way': way, 'sms': len(partner_ids), 'click_s': round(answered, 2),
            'first_send_s': first and round(first, 2), 'last_send_s': last and round(last, 2),
            'load_before': load, 'check_ok': ok, 'fake': {k: stats[k] for k in ('requests', 'distinct', 'duplicates')}}


def sandbox_account(registry):
    with common.environment(registry) as env:
        env['ir.config_parameter'].set_param('comm_gateway.public_base_url', common.BASE_URL)
        Provider = env['comm.provider'].with_context(active_test=False)
        provider = Provider.search([('name', '=', SANDBOX_NAME)]) or Provider.create({
            'name': SANDBOX_NAME, 'code': 'sandbox', 'sms_from': '+15005550006', 'channel_sms': True})
        provider.write({'active': True, 'sandbox_auto_reply': False, 'rate_limit': 0, 'max_concurrency': 16,
                        'breaker_state': 'closed', 'breaker_failures': 0})
        cleanup(env.cr, provider.id)
        return provider.id


def cleanup(cr, provider_id):
    """Delete a run's messages, their chatter posts and Odoo's SMS records, and the webhook events."""
    cr.execute("SELECT mail_message_id, sms_uuid FROM comm_message WHERE provider_id = %s", [provider_id])
    rows = cr.fetchall()
    post_ids, uuids = [r[0] for r in rows if r[0]], [r[1] for r in rows if r[1]]
    cr.execute('DELETE FROM sms_tracker WHERE sms_uuid = ANY(%s)', [uuids])
    cr.execute('DELETE FROM sms_sms WHERE uuid = ANY(%s)', [uuids])
    cr.execute('DELETE FROM mail_message WHERE id = ANY(%s)', [post_ids])
    cr.execute('DELETE FROM comm_message WHERE provider_id = %s', [provider_id])
    cr.execute('DELETE FROM comm_webhook_event WHERE provider_id = %s', [provider_id])


PROGRESS = """
    SELECT count(*), count(m.provider_message_id), count(*) FILTER (WHERE n.notification_status IN ('sent', 'exception')),
           (SELECT count(*) FROM comm_webhook_event e WHERE e.provider_id = %(p)s AND e.state != 'done')
      FROM comm_message m
      LEFT JOIN sms_tracker t ON t.sms_uuid = m.sms_uuid
      LEFT JOIN mail_notification n ON n.id = t.mail_notification_id
     WHERE m.provider_id = %(p)s AND m.direction = 'out'"""


def campaign(registry, rpc, provider_id, partner_ids, action_id, poll, deadline):
    """The click, then the stages' times from it (sampled every ``poll`` s). :returns: result dict"""
    n, times, load = len(partner_ids), {}, common.machine_load()
    clicked = time.time()
    click(rpc, 'action', partner_ids, None, action_id)
    times['click answered'] = time.time() - clicked
    say(f'campaign: click answered in {times["click answered"]:.1f}s')
    counts = (0, 0, 0, 0)
    with registry.cursor() as cr:
        while time.time() - clicked < deadline:
            cr.execute(PROGRESS, {'p': provider_id})
            counts = queued, accepted, final, pending = cr.fetchone()
            cr.rollback()       # a fresh snapshot each time
            at = time.time() - clicked
            for stage, done in (('first queued', queued), ('first accepted', accepted), ('first icon final', final)):
                if done and stage not in times:
                    times[stage] = at
            for stage, done in (('all queued', queued), ('all accepted', accepted), ('all icons final', final)):
                if done >= n and stage not in times:
                    times[stage] = at
                    say(f'campaign: {stage} at {at:.1f}s')
            if final >= n and not pending:
                break
            time.sleep(poll)
    parts = {'queue': times.get('all queued'),
             'send': times.get('all accepted', float('nan')) - times.get('first accepted', float('nan')),
             'statuses': times.get('all icons final', float('nan')) - times.get('first icon final', float('nan'))}
    total = times.get('all icons final')
    say(f'campaign: {n} SMS, click to the last icon final {total or float("nan"):.1f}s; parts: queue '
        f'{parts["queue"] or float("nan"):.1f}s + send {parts["send"]:.1f}s + statuses {parts["statuses"]:.1f}s '
        f'= {sum(parts.values()) if None not in parts.values() else float("nan"):.1f}s; last counts '
        f'(queued, accepted, icons final, events not done) {counts}')
    return {'sms': n, 'load_before': load, 'load_after': common.machine_load(), 'poll_s': poll,
            'times_s': {k: round(v, 1) for k, v in times.items()},
            'parts_s': {k: v is not None and round(v, 1) for k, v in parts.items()},
            'click_to_last_icon_s': total and round(total, 1)}


def check_campaign(registry, provider_id, partner_ids):
    with common.environment(registry) as env:
        cr = env.cr
        cr.execute("""SELECT count(*), count(DISTINCT m.partner_id), count(DISTINCT m.provider_message_id),
                             count(n.id), count(DISTINCT n.id),
                             count(*) FILTER (WHERE CASE WHEN right(m.to_number, 2) = '99'
                                 THEN m.state = 'undelivered' AND n.notification_status = 'exception'
                                      AND n.failure_reason IS NOT NULL
                                 ELSE m.state = 'delivered' AND n.notification_status = 'sent' END)
                        FROM comm_message m
                        LEFT JOIN sms_tracker t ON t.sms_uuid = m.sms_uuid
                        LEFT JOIN mail_notification n ON n.id = t.mail_notification_id
                       WHERE m.provider_id = %s AND m.direction = 'out'""", [provider_id])
        messages, contacts, provider_ids, icons, distinct_icons, right = cr.fetchone()
        cr.execute("SELECT state, count(*) FROM comm_webhook_event WHERE provider_id = %s GROUP BY state", [provider_id])
        events = dict(cr.fetchall())
    n = len(partner_ids)
    counts = {'messages': messages, 'contacts': contacts, 'provider_ids': provider_ids, 'icons': icons,
              'distinct_icons': distinct_icons, 'final_state_right': right, 'events_by_state': events}
    ok = (messages == contacts == provider_ids == icons == distinct_icons == right == n
          and set(events) == {'done'} and events['done'] == 2 * n)
    return common.report_check(ok, counts)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-n', '--sms', type=int, default=10_000, help='SMS of the Sandbox campaign')
    parser.add_argument('--first', type=int, default=200, help='SMS of each first-send click')
    parser.add_argument('--ways', nargs='*', default=list(WAYS), choices=WAYS, help='first-send clicks to time')
    parser.add_argument('--repeat', type=int, default=3, help='clicks of each way')
    parser.add_argument('--no-campaign', action='store_true', help='only the first-send clicks')
    parser.add_argument('--delay', type=float, default=0.1, help='the fake provider\'s answer time (s)')
    parser.add_argument('--poll', type=float, default=0.5, help='seconds between two looks at the campaign')
    parser.add_argument('--deadline', type=float, default=3600)
    parser.add_argument('--keep', action='store_true', help='keep the campaign\'s messages and chatter posts')
    parser.add_argument('--json')
    args = parser.parse_args()
    results = {'date': common.now_utc(), 'args': vars(args), 'first_send': []}
    say(f'first send: {args.first} SMS per click {args.ways}; campaign: {0 if args.no_campaign else args.sms} SMS; '
        f'{common.machine_load()}')
    fake_port = bench.free_port()
    fake = bench.fake_provider(fake_port, args.delay)
    try:
        # the campaign's click is one long request (Odoo posts a chatter message per contact)
        with common.odoo_server('--workers=2 --max-cron-threads=1 --limit-time-real-cron=120 '
                                '--limit-time-real=3600 --limit-time-cpu=3600', 'campaign-server'):
            registry = common.open_registry()
            rpc = common.Rpc()
            provider_id = bench.prepare(registry, fake_port, 16)
            partner_ids = bench.customers(registry, provider_id, args.first, prefix='+1415556', name='Bench first')
            action_id = server_action(registry, 'Bench first send', 'sms')
            say('warm-up click (not counted): the cron worker\'s first round runs every due job')
            first_send(registry, rpc, fake_port, provider_id, partner_ids, 'now', action_id)
            for _round in range(args.repeat):
                for way in args.ways:
                    results['first_send'].append(first_send(registry, rpc, fake_port, provider_id, partner_ids,
                                                            way, action_id))
            for way in args.ways:
                firsts = sorted(r['first_send_s'] or float('inf') for r in results['first_send'] if r['way'] == way)
                say(f'{way:6}: first accepted {firsts[len(firsts) // 2]:.2f}s after the click (median of '
                    f'{len(firsts)}), at most {firsts[-1]:.2f}s; goal: within 2 s')
            if not args.no_campaign:
                sandbox_id = sandbox_account(registry)
                contacts = bench.customers(registry, sandbox_id, args.sms, prefix=CAMPAIGN_PREFIX,
                                           name='Bench campaign')
                action_id = server_action(registry, 'Bench campaign', 'comment')
                try:
                    results['campaign'] = campaign(registry, rpc, sandbox_id, contacts, action_id, args.poll,
                                                   args.deadline)
                    results['campaign']['check_ok'], results['campaign']['counts'] = check_campaign(
                        registry, sandbox_id, contacts)
                finally:
                    if not args.keep:
                        with common.environment(registry) as env:
                            cleanup(env.cr, sandbox_id)
                        say('campaign data deleted')
    finally:
        fake.terminate()
        fake.wait(timeout=10)
    results['check_ok'] = all(r['check_ok'] for r in results['first_send']) and results.get(
        'campaign', {}).get('check_ok', args.no_campaign)
    common.finish(results, args.json)


if __name__ == '__main__':
    main()
