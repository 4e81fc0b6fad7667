import base64
import hashlib
import hmac

import plivo.rest.client
from plivo.utils.signature_v3 import construct_get_url, construct_post_url, get_signature_v3

from odoo.tests import tagged

from ..providers import ProviderError, get_adapter_class
from ..providers.base import CallRequest, Media, Outbound, Template, WebhookRequest
from .common import CommAdapterCase

AUTH_ID = 'MA' + 'A' * 18
TOKEN = 'plivo-auth-token'
MESSAGE = rf'/v1/Account/{AUTH_ID}/Message/'
CALL = rf'/v1/Account/{AUTH_ID}/Call/'
HOOK = 'https://odoo.example.com/comm/webhook/tok/{}?account=7'
NONCE = '05429567804466091622'


def sign_v3(method, url, params, nonce=NONCE, token=TOKEN):
    """X-Plivo-Signature-V3 as Plivo computes it (the SDK's own helpers)."""
    if method == 'GET':
        signed = construct_get_url(url, dict(params))
    else:
        signed = construct_post_url(url, params)
    return get_signature_v3(token.encode(), signed.decode(), nonce.encode()).decode()


def sign_v2(url, nonce=NONCE, token=TOKEN):
    """X-Plivo-Signature-V2: base64 HMAC-SHA256 of the URL without query, then the nonce."""
    mac = hmac.new(token.encode(), (url.split('?')[0] + nonce).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


@tagged('post_install', '-at_install')
class TestPlivoAdapter(CommAdapterCase):

    def setUp(self):
        super().setUp()
        self.adapter = self.plivo(sms_from='+15005550006', whatsapp_from='+14155238886')

    def plivo(self, credentials=None, timeout=5, **options):
        return self.make_adapter('plivo', credentials or {'auth_id': AUTH_ID, 'auth_token': TOKEN},
                                 timeout=timeout, **options)

    def route_message(self, http_status=202, **payload):
        payload = payload or {'api_id': 'a1', 'message': 'message(s) queued', 'message_uuid': ['3e6e-uuid']}
        self.fake.route('POST', MESSAGE, http_status, json=payload)

    def assertProviderError(self, operation, code, retryable, failure_type, http_status=None):
        with self.assertRaises(ProviderError) as caught:
            operation()
        error = caught.exception
        self.assertEqual((error.code, error.retryable, error.failure_type),
                         (code, retryable, failure_type))
        self.assertEqual(error.http_status, http_status)
        self.assertNotIn(TOKEN, error.message)
        return error

    def send(self, adapter=None, **values):
        return (adapter or self.adapter).send_message(Outbound(**{'to': '+14155550123', 'body': 'Hi', **values}))

    # -- sending --------------------------------------------------------------------------------

    def test_send_sms(self):
        self.route_message()
        result = self.send(body='Hello Ann', status_callback='https://odoo.example.com/cb')
        request = self.fake.last('POST', '/Message/')
        self.assertEqual(request.path, f'/v1/Account/{AUTH_ID}/Message/')
        expected_auth = 'Basic ' + base64.b64encode(f'{AUTH_ID}:{TOKEN}'.encode()).decode()
        self.assertEqual(request.headers['authorization'], expected_auth)
        self.assertIn('application/json', request.headers['content-type'])
        body = request.json()
        self.assertEqual({key: body[key] for key in ('src', 'dst', 'text', 'type', 'url', 'method')}, {
            'src': '15005550006', 'dst': '14155550123', 'text': 'Hello Ann', 'type': 'sms',
            'url': 'https://odoo.example.com/cb', 'method': 'POST'})
        self.assertEqual((result.provider_id, result.status), ('3e6e-uuid', 'queued'))

    def test_send_mms(self):
        self.route_message(message_uuid=['u1', 'u2'])
        result = self.send(media=[Media(url='https://cdn.example.com/a.jpg'), Media(url='https://cdn.example.com/b.png')])
        body = self.fake.last('POST', '/Message/').json()
        self.assertEqual(body['type'], 'mms')
        self.assertEqual(body['media_urls'], ['https://cdn.example.com/a.jpg', 'https://cdn.example.com/b.png'])
        self.assertEqual((result.provider_id, result.extra_ids), ('u1', ('u2',)))

    def test_send_whatsapp_and_template(self):
        self.route_message()
        self.send(to='+447700900123', channel='whatsapp')
        body = self.fake.last('POST', '/Message/').json()
        self.assertEqual((body['type'], body['src'], body['dst']), ('whatsapp', '14155238886', '447700900123'))

        self.send(to='+447700900123', channel='whatsapp', body='', template=Template(
            name='order_update', language='en_US', variables={'2': '#1042', '1': 'Ann'}))
        body = self.fake.last('POST', '/Message/').json()
        self.assertEqual(body['template']['name'], 'order_update')
        self.assertEqual(body['template']['language'], 'en_US')
        self.assertEqual(body['template']['components'], [{'type': 'body', 'parameters': [
            {'type': 'text', 'text': 'Ann'}, {'type': 'text', 'text': '#1042'}]}])
        self.assertNotIn('text', body)

    def test_template_plivo_cannot_take_is_unsupported(self):
        template = Template(name='promo', components=[
            {'type': 'header', 'parameters': [{'type': 'image', 'image': {'link': 'https://x/i.png'}}]}])
        self.assertProviderError(lambda: self.send(channel='whatsapp', template=template),
                                 'unsupported', False, 'unknown')
        self.assertFalse(self.fake.requests)

    def test_send_without_sender_is_refused_locally(self):
        self.assertProviderError(lambda: self.send(adapter=self.plivo()), 'no_sender', False, 'unknown')
        self.assertFalse(self.fake.requests)

    def test_base_url_is_per_instance(self):
        self.fake.route('POST', rf'/elsewhere/v1/Account/{AUTH_ID}/Message/', 202,
                        json={'message_uuid': ['other-uuid']})
        self.route_message()
        other = get_adapter_class('plivo')({'auth_id': AUTH_ID, 'auth_token': TOKEN},
                                           base_url=f'{self.fake.base_url}/elsewhere',
                                           options={'sms_from': '+15005550006'})
        self.assertEqual(self.send(adapter=other).provider_id, 'other-uuid')
        self.assertEqual(self.send().provider_id, '3e6e-uuid')
        self.assertEqual(plivo.rest.client.PLIVO_API_BASE_URI, 'https://api.plivo.com/v1/Account',
                         'no module global patched')

    # -- errors ---------------------------------------------------------------------------------

    def test_error_400(self):
        self.fake.route('POST', MESSAGE, 400, json={'api_id': 'a', 'error': "invalid 'dst' parameter"})
        error = self.assertProviderError(self.send, '400', False, 'unknown', http_status=400)
        self.assertIn("invalid 'dst' parameter", error.message)

    def test_error_401(self):
        self.fake.route('POST', MESSAGE, 401, json={'api_id': 'a', 'error': 'authentication failed'})
        self.assertProviderError(self.send, '401', False, 'sms_acc', http_status=401)

    def test_error_403_geo_permission(self):
        self.fake.route('POST', MESSAGE, 403, json={'error': 'destination country not enabled'})
        self.assertProviderError(self.send, '403', False, 'sms_country_not_supported', http_status=403)

    def test_error_429_honours_retry_after(self):
        # the SDK raises a bare PlivoRestError for 429: the status and header come from the response
        self.fake.route('POST', MESSAGE, 429, json={'error': 'too many requests'}, headers={'Retry-After': '3'})
        error = self.assertProviderError(self.send, '429', True, 'sms_server', http_status=429)
        self.assertEqual(error.retry_after, 3.0)

    def test_error_500_and_503(self):
        self.fake.route('POST', MESSAGE, 500, json={'error': 'internal error'})
        self.assertProviderError(self.send, '500', True, 'sms_server', http_status=500)
        self.fake.route('POST', MESSAGE, 503, body='unavailable', headers={'Content-Type': 'text/plain'})
        self.assertProviderError(self.send, '503', True, 'sms_server', http_status=503)

    def test_timeout(self):
        self.fake.route('POST', MESSAGE, 202, json={'message_uuid': ['late']}, delay=1.5)
        adapter = self.plivo(timeout=0.5, sms_from='+15005550006')
        self.assertProviderError(lambda: self.send(adapter=adapter), 'timeout', True, 'sms_server')

    def test_bad_credentials_are_refused_locally(self):
        for credentials in ({'auth_id': AUTH_ID, 'auth_token': ''}, {'auth_id': 'nope', 'auth_token': TOKEN}):
            self.assertProviderError(self.plivo(credentials).check_credentials, 'credentials', False, 'sms_acc')
        self.assertFalse(self.fake.requests)

    # -- account, calls, lookups ----------------------------------------------------------------

    def test_check_credentials(self):
        self.fake.route('GET', rf'/v1/Account/{AUTH_ID}/', 200, json={
            'api_id': 'a', 'auth_id': AUTH_ID, 'name': 'Acme Support', 'account_type': 'standard',
            'cash_credits': '12.50'})
        info = self.adapter.check_credentials()
        self.assertEqual(info.name, 'Acme Support')
        self.assertTrue(self.fake.last('GET').headers['authorization'].startswith('Basic '))

    def test_check_credentials_refused(self):
        self.fake.route('GET', rf'/v1/Account/{AUTH_ID}/', 401, json={'error': 'authentication failed'})
        self.assertProviderError(self.adapter.check_credentials, '401', False, 'sms_acc', http_status=401)

    def test_start_call(self):
        self.fake.route('POST', CALL, 201, json={'api_id': 'a', 'message': 'call fired', 'request_uuid': 'req-1'})
        result = self.adapter.start_call(CallRequest(
            to='+14155550123', agent='+14155550111', sender='+15005550006', timeout=25,
            answer_url='https://odoo.example.com/answer', status_callback='https://odoo.example.com/voice_status'))
        self.assertEqual((result.provider_id, result.status), ('req-1', 'initiated'))
        request = self.fake.last('POST', '/Call/')
        self.assertEqual(request.path, f'/v1/Account/{AUTH_ID}/Call/')
        self.assertTrue(request.headers['authorization'].startswith('Basic '))
        body = request.json()
        self.assertEqual((body['from'], body['to'], body['ring_timeout']), ('15005550006', '14155550111', 25))
        self.assertEqual((body['answer_url'], body['answer_method']), ('https://odoo.example.com/answer', 'POST'))
        self.assertEqual(body['hangup_url'], 'https://odoo.example.com/voice_status')
        self.assertEqual(body['ring_url'], 'https://odoo.example.com/voice_status')

    def test_start_call_error_is_not_retried_by_the_sdk(self):
        self.fake.route('POST', CALL, 500, json={'error': 'internal error'})
        call = CallRequest(to='+14155550123', agent='+14155550111', sender='+15005550006',
                           answer_url='https://odoo.example.com/answer')
        self.assertProviderError(lambda: self.adapter.start_call(call), '500', True, 'sms_server', http_status=500)
        self.assertEqual(len(self.fake.requests), 1, 'our queue retries, not the SDK fallback hosts')

    def test_start_call_needs_answer_url(self):
        call = CallRequest(to='+14155550123', agent='+14155550111', sender='+15005550006')
        self.assertProviderError(lambda: self.adapter.start_call(call), 'no_answer_url', False, 'unknown')

    def test_dial_response(self):
        body, content_type = self.adapter.dial_response('+14155550123', '+15005550006', 20)
        self.assertEqual(content_type, 'application/xml')
        self.assertIn('<Dial', body)
        self.assertIn('callerId="15005550006"', body)
        self.assertIn('<Number>14155550123</Number>', body)

    def test_fetch_status(self):
        self.fake.route('GET', rf'/v1/Account/{AUTH_ID}/Message/3e6e-uuid/', 200, json={
            'message_uuid': '3e6e-uuid', 'message_state': 'undelivered', 'error_code': '50',
            'to_number': '14155550123', 'from_number': '15005550006'})
        update = self.adapter.fetch_status('3e6e-uuid')
        self.assertEqual(self.fake.last('GET').path, f'/v1/Account/{AUTH_ID}/Message/3e6e-uuid/')
        self.assertEqual((update.status, update.error_code, update.failure_type),
                         ('undelivered', '50', 'sms_number_format'))
        self.assertEqual(update.recipient, '+14155550123')

    def test_download_media_with_basic_auth(self):
        self.fake.route('GET', r'/media/m1', 302, headers={'Location': f'{self.fake.base_url}/signed/m1'})
        self.fake.route('GET', r'/signed/m1', 200, body=b'GIF89a', headers={'Content-Type': 'image/gif'})
        content, content_type = self.adapter.download_media(Media(url=f'{self.fake.base_url}/media/m1'))
        self.assertEqual((content, content_type), (b'GIF89a', 'image/gif'))
        expected_auth = 'Basic ' + base64.b64encode(f'{AUTH_ID}:{TOKEN}'.encode()).decode()
        self.assertEqual(self.fake.last('GET', '/media/m1').headers['authorization'], expected_auth)

    # -- webhook signatures ---------------------------------------------------------------------

    def signed_v3(self, url, form, method='POST', token=TOKEN):
        params = {}
        for key, value in form:
            params.setdefault(key, []).append(value)
        params = {key: values[0] if len(values) == 1 else values for key, values in params.items()}
        return WebhookRequest(method=method, url=url, form=form, headers={
            'X-Plivo-Signature-V3': sign_v3(method, url, params, token=token),
            'X-Plivo-Signature-V3-Nonce': NONCE})

    def test_verify_webhook_v3(self):
        url = HOOK.format('status')
        form = [('MessageUUID', 'u1'), ('Status', 'delivered'), ('To', '14155550123')]
        self.assertSignatureChecked(self.adapter, self.signed_v3, url, form,
                                    [('MessageUUID', 'u1'), ('Status', 'failed'), ('To', '14155550123')])
        no_nonce = self.signed_v3(url, form)
        del no_nonce.headers['X-Plivo-Signature-V3-Nonce']
        self.assertFalse(self.adapter.verify_webhook(no_nonce))
        self.assertFalse(self.adapter.verify_webhook(WebhookRequest(method='POST', url=url, form=form)))

    def test_verify_webhook_v3_repeated_keys_and_get(self):
        url = HOOK.format('inbound')
        form = [('MessageUUID', 'u2'), ('Media', 'https://a'), ('Media', 'https://b')]
        self.assertTrue(self.adapter.verify_webhook(self.signed_v3(url, form)))
        dropped = self.signed_v3(url, form)
        dropped.form = form[:2]
        self.assertFalse(self.adapter.verify_webhook(dropped))

        get_url = url + '&MessageUUID=u3&From=14155550123'
        self.assertTrue(self.adapter.verify_webhook(self.signed_v3(get_url, [], method='GET')))
        tampered = self.signed_v3(get_url, [], method='GET')
        tampered.url = get_url.replace('u3', 'u4')
        self.assertFalse(self.adapter.verify_webhook(tampered))

    def test_verify_webhook_refuses_v2_only(self):
        url = HOOK.format('inbound')
        form = [('MessageUUID', 'u1'), ('Text', 'hi')]

        def request(signature, nonce=NONCE):
            return WebhookRequest(method='POST', url=url, form=form, headers={
                'X-Plivo-Signature-V2': signature, 'X-Plivo-Signature-V2-Nonce': nonce})

        self.assertFalse(self.adapter.verify_webhook(request(sign_v2(url))), 'V2 does not cover the parameters')
        self.assertFalse(self.adapter.verify_webhook(request(sign_v2(url.replace('https', 'http')))))
        self.assertFalse(self.adapter.verify_webhook(request(sign_v2(url, token='wrong-token'))))
        self.assertFalse(self.adapter.verify_webhook(request(sign_v2(url), nonce='')))
        self.assertFalse(self.adapter.verify_webhook(request(sign_v2(url), nonce='other-nonce')))

    # -- webhook parsing ------------------------------------------------------------------------

    def parse(self, purpose, form):
        return self.adapter.parse_webhook(WebhookRequest(method='POST', url=HOOK.format(purpose), form=form),
                                          purpose)

    def test_parse_inbound_sms(self):
        [message] = self.parse('inbound', [
            ('From', '14155550123'), ('To', '15005550006'), ('Type', 'sms'), ('Text', 'STOP'),
            ('MessageUUID', 'in-1'), ('Units', '1'), ('MessageIntent', 'optout')])
        self.assertEqual((message.provider_id, message.sender, message.recipient, message.body),
                         ('in-1', '+14155550123', '+15005550006', 'STOP'))
        self.assertEqual((message.channel, message.message_type, message.optout), ('sms', 'text', 'stop'))

    def test_parse_inbound_mms(self):
        [message] = self.parse('inbound', [
            ('From', '14155550123'), ('To', '15005550006'), ('Type', 'mms'), ('Body', 'look'),
            ('MessageUUID', 'in-2'), ('MediaCount', '2'), ('Media2', 'https://media.plivo.com/b'),
            ('Media1', 'https://media.plivo.com/a'), ('MediaCount', '2')])
        self.assertEqual((message.channel, message.body, message.message_type), ('mms', 'look', 'media'))
        self.assertEqual([media.url for media in message.media],
                         ['https://media.plivo.com/a', 'https://media.plivo.com/b'])
        [zero_based] = self.parse('inbound', [('From', '14155550123'), ('MessageUUID', 'in-3'),
                                              ('Type', 'mms'), ('Media0', 'https://media.plivo.com/z')])
        self.assertEqual([media.url for media in zero_based.media], ['https://media.plivo.com/z'])

    def test_parse_inbound_whatsapp(self):
        [message] = self.parse('inbound', [
            ('From', '447700900123'), ('To', '14155238886'), ('Type', 'whatsapp'), ('Body', 'Hi'),
            ('ContentType', 'text'), ('MessageUUID', 'in-4')])
        self.assertEqual((message.channel, message.sender, message.body), ('whatsapp', '+447700900123', 'Hi'))

    def test_parse_statuses(self):
        expected = {
            'queued': ('queued', ''), 'sent': ('sent', ''), 'delivered': ('delivered', ''), 'read': ('read', ''),
            'failed': ('failed', 'sms_optout'), 'undelivered': ('undelivered', 'unknown'),
            'rejected': ('undelivered', 'sms_number_format'),
        }
        codes = {'failed': '200', 'undelivered': '70', 'rejected': '50'}
        for sequence, (provider_status, (status, failure_type)) in enumerate(expected.items()):
            form = [('MessageUUID', 'u1'), ('Status', provider_status), ('To', '14155550123'),
                    ('Sequence', str(sequence))]
            if provider_status in codes:
                form.append(('ErrorCode', codes[provider_status]))
            [update] = self.parse('status', form)
            self.assertEqual((update.provider_id, update.status, update.provider_status, update.failure_type),
                             ('u1', status, provider_status, failure_type))
            self.assertEqual(update.error_code, codes.get(provider_status, ''))
            self.assertEqual((update.recipient, update.raw['Sequence']), ('+14155550123', str(sequence)))

    def test_status_event_key_includes_sequence(self):
        def request(status, sequence):
            return WebhookRequest(method='POST', url=HOOK.format('status'), form=[
                ('MessageUUID', 'u1'), ('Status', status), ('Sequence', sequence)])
        key = self.adapter.event_key(request('sent', '1'), 'status')
        self.assertEqual(key, self.adapter.event_key(request('sent', '1'), 'status'))
        self.assertNotEqual(key, self.adapter.event_key(request('sent', '2'), 'status'))
        self.assertNotEqual(key, self.adapter.event_key(request('delivered', '1'), 'status'))

    def test_parse_call_events(self):
        [answer] = self.parse('voice', [
            ('CallUUID', 'call-1'), ('From', '14155550123'), ('To', '15005550006'), ('CallStatus', 'ringing'),
            ('Direction', 'inbound')])
        self.assertEqual((answer.provider_id, answer.status, answer.direction, answer.sender),
                         ('call-1', 'ringing', 'inbound', '+14155550123'))
        expected = [('ringing', 'ringing'), ('in-progress', 'in_progress'), ('completed', 'completed'),
                    ('busy', 'busy'), ('timeout', 'no_answer'), ('no-answer', 'no_answer'), ('failed', 'failed')]
        for provider_status, status in expected:
            [event] = self.parse('voice_status', [
                ('CallUUID', 'call-2'), ('CallStatus', provider_status), ('Direction', 'outbound'),
                ('ALegRequestUUID', 'req-1'), ('From', '15005550006'), ('To', '14155550111')])
            self.assertEqual((event.status, event.provider_status, event.parent_id, event.direction),
                             (status, provider_status, 'req-1', 'outbound'))
        [hangup] = self.parse('voice_status', [
            ('CallUUID', 'call-2'), ('CallStatus', 'completed'), ('Duration', '42'), ('BillDuration', '60'),
            ('HangupCause', 'NORMAL_CLEARING'), ('ALegRequestUUID', 'req-1')])
        self.assertEqual((hangup.duration, hangup.hangup_cause), (42, 'NORMAL_CLEARING'))

    def test_parse_malformed(self):
        for purpose, form in [
            ('inbound', [('From', '14155550123'), ('Text', 'no uuid')]),
            ('status', [('MessageUUID', 'u1')]),
            ('voice_status', [('CallStatus', 'completed')]),
            ('voice_status', [('CallUUID', 'c1')]),
            ('voice_status', [('CallUUID', 'c1'), ('CallStatus', 'completed'), ('Duration', 'long')]),
        ]:
            with self.assertRaises(ValueError, msg=f'{purpose} {form}'):
                self.parse(purpose, form)
        [unknown] = self.parse('status', [('MessageUUID', 'u1'), ('Status', 'teleported')])
        self.assertEqual((unknown.kind, unknown.reason), ('unparsed', "unknown message status 'teleported' for message u1"))

    def test_webhook_ack(self):
        for purpose in ('inbound', 'status', 'voice_status'):
            self.assertEqual(self.adapter.webhook_ack(purpose), ('', 'text/plain'))
