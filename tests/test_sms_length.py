from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.sms.tests.common import MockSMS

from .common import CommWebhookMixin


@tagged('post_install', '-at_install')
class TestSmsLengthEverywhere(CommWebhookMixin, MockSMS):
    """An SMS over the account's limit is refused wherever it comes from, with its length and SMS
    count: the composer, the "Send SMS" server action, and the queue itself (any other path)."""

    def setUp(self):
        super().setUp()
        self.sandbox = self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox',
                                                         'sms_from': '+15005550006'})
        self.env.company.comm_sms_provider_id = self.sandbox
        self.partner = self.env['res.partner'].create({'name': 'Lukas', 'mobile': '+49 151 23456780'})

    def test_queue_flags_what_it_refuses(self):
        with self.mockSMSGateway():
            post = self.partner._message_sms('x' * 1700)
        self.assertFalse(self.env['comm.message'].search([('provider_id', '=', self.sandbox.id)]), 'not queued')
        notification = post.notification_ids
        self.assertEqual(notification.notification_status, 'exception')
        self.assertIn('1700 characters (12 SMS): Sandbox accepts at most 1600', notification.failure_reason)
        self.assertIn('not sent: This SMS has 1700 characters', self.partner.message_ids[0].body)
        with self.mockSMSGateway():
            self.partner._message_sms('x' * 1600)
        self.assertTrue(self.env['comm.message'].search([('provider_id', '=', self.sandbox.id)]), 'the limit itself')

    def test_send_sms_server_action_refuses(self):
        template = self.env['sms.template'].create({
            'name': 'Too long', 'model_id': self.env['ir.model']._get_id('res.partner'), 'body': 'y' * 1650})
        action = self.env['ir.actions.server'].create({
            'name': 'Send a long SMS', 'model_id': self.env['ir.model']._get_id('res.partner'), 'state': 'sms',
            'sms_template_id': template.id, 'sms_method': 'comment'})
        with self.mockSMSGateway(), self.assertRaisesRegex(UserError, r'1650 characters \(11 SMS\)'):
            action.with_context(active_model='res.partner', active_id=self.partner.id).run()
        self.assertFalse(self.env['comm.message'].search([('provider_id', '=', self.sandbox.id)]))

    def test_vonage_has_a_limit(self):
        from ..providers import get_adapter_class  # noqa: PLC0415
        self.assertEqual(get_adapter_class('vonage').max_sms_chars, 3200)

    def test_template_says_it_is_too_long(self):
        template = self.env['sms.template'].create({
            'name': 'Long', 'model_id': self.env['ir.model']._get_id('res.partner'), 'body': 'z' * 1601})
        self.assertIn('1601 characters (11 SMS)', template.comm_length_warning)
        template.body = 'Short'
        self.assertFalse(template.comm_length_warning)
