"""The overview's figures against hand-computed ones, its rights and companies, and the tour:
open the overview, click a figure, land on the filtered list behind it."""
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import TransactionCase
from odoo.tools import SQL


class OverviewMixin:

    def make_account(self, name, company=None, **values):
        return self.env['comm.provider'].create({
            'name': name, 'code': 'sandbox', 'sms_from': '+15005550006', 'channel_whatsapp': True,
            'whatsapp_from': '+14155238886', 'company_id': (company or self.env.company).id, **values})

    def make_messages(self, account, count, days_ago=0, **values):
        """``count`` messages created ``days_ago`` days ago (the ORM sets create_date: moved by SQL)."""
        base = {'direction': 'out', 'channel': 'sms', 'provider_id': account.id, 'to_number': '+4915123456780',
                'state': 'delivered', 'dispatch_state': 'done'}
        messages = self.env['comm.message'].sudo().create([{**base, **values} for _index in range(count)])
        if days_ago:
            messages.flush_recordset()
            self.env.cr.execute(SQL("UPDATE comm_message SET create_date = create_date - %s WHERE id = ANY(%s)",
                                    timedelta(days=days_ago), messages.ids))
            messages.invalidate_recordset(['create_date'])
        return messages

    def make_event(self, account, state, minutes_ago=0):
        """A webhook event as the queue left it (events are recorded by the webhook controller only)."""
        self.env.cr.execute(SQL(
            """INSERT INTO comm_webhook_event (provider_id, company_id, purpose, event_key, state, attempts,
                                               create_date, write_date, next_try_at)
               VALUES (%s, %s, 'status', md5(random()::text), %s, 0, %s, %s, %s)""",
            account.id, account.company_id.id, state, *[fields.Datetime.now() - timedelta(minutes=minutes_ago)] * 3))

    def make_call(self, account, state, answered=False, duration=0, direction='in', days_ago=0):
        start = fields.Datetime.now() - timedelta(days=days_ago, minutes=5)
        return self.env['comm.call'].sudo().create({
            'direction': direction, 'provider_id': account.id, 'from_number': '+4915123456780', 'state': state,
            'start_date': start, 'answer_date': start + timedelta(seconds=5) if answered else False,
            'duration': duration})


@tagged('post_install', '-at_install')
class TestOverview(OverviewMixin, TransactionCase):

    def setUp(self):
        super().setUp()
        self.env.user.tz = 'UTC'
        self.alpha = self.make_account('Alpha')
        self.beta = self.make_account('Beta')
        # Alpha, this week: 6 SMS out (4 delivered, 1 read, 1 undelivered), 2 SMS in, 3 WhatsApp out (1 failed)
        self.make_messages(self.alpha, 4, days_ago=1)
        self.make_messages(self.alpha, 1, state='read')
        self.make_messages(self.alpha, 1, state='undelivered', error_code='30003', failure_type='unknown',
                           error_message='Unreachable destination handset')
        self.make_messages(self.alpha, 2, direction='in', state='received', dispatch_state=False,
                           from_number='+4915111111111')
        self.make_messages(self.alpha, 2, channel='whatsapp', days_ago=2)
        self.make_messages(self.alpha, 1, channel='whatsapp', state='failed', error_code='131026',
                           failure_type='sms_number_format', error_message='Message undeliverable')
        # Beta: 2 SMS out failed with the same code, 1 still queued (backlog, retried once), 1 MMS in
        self.make_messages(self.beta, 2, state='failed', error_code='30003', failure_type='unknown')
        self.make_messages(self.beta, 1, state='queued', dispatch_state='todo', attempts=1)
        self.make_messages(self.beta, 1, channel='mms', direction='in', state='received', dispatch_state=False)
        # out of a 7-day period: 40 days ago
        self.make_messages(self.alpha, 5, days_ago=40)
        # WhatsApp customers who wrote in the last 24 h: 2 numbers (3 messages), one of them 2 days ago too
        self.make_messages(self.alpha, 2, channel='whatsapp', direction='in', state='received',
                           dispatch_state=False, from_number='+4915122222222')
        self.make_messages(self.alpha, 1, channel='whatsapp', direction='in', state='received',
                           dispatch_state=False, from_number='+4915133333333')
        self.make_messages(self.alpha, 1, channel='whatsapp', direction='in', state='received',
                           dispatch_state=False, from_number='+4915144444444', days_ago=2)
        # calls: 2 answered (60 s, 120 s), 1 missed incoming, 1 unanswered outgoing (not "missed")
        self.make_call(self.alpha, 'completed', answered=True, duration=60)
        self.make_call(self.alpha, 'completed', answered=True, duration=120, direction='out')
        self.make_call(self.alpha, 'no_answer')
        self.make_call(self.beta, 'busy', direction='out')

    def overview(self, period=7, accounts=None):
        return self.env['comm.overview'].get_overview(period, accounts)

    def assertListed(self, action, expected):
        """The action of a figure lists exactly the records it counts."""
        self.assertEqual(self.env[action['res_model']].search_count(action['domain']), expected, action['name'])

    def test_volumes_per_day_channel_and_account(self):
        data = self.overview()
        self.assertEqual(len(data['days']), 7)
        today, yesterday = str(fields.Date.today()), str(fields.Date.today() - timedelta(days=1))
        volumes = {(row['channel'], row['direction']): row for row in data['volumes']}
        self.assertEqual(volumes['sms', 'out']['counts'], {today: 5, yesterday: 4})   # 40 days ago: outside
        self.assertEqual(sum(volumes['whatsapp', 'in']['counts'].values()), 4)
        self.assertEqual(sum(volumes['voice', 'in']['counts'].values()), 2)
        self.assertListed(volumes['sms', 'out']['action'], 9)
        table = {row['account']: {(cell['channel'], cell['direction']): cell for cell in row['cells']}
                 for row in data['accounts_table']}
        self.assertEqual(table['Alpha']['sms', 'out']['count'], 6)
        self.assertEqual(table['Alpha']['sms', 'in']['count'], 2)
        self.assertEqual(table['Beta']['mms', 'in']['count'], 1)
        self.assertEqual(table['Beta']['voice', 'out']['count'], 1)
        self.assertListed(table['Alpha']['sms', 'out']['action'], 6)
        self.assertListed(table['Beta']['voice', 'out']['action'], 1)
        self.assertEqual(sum(volumes['sms', 'out']['counts'].values()), 9)
        self.assertEqual(sum(self.overview(period=90)['volumes'][0]['counts'].values()) > 0, True)
        wide = {(row['channel'], row['direction']): row for row in self.overview(period=90)['volumes']}
        self.assertEqual(sum(wide['sms', 'out']['counts'].values()), 14)

    def test_delivery_rate_and_failure_reasons(self):
        data = self.overview()
        delivery = {(row['account'], row['channel']): row for row in data['delivery']}
        alpha_sms = delivery['Alpha', 'sms']
        self.assertEqual((alpha_sms['delivered'], alpha_sms['undelivered']), (5, 1))
        self.assertEqual(alpha_sms['rate'], 83.3)                       # 5 / 6
        self.assertEqual(delivery['Alpha', 'whatsapp']['rate'], 66.7)   # 2 / 3
        self.assertEqual(delivery['Beta', 'sms']['rate'], 0.0)          # the queued one has no final status
        self.assertListed(alpha_sms['failed_action'], 1)
        self.assertListed(alpha_sms['action'], 5)
        self.assertListed(delivery['Beta', 'sms']['action'], 0)
        top = data['failures'][0]
        self.assertEqual((top['error_code'], top['count']), ('30003', 3))
        self.assertEqual(top['provider_words'], 'Unreachable destination handset')
        self.assertListed(top['action'], 3)
        second = data['failures'][1]
        self.assertEqual((second['error_code'], second['count'], second['meaning']),
                         ('131026', 1, 'Wrong Number Format'))
        only_beta = self.overview(accounts=[self.beta.id])
        self.assertEqual([(row['error_code'], row['count']) for row in only_beta['failures']], [('30003', 2)])

    def test_queue_health(self):
        self.make_event(self.beta, 'dead')
        self.env['comm.webhook.rejection']._count(self.alpha)
        self.env['comm.webhook.rejection']._count(self.alpha)
        self.beta.sudo().breaker_state = 'open'
        queue = self.overview()['queue']
        events = {row['state']: row for row in queue['events']}
        self.assertEqual((events['dead']['count'], events['pending']['count']), (1, 0))
        self.assertIsNotNone(events['dead']['oldest_age'])
        self.assertListed(events['dead']['action'], 1)
        self.assertEqual((queue['backlog'], queue['retrying']), (1, 1))
        self.assertListed(queue['backlog_action'], 1)
        self.assertListed(queue['retrying_action'], 1)
        accounts = {row['account']: row for row in queue['accounts']}
        self.assertEqual(accounts['Beta']['breaker_state'], 'open')
        self.assertEqual(accounts['Alpha']['breaker_state'], 'closed')
        self.assertEqual(accounts['Beta']['backlog'], 1)
        self.assertEqual(queue['forged'], [{'day': str(fields.Date.today()), 'count': 2}])
        self.assertEqual(queue['forged_last_hour'], 2)

    def test_whatsapp_and_calls(self):
        template = self.env['comm.whatsapp.template'].create({'name': 'promo', 'provider_id': self.alpha.id,
                                                              'body': 'Hi'})
        template.write({'status': 'paused', 'quality': 'red'})
        self.env['comm.whatsapp.template'].create({'name': 'draft', 'provider_id': self.alpha.id, 'body': 'Hi'})
        data = self.overview()
        templates = {(row['status'], row['quality']): row for row in data['whatsapp']['templates']}
        self.assertEqual(templates['paused', 'red']['count'], 1)
        self.assertEqual(templates['draft', 'unknown']['count'], 1)
        self.assertListed(templates['paused', 'red']['action'], 1)
        self.assertListed(templates['draft', 'unknown']['action'], 1)
        self.assertEqual(data['whatsapp']['open_conversations'], 2)
        self.assertListed(data['whatsapp']['open_action'], 3)
        calls = data['calls']
        self.assertEqual((calls['answered'], calls['missed'], calls['average_duration']), (2, 1, 90))
        self.assertListed(calls['answered_action'], 2)
        self.assertListed(calls['missed_action'], 1)

    def test_rights_and_companies(self):
        outsider = new_test_user(self.env, 'overview_outsider', groups='base.group_user')
        with self.assertRaises(AccessError):
            self.env['comm.overview'].with_user(outsider).get_overview(7)
        other = self.env['res.company'].create({'name': 'Elsewhere'})
        hidden = self.make_account('Hidden', company=other)
        self.make_messages(hidden, 3)
        manager = new_test_user(self.env, 'overview_manager', groups='comm_gateway.group_comm_manager',
                                company_id=self.env.company.id, company_ids=[self.env.company.id, other.id])
        overview = self.env['comm.overview'].with_user(manager)
        names = {row['account'] for row in overview.with_context(allowed_company_ids=[self.env.company.id])
                 .get_overview(7)['accounts_table']}
        self.assertEqual(names, {'Alpha', 'Beta'})
        data = overview.with_context(allowed_company_ids=[self.env.company.id]).get_overview(7, [hidden.id])
        self.assertEqual(data['accounts_table'], [], 'an account of a company not allowed is not shown')
        both = overview.with_context(allowed_company_ids=[self.env.company.id, other.id]).get_overview(7)
        self.assertIn('Hidden', {row['account'] for row in both['accounts_table']})


    def test_users_see_their_companies_counts_only(self):
        """A Communications User of company B: the counts of B's accounts, nothing of A's (the
        test company), no queue health; the lists behind the figures keep the record rules."""
        company_b = self.env['res.company'].create({'name': 'Company B'})
        gamma = self.make_account('Gamma', company=company_b)
        self.make_messages(gamma, 2)
        self.make_messages(gamma, 1, state='undelivered', error_code='30003', failure_type='unknown',
                           error_message='Unreachable destination handset')
        self.env['comm.webhook.rejection']._count(gamma)
        user = new_test_user(self.env, 'overview_b_user', groups='comm_gateway.group_comm_user',
                             company_id=company_b.id, company_ids=[company_b.id])
        overview = self.env['comm.overview'].with_user(user).with_context(allowed_company_ids=[company_b.id])
        data = overview.get_overview(7)
        self.assertFalse(data['is_admin'])
        self.assertEqual([account['name'] for account in data['accounts']], ['Gamma'])
        self.assertEqual([row['account'] for row in data['accounts_table']], ['Gamma'])
        self.assertEqual({row['account'] for row in data['delivery']}, {'Gamma'})
        volumes = {(row['channel'], row['direction']): row for row in data['volumes']}
        self.assertEqual(set(volumes), {('sms', 'out')}, "none of Alpha's or Beta's channels")
        self.assertEqual(sum(volumes['sms', 'out']['counts'].values()), 3)
        self.assertEqual([(row['error_code'], row['count'], row['provider_words']) for row in data['failures']],
                         [('30003', 1, '')], "Beta's two failures with that code are not counted; no provider's words")
        self.assertEqual((data['calls']['answered'], data['calls']['missed']), (0, 0))
        self.assertEqual(data['whatsapp']['open_conversations'], 0)
        self.assertIsNone(data['queue'], 'queue health is for administrators')
        self.assertEqual(overview.get_overview(7, [self.alpha.id])['accounts_table'], [],
                         'asking for an account of another company shows nothing')
        # the lists behind the figures, opened by the user: the record rules still apply
        action = volumes['sms', 'out']['action']
        messages = self.env[action['res_model']].with_user(user).with_context(
            allowed_company_ids=[company_b.id]).search(action['domain'])
        self.assertFalse(messages.filtered(lambda message: message.sudo().company_id != company_b))
        admin_view = self.env['comm.overview'].get_overview(7)
        alpha_action = {row['channel']: row for row in admin_view['volumes'] if row['direction'] == 'out'}['sms']['action']
        self.assertEqual(self.env['comm.message'].with_user(user).with_context(allowed_company_ids=[company_b.id])
                         .search_count(alpha_action['domain']), 0, "company A's list is empty for the user")
        self.assertTrue(admin_view['is_admin'])
        self.assertIsNotNone(admin_view['queue'])
        self.assertEqual(admin_view['failures'][0]['provider_words'], 'Unreachable destination handset')


@tagged('post_install', '-at_install')
class TestOverviewUi(OverviewMixin, HttpCase):

    def test_overview_tour(self):
        account = self.make_account('Tour account')
        self.make_messages(account, 3, state='undelivered', error_code='30007', failure_type='unknown')
        self.make_messages(account, 2)
        self.start_tour('/odoo/action-comm_gateway.action_comm_overview', 'comm_gateway_overview_tour', login='admin')

    def test_overview_user_tour(self):
        """A Communications User of company B: the app opens on the overview, their figures only,
        and the list behind a figure keeps the record rules."""
        self.make_account('Alpha')
        company_b = self.env['res.company'].create({'name': 'Company B'})
        gamma = self.make_account('Gamma', company=company_b)
        customer = self.env['res.partner'].create({'name': 'B customer', 'company_id': company_b.id})
        self.make_messages(gamma, 2, res_model='res.partner', res_id=customer.id, partner_id=customer.id)
        self.make_messages(gamma, 1, state='undelivered')       # attached to no document: not readable
        new_test_user(self.env, 'overview_tour_user', groups='comm_gateway.group_comm_user',
                      company_id=company_b.id, company_ids=[company_b.id])
        self.start_tour('/odoo', 'comm_gateway_overview_user_tour', login='overview_tour_user')


@tagged('post_install', '-at_install')
class TestDailyCounts(OverviewMixin, TransactionCase):
    """The daily counts PostgreSQL keeps follow every insert, update and delete, whoever makes them."""

    def counts(self, account):
        self.env.flush_all()
        self.env.cr.execute(SQL(
            """SELECT day, channel, direction, state, sum(count)::int FROM comm_stat WHERE provider_id = %s
                GROUP BY 1, 2, 3, 4 HAVING sum(count) != 0 ORDER BY 1, 2, 3, 4""", account.id))
        return self.env.cr.fetchall()

    def test_counts_follow_the_tables(self):
        account = self.make_account('Counted')
        today = fields.Date.today()
        messages = self.make_messages(account, 3, state='sent')
        self.make_call(account, 'completed', answered=True, duration=10)
        self.assertEqual(self.counts(account), [(today, 'sms', 'out', 'sent', 3), (today, 'voice', 'in', 'completed', 1)])
        messages[:2].write({'state': 'delivered'})
        self.env.cr.execute(SQL("UPDATE comm_message SET create_date = create_date - interval '3 days' WHERE id = %s",
                                messages[2].id))
        messages[0].unlink()
        self.assertEqual(self.counts(account), [
            (today - timedelta(days=3), 'sms', 'out', 'sent', 1),
            (today, 'sms', 'out', 'delivered', 1), (today, 'voice', 'in', 'completed', 1)])
        kept = self.counts(account)
        self.env['comm.stat']._gc_merge_buckets()
        self.assertEqual(self.counts(account), kept, 'merging the connections\' rows keeps the figures')
        self.env.cr.execute(SQL("SELECT bucket FROM comm_stat WHERE provider_id = %s AND day < %s",
                                account.id, today - timedelta(days=1)))
        self.assertEqual(self.env.cr.fetchall(), [(0,)], 'one row for the old day')
        self.env['comm.stat']._rebuild()
        self.assertEqual(self.counts(account), kept, 'the kept counts are what a full count gives')
