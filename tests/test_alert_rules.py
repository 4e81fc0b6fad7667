"""Each alert rule fires once (one activity, one e-mail when asked), stays quiet while its
condition holds and clears itself with a note when it ends."""
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged
from odoo.tests.common import TransactionCase
from odoo.tools import SQL

from .test_overview import OverviewMixin


@tagged('post_install', '-at_install')
class TestAlertRules(OverviewMixin, TransactionCase):

    def setUp(self):
        super().setUp()
        # a company of its own: what the rest of the database holds does not fire these rules
        self.company = self.env['res.company'].create({'name': 'Alerted'})
        self.account = self.make_account('Watched', company=self.company)
        self.admin = new_test_user(self.env, 'alert_admin', groups='comm_gateway.group_comm_manager',
                                   email='alert.admin@example.com')
        self.admin.company_ids |= self.company

    def rule(self, kind, **values):
        return self.env['comm.alert.rule'].create({
            'name': kind, 'kind': kind, 'company_id': self.company.id, 'user_id': self.admin.id, **values})

    def assertFiresOnceAndClears(self, rule, end_condition):
        rule._check()
        self.assertEqual(rule.state, 'firing')
        self.assertTrue(rule.detail)
        self.assertEqual(len(rule.activity_ids), 1)
        self.assertEqual(rule.activity_ids.user_id, self.admin)
        fired_messages = rule.message_ids
        rule._check()      # the condition still holds: nothing new
        self.assertEqual(len(rule.activity_ids), 1)
        self.assertEqual(rule.message_ids, fired_messages)
        end_condition()
        rule._check()
        self.assertEqual(rule.state, 'ok')
        self.assertFalse(rule.activity_ids, 'the activity is marked done')
        self.assertIn('Cleared', rule.message_ids[0].body)
        rule._check()
        self.assertEqual(rule.state, 'ok')
        self.assertEqual(len(rule.message_ids), len(fired_messages) + 1, 'a clear rule stays quiet')

    def test_delivery_rate(self):
        rule = self.rule('delivery_rate', threshold=80, window=10)
        self.make_messages(self.account, 7)
        self.make_messages(self.account, 3, state='undelivered')
        self.make_messages(self.account, 50, state='queued', dispatch_state='todo')     # no final status: ignored
        self.assertFiresOnceAndClears(rule, lambda: self.make_messages(self.account, 10))
        self.assertFalse(self.rule('delivery_rate', threshold=80, window=100)._evaluate(),
                         'fewer final messages than the window: not judged')

    def test_queue_age(self):
        rule = self.rule('queue_age', window=15)
        self.make_event(self.account, 'pending', minutes_ago=5)
        self.assertFalse(rule._evaluate())
        self.make_event(self.account, 'pending', minutes_ago=20)

        def processed():
            self.env.cr.execute(SQL("UPDATE comm_webhook_event SET state = 'done' WHERE provider_id = %s",
                                    self.account.id))
        self.assertFiresOnceAndClears(rule, processed)
        messages = self.make_messages(self.account, 1, state='queued', dispatch_state='todo')
        self.env.cr.execute(SQL("UPDATE comm_message SET create_date = %s WHERE id = %s",
                                fields.Datetime.now() - timedelta(minutes=30), messages.id))
        self.assertIn('messages to send', rule._evaluate()[0])

    def test_dead_letters(self):
        rule = self.rule('dead_letters', threshold=0)
        self.make_event(self.account, 'dead')
        self.assertFiresOnceAndClears(rule, lambda: self.env.cr.execute(SQL(
            "UPDATE comm_webhook_event SET state = 'discarded' WHERE provider_id = %s", self.account.id)))

    def test_breaker_open(self):
        rule = self.rule('breaker_open', email_to='ops@example.com')
        self.account.sudo().write({'breaker_state': 'open', 'breaker_failures': 5})
        mails = self.env['mail.mail'].sudo().search([('email_to', '=', 'ops@example.com')])
        self.assertFiresOnceAndClears(rule, lambda: self.account.sudo().write({'breaker_state': 'closed'}))
        sent = self.env['mail.mail'].sudo().search([('email_to', '=', 'ops@example.com')]) - mails
        self.assertEqual(len(sent), 1, 'one e-mail, when it fired')
        self.assertIn('Watched', sent.body_html)

    def test_forged(self):
        """The forged requests of the last 60 minutes, not the day's: a burst an hour ago is over."""
        rule = self.rule('forged', threshold=2)
        hour_ago = SQL("date_trunc('minute', now() at time zone 'UTC') - interval '60 minutes'")
        self.env.cr.execute(SQL(
            """INSERT INTO comm_webhook_rejection (provider_id, day, minute, bucket, count)
               VALUES (%(account)s, (%(minute)s)::date, %(minute)s, 0, 500)""", account=self.account.id, minute=hour_ago))
        self.assertFalse(rule._evaluate(), 'an hour and more ago')
        for _index in range(3):
            self.env['comm.webhook.rejection']._count(self.account)
        self.assertEqual(self.env['comm.webhook.rejection']._last_hour(self.account), {self.account.id: 3})
        self.assertFiresOnceAndClears(rule, lambda: self.env.cr.execute(SQL(
            "UPDATE comm_webhook_rejection SET minute = %s WHERE provider_id = %s AND bucket != 0",
            hour_ago, self.account.id)))     # the hour passes

    def test_forged_minutes_fold_into_days(self):
        """Minutes older than two days become one row per account and day; the day's total stays."""
        Rejection = self.env['comm.webhook.rejection']
        old = fields.Date.today() - timedelta(days=3)
        for minute, bucket, count in ((0, 11, 2), (0, 12, 1), (75, 11, 4)):
            self.env.cr.execute(SQL(
                """INSERT INTO comm_webhook_rejection (provider_id, day, minute, bucket, count)
                   VALUES (%s, %s, %s, %s, %s)""", self.account.id, old,
                fields.Datetime.to_datetime(old) + timedelta(minutes=minute), bucket, count))
        Rejection._count(self.account)      # today's: kept as it is
        Rejection._gc_fold_minutes()
        self.env.cr.execute(SQL(
            "SELECT day, bucket, count FROM comm_webhook_rejection WHERE provider_id = %s ORDER BY day",
            self.account.id))
        rows = self.env.cr.fetchall()
        self.assertEqual(rows[0], (old, 0, 7))
        self.assertEqual(len(rows), 2)
        self.assertEqual((Rejection._total(self.account, old), Rejection._total(self.account)), (7, 1))

    def test_template(self):
        rule = self.rule('template')
        template = self.env['comm.whatsapp.template'].create({
            'name': 'promo', 'provider_id': self.account.id, 'body': 'Hi'})
        template.write({'status': 'rejected'})
        self.assertFiresOnceAndClears(rule, lambda: template.write({'status': 'approved'}))

    def test_credentials(self):
        rule = self.rule('credentials', window=60)
        self.make_messages(self.account, 1, state='failed', failure_type='sms_acc', failed_at=fields.Datetime.now())

        def fixed():
            self.env.cr.execute(SQL("UPDATE comm_message SET failed_at = %s WHERE provider_id = %s",
                                    fields.Datetime.now() - timedelta(hours=2), self.account.id))
        self.assertFiresOnceAndClears(rule, fixed)
        self.account.sudo().write({'state': 'error'})
        self.assertTrue(rule._evaluate(), 'a refused connection test fires it too')

    def test_cron_and_rights(self):
        rule = self.rule('breaker_open')
        self.account.sudo().breaker_state = 'open'
        self.env['comm.alert.rule']._cron_check()
        self.assertEqual(rule.state, 'firing')
        user = new_test_user(self.env, 'alert_user', groups='comm_gateway.group_comm_user')
        with self.assertRaises(AccessError):
            rule.with_user(user).action_check_now()
        self.assertTrue(rule.with_user(self.admin).with_context(allowed_company_ids=[self.company.id]).action_check_now())
