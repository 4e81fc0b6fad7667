"""Exactly once with Plivo: an attempt interrupted by a dead worker is looked up in Plivo's
message list (the SDK's ``messages.list`` against the fake provider) before anything is resent."""
from datetime import datetime

from odoo import fields
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import FakeProviderMixin
from .fake_provider import plivo_message, plivo_message_list

AUTH_ID = 'MA' + 'B' * 18
MESSAGE = rf'/v1/Account/{AUTH_ID}/Message/'
TO = '+14155550132'
UUID = '0f1e2d3c-0000-4000-8000-00000000beef'
LOGGERS = ('odoo.addons.comm_gateway.models.comm_message', 'odoo.addons.comm_gateway.models.comm_message_reconcile')


def mdr(uuid, to=TO[1:], state='delivered', direction='outbound'):
    return plivo_message(AUTH_ID, uuid, to, state=state, direction=direction)


def listing(*records, more=False):
    return plivo_message_list(AUTH_ID, records, total=len(records) + (20 if more else 0))


@tagged('post_install', '-at_install')
class TestReconcilePlivo(FakeProviderMixin, TransactionCase):

    def setUp(self):
        super().setUp()
        self.provider = self.env['comm.provider'].create({
            'name': 'Plivo', 'code': 'plivo', 'plivo_auth_id': AUTH_ID, 'plivo_auth_token': 'plivo-token',
            'sms_from': '+15005550006', 'api_base_url': self.fake.base_url, 'timeout': 5, 'rate_limit': 0})
        self.fake.route('POST', MESSAGE, 202, json={'api_id': 'send', 'message': 'message(s) queued',
                                                    'message_uuid': ['11111111-0000-4000-8000-000000000001']})

    def interrupted(self, body='Order 1042 shipped'):
        """A message whose worker recorded the attempt, then died before writing Plivo's answer."""
        return self.env['comm.message'].create({
            'direction': 'out', 'channel': 'sms', 'provider_id': self.provider.id, 'to_number': TO,
            'from_number': '+15005550006', 'body': body, 'state': 'queued', 'queued_at': fields.Datetime.now(),
            'dispatch_state': 'attempt', 'attempt_at': datetime(2026, 1, 2, 10, 0, 0), 'attempts': 1})

    def sends(self):
        return [r for r in self.fake.requests if r.method == 'POST']

    @mute_logger(*LOGGERS)
    def test_found_is_not_resent(self):
        message = self.interrupted()
        self.fake.route('GET', MESSAGE, 200, json=listing(mdr(UUID)))
        self.env['comm.message']._cron_dispatch()
        lookup = self.fake.last('GET', '/Message/')
        self.assertEqual(dict(lookup.query), {
            'message_direction': 'outbound', 'to_number': '14155550132', 'message_type': 'sms', 'limit': '20',
            'message_time__gte': '2026-01-02 09:59:00'})
        self.assertFalse(self.sends(), 'nothing sent again')
        self.assertEqual((message.dispatch_state, message.provider_message_id, message.state),
                         ('done', UUID, 'delivered'))

    @mute_logger(*LOGGERS)
    def test_not_found_is_sent_once(self):
        message = self.interrupted()
        # Plivo lists one message to the number: another of ours, already recorded — not this one
        self.env['comm.message'].create({
            'direction': 'out', 'channel': 'sms', 'provider_id': self.provider.id, 'to_number': TO, 'body': 'Hi',
            'state': 'sent', 'dispatch_state': 'done', 'provider_message_id': UUID})
        self.fake.route('GET', MESSAGE, 200, json=listing(mdr(UUID), mdr('in-1', direction='inbound')))
        self.env['comm.message']._cron_dispatch()
        self.assertEqual(len(self.sends()), 1, 'Plivo confirms it never got it: sent, once')
        self.assertEqual((message.dispatch_state, message.provider_message_id),
                         ('done', '11111111-0000-4000-8000-000000000001'))

    @mute_logger(*LOGGERS)
    def test_ambiguous_or_unreachable_is_never_resent(self):
        message = self.interrupted()
        self.fake.route('GET', MESSAGE, 503, body='unavailable', headers={'Content-Type': 'text/plain'}, times=1)
        self.env['comm.message']._cron_dispatch()
        self.assertEqual((message.dispatch_state, message.state), ('attempt', 'queued'),
                         'Plivo unreachable: asked again at the next run')
        self.fake.route('GET', MESSAGE, 200, json=listing(mdr(UUID), mdr('other-2')))
        self.env['comm.message']._cron_dispatch()
        self.assertFalse(self.sends())
        self.assertEqual((message.dispatch_state, message.error_code), ('failed', 'uncertain'),
                         'two candidates: which one is ours cannot be told')
        again = self.interrupted('Another')
        self.fake.route('GET', MESSAGE, 200, json=listing(mdr('other-3'), more=True))
        self.env['comm.message']._cron_dispatch()
        self.assertEqual((again.dispatch_state, again.error_code), ('failed', 'uncertain'), 'more than a page')
        self.assertFalse(self.sends())
