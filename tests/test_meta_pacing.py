from odoo import fields
from odoo.tests import tagged
from odoo.tests.common import TransactionCase
from odoo.tools import mute_logger

from .common import FakeProviderMixin

PHONE_ID = '106540352242922'
SENDS = rf'/v21\.0/{PHONE_ID}/messages'


def meta_answer(request):
    """Meta refuses a second message in a row to +447700900222 (pair rate limit), accepts others."""
    to = request.json()['to']
    if to.lstrip('+') == '447700900222':
        return {'error': {'message': '(#131056) (Business Account, Consumer Account) pair rate limit hit',
                          'type': 'OAuthException', 'code': 131056}}
    return {'messaging_product': 'whatsapp', 'contacts': [{'input': to, 'wa_id': to.lstrip('+')}],
            'messages': [{'id': f'wamid.{to.lstrip("+")}'}]}


@tagged('post_install', '-at_install')
class TestMetaPacing(FakeProviderMixin, TransactionCase):
    """Meta's per-recipient pacing (131056) delays that recipient only."""

    def setUp(self):
        super().setUp()
        self.meta = self.env['comm.provider'].create({
            'name': 'Meta', 'code': 'meta', 'channel_sms': False, 'channel_whatsapp': True,
            'meta_access_token': 'token', 'meta_phone_number_id': PHONE_ID, 'api_base_url': self.fake.base_url,
            'timeout': 5, 'rate_limit': 0, 'breaker_threshold': 1, 'max_concurrency': 1})  # calls in id order

    @mute_logger('odoo.addons.comm_gateway.models.comm_message')
    def test_pair_rate_limit_only_delays_that_recipient(self):
        self.fake.route('POST', SENDS, 200, json=meta_answer)
        self.fake.route('POST', SENDS, 400, json=meta_answer, times=1)   # first call: the paced one
        now = fields.Datetime.now()
        paced, other = self.env['comm.message'].create([{
            'direction': 'out', 'channel': 'whatsapp', 'provider_id': self.meta.id, 'to_number': number,
            'body': 'Your order shipped', 'state': 'queued', 'dispatch_state': 'todo', 'next_try_at': now,
        } for number in ('+447700900222', '+447700900333')])
        self.env['comm.message']._cron_dispatch()
        self.assertEqual(other.dispatch_state, 'done', 'the other recipient is not held up')
        self.assertEqual((paced.dispatch_state, paced.error_code), ('todo', '131056'))
        self.assertGreater(paced.next_try_at, now, 'retried later (4^n s)')
        self.assertEqual(self.meta.breaker_state, 'closed', 'a per-recipient limit is not an outage')
