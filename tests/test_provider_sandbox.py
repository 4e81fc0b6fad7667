from odoo.tests import tagged
from odoo.tests.common import BaseCase

from ..providers import ProviderError, get_adapter_class
from ..providers.base import CallRequest, Outbound

URL = 'https://odoo.example.com/comm/webhook/tok/status'


@tagged('post_install', '-at_install')
class TestSandboxAdapter(BaseCase):
    """The Sandbox through the same interface as the real adapters (no ORM needed)."""

    def setUp(self):
        super().setUp()
        self.adapter = get_adapter_class('sandbox')({'secret': 's3cr3t'})

    def test_send_returns_provider_ids(self):
        first = self.adapter.send_message(Outbound(to='+32470123456', body='Hello'))
        second = self.adapter.send_message(Outbound(to='+32470123456', body='Hello'))
        self.assertTrue(first.provider_id.startswith('SB'))
        self.assertNotEqual(first.provider_id, second.provider_id)
        self.assertEqual(first.status, 'queued')

    def test_invalid_number_is_permanent(self):
        with self.assertRaises(ProviderError) as caught:
            self.adapter.send_message(Outbound(to='+1 555 12', body='Hello'))
        self.assertEqual(caught.exception.failure_type, 'sms_number_format')
        self.assertFalse(caught.exception.retryable)

    def test_outage_is_retryable(self):
        adapter = get_adapter_class('sandbox')({'secret': 's'}, options={'mode': 'outage'})
        with self.assertRaises(ProviderError) as caught:
            adapter.send_message(Outbound(to='+32470123456', body='Hello'))
        self.assertTrue(caught.exception.retryable)
        self.assertEqual(caught.exception.http_status, 503)
        with self.assertRaises(ProviderError):
            adapter.check_credentials()

    def test_statuses_are_signed_webhooks(self):
        result = self.adapter.send_message(Outbound(to='+32470123456', body='Hello'))
        requests = self.adapter.simulate_statuses(URL, result.provider_id, '+32470123456')
        events = []
        for request in requests:
            self.assertTrue(self.adapter.verify_webhook(request))
            events += self.adapter.parse_webhook(request, 'status')
        self.assertEqual([(e.provider_id, e.status) for e in events],
                         [(result.provider_id, 'sent'), (result.provider_id, 'delivered')])
        keys = {self.adapter.event_key(r, 'status') for r in requests}
        self.assertEqual(len(keys), 2, 'each status is its own event')
        self.assertEqual(self.adapter.event_key(requests[0], 'status'), self.adapter.event_key(requests[0], 'status'))

    def test_unreachable_number_is_undelivered(self):
        requests = self.adapter.simulate_statuses(URL, 'SBx', '+14155550199')
        last = self.adapter.parse_webhook(requests[-1], 'status')[0]
        self.assertEqual(last.status, 'undelivered')
        self.assertEqual(last.error_code, '30003')

    def test_inbound_and_tampering(self):
        request = self.adapter.simulate_inbound(URL, '+32470123456', '+15005550006', 'Hi <b>there</b>',
                                                channel='whatsapp', profile_name='Sofie',
                                                media=[(b'\x89PNG', 'image/png', 'a.png')])
        self.assertTrue(self.adapter.verify_webhook(request))
        message = self.adapter.parse_webhook(request, 'inbound')[0]
        self.assertEqual((message.sender, message.channel, message.profile_name),
                         ('+32470123456', 'whatsapp', 'Sofie'))
        self.assertEqual(self.adapter.download_media(message.media[0]), (b'\x89PNG', 'image/png'))
        request.body = request.body.replace(b'there', b'THERE')
        self.assertFalse(self.adapter.verify_webhook(request))
        other = get_adapter_class('sandbox')({'secret': 'other'})
        request = self.adapter.simulate_inbound(URL, '+32470123456', '+15005550006', 'x')
        self.assertFalse(other.verify_webhook(request))
        request.headers = {}
        self.assertFalse(self.adapter.verify_webhook(request))

    def test_malformed_payload(self):
        request = self.adapter.simulate_inbound(URL, '+32470123456', '+15005550006', 'x')
        request.body = b'{"no": "type"}'
        with self.assertRaises(ValueError):
            self.adapter.parse_webhook(request, 'inbound')

    def test_call_rings_answers_completes_or_fails(self):
        call = self.adapter.start_call(CallRequest(to='+32470123456', agent='+14155550132'))
        events = [self.adapter.parse_webhook(r, 'voice_status')[0]
                  for r in self.adapter.simulate_call(URL, call.provider_id, '+14155550132', '+32470123456')]
        self.assertEqual([e.status for e in events], ['ringing', 'in_progress', 'completed'])
        self.assertEqual(events[-1].duration, 42)
        failed = [self.adapter.parse_webhook(r, 'voice_status')[0]
                  for r in self.adapter.simulate_call(URL, 'SCx', '+14155550132', '+14155550199')]
        self.assertEqual(failed[-1].status, 'failed')
