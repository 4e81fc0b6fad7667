from odoo.addons.sms.tests.common import MockSMS
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import CommWebhookMixin

LOGGERS = ('odoo.addons.comm_gateway.models.comm_webhook_event', 'odoo.addons.comm_gateway.models.comm_provider',
           'odoo.addons.comm_gateway.models.comm_message')


@tagged('post_install', '-at_install')
class TestOutboundSandbox(CommWebhookMixin, MockSMS):
    """Odoo's own SMS features through the Sandbox: queued → sent → delivered, and a reply."""

    def setUp(self):
        super().setUp()
        self.env['ir.config_parameter'].set_param('comm_gateway.public_base_url', 'http://127.0.0.1:8069')
        self.sandbox = self.env['comm.provider'].create({
            'name': 'Sandbox', 'code': 'sandbox', 'sms_from': '+15005550006', 'breaker_threshold': 2,
            'breaker_cooldown': 60})
        self.env.company.comm_sms_provider_id = self.sandbox
        self.partner = self.env['res.partner'].create({
            'name': 'Lukas', 'mobile': '0151 23456780', 'country_id': self.env.ref('base.de').id})

    def send_from_chatter(self, partner=None, body='Your order shipped'):
        composer = self.env['sms.composer'].with_context(
            active_model='res.partner', active_id=(partner or self.partner).id).create({'body': body})
        with self.mockSMSGateway():
            composer._action_send_sms()
        self.assertFalse(self._sms, 'nothing went to Odoo IAP')
        return self.env['comm.message'].search([('direction', '=', 'out')], order='id desc', limit=1)

    def notification(self, message):
        return self.env['mail.notification'].search([('mail_message_id', '=', message.mail_message_id.id)])

    def run_all(self):
        self.env['comm.message']._cron_dispatch()
        self.env['comm.webhook.event']._cron_process()

    @mute_logger(*LOGGERS)
    def test_chatter_sms_queued_sent_delivered_and_reply(self):
        message = self.send_from_chatter()
        self.assertEqual((message.state, message.dispatch_state), ('queued', 'todo'))
        self.assertEqual(message.to_number, '+4915123456780')
        self.assertEqual((message.res_model, message.res_id), ('res.partner', self.partner.id))
        self.assertEqual(self.notification(message).notification_status, 'process')
        self.env['comm.message']._cron_dispatch()
        self.assertEqual(message.dispatch_state, 'done')
        self.assertTrue(message.provider_message_id.startswith('SB'))
        self.env['comm.webhook.event']._cron_process()
        self.assertEqual(message.state, 'delivered')
        self.assertTrue(message.sent_at and message.delivered_at)
        self.assertEqual(self.notification(message).notification_status, 'sent', 'chatter SMS icon: delivered')
        reply = self.env['comm.message'].search([('direction', '=', 'in'), ('from_number', '=', '+4915123456780')])
        self.assertEqual(reply.partner_id, self.partner)
        self.assertEqual(reply.mail_message_id.res_id, self.partner.id, 'the reply lands in the same chatter')

    @mute_logger(*LOGGERS)
    def test_unreachable_number_fails_in_chatter(self):
        partner = self.env['res.partner'].create({'name': 'Nobody', 'mobile': '+1 415 555 0199'})
        message = self.send_from_chatter(partner)
        self.run_all()
        self.assertEqual(message.state, 'undelivered')
        notification = self.notification(message)
        self.assertEqual(notification.notification_status, 'exception')

    def test_unformattable_number_fails_before_the_provider(self):
        sms = self.env['sms.sms'].create({'number': '+1 555 12', 'body': 'hi', 'partner_id': self.partner.id})
        with self.mockSMSGateway():
            sms.send()
        self.assertEqual((sms.state, sms.failure_type), ('error', 'sms_number_format'))
        self.assertFalse(self.env['comm.message'].search([('body', '=', 'hi'), ('direction', '=', 'out')]))

    @mute_logger(*LOGGERS)
    def test_invalid_number_fails_at_once(self):
        message = self.send_from_chatter()
        message.to_number = '+1555123'   # the Sandbox refuses what is not a valid number
        self.env['comm.message']._cron_dispatch()
        self.assertEqual((message.state, message.dispatch_state), ('failed', 'failed'))
        self.assertEqual(message.failure_type, 'sms_number_format')
        self.assertEqual(message.attempts, 1, 'a permanent error is not retried')
        self.assertIn('failed', self.partner.message_ids[0].body)
        self.assertEqual(self.notification(message).notification_status, 'exception')

    @mute_logger(*LOGGERS)
    def test_outage_retries_then_breaker_then_recovers(self):
        self.sandbox.sandbox_mode = 'outage'
        first = self.send_from_chatter(body='one')
        second = self.send_from_chatter(body='two')
        self.env['comm.message']._cron_dispatch()
        self.assertEqual((first.dispatch_state, second.dispatch_state), ('todo', 'todo'), 'retryable: kept')
        self.assertEqual(first.attempts, 1)
        self.assertEqual(first.error_code, '503')
        self.assertEqual(self.sandbox.breaker_state, 'open', '2 consecutive failures open the breaker')
        # the provider comes back; the cool-down and the backoff are over
        self.sandbox.sandbox_mode = 'normal'
        past = '2000-01-01 00:00:00'
        (first | second).write({'next_try_at': past})
        self.env['comm.message']._cron_dispatch()
        self.assertEqual(first.dispatch_state + second.dispatch_state, 'todotodo', 'open breaker: nothing sent')
        self.sandbox.breaker_open_until = past
        self.env['comm.message']._cron_dispatch()
        self.assertEqual((first.dispatch_state, second.dispatch_state), ('done', 'todo'), 'half-open: one message')
        self.assertEqual(self.sandbox.breaker_state, 'closed')
        self.env['comm.message']._cron_dispatch()
        self.assertEqual(second.dispatch_state, 'done')

    @mute_logger(*LOGGERS)
    def test_retry_then_permanent_failure(self):
        self.sandbox.write({'sandbox_mode': 'outage', 'breaker_threshold': 100})
        message = self.send_from_chatter()
        for _attempt in range(6):
            message.next_try_at = '2000-01-01 00:00:00'
            self.env['comm.message']._cron_dispatch()
        self.assertEqual((message.state, message.dispatch_state), ('failed', 'failed'))
        self.assertEqual(message.attempts, 6)
        self.assertEqual(message.failure_type, 'sms_server')

    def test_blacklisted_number_is_never_sent(self):
        self.env['phone.blacklist'].sudo()._add(['+4915123456780'])
        sms = self.env['sms.sms'].create({'number': '+4915123456780', 'body': 'hi', 'partner_id': self.partner.id})
        with self.mockSMSGateway():
            sms.send()
        self.assertEqual((sms.state, sms.failure_type), ('error', 'sms_blacklist'))
        self.assertFalse(self.env['comm.message'].search([('to_number', '=', '+4915123456780')]))

    def test_without_account_odoo_default_is_untouched(self):
        self.env.company.comm_sms_provider_id = False
        sms = self.env['sms.sms'].create({'number': '+4915123456780', 'body': 'via IAP', 'partner_id': self.partner.id})
        with self.mockSMSGateway():
            sms.send()
        self.assertEqual([(s['number'], s['body']) for s in self._sms], [('+4915123456780', 'via IAP')])
        self.assertFalse(self.env['comm.message'].search([('body', '=', 'via IAP')]))

    @mute_logger(*LOGGERS)
    def test_crash_after_acceptance_is_not_resent(self):
        message = self.send_from_chatter()
        # a worker recorded its attempt, then died before writing the provider's answer
        message.write({'dispatch_state': 'attempt', 'attempt_at': '2000-01-01 00:00:00', 'attempts': 1})
        self.env['comm.message']._cron_dispatch()
        self.assertEqual(message.dispatch_state, 'failed')
        self.assertEqual(message.error_code, 'uncertain')
        self.assertFalse(message.provider_message_id, 'never sent a second time')
