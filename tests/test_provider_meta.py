import hashlib
import hmac
import json

from odoo.tests import tagged

from ..providers import ProviderError
from ..providers.base import CallRequest, Media, Outbound, Template, WebhookRequest
from .common import CommAdapterCase

PHONE_NUMBER_ID = '106540352242922'
APP_SECRET = 'meta-app-secret-0123456789'
CREDENTIALS = {'access_token': 'EAAGtoken123', 'app_secret': APP_SECRET, 'verify_token': 'verify-me',
               'phone_number_id': PHONE_NUMBER_ID, 'business_account_id': '102290129340398'}
MESSAGES_PATH = rf'/v21\.0/{PHONE_NUMBER_ID}/messages'
SENT = {'messaging_product': 'whatsapp', 'contacts': [{'input': '+447700900123', 'wa_id': '447700900123'}],
        'messages': [{'id': 'wamid.HBgMNDQ3NzAwOTAwMTIzFQIAERgSQ0E', 'message_status': 'accepted'}]}
CUSTOMER = '+447700900123'
URL = 'https://odoo.example.com/comm/webhook/tok/inbound'


def _error(code, message, details=None):
    error = {'message': message, 'type': 'OAuthException', 'code': code, 'fbtrace_id': 'AbCdEf'}
    if details:
        error['error_data'] = {'messaging_product': 'whatsapp', 'details': details}
    return {'error': error}


def _webhook(value, field='messages'):
    return {'object': 'whatsapp_business_account', 'entry': [{'id': '102290129340398', 'changes': [
        {'field': field, 'value': value}]}]}


def _value(messages=(), statuses=(), name='Ann'):
    value = {'messaging_product': 'whatsapp',
             'metadata': {'display_phone_number': '15550001111', 'phone_number_id': PHONE_NUMBER_ID}}
    if messages:
        value['contacts'] = [{'profile': {'name': name}, 'wa_id': '447700900123'}]
        value['messages'] = list(messages)
    if statuses:
        value['statuses'] = list(statuses)
    return value


def _message(kind, content, wamid='wamid.AAA', **extra):
    return {'from': '447700900123', 'id': wamid, 'timestamp': '1735732800', 'type': kind, kind: content, **extra}


def _status(status, wamid='wamid.BBB', errors=None):
    data = {'id': wamid, 'status': status, 'timestamp': '1735732900', 'recipient_id': '447700900123',
            'biz_opaque_callback_data': 'odoo:sms:42'}
    if errors:
        data['errors'] = errors
    return data


@tagged('post_install', '-at_install')
class TestMetaAdapter(CommAdapterCase):

    def setUp(self):
        super().setUp()
        self.adapter = self.make_adapter('meta', CREDENTIALS)

    def signed(self, payload, secret=APP_SECRET):
        body = json.dumps(payload).encode()
        signature = 'sha256=' + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return WebhookRequest('POST', URL, body=body, headers={
            'Content-Type': 'application/json', 'X-Hub-Signature-256': signature})

    def parse(self, *messages, statuses=()):
        return self.adapter.parse_webhook(self.signed(_webhook(_value(messages, statuses))), 'inbound')

    def assertRaisesProvider(self, call, **expected):
        with self.assertRaises(ProviderError) as caught:
            call()
        for name, value in expected.items():
            self.assertEqual(getattr(caught.exception, name), value, name)
        self.assertNotIn(CREDENTIALS['access_token'], caught.exception.message)
        return caught.exception

    def send(self, **values):
        return self.adapter.send_message(Outbound(to=CUSTOMER, channel='whatsapp', **values))

    # -- send ---------------------------------------------------------------------------------

    def test_send_text(self):
        self.fake.route('POST', MESSAGES_PATH, 200, json=SENT)
        result = self.send(body='Hi Ann', client_ref='odoo:msg:9')
        request = self.fake.last('POST', '/messages')
        self.assertEqual(request.path, f'/v21.0/{PHONE_NUMBER_ID}/messages')
        self.assertEqual(request.headers['authorization'], 'Bearer EAAGtoken123')
        self.assertEqual(request.json(), {
            'messaging_product': 'whatsapp', 'recipient_type': 'individual', 'to': '447700900123',
            'type': 'text', 'text': {'body': 'Hi Ann', 'preview_url': False},
            'biz_opaque_callback_data': 'odoo:msg:9'})
        self.assertEqual((result.provider_id, result.status, result.recipient_id),
                         ('wamid.HBgMNDQ3NzAwOTAwMTIzFQIAERgSQ0E', 'queued', '447700900123'))

    def test_send_media_by_link(self):
        self.fake.route('POST', MESSAGES_PATH, 200, json=SENT)
        cases = [
            (Media(url='https://cdn.example.com/a.jpg', content_type='image/jpeg'), 'Look',
             'image', {'link': 'https://cdn.example.com/a.jpg', 'caption': 'Look'}),
            (Media(url='https://cdn.example.com/invoice.pdf', filename='invoice.pdf'), 'Your invoice',
             'document', {'link': 'https://cdn.example.com/invoice.pdf', 'caption': 'Your invoice',
                          'filename': 'invoice.pdf'}),
            (Media(url='https://cdn.example.com/v.ogg', content_type='audio/ogg'), 'ignored',
             'audio', {'link': 'https://cdn.example.com/v.ogg'}),
            (Media(url='https://cdn.example.com/clip.mp4', caption='Clip'), '',
             'video', {'link': 'https://cdn.example.com/clip.mp4', 'caption': 'Clip'}),
        ]
        for media, body, kind, expected in cases:
            with self.subTest(kind=kind):
                self.send(body=body, media=[media])
                sent = self.fake.last('POST', '/messages').json()
                self.assertEqual((sent['type'], sent[kind]), (kind, expected))
                self.assertNotIn('text', sent)

    def test_send_template(self):
        self.fake.route('POST', MESSAGES_PATH, 200, json=SENT)
        components = [
            {'type': 'header', 'parameters': [{'type': 'image', 'image': {'link': 'https://cdn.example.com/h.png'}}]},
            {'type': 'body', 'parameters': [{'type': 'text', 'text': 'Ann'}, {'type': 'text', 'text': '#1042'}]},
        ]
        self.send(template=Template(name='order_update', language='en_US', components=components))
        sent = self.fake.last('POST', '/messages').json()
        self.assertEqual(sent['type'], 'template')
        self.assertEqual(sent['template'], {'name': 'order_update', 'language': {'code': 'en_US'},
                                            'components': components})

    def test_api_version_option(self):
        adapter = self.make_adapter('meta', CREDENTIALS, api_version='v22.0')
        self.fake.route('POST', rf'/v22\.0/{PHONE_NUMBER_ID}/messages', 200, json=SENT)
        adapter.send_message(Outbound(to=CUSTOMER, channel='whatsapp', body='Hi'))
        self.assertEqual(self.fake.last('POST').path, f'/v22.0/{PHONE_NUMBER_ID}/messages')

    def test_whatsapp_only(self):
        self.assertRaisesProvider(lambda: self.adapter.send_message(Outbound(to=CUSTOMER, body='Hi')),
                                  code='unsupported')
        self.assertRaisesProvider(lambda: self.send(body=''), code='empty_message')
        self.assertRaisesProvider(lambda: self.adapter.start_call(CallRequest(to=CUSTOMER, agent='+32470123456')),
                                  code='unsupported')
        self.assertIsNone(self.adapter.fetch_status('wamid.X'))
        self.assertFalse(self.fake.requests)

    def test_errors_by_meta_code(self):
        cases = [
            (400, _error(131026, 'Message Undeliverable.'), {},
             dict(code='131026', failure_type='sms_number_format', retryable=False, http_status=400)),
            (400, _error(100, '(#100) Invalid parameter', 'Parameter to is invalid'), {},
             dict(code='100', failure_type='unknown', retryable=False)),
            (400, _error(131047, 'Re-engagement message'), {},
             dict(code='131047', retryable=False)),
            (401, _error(190, 'Error validating access token: Session has expired'), {},
             dict(code='190', failure_type='sms_acc', retryable=False, http_status=401)),
            (429, _error(4, '(#4) Application request limit reached'), {'Retry-After': '30'},
             dict(code='4', retryable=True, retry_after=30.0)),
            (400, _error(131056, '(#131056) Pair rate limit hit'), {},
             dict(code='131056', retryable=True, http_status=400)),
            (500, _error(131000, 'Something went wrong'), {}, dict(code='131000', retryable=True)),
            (503, {}, {}, dict(code='503', retryable=True, failure_type='sms_server')),
        ]
        for status, body, headers, expected in cases:
            with self.subTest(code=expected['code']):
                self.fake.route('POST', MESSAGES_PATH, status, json=body, headers=headers)
                error = self.assertRaisesProvider(lambda: self.send(body='Hi'), **expected)
                if body:
                    self.assertIn(body['error']['message'], error.message)
                    self.assertIn(body['error'].get('error_data', {}).get('details', ''), error.message)

    def test_timeout_is_retryable(self):
        adapter = self.make_adapter('meta', CREDENTIALS, timeout=0.5)
        self.fake.route('POST', MESSAGES_PATH, 200, json=SENT, delay=1.5)
        self.assertRaisesProvider(lambda: adapter.send_message(Outbound(to=CUSTOMER, channel='whatsapp', body='Hi')),
                                  code='timeout', retryable=True)

    # -- account, media -----------------------------------------------------------------------

    def test_check_credentials(self):
        self.fake.route('GET', rf'/v21\.0/{PHONE_NUMBER_ID}', 200, json={
            'display_phone_number': '+1 555-000-1111', 'verified_name': 'Acme Shop', 'quality_rating': 'GREEN',
            'id': PHONE_NUMBER_ID})
        info = self.adapter.check_credentials()
        request = self.fake.last('GET', PHONE_NUMBER_ID)
        self.assertEqual(dict(request.query), {'fields': 'display_phone_number,verified_name,quality_rating'})
        self.assertEqual(request.headers['authorization'], 'Bearer EAAGtoken123')
        self.assertEqual(info.name, 'Acme Shop (+1 555-000-1111)')

        self.fake.route('GET', rf'/v21\.0/{PHONE_NUMBER_ID}', 401, json=_error(190, 'Invalid OAuth access token.'))
        self.assertRaisesProvider(self.adapter.check_credentials, failure_type='sms_acc', retryable=False,
                                  http_status=401)

    def test_download_media_in_two_steps(self):
        self.fake.route('GET', r'/v21\.0/1234567890', 200, json={
            'url': f'{self.fake.base_url}/lookaside/whatsapp_business/?mid=1234567890', 'mime_type': 'image/jpeg',
            'sha256': 'abc', 'file_size': 4, 'id': '1234567890', 'messaging_product': 'whatsapp'})
        self.fake.route('GET', r'/lookaside/whatsapp_business/', 200, body=b'JPEG',
                        headers={'Content-Type': 'image/jpeg'})
        content, content_type = self.adapter.download_media(Media(media_id='1234567890', content_type='image/jpeg'))
        self.assertEqual((content, content_type), (b'JPEG', 'image/jpeg'))
        self.assertEqual([(r.method, r.path, r.headers['authorization']) for r in self.fake.requests], [
            ('GET', '/v21.0/1234567890', 'Bearer EAAGtoken123'),
            ('GET', '/lookaside/whatsapp_business/', 'Bearer EAAGtoken123')])

    # -- signatures ---------------------------------------------------------------------------

    def test_verify_signature(self):
        payload = _webhook(_value([_message('text', {'body': 'Hi'})]))
        request = self.signed(payload)
        self.assertTrue(self.adapter.verify_webhook(request))
        header = request.headers['X-Hub-Signature-256']
        self.assertTrue(self.adapter.verify_webhook(WebhookRequest(
            'POST', URL, body=request.body, headers={'x-hub-signature-256': 'sha256=' + header[7:].upper()})))
        for label, body, headers in (
            ('tampered body', request.body.replace(b'Hi', b'Ho'), request.headers),
            ('re-serialized JSON', json.dumps(payload, indent=2).encode(), request.headers),
            ('wrong secret', request.body, self.signed(payload, secret='another-secret').headers),
            ('missing header', request.body, {'Content-Type': 'application/json'}),
            ('sha1', request.body, {'X-Hub-Signature-256': 'sha1=' + hmac.new(
                APP_SECRET.encode(), request.body, hashlib.sha1).hexdigest()}),
        ):
            with self.subTest(label):
                self.assertFalse(self.adapter.verify_webhook(WebhookRequest('POST', URL, body=body, headers=headers)))
        no_secret = self.make_adapter('meta', {**CREDENTIALS, 'app_secret': ''})
        self.assertFalse(no_secret.verify_webhook(request))

    def test_handshake(self):
        good = {'hub.mode': 'subscribe', 'hub.challenge': '1158201444', 'hub.verify_token': 'verify-me'}
        self.assertEqual(self.adapter.verify_handshake(good), '1158201444')
        self.assertIsNone(self.adapter.verify_handshake({**good, 'hub.verify_token': 'verify-you'}))
        self.assertIsNone(self.adapter.verify_handshake({**good, 'hub.mode': 'unsubscribe'}))
        self.assertIsNone(self.adapter.verify_handshake({'hub.mode': 'subscribe', 'hub.challenge': '1'}))
        no_token = self.make_adapter('meta', {**CREDENTIALS, 'verify_token': ''})
        self.assertIsNone(no_token.verify_handshake({**good, 'hub.verify_token': ''}))

    # -- parsing ------------------------------------------------------------------------------

    def test_parse_text(self):
        [message] = self.parse(_message('text', {'body': 'Hi'}, context={'from': '15550001111', 'id': 'wamid.PREV'}))
        self.assertEqual((message.kind, message.provider_id, message.sender, message.recipient),
                         ('message', 'wamid.AAA', CUSTOMER, '+15550001111'))
        self.assertEqual((message.body, message.channel, message.message_type, message.profile_name),
                         ('Hi', 'whatsapp', 'text', 'Ann'))
        self.assertEqual((message.timestamp, message.reply_to), (1735732800.0, 'wamid.PREV'))

    def test_parse_media(self):
        [image, document, voice] = self.parse(
            _message('image', {'id': 'MID1', 'mime_type': 'image/jpeg', 'sha256': 'x', 'caption': 'receipt'},
                     wamid='wamid.IMG'),
            _message('document', {'id': 'MID2', 'mime_type': 'application/pdf', 'sha256': 'y',
                                  'filename': 'invoice.pdf'}, wamid='wamid.DOC'),
            _message('audio', {'id': 'MID3', 'mime_type': 'audio/ogg; codecs=opus', 'sha256': 'z', 'voice': True},
                     wamid='wamid.AUD'))
        self.assertEqual((image.message_type, image.body), ('image', 'receipt'))
        self.assertEqual((image.media[0].media_id, image.media[0].content_type, image.media[0].caption),
                         ('MID1', 'image/jpeg', 'receipt'))
        self.assertEqual((document.media[0].media_id, document.media[0].filename), ('MID2', 'invoice.pdf'))
        self.assertEqual((voice.message_type, voice.media[0].content_type), ('audio', 'audio/ogg; codecs=opus'))

    def test_parse_structured_types(self):
        events = self.parse(
            _message('location', {'latitude': 51.5072, 'longitude': -0.1276, 'name': 'Office',
                                  'address': '1 Main St'}, wamid='wamid.LOC'),
            _message('contacts', [{'name': {'formatted_name': 'Bob Baker', 'first_name': 'Bob'},
                                   'phones': [{'phone': '+1 555 0100', 'wa_id': '15550100', 'type': 'CELL'}]}],
                     wamid='wamid.CON'),
            _message('interactive', {'type': 'button_reply', 'button_reply': {'id': 'yes', 'title': 'Yes'}},
                     wamid='wamid.BTN'),
            _message('interactive', {'type': 'list_reply', 'list_reply': {'id': 'r2', 'title': 'Tuesday',
                                                                          'description': '9-12'}},
                     wamid='wamid.LST'),
            _message('button', {'payload': 'ok', 'text': 'Confirm'}, wamid='wamid.QR'),
            _message('reaction', {'message_id': 'wamid.OUT', 'emoji': '👍'}, wamid='wamid.REA'),
            {'from': '447700900123', 'id': 'wamid.UNS', 'timestamp': '1735732800', 'type': 'unsupported',
             'errors': [{'code': 131051, 'title': 'Message type unknown', 'message': 'Message type unknown'}]},
        )
        # the text is what the customer wrote or chose, exactly; the rest is structured content
        self.assertEqual([(event.message_type, event.body) for event in events], [
            ('location', ''), ('contacts', ''), ('interactive', 'Yes'), ('interactive', 'Tuesday'),
            ('button', 'Confirm'), ('reaction', ''), ('unsupported', ''),
        ])
        self.assertEqual([event.content for event in events], [
            {'location': {'latitude': 51.5072, 'longitude': -0.1276, 'name': 'Office', 'address': '1 Main St'}},
            {'contacts': [{'name': 'Bob Baker', 'phones': [{'phone': '+1 555 0100', 'wa_id': '15550100'}],
                           'emails': []}]},
            {'reply': {'id': 'yes', 'title': 'Yes', 'description': ''}},
            {'reply': {'id': 'r2', 'title': 'Tuesday', 'description': '9-12'}},
            {'reply': {'payload': 'ok', 'title': 'Confirm'}},
            {'reaction': {'emoji': '👍'}},
            {'unsupported': {'type': 'unsupported', 'reason': '(131051) Message type unknown'}},
        ])
        self.assertEqual(events[5].reply_to, 'wamid.OUT')
        self.assertEqual(events[0].raw['location']['latitude'], 51.5072, 'the payload kept in raw')

    def test_parse_messages_and_statuses_of_one_request(self):
        request = self.signed(_webhook(_value(
            [_message('text', {'body': 'one'}, wamid='wamid.M1'), _message('text', {'body': 'two'}, wamid='wamid.M2')],
            [_status('delivered', wamid='wamid.S1')])))
        events = self.adapter.parse_webhook(request, 'inbound')
        self.assertEqual([(event.kind, event.provider_id) for event in events],
                         [('message', 'wamid.M1'), ('message', 'wamid.M2'), ('status', 'wamid.S1')])
        key = self.adapter.event_key(request, 'inbound')
        reordered = self.signed(_webhook(_value(
            [_message('text', {'body': 'two'}, wamid='wamid.M2'), _message('text', {'body': 'one'}, wamid='wamid.M1')],
            [_status('delivered', wamid='wamid.S1')])))
        self.assertEqual(self.adapter.event_key(reordered, 'inbound'), key)
        read = self.signed(_webhook(_value(statuses=[_status('read', wamid='wamid.S1')])))
        delivered = self.signed(_webhook(_value(statuses=[_status('delivered', wamid='wamid.S1')])))
        self.assertNotEqual(self.adapter.event_key(read, 'inbound'), self.adapter.event_key(delivered, 'inbound'))

    def test_parse_statuses(self):
        events = self.parse(statuses=[
            _status('sent', wamid='wamid.1'), _status('delivered', wamid='wamid.2'), _status('read', wamid='wamid.3'),
            _status('failed', wamid='wamid.4', errors=[{'code': 131047, 'title': 'Re-engagement message',
                                                        'message': 'Re-engagement message',
                                                        'error_data': {'details': 'More than 24 hours'}}]),
            _status('failed', wamid='wamid.5', errors=[{'code': 131026, 'title': 'Message undeliverable'}]),
            _status('failed', wamid='wamid.6', errors=[{'code': 131050, 'title': 'Marketing opt-out'}]),
        ])
        self.assertEqual([(e.provider_id, e.status, e.failure_type, e.error_code) for e in events], [
            ('wamid.1', 'sent', '', ''), ('wamid.2', 'delivered', '', ''), ('wamid.3', 'read', '', ''),
            ('wamid.4', 'failed', 'unknown', '131047'), ('wamid.5', 'failed', 'sms_number_format', '131026'),
            ('wamid.6', 'failed', 'sms_optout', '131050'),
        ])
        self.assertEqual((events[0].client_ref, events[0].recipient, events[0].timestamp),
                         ('odoo:sms:42', CUSTOMER, 1735732900.0))
        self.assertIn('More than 24 hours', events[3].error_message)

    def test_template_webhooks(self):
        template = {'message_template_id': 1234, 'message_template_name': 'order_update',
                    'message_template_language': 'en_US'}
        [update] = self.adapter.parse_webhook(self.signed(_webhook(
            {**template, 'event': 'REJECTED', 'reason': 'INVALID_FORMAT',
             'rejection_info': {'reason': 'Bad variables.', 'recommendation': 'Number them.'}},
            field='message_template_status_update')), 'inbound')
        self.assertEqual((update.kind, update.provider_ref, update.change, update.event, update.status, update.reason,
                          update.name), ('template', '1234', 'status', 'REJECTED', 'rejected',
                                         'INVALID_FORMAT — Bad variables. — Number them.', 'order_update'))
        [flagged] = self.adapter.parse_webhook(self.signed(_webhook(
            {**template, 'event': 'FLAGGED', 'reason': None}, field='message_template_status_update')), 'inbound')
        self.assertEqual((flagged.status, flagged.reason), ('', ''), 'flagged: no status of its own')
        [category] = self.adapter.parse_webhook(self.signed(_webhook(
            {**template, 'previous_category': 'UTILITY', 'new_category': 'MARKETING'},
            field='template_category_update')), 'inbound')
        self.assertEqual((category.change, category.category), ('category', 'marketing'))
        [announced] = self.adapter.parse_webhook(self.signed(_webhook(
            {**template, 'new_category': 'UTILITY', 'correct_category': 'MARKETING',
             'category_update_timestamp': 1760711433}, field='template_category_update')), 'inbound')
        self.assertEqual((announced.category, announced.reason), ('', 'Meta will recategorize it as MARKETING'))
        [quality] = self.adapter.parse_webhook(self.signed(_webhook(
            {**template, 'previous_quality_score': 'GREEN', 'new_quality_score': 'RED'},
            field='message_template_quality_update')), 'inbound')
        self.assertEqual((quality.change, quality.quality), ('quality', 'red'))
        self.assertEqual(self.adapter.parse_webhook(self.signed(_webhook(
            {'phone_number': '15550001111'}, field='account_update')), 'inbound'), [], 'other fields: ignored')
        with self.assertRaises(ValueError):
            self.adapter.parse_webhook(self.signed(_webhook(
                {'event': 'APPROVED'}, field='message_template_status_update')), 'inbound')

    def test_malformed_payloads(self):
        for body in (b'not json', b'[]', b'{"object": "whatsapp_business_account"}'):
            with self.subTest(body=body), self.assertRaises(ValueError):
                self.adapter.parse_webhook(WebhookRequest('POST', URL, body=body), 'inbound')
        # one unreadable message or status is parked with its reason, beside the readable ones
        body = json.dumps(_webhook({'messages': [{'type': 'text', 'text': {'body': 'no id'}},
                                                 _message('text', {'body': 'fine'}, wamid='wamid.OK')],
                                    'statuses': [{'id': 'wamid.X'}]})).encode()
        events = self.adapter.parse_webhook(WebhookRequest('POST', URL, body=body), 'inbound')
        self.assertEqual([event.kind for event in events], ['unparsed', 'message', 'unparsed'])
        self.assertEqual(events[0].reason, "Meta WhatsApp message without id not readable: ValueError no sender (neither from nor from_user_id)")
        self.assertEqual(events[2].reason, "Meta WhatsApp status wamid.X not readable: KeyError 'status'")
