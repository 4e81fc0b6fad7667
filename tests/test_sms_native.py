"""Odoo's own SMS features send through our account (here Twilio, against the fake provider)."""
import itertools
import time
from datetime import datetime, timezone

from odoo.addons.sms.tests.common import MockSMS
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..providers.base import SendResult
from .common import FakeProviderMixin

SID = 'AC' + '7' * 32
MESSAGES = rf'/2010-04-01/Accounts/{SID}/Messages\.json'
_sids = itertools.count(1)


def twilio_accepts(request):
    return {'sid': f'SM{next(_sids):032x}', 'status': 'queued', 'to': request.form_dict().get('To')}


@tagged('post_install', '-at_install')
class TestSmsNative(FakeProviderMixin, MockSMS):

    def setUp(self):
        super().setUp()
        self.env['ir.config_parameter'].set_param('comm_gateway.public_base_url', 'https://odoo.example.com')
        self.twilio = self.env['comm.provider'].create({
            'name': 'Twilio', 'code': 'twilio', 'sms_from': '+15005550006', 'api_base_url': self.fake.base_url,
            'twilio_account_sid': SID, 'twilio_auth_token': 'tok', 'timeout': 5, 'rate_limit': 0})
        self.env.company.comm_sms_provider_id = self.twilio
        self.fake.route('POST', MESSAGES, 201, json=twilio_accepts)
        country = self.env.ref('base.be').id
        self.partners = self.env['res.partner'].create([
            {'name': 'Emma', 'mobile': '0470 11 22 33', 'country_id': country},
            {'name': 'Noah', 'mobile': '0470 44 55 66', 'country_id': country},
        ])

    def dispatch(self):
        self.env['comm.message']._cron_dispatch()

    def sent(self):
        """What reached the provider: [(To, Body)], in arrival order."""
        return [(r.form_dict()['To'], r.form_dict()['Body']) for r in self.fake.requests if r.method == 'POST']

    def test_chatter_composer_single(self):
        composer = self.env['sms.composer'].with_context(
            active_model='res.partner', active_id=self.partners[0].id).create({'body': 'Hello Emma'})
        with self.mockSMSGateway():
            composer._action_send_sms()
        self.assertFalse(self._sms)
        self.assertFalse(self.fake.requests, 'nothing is sent inside the user request')
        self.dispatch()
        self.assertEqual(self.sent(), [('+32470112233', 'Hello Emma')])
        form = self.fake.last('POST').form_dict()
        self.assertEqual(form['From'], '+15005550006')
        self.assertEqual(form['StatusCallback'], self.twilio.webhook_url_status)
        self.assertTrue(self.fake.last('POST').headers['authorization'].startswith('Basic '))
        message = self.env['comm.message'].search([('to_number', '=', '+32470112233')])
        self.assertEqual(message.dispatch_state, 'done')
        self.assertTrue(message.provider_message_id.startswith('SM'))

    def test_mass_mode_and_template(self):
        template = self.env['sms.template'].create({
            'name': 'Promo', 'model_id': self.env.ref('base.model_res_partner').id,
            'body': 'Hi {{ object.name }}, 10% off today'})
        composer = self.env['sms.composer'].with_context(
            active_model='res.partner', active_ids=self.partners.ids, default_composition_mode='mass',
        ).create({'template_id': template.id, 'mass_keep_log': True})
        with self.mockSMSGateway():
            composer.action_send_sms()
            self.env['sms.sms']._process_queue()   # Odoo's own SMS queue cron
        self.assertFalse(self._sms, 'nothing went to IAP')
        self.dispatch()
        self.assertEqual(sorted(self.sent()), [('+32470112233', 'Hi Emma, 10% off today'),
                                               ('+32470445566', 'Hi Noah, 10% off today')])

    def test_server_action_send_sms(self):
        template = self.env['sms.template'].create({
            'name': 'Welcome', 'model_id': self.env.ref('base.model_res_partner').id,
            'body': 'Welcome {{ object.name }}'})
        action = self.env['ir.actions.server'].create({
            'name': 'Send welcome SMS', 'model_id': self.env.ref('base.model_res_partner').id,
            'state': 'sms', 'sms_template_id': template.id, 'sms_method': 'comment'})
        with self.mockSMSGateway():
            action.with_context(active_model='res.partner', active_ids=self.partners[1].ids).run()
            self.env['sms.sms']._process_queue()
        self.dispatch()
        self.assertEqual(self.sent(), [('+32470445566', 'Welcome Noah')])

    @mute_logger('odoo.addons.comm_gateway.models.comm_message')
    def test_resend_wizard_after_a_failure(self):
        self.fake.route('POST', MESSAGES, 400, json={'code': 21211, 'message': "The 'To' number is not valid.",
                                                     'status': 400}, times=1)
        partner = self.partners[0]
        with self.mockSMSGateway():
            partner._message_sms('Your code is 1234', partner_ids=partner.ids)
        self.dispatch()
        notification = self.env['mail.notification'].search([('res_partner_id', '=', partner.id),
                                                             ('notification_type', '=', 'sms')])
        self.assertEqual(notification.notification_status, 'exception')
        self.assertEqual(notification.failure_type, 'sms_number_format')
        # the agent fixes nothing and retries from the chatter's resend wizard
        wizard = self.env['sms.resend'].with_context(default_mail_message_id=notification.mail_message_id.id).create({})
        with self.mockSMSGateway():
            wizard.action_resend()
        self.dispatch()
        self.assertEqual(self.sent(), [('+32470112233', 'Your code is 1234')] * 2,
                         'refused once, accepted on resend')
        self.assertEqual(notification.notification_status, 'process')

    def test_rate_limit_is_honoured(self):
        self.twilio.rate_limit = 20   # one call every 50 ms at most
        records = self.env['sms.sms'].create([
            {'number': '+32470112233', 'body': f'msg {i}', 'partner_id': self.partners[0].id} for i in range(6)])
        with self.mockSMSGateway():
            records.send()
        start = time.monotonic()
        self.dispatch()
        arrivals = sorted(r.received_at for r in self.fake.requests if r.method == 'POST')
        self.assertEqual(len(arrivals), 6)
        # the k-th call cannot start before k intervals have passed; it arrives after it starts
        # (arrival gaps alone prove nothing on a busy machine: a delayed call bunches with the next)
        early = [(k, round(at - start, 3)) for k, at in enumerate(arrivals) if at - start < k * 0.05]
        self.assertFalse(early, f'calls earlier than the limit allows: {early}')

    def queue(self, count, prefix):
        records = self.env['sms.sms'].create([
            {'number': '+32470112233', 'body': f'{prefix} {i}', 'partner_id': self.partners[0].id}
            for i in range(count)])
        with self.mockSMSGateway():
            records.send()
        return self.env['comm.message'].search([('body', 'like', prefix)])

    def test_pool_is_fed_with_further_batches_each_sent_once(self):
        self.twilio.max_concurrency = 2
        messages = self.queue(7, 'fed')
        self.env['comm.message']._cron_dispatch(batch_size=3)
        self.assertEqual(set(messages.mapped('dispatch_state')), {'done'}, 'one call claimed the next batches')
        self.assertEqual(sorted(body for _to, body in self.sent()), sorted(messages.mapped('body')),
                         'each message reached the provider exactly once')

    @mute_logger('odoo.addons.comm_gateway.models.comm_message', 'odoo.sql_db')
    def test_answers_that_arrive_together_are_recorded_apart_when_one_fails(self):
        first, second, third = self.queue(3, 'together')
        (first | second | third).write({'dispatch_state': 'attempt'})
        self.env['comm.message']._record_answers([
            (first, SendResult(provider_id='SMsame', status='queued')),
            (second, SendResult(provider_id='SMsame', status='queued')),     # the unique key refuses it
            (third, SendResult(provider_id='SMother', status='sent')),
        ])
        self.assertEqual((first.dispatch_state, first.provider_message_id), ('done', 'SMsame'))
        self.assertEqual((second.dispatch_state, second.provider_message_id), ('attempt', False),
                         'left to reconciliation, never resent blindly')
        self.assertEqual((third.dispatch_state, third.state), ('done', 'sent'))

    @mute_logger('odoo.addons.comm_gateway.models.comm_message', 'odoo.addons.comm_gateway.models.comm_provider')
    def test_one_failure_does_not_starve_the_pool_the_breaker_decides(self):
        self.twilio.write({'max_concurrency': 1, 'breaker_threshold': 2})
        self.fake.route('POST', MESSAGES, 503, json={'code': 20500, 'message': 'Down', 'status': 503}, times=1)
        messages = self.queue(5, 'down')
        self.env['comm.message']._cron_dispatch(batch_size=2)
        self.assertEqual(len(self.sent()), 5, 'one failure between answers: the pool is fed on')
        self.assertEqual(sorted(messages.mapped('dispatch_state')), ['done', 'done', 'done', 'done', 'todo'])
        self.assertEqual(self.twilio.breaker_state, 'closed')

    @mute_logger('odoo.addons.comm_gateway.models.comm_message', 'odoo.addons.comm_gateway.models.comm_provider')
    def test_429_backs_off_and_retries(self):
        self.fake.route('POST', MESSAGES, 429, json={'code': 20429, 'message': 'Too Many Requests', 'status': 429},
                        headers={'Retry-After': '2'}, times=1)
        sms = self.env['sms.sms'].create({'number': '+32470112233', 'body': 'later', 'partner_id': self.partners[0].id})
        with self.mockSMSGateway():
            sms.send()
        self.dispatch()
        message = self.env['comm.message'].search([('body', '=', 'later')])
        self.assertEqual((message.dispatch_state, message.error_code), ('todo', '20429'))
        [paused_until] = self.env['comm.provider.pace'].search([('provider_id', '=', self.twilio.id)]).mapped(
            'next_slot_at')
        self.assertGreater((paused_until - datetime.now(timezone.utc).replace(tzinfo=None)).total_seconds(), 1.5,
                           "every worker holds back for the provider's Retry-After (2 s), read off its answer")
        message.next_try_at = '2000-01-01 00:00:00'
        self.dispatch()
        self.assertEqual(message.dispatch_state, 'done')
        self.assertEqual(len(self.sent()), 2)

    @mute_logger('odoo.addons.comm_gateway.models.comm_message')
    def test_interrupted_send_is_reconciled_with_twilio_not_resent(self):
        sms = self.env['sms.sms'].create([{'number': number, 'body': 'Order 1042 shipped',
                                           'partner_id': self.partners[0].id}
                                          for number in ('+32470112233', '+32470445566')])
        with self.mockSMSGateway():
            sms.send()
        found, lost = self.env['comm.message'].search([('body', '=', 'Order 1042 shipped')], order='to_number')
        # a worker recorded both attempts, then died before it could write Twilio's answers
        (found | lost).write({'dispatch_state': 'attempt', 'attempt_at': '2000-01-01 00:00:00', 'attempts': 1})
        sid = 'SM' + 'f' * 32

        def recent_messages(request):
            to = dict(request.query).get('To')
            messages = [{'sid': sid, 'to': to, 'body': 'Order 1042 shipped', 'status': 'delivered',
                         'direction': 'outbound-api'}] if to == '+32470112233' else []
            return {'messages': messages, 'next_page_uri': None, 'page': 0, 'page_size': 50}
        self.fake.route('GET', MESSAGES, 200, json=recent_messages)
        self.dispatch()
        self.assertFalse([r for r in self.fake.requests if r.method == 'POST'], 'nothing sent again')
        self.assertEqual((found.dispatch_state, found.provider_message_id, found.state), ('done', sid, 'delivered'))
        self.assertEqual((lost.dispatch_state, lost.error_code), ('failed', 'uncertain'),
                         'not found and not provably absent: failed with a reason, never a blind resend')
