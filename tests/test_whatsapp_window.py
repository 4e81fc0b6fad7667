"""The 24-hour customer-service window: free text inside, approved templates only outside."""
from datetime import timedelta

from odoo.exceptions import UserError
from odoo.tests import tagged

from .whatsapp_common import NUMBER, WhatsappCase


@tagged('post_install', '-at_install')
class TestWhatsapp(WhatsappCase):

    def setUp(self):
        super().setUp()
        self.sandbox = self.account('sandbox')
        self.Message = self.env['comm.message']

    def test_window_opened_by_the_last_inbound_message(self):
        self.assertIsNone(self.Message._whatsapp_window_end(NUMBER, self.sandbox))
        old = self.open_window(self.sandbox, hours_ago=25)
        self.assertIsNone(self.Message._whatsapp_window_end(NUMBER, self.sandbox), 'more than 24 h ago: closed')
        recent = self.open_window(self.sandbox, hours_ago=23)
        self.assertEqual(self.Message._whatsapp_window_end(NUMBER, self.sandbox), recent.received_at + timedelta(hours=24))
        self.assertNotEqual(old.received_at, recent.received_at)

    def test_only_whatsapp_messages_from_that_number_count(self):
        self.open_window(self.sandbox, channel='sms')
        self.open_window(self.sandbox, number='+4915123456799')
        self.assertIsNone(self.Message._whatsapp_window_end(NUMBER, self.sandbox))

    def test_free_text_outside_the_window_is_refused(self):
        composer = self.composer(body='Hello')
        self.assertFalse(composer.window_open)
        self.assertIn('has not written in the last 24 hours', composer.window_message)
        with self.assertRaises(UserError):
            composer.action_send()
        self.assertFalse(self.outbound())

    def test_free_text_inside_the_window(self):
        self.open_window(self.sandbox, hours_ago=2)
        composer = self.composer(body='Hello Ann', provider_id=self.sandbox.id)
        self.assertTrue(composer.window_open)
        self.assertIn('free text and files can be sent until', composer.window_message)
        composer.action_send()
        message = self.outbound()
        self.assertEqual((message.channel, message.to_number, message.body, message.state),
                         ('whatsapp', NUMBER, 'Hello Ann', 'queued'))

    def test_template_outside_the_window(self):
        template = self.make_template(self.sandbox, 'Hello {{1}}', bindings=[('body.1', {'field_path': 'name'})])
        composer = self.composer(template_id=template.id)
        self.assertEqual(composer.preview, 'Hello Ann Example')
        composer.action_send()
        message = self.outbound()
        self.assertEqual((message.template_id, message.template_values, message.body),
                         (template, {'body.1': 'Ann Example'}, 'Hello Ann Example'))

    def test_composer_preview_says_what_is_missing(self):
        template = self.make_template(self.sandbox, 'Your ref {{1}}', bindings=[('body.1', {'field_path': 'ref'})])
        composer = self.composer(template_id=template.id)
        self.assertIn('Body {{1}} has no value and no fallback', composer.preview)
        with self.assertRaises(UserError):
            composer.action_send()
        self.assertFalse(self.outbound(), 'never a half-filled message')

    def test_opted_out_number_is_refused(self):
        self.open_window(self.sandbox)
        self.env['phone.blacklist'].sudo()._add([NUMBER])
        with self.assertRaises(UserError):
            self.composer(body='Hi').action_send()

    def test_window_is_per_account(self):
        """A message to another account (another company's business number) opens no window here."""
        other_company = self.env['res.company'].create({'name': 'Other company'})
        other = self.account('sandbox', name='Other sandbox', company_id=other_company.id)
        self.open_window(other, hours_ago=1)
        self.assertIsNone(self.Message._whatsapp_window_end(NUMBER, self.sandbox))
        self.assertTrue(self.Message._whatsapp_window_end(NUMBER, other))
        composer = self.composer(body='Hello', provider_id=self.sandbox.id)
        self.assertFalse(composer.window_open)
        with self.assertRaises(UserError):
            composer.action_send()
