"""'Test connection' on each provider's account, through the model, against the fake provider."""
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

from .common import FakeProviderMixin

TWILIO_SID = 'AC' + '1' * 32
PLIVO_ID = 'MA' + 'B' * 18
PHONE_ID = '106540352242922'
SECRET = 'very-secret-credential-9f3'

ACCOUNTS = {
    'twilio': ({'twilio_account_sid': TWILIO_SID, 'twilio_auth_token': SECRET},
               ('GET', rf'/2010-04-01/Accounts/{TWILIO_SID}.json'),
               {'sid': TWILIO_SID, 'friendly_name': 'Acme Twilio', 'status': 'active'},
               {'code': 20003, 'message': 'Authenticate', 'status': 401}, 'Acme Twilio'),
    'plivo': ({'plivo_auth_id': PLIVO_ID, 'plivo_auth_token': SECRET},
              ('GET', rf'/v1/Account/{PLIVO_ID}/'),
              {'api_id': 'x', 'auth_id': PLIVO_ID, 'name': 'Acme Plivo', 'account_type': 'standard'},
              {'error': 'authentication failed'}, 'Acme Plivo'),
    'vonage': ({'vonage_api_key': 'abcd1234', 'vonage_api_secret': SECRET},
               ('GET', r'/account/get-balance'),
               {'value': 10.5, 'autoReload': False},
               {'type': 'https://developer.nexmo.com/api-errors#unauthorized', 'title': 'Unauthorized'},
               'balance 10.50 EUR'),
    'meta': ({'meta_access_token': SECRET, 'meta_phone_number_id': PHONE_ID},
             ('GET', rf'/v21\.0/{PHONE_ID}'),
             {'display_phone_number': '+1 555-000-1111', 'verified_name': 'Acme Shop', 'id': PHONE_ID},
             {'error': {'message': 'Invalid OAuth access token.', 'type': 'OAuthException', 'code': 190}},
             'Acme Shop'),
}


@tagged('post_install', '-at_install')
class TestTestConnection(FakeProviderMixin, TransactionCase):

    def account(self, code):
        values, *_rest = ACCOUNTS[code]
        return self.env['comm.provider'].create({
            'name': code, 'code': code, 'api_base_url': self.fake.base_url, 'timeout': 2, **values})

    def test_good_credentials(self):
        for code, (_values, (method, path), ok_body, _bad, name) in ACCOUNTS.items():
            with self.subTest(code=code):
                self.fake.reset()
                self.fake.route(method, path, 200, json=ok_body)
                provider = self.account(code)
                action = provider.action_test_connection()
                self.assertEqual(provider.state, 'connected', provider.last_test_message)
                self.assertIn(name, provider.last_test_message)
                self.assertEqual(action['params']['type'], 'success')
                self.assertTrue(self.fake.requests, 'the provider was really called')

    def test_wrong_credentials(self):
        for code, (_values, (method, path), _ok, bad_body, _name) in ACCOUNTS.items():
            with self.subTest(code=code):
                self.fake.reset()
                self.fake.route(method, path, 401, json=bad_body)
                provider = self.account(code)
                action = provider.action_test_connection()
                self.assertEqual(provider.state, 'error')
                self.assertIn('Wrong credentials', provider.last_test_message)
                self.assertEqual(action['params']['type'], 'danger')
                self.assertNotIn(SECRET, provider.last_test_message)
                self.assertNotIn('Traceback', provider.last_test_message)

    def test_network_unreachable(self):
        # a port where nothing listens: connection refused
        import socket  # noqa: PLC0415
        sock = socket.socket()
        sock.bind(('127.0.0.1', 0))
        dead_url = f'http://127.0.0.1:{sock.getsockname()[1]}'
        sock.close()
        for code in ACCOUNTS:
            with self.subTest(code=code):
                provider = self.account(code)
                provider.api_base_url = dead_url
                provider.action_test_connection()
                self.assertEqual(provider.state, 'error')
                self.assertIn('cannot be reached', provider.last_test_message)

    def test_answer_shows_no_restricted_identifier(self):
        """The answer and last_test_message are read by users who may not read the account SID,
        auth id, API key or phone number id: those never appear in them."""
        identifiers = {'twilio': TWILIO_SID, 'plivo': PLIVO_ID, 'vonage': 'abcd1234', 'meta': PHONE_ID}
        nameless = {'twilio': {'sid': TWILIO_SID, 'status': 'active'}, 'plivo': {'api_id': 'x', 'auth_id': PLIVO_ID},
                    'vonage': ACCOUNTS['vonage'][2], 'meta': {'id': PHONE_ID}}
        for code, (_values, (method, path), _ok, _bad, _name) in ACCOUNTS.items():
            for status, body in ((200, nameless[code]), (404, {'message': f'{identifiers[code]} not found'})):
                with self.subTest(code=code, status=status):
                    self.fake.reset()
                    self.fake.route(method, path, status, json=body)
                    provider = self.account(code)
                    action = provider.action_test_connection()
                    self.assertNotIn(identifiers[code], provider.last_test_message)
                    self.assertNotIn(identifiers[code], str(action))

    def test_missing_credential_is_not_wrong_credentials(self):
        """A token never filled in: the provider was not called, and the message says so."""
        for code, field in (('twilio', 'twilio_auth_token'), ('plivo', 'plivo_auth_token')):
            with self.subTest(code=code):
                self.fake.reset()
                values = dict(ACCOUNTS[code][0])
                values.pop(field)
                provider = self.env['comm.provider'].create({
                    'name': code, 'code': code, 'api_base_url': self.fake.base_url, 'timeout': 2, **values})
                action = provider.action_test_connection()
                self.assertEqual((provider.state, action['params']['type']), ('error', 'danger'))
                self.assertNotIn('Wrong credentials', provider.last_test_message)
                self.assertIn('was not called', provider.last_test_message)
                self.assertIn('Auth Token', provider.last_test_message)
                self.assertFalse(self.fake.requests, 'nothing left the machine')
