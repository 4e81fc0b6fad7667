import base64
import hashlib
import json
import time
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from vonage_http_client import Auth

from odoo.tests import tagged

from ..providers import ProviderError
from ..providers.base import CallRequest, Media, Outbound, Template, WebhookRequest
from .common import CommAdapterCase

URL = 'https://odoo.example.com/comm/webhook/tok/{}'
SIGNATURE_SECRET = 'vonage-signature-secret-0123456789abcdef'   # >= 32 bytes (HS256)
CREDENTIALS = {'api_key': 'abcd1234', 'api_secret': 'ApiSecret99', 'signature_secret': SIGNATURE_SECRET,
               'signature_method': 'sha256'}
AGENT, CUSTOMER, OUR_NUMBER = '+447700900002', '+447700900001', '+447700900000'
SMS_OK = {'message-count': '1', 'messages': [{'to': '447700900001', 'message-id': '0A0000001', 'status': '0',
                                               'remaining-balance': '3.14', 'message-price': '0.03',
                                               'network': '23410', 'client-ref': 'odoo:sms:7'}]}
INBOUND_SMS = {'msisdn': '447700900001', 'to': '447700900000', 'messageId': '0A00000012ABCD34', 'text': 'Hello',
               'type': 'text', 'keyword': 'HELLO', 'message-timestamp': '2025-01-01 12:00:00', 'concat': 'true',
               'concat-ref': '17', 'concat-total': '2', 'concat-part': '1', 'api-key': 'abcd1234'}


def _private_key_pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return pem, key.public_key()


def _basic(user, password):
    return 'Basic ' + base64.b64encode(f'{user}:{password}'.encode()).decode()


@tagged('post_install', '-at_install')
class TestVonageAdapter(CommAdapterCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.private_key, cls.public_key = _private_key_pem()

    def setUp(self):
        super().setUp()
        self.adapter = self.make_adapter('vonage', CREDENTIALS, sms_from=OUR_NUMBER, whatsapp_from=OUR_NUMBER,
                                         voice_from=OUR_NUMBER)
        self.app_adapter = self.make_adapter(
            'vonage', {**CREDENTIALS, 'application_id': 'app-123', 'private_key': self.private_key},
            whatsapp_from=OUR_NUMBER, voice_from=OUR_NUMBER)

    def assertJwtBearer(self, header):
        scheme, _, token = header.partition(' ')
        self.assertEqual(scheme, 'Bearer')
        claims = jwt.decode(token, self.public_key, algorithms=['RS256'])
        self.assertEqual(claims['application_id'], 'app-123')

    def assertRaisesProvider(self, call, **expected):
        with self.assertRaises(ProviderError) as caught:
            call()
        error = caught.exception
        for name, value in expected.items():
            self.assertEqual(getattr(error, name), value, name)
        self.assertNotIn(CREDENTIALS['api_secret'], error.message)
        return error

    # -- SMS API ------------------------------------------------------------------------------

    def test_send_sms(self):
        self.fake.route('POST', '/sms/json', 200, json=SMS_OK)
        result = self.adapter.send_message(Outbound(
            to=CUSTOMER, body='Your order #1042 shipped', client_ref='odoo:sms:7',
            status_callback='https://odoo.example.com/comm/webhook/tok/status'))
        request = self.fake.last('POST', '/sms/json')
        self.assertEqual(request.path, '/sms/json')
        self.assertEqual(request.headers['authorization'], _basic('abcd1234', 'ApiSecret99'))
        self.assertEqual(request.form_dict(), {
            'from': '447700900000', 'to': '447700900001', 'text': 'Your order #1042 shipped', 'type': 'text',
            'client-ref': 'odoo:sms:7', 'callback': 'https://odoo.example.com/comm/webhook/tok/status'})
        self.assertNotIn('sig', request.form_dict(), 'the signature secret is for webhooks only')
        self.assertEqual((result.provider_id, result.status, result.parts, result.extra_ids),
                         ('0A0000001', 'queued', 1, ()))

    def test_sms_after_a_json_request_is_still_a_form(self):
        self.fake.route('POST', '/v1/messages', 202, json={'message_uuid': 'uuid-1'})
        self.fake.route('POST', '/sms/json', 200, json=SMS_OK)
        self.adapter.send_message(Outbound(to=CUSTOMER, body='Hi', channel='whatsapp'))
        self.adapter.send_message(Outbound(to=CUSTOMER, body='Hi'))
        request = self.fake.last('POST', '/sms/json')
        self.assertEqual(request.headers['content-type'], 'application/x-www-form-urlencoded')
        self.assertEqual(request.form_dict()['text'], 'Hi')

    def test_send_long_unicode_sms_has_extra_ids(self):
        self.fake.route('POST', '/sms/json', 200, json={'message-count': '3', 'messages': [
            {'to': '447700900001', 'message-id': f'0A000000{n}', 'status': '0'} for n in (1, 2, 3)]})
        result = self.adapter.send_message(Outbound(
            to=CUSTOMER, body='Привет! ' * 20, client_ref='x' * 41, status_callback='https://e.com/' + 'c' * 100))
        form = self.fake.last('POST', '/sms/json').form_dict()
        self.assertEqual(form['type'], 'unicode')
        self.assertNotIn('client-ref', form, 'longer than the 40 characters the SMS API takes')
        self.assertNotIn('callback', form, 'longer than the 100 characters the SMS API takes')
        self.assertEqual((result.provider_id, result.extra_ids, result.parts),
                         ('0A0000001', ('0A0000002', '0A0000003'), 3))

    def test_sms_refused_with_http_200(self):
        cases = {'6': ('sms_number_format', False), '1': ('sms_server', True), '4': ('sms_acc', False),
                 '9': ('sms_credit', False), '15': ('sms_registration_needed', False), '7': ('unknown', False)}
        for status, (failure_type, retryable) in cases.items():
            with self.subTest(status=status):
                self.fake.route('POST', '/sms/json', 200, json={'message-count': '1', 'messages': [
                    {'status': status, 'error-text': f'refused {status}'}]})
                error = self.assertRaisesProvider(
                    lambda: self.adapter.send_message(Outbound(to=CUSTOMER, body='Hi')),
                    code=status, failure_type=failure_type, retryable=retryable)
                self.assertIn(f'refused {status}', error.message)

    def test_sms_partial_failure_is_an_error(self):
        self.fake.route('POST', '/sms/json', 200, json={'message-count': '2', 'messages': [
            {'message-id': '0A1', 'status': '0'}, {'status': '5', 'error-text': 'Internal Error'}]})
        self.assertRaisesProvider(lambda: self.adapter.send_message(Outbound(to=CUSTOMER, body='x' * 200)),
                                  code='5', retryable=True, failure_type='sms_server')

    def test_http_errors(self):
        cases = [
            (401, {'type': 'https://developer.vonage.com/api-errors#unauthorized', 'title': 'Unauthorized'}, {},
             dict(http_status=401, retryable=False, failure_type='sms_acc')),
            (429, {'type': 'https://developer.vonage.com/api-errors#throttled', 'title': 'Too Many Requests'},
             {'Retry-After': '7'}, dict(http_status=429, retryable=True, retry_after=7.0, failure_type='sms_server')),
            (500, {'title': 'Internal Error'}, {}, dict(http_status=500, retryable=True, failure_type='sms_server')),
            (503, {}, {}, dict(http_status=503, retryable=True, code='503')),
        ]
        for status, body, headers, expected in cases:
            with self.subTest(status=status):
                self.fake.route('POST', '/sms/json', status, json=body, headers=headers)
                self.assertRaisesProvider(lambda: self.adapter.send_message(Outbound(to=CUSTOMER, body='Hi')),
                                          **expected)

    def test_timeout_is_retryable(self):
        adapter = self.make_adapter('vonage', CREDENTIALS, timeout=0.5, sms_from=OUR_NUMBER)
        self.fake.route('POST', '/sms/json', 200, json=SMS_OK, delay=1.5)
        started = time.monotonic()
        self.assertRaisesProvider(lambda: adapter.send_message(Outbound(to=CUSTOMER, body='Hi')),
                                  code='timeout', retryable=True)
        self.assertLess(time.monotonic() - started, 1.5)

    def test_missing_sender_and_unsupported_channel(self):
        adapter = self.make_adapter('vonage', CREDENTIALS)
        self.assertRaisesProvider(lambda: adapter.send_message(Outbound(to=CUSTOMER, body='Hi')),
                                  code='missing_sender')
        self.assertRaisesProvider(lambda: self.adapter.send_message(Outbound(to=CUSTOMER, body='Hi', channel='fax')),
                                  code='unsupported')
        self.assertRaisesProvider(lambda: self.adapter.send_message(Outbound(to=CUSTOMER)), code='empty_message')
        self.assertFalse(self.fake.requests)

    # -- Messages API -------------------------------------------------------------------------

    def test_send_whatsapp_text_with_basic_auth(self):
        self.fake.route('POST', '/v1/messages', 202, json={'message_uuid': 'aaaaaaaa-bbbb-cccc-dddd-0123456789ab'})
        result = self.adapter.send_message(Outbound(
            to=CUSTOMER, body='Hi Ann', channel='whatsapp', client_ref='odoo:msg:9',
            status_callback='https://odoo.example.com/comm/webhook/tok/status'))
        request = self.fake.last('POST', '/v1/messages')
        self.assertEqual(request.headers['authorization'], _basic('abcd1234', 'ApiSecret99'))
        self.assertEqual(request.json(), {
            'channel': 'whatsapp', 'message_type': 'text', 'text': 'Hi Ann', 'from': '447700900000',
            'to': '447700900001', 'client_ref': 'odoo:msg:9',
            'webhook_url': 'https://odoo.example.com/comm/webhook/tok/status'})
        self.assertEqual((result.provider_id, result.status), ('aaaaaaaa-bbbb-cccc-dddd-0123456789ab', 'queued'))

    def test_send_whatsapp_media_and_template_with_jwt(self):
        self.fake.route('POST', '/v1/messages', 202, json={'message_uuid': 'uuid-1'})
        self.app_adapter.send_message(Outbound(
            to=CUSTOMER, body='Your receipt', channel='whatsapp',
            media=[Media(url='https://cdn.example.com/r.pdf', content_type='application/pdf', filename='r.pdf')]))
        request = self.fake.last('POST', '/v1/messages')
        self.assertJwtBearer(request.headers['authorization'])
        self.assertEqual(request.json()['message_type'], 'file')
        self.assertEqual(request.json()['file'], {'url': 'https://cdn.example.com/r.pdf', 'caption': 'Your receipt',
                                                  'name': 'r.pdf'})

        components = [{'type': 'body', 'parameters': [{'type': 'text', 'text': 'Ann'}]}]
        self.app_adapter.send_message(Outbound(to=CUSTOMER, channel='whatsapp', template=Template(
            name='order_update', language='fr', components=components)))
        body = self.fake.last('POST', '/v1/messages').json()
        self.assertEqual(body['message_type'], 'custom')
        self.assertEqual(body['custom'], {'type': 'template', 'template': {
            'name': 'order_update', 'language': {'policy': 'deterministic', 'code': 'fr'}, 'components': components}})

    def test_send_mms_image(self):
        self.fake.route('POST', '/v1/messages', 202, json={'message_uuid': 'uuid-2'})
        self.adapter.send_message(Outbound(to=CUSTOMER, body='Look', channel='mms',
                                           media=[Media(url='https://cdn.example.com/a.jpg')]))
        body = self.fake.last('POST', '/v1/messages').json()
        self.assertEqual((body['channel'], body['message_type'], body['image']),
                         ('mms', 'image', {'url': 'https://cdn.example.com/a.jpg', 'caption': 'Look'}))

    def test_messages_api_error_code(self):
        self.fake.route('POST', '/v1/messages', 422, json={
            'type': 'https://developer.vonage.com/api-errors/messages#1120', 'title': 'Invalid sender',
            'detail': 'The `from` parameter is invalid for the given channel.', 'instance': 'bf0ca0bf'})
        self.assertRaisesProvider(
            lambda: self.adapter.send_message(Outbound(to=CUSTOMER, body='Hi', channel='whatsapp')),
            code='1120', http_status=422, retryable=False, failure_type='sms_registration_needed')

    def test_invalid_number_is_refused_before_sending(self):
        self.assertRaisesProvider(
            lambda: self.adapter.send_message(Outbound(to='+12', body='Hi', channel='mms')),
            code='invalid_request', failure_type='sms_number_format')
        self.assertFalse(self.fake.requests)

    # -- account, calls, media ----------------------------------------------------------------

    def test_check_credentials(self):
        self.fake.route('GET', '/account/get-balance', 200, json={'value': 10.5, 'autoReload': False})
        info = self.adapter.check_credentials()
        self.assertEqual(self.fake.last('GET', '/account/get-balance').headers['authorization'],
                         _basic('abcd1234', 'ApiSecret99'))
        self.assertIn('abcd1234', info.name)
        self.assertIn('10.50', info.name)

        self.fake.route('GET', '/account/get-balance', 401, json={
            'error-code': '401', 'error-code-label': 'authentication failed'})
        self.assertRaisesProvider(self.adapter.check_credentials, http_status=401, retryable=False,
                                  failure_type='sms_acc')

    def test_start_call_rings_the_agent_then_connects(self):
        self.fake.route('POST', '/v1/calls', 201, json={
            'uuid': 'call-uuid-1', 'status': 'started', 'direction': 'outbound', 'conversation_uuid': 'CON-1'})
        result = self.app_adapter.start_call(CallRequest(
            to=CUSTOMER, agent=AGENT, status_callback='https://odoo.example.com/comm/webhook/tok/voice_status',
            timeout=25))
        request = self.fake.last('POST', '/v1/calls')
        self.assertJwtBearer(request.headers['authorization'])
        body = request.json()
        self.assertEqual(body['to'], [{'type': 'phone', 'number': '447700900002'}])
        self.assertEqual(body['from'], {'type': 'phone', 'number': '447700900000'})
        self.assertEqual(body['event_url'], ['https://odoo.example.com/comm/webhook/tok/voice_status'])
        self.assertEqual(body['ncco'], [{'action': 'connect', 'from': '447700900000', 'timeout': 25,
                                         'endpoint': [{'type': 'phone', 'number': '447700900001'}]}])
        self.assertEqual((result.provider_id, result.status), ('call-uuid-1', 'initiated'))

    def test_start_call_needs_an_application(self):
        self.assertRaisesProvider(lambda: self.adapter.start_call(CallRequest(to=CUSTOMER, agent=AGENT)),
                                  code='credentials')
        self.assertFalse(self.fake.requests)

    def test_fetch_call(self):
        self.fake.route('GET', '/v1/calls/call-uuid-1', 200, json={
            'uuid': 'call-uuid-1', 'conversation_uuid': 'CON-1', 'status': 'completed', 'direction': 'outbound',
            'to': {'type': 'phone', 'number': '447700900002'}, 'from': {'type': 'phone', 'number': '447700900000'},
            'duration': '42', '_links': {'self': {'href': '/v1/calls/call-uuid-1'}}})
        event = self.app_adapter.fetch_call('call-uuid-1')
        self.assertJwtBearer(self.fake.last('GET', '/v1/calls/').headers['authorization'])
        self.assertEqual((event.status, event.duration, event.recipient), ('completed', 42, AGENT))
        self.assertIsNone(self.adapter.fetch_status('0A0000001'))

    def test_download_media(self):
        self.fake.route('GET', '/v3/media/abc', 200, body=b'\xff\xd8JPEG', headers={'Content-Type': 'image/jpeg'})
        url = f'{self.fake.base_url}/v3/media/abc'
        self.assertEqual(self.app_adapter.download_media(Media(url=url)), (b'\xff\xd8JPEG', 'image/jpeg'))
        self.assertJwtBearer(self.fake.last('GET', '/v3/media/abc').headers['authorization'])
        self.adapter.download_media(Media(url=url))
        self.assertEqual(self.fake.last('GET', '/v3/media/abc').headers['authorization'],
                         _basic('abcd1234', 'ApiSecret99'))

    # -- SMS signatures -----------------------------------------------------------------------

    def _signed_sms(self, method, secret=SIGNATURE_SECRET, **changes):
        params = {**INBOUND_SMS, 'timestamp': str(int(time.time())), 'nonce': 'n-1', **changes}
        if method == 'md5hash':
            text = ''.join(f'&{key}={str(value).replace("&", "_").replace("=", "_")}'
                           for key, value in sorted(params.items()))
            params['sig'] = hashlib.md5((text + secret).encode()).hexdigest().upper()
        else:
            params['sig'] = Auth(api_key='abcd1234', signature_secret=secret,
                                 signature_method=method).sign_params(dict(params)).upper()
        return params

    def test_sms_signature_each_method(self):
        for method in ('md5hash', 'md5', 'sha1', 'sha256', 'sha512'):
            with self.subTest(method=method):
                adapter = self.make_adapter('vonage', {**CREDENTIALS, 'signature_method': method})
                params = self._signed_sms(method, text='Fish & chips = 5')
                self.assertTrue(adapter.verify_webhook(WebhookRequest('POST', URL.format('inbound'),
                                                                      form=list(params.items()))))
                self.assertTrue(adapter.verify_webhook(
                    WebhookRequest('GET', URL.format('inbound') + '?' + urlencode(params))))
                self.assertTrue(adapter.verify_webhook(WebhookRequest(
                    'POST', URL.format('inbound'), headers={'Content-Type': 'application/json'},
                    body=json.dumps(params).encode())))
                tampered = {**params, 'text': 'Fish & chips = 6'}
                self.assertFalse(adapter.verify_webhook(WebhookRequest('POST', URL.format('inbound'),
                                                                       form=list(tampered.items()))))
                wrong = self._signed_sms(method, secret='another-secret-0123456789abcdef0123')
                self.assertFalse(adapter.verify_webhook(WebhookRequest('POST', URL.format('inbound'),
                                                                       form=list(wrong.items()))))

    def test_sms_signature_rejections(self):
        def verify(params):
            return self.adapter.verify_webhook(WebhookRequest('POST', URL.format('status'), form=list(params.items())))
        self.assertTrue(verify(self._signed_sms('sha256')))
        unsigned = dict(self._signed_sms('sha256'))
        del unsigned['sig']
        self.assertFalse(verify(unsigned))
        self.assertFalse(verify(self._signed_sms('sha256', timestamp=str(int(time.time()) - 301))))
        self.assertFalse(verify(self._signed_sms('md5')), 'signed with another method')
        no_secret = self.make_adapter('vonage', {**CREDENTIALS, 'signature_secret': ''})
        self.assertFalse(no_secret.verify_webhook(WebhookRequest('POST', URL.format('status'),
                                                                 form=list(self._signed_sms('sha256').items()))))

    # -- JWT signatures (Messages, Voice) ----------------------------------------------------

    def _jwt_request(self, body, secret=SIGNATURE_SECRET, **claims):
        claims = {'iat': int(time.time()), 'jti': 'jti-1', 'iss': 'Vonage', 'api_key': 'abcd1234',
                  'application_id': 'app-123', 'payload_hash': hashlib.sha256(body).hexdigest(), **claims}
        token = jwt.encode(claims, secret, algorithm='HS256')
        return WebhookRequest('POST', URL.format('status'), body=body, headers={
            'Authorization': f'Bearer {token}', 'Content-Type': 'application/json'})

    def test_jwt_signature(self):
        body = json.dumps({'message_uuid': 'uuid-1', 'status': 'delivered', 'to': '447700900001'}).encode()
        request = self._jwt_request(body)
        self.assertTrue(self.adapter.verify_webhook(request))
        tampered = WebhookRequest('POST', request.url, headers=request.headers,
                                  body=body.replace(b'delivered', b'read'))
        self.assertFalse(self.adapter.verify_webhook(tampered))
        self.assertFalse(self.adapter.verify_webhook(self._jwt_request(body, secret='x' * 40)))
        self.assertFalse(self.adapter.verify_webhook(self._jwt_request(body, exp=int(time.time()) - 10)))
        self.assertFalse(self.adapter.verify_webhook(self._jwt_request(body, payload_hash='0' * 64)))
        garbage = WebhookRequest('POST', request.url, headers={'Authorization': 'Bearer not.a.jwt'}, body=body)
        self.assertFalse(self.adapter.verify_webhook(garbage))
        answer = self._jwt_request(b'')
        answer.method, answer.url = 'GET', URL.format('voice') + '?uuid=c1&from=447700900001&to=447700900000'
        self.assertFalse(self.adapter.verify_webhook(answer), 'a JWT signs a body: a GET query is signed by nobody')
        for query in ('?comm_dialed=1', '?uuid=c1'):
            answer.method, answer.url = 'POST', URL.format('voice_dialed') + query
            self.assertFalse(self.adapter.verify_webhook(answer), f'a query string ({query}) is signed by nobody')
        answer.url = URL.format('voice_dialed')
        self.assertTrue(self.adapter.verify_webhook(answer), 'no body, no query: what the JWT signs')

    # -- parsing: SMS API ---------------------------------------------------------------------

    def test_parse_inbound_multipart_sms(self):
        first = WebhookRequest('GET', URL.format('inbound') + '?' + urlencode(INBOUND_SMS))
        second = WebhookRequest('POST', URL.format('inbound'), form=list(
            {**INBOUND_SMS, 'messageId': '0A00000012ABCD35', 'text': ' world', 'concat-part': '2'}.items()))
        [message] = self.adapter.parse_webhook(first, 'inbound')
        self.assertEqual((message.kind, message.provider_id, message.sender, message.recipient, message.body),
                         ('message', '0A00000012ABCD34', CUSTOMER, OUR_NUMBER, 'Hello'))
        self.assertEqual((message.concat_ref, message.concat_total, message.concat_part), ('17', 2, 1))
        self.assertEqual(message.timestamp, 1735732800.0)
        [part2] = self.adapter.parse_webhook(second, 'inbound')
        self.assertEqual((part2.concat_part, part2.body), (2, ' world'))
        self.assertNotEqual(self.adapter.event_key(first, 'inbound'), self.adapter.event_key(second, 'inbound'))
        single = {key: value for key, value in INBOUND_SMS.items() if not key.startswith('concat')}
        [plain] = self.adapter.parse_webhook(WebhookRequest('POST', URL.format('inbound'), form=list(single.items())),
                                             'inbound')
        self.assertEqual((plain.concat_ref, plain.concat_total), ('', 0))

    def test_parse_delivery_receipts(self):
        cases = [
            ('accepted', '0', 'sent', '', ''), ('buffered', '0', 'sent', '', ''),
            ('delivered', '0', 'delivered', '', ''), ('expired', '1', 'undelivered', '1', 'unknown'),
            ('failed', '3', 'undelivered', '3', 'sms_number_format'),
            ('failed', '9', 'undelivered', '9', 'sms_optout'),
            ('rejected', '52', 'undelivered', '52', 'sms_registration_needed'),
            ('unknown', '0', 'sent', '', ''),
        ]
        keys = set()
        for provider_status, err_code, status, error_code, failure_type in cases:
            with self.subTest(status=provider_status, err_code=err_code):
                request = WebhookRequest('POST', URL.format('status'), form=list({
                    'msisdn': '447700900001', 'to': 'Acme', 'network-code': '23410', 'messageId': '0A0000001',
                    'price': '0.03', 'status': provider_status, 'scts': '2501011200', 'err-code': err_code,
                    'api-key': 'abcd1234', 'client-ref': 'odoo:sms:7',
                    'message-timestamp': '2025-01-01 12:00:05'}.items()))
                [update] = self.adapter.parse_webhook(request, 'status')
                self.assertEqual((update.kind, update.provider_id, update.status, update.provider_status),
                                 ('status', '0A0000001', status, provider_status))
                self.assertEqual((update.error_code, update.failure_type), (error_code, failure_type))
                self.assertEqual((update.client_ref, update.recipient), ('odoo:sms:7', CUSTOMER))
                keys.add(self.adapter.event_key(request, 'status'))
                self.assertEqual(self.adapter.event_key(request, 'status'), self.adapter.event_key(request, 'status'))
        self.assertEqual(len(keys), 7, 'key = messageId + status: both failed receipts share one')

    # -- parsing: Messages API ----------------------------------------------------------------

    def _json(self, purpose, payload):
        return WebhookRequest('POST', URL.format(purpose), headers={'Content-Type': 'application/json'},
                              body=json.dumps(payload).encode())

    def test_parse_messages_inbound(self):
        [text] = self.adapter.parse_webhook(self._json('inbound', {
            'channel': 'whatsapp', 'message_uuid': 'uuid-in-1', 'to': '447700900000', 'from': '447700900001',
            'timestamp': '2025-01-01T12:00:00Z', 'profile': {'name': 'Ann'}, 'message_type': 'text', 'text': 'Hi',
            'context': {'message_uuid': 'uuid-out-1', 'message_from': '447700900000'}}), 'inbound')
        self.assertEqual((text.provider_id, text.channel, text.sender, text.body, text.profile_name, text.reply_to),
                         ('uuid-in-1', 'whatsapp', CUSTOMER, 'Hi', 'Ann', 'uuid-out-1'))
        self.assertEqual(text.timestamp, 1735732800.0)
        [image] = self.adapter.parse_webhook(self._json('inbound', {
            'channel': 'whatsapp', 'message_uuid': 'uuid-in-2', 'to': '447700900000', 'from': '447700900001',
            'timestamp': '2025-01-01T12:00:00Z', 'profile': {'name': 'Ann'}, 'message_type': 'image',
            'image': {'url': 'https://api-eu.nexmo.com/v3/media/1d2e', 'caption': 'receipt'},
            'context_status': 'none'}), 'inbound')
        self.assertEqual((image.message_type, image.body), ('image', 'receipt'))
        self.assertEqual(image.media[0].url, 'https://api-eu.nexmo.com/v3/media/1d2e')
        [place] = self.adapter.parse_webhook(self._json('inbound', {
            'channel': 'whatsapp', 'message_uuid': 'uuid-in-3', 'to': '447700900000', 'from': '447700900001',
            'message_type': 'location', 'location': {'lat': 51.5, 'long': -0.12, 'name': 'Office'}}), 'inbound')
        self.assertEqual((place.body, place.content), ('', {'location': {'latitude': 51.5, 'longitude': -0.12,
                                                                         'name': 'Office'}}))

    def test_parse_messages_statuses(self):
        [rejected] = self.adapter.parse_webhook(self._json('status', {
            'message_uuid': 'uuid-1', 'to': '447700900001', 'from': '447700900000',
            'timestamp': '2025-01-01T12:00:00Z', 'status': 'rejected', 'channel': 'whatsapp', 'client_ref': 'odoo:9',
            'error': {'type': 'https://developer.vonage.com/api-errors/messages#1300', 'title': 1300,
                      'detail': 'Not part of the provider network'}}), 'status')
        self.assertEqual((rejected.status, rejected.error_code, rejected.failure_type, rejected.client_ref),
                         ('failed', '1300', 'sms_number_format', 'odoo:9'))
        self.assertEqual(rejected.error_message, 'Not part of the provider network')
        for provider_status, status in (('submitted', 'sent'), ('delivered', 'delivered'), ('read', 'read'),
                                        ('undeliverable', 'failed')):
            [update] = self.adapter.parse_webhook(self._json('status', {
                'message_uuid': 'uuid-1', 'to': '447700900001', 'status': provider_status}), 'status')
            self.assertEqual(update.status, status)

    # -- parsing: Voice -----------------------------------------------------------------------

    def test_parse_voice_events(self):
        cases = {'started': 'initiated', 'ringing': 'ringing', 'answered': 'in_progress', 'busy': 'busy',
                 'cancelled': 'canceled', 'unanswered': 'no_answer', 'rejected': 'failed', 'failed': 'failed',
                 'timeout': 'no_answer', 'completed': 'completed'}
        for provider_status, status in cases.items():
            [event] = self.adapter.parse_webhook(self._json('voice_status', {
                'from': '447700900000', 'to': '447700900002', 'uuid': 'call-1', 'conversation_uuid': 'CON-1',
                'status': provider_status, 'direction': 'outbound', 'timestamp': '2025-01-01T12:00:00.000Z'}),
                'voice_status')
            self.assertEqual((event.kind, event.provider_id, event.status, event.parent_id),
                             ('call', 'call-1', status, 'CON-1'))
        [completed] = self.adapter.parse_webhook(self._json('voice_status', {
            'uuid': 'call-1', 'conversation_uuid': 'CON-1', 'status': 'completed', 'direction': 'outbound',
            'duration': '42', 'start_time': '2025-01-01T12:00:00.000Z', 'end_time': '2025-01-01T12:00:42.000Z'}),
            'voice_status')
        self.assertEqual(completed.duration, 42)
        record = self._json('voice_status', {
            'start_time': '2025-01-01T12:00:00Z', 'recording_url': 'https://api.nexmo.com/v1/files/rec-1',
            'size': 12222, 'recording_uuid': 'rec-1', 'end_time': '2025-01-01T12:00:42Z',
            'conversation_uuid': 'CON-1', 'timestamp': '2025-01-01T12:00:43Z'})
        [recorded] = self.adapter.parse_webhook(record, 'voice_status')
        self.assertEqual((recorded.recording_url, recorded.parent_id),
                         ('https://api.nexmo.com/v1/files/rec-1', 'CON-1'))
        self.assertIn('rec-1', self.adapter.event_key(record, 'voice_status'))
        answer = WebhookRequest('GET', URL.format('voice') + '?' + urlencode({
            'to': '447700900000', 'from': '447700900001', 'uuid': 'call-in-1', 'conversation_uuid': 'CON-2'}))
        [ringing] = self.adapter.parse_webhook(answer, 'voice')
        self.assertEqual((ringing.status, ringing.direction, ringing.sender), ('ringing', 'inbound', CUSTOMER))

    def test_malformed_payloads(self):
        for request in (
            WebhookRequest('POST', URL.format('inbound'), body=b'not json'),
            WebhookRequest('POST', URL.format('inbound'), body=b'[1, 2]'),
            self._json('inbound', {'hello': 'world'}),
            self._json('inbound', {'message_uuid': 'uuid-1', 'message_type': 'text'}),
            WebhookRequest('POST', URL.format('inbound'), form=[('messageId', '0A1'), ('text', 'no sender')]),
        ):
            with self.subTest(body=request.body or request.form), self.assertRaises(ValueError):
                self.adapter.parse_webhook(request, 'inbound')
