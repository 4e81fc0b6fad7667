import asyncio
import base64
import hashlib
import json
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from odoo.tests import tagged

from ..providers import ProviderError
from ..providers.base import CallRequest, Media, Outbound, Template, WebhookRequest
from .common import CommAdapterCase

SID = 'AC' + '1' * 32
TOKEN = 'twilio-auth-token'
MESSAGES = rf'/2010-04-01/Accounts/{SID}/Messages.json'
CALLS = rf'/2010-04-01/Accounts/{SID}/Calls.json'
HOOK = 'https://odoo.example.com/comm/webhook/tok/{}?account=7'


@tagged('post_install', '-at_install')
class TestTwilioAdapter(CommAdapterCase):

    def setUp(self):
        super().setUp()
        self.adapter = self.twilio(sms_from='+15005550006', whatsapp_from='+14155238886')

    def twilio(self, credentials=None, timeout=5, **options):
        return self.make_adapter('twilio', credentials or {'account_sid': SID, 'auth_token': TOKEN},
                                 timeout=timeout, **options)

    def route_message(self, http_status=201, **payload):
        payload = payload or {'sid': 'SM' + 'a' * 32, 'status': 'queued', 'num_segments': '2'}
        self.fake.route('POST', MESSAGES, http_status, json=payload)

    def assertProviderError(self, operation, code, retryable, failure_type, http_status=None):
        with self.assertRaises(ProviderError) as caught:
            operation()
        error = caught.exception
        self.assertEqual((error.code, error.retryable, error.failure_type),
                         (code, retryable, failure_type))
        if http_status:
            self.assertEqual(error.http_status, http_status)
        self.assertNotIn(TOKEN, error.message)
        return error

    # -- sending --------------------------------------------------------------------------------

    def test_send_sms(self):
        self.route_message()
        result = self.adapter.send_message(Outbound(
            to='+14155550123', body='Hello Ann', status_callback='https://odoo.example.com/cb'))
        request = self.fake.last('POST', 'Messages.json')
        self.assertEqual(request.path, f'/2010-04-01/Accounts/{SID}/Messages.json')
        expected_auth = 'Basic ' + base64.b64encode(f'{SID}:{TOKEN}'.encode()).decode()
        self.assertEqual(request.headers['authorization'], expected_auth)
        self.assertEqual(request.form_dict(), {
            'To': '+14155550123', 'From': '+15005550006', 'Body': 'Hello Ann',
            'StatusCallback': 'https://odoo.example.com/cb'})
        self.assertEqual((result.provider_id, result.status, result.parts), ('SM' + 'a' * 32, 'queued', 2))

    def test_send_mms_repeats_media_url(self):
        self.route_message()
        self.adapter.send_message(Outbound(to='+14155550123', body='Look', channel='mms', media=[
            Media(url='https://cdn.example.com/a.jpg'), Media(url='https://cdn.example.com/b.png')]))
        form = self.fake.last('POST', 'Messages.json').form
        self.assertEqual([value for key, value in form if key == 'MediaUrl'],
                         ['https://cdn.example.com/a.jpg', 'https://cdn.example.com/b.png'])

    def test_send_without_blocking_posts_what_the_blocking_send_posts(self):
        """The dispatch's event loop sends through the SDK's aiohttp client; the form (encoded by us,
        not by aiohttp's form writer) and the authentication are those of the blocking send."""
        self.route_message()
        outbound = Outbound(to='+14155550123', body='Héllo Ann & co = 100%', channel='mms',
                            status_callback='https://odoo.example.com/cb?account=7', media=[
                                Media(url='https://cdn.example.com/a.jpg'), Media(url='https://cdn.example.com/b.png')])

        async def send():
            async with self.adapter.async_client() as client:
                return await self.adapter.send_message_async(outbound, client)
        result = asyncio.run(send())
        sent_async = self.fake.last('POST', 'Messages.json')
        self.adapter.send_message(outbound)
        sent = self.fake.last('POST', 'Messages.json')
        self.assertIsNot(sent, sent_async)
        self.assertEqual(sorted(sent_async.form), sorted(sent.form))
        self.assertEqual(sent_async.form_dict()['Body'], 'Héllo Ann & co = 100%')
        self.assertEqual([value for key, value in sent_async.form if key == 'MediaUrl'],
                         ['https://cdn.example.com/a.jpg', 'https://cdn.example.com/b.png'])
        self.assertEqual(sent_async.headers['content-type'], 'application/x-www-form-urlencoded')
        self.assertEqual(sent_async.headers['authorization'], sent.headers['authorization'])
        self.assertEqual((result.provider_id, result.status, result.parts), ('SM' + 'a' * 32, 'queued', 2))

    def test_send_with_messaging_service(self):
        self.route_message(sid='SM1', status='accepted')
        adapter = self.twilio({'account_sid': SID, 'auth_token': TOKEN, 'messaging_service_sid': 'MG' + '2' * 32})
        result = adapter.send_message(Outbound(to='+14155550123', body='Hi'))
        form = self.fake.last('POST', 'Messages.json').form_dict()
        self.assertEqual(form['MessagingServiceSid'], 'MG' + '2' * 32)
        self.assertNotIn('From', form)
        self.assertEqual(result.status, 'queued', 'accepted is normalized to queued')

    def test_send_without_sender_is_refused_locally(self):
        self.assertProviderError(
            lambda: self.twilio().send_message(Outbound(to='+14155550123', body='Hi')),
            'no_sender', False, 'unknown')
        self.assertFalse(self.fake.requests)

    def test_send_whatsapp_freeform_and_template(self):
        self.route_message()
        self.adapter.send_message(Outbound(to='+447700900123', body='Hi', channel='whatsapp'))
        form = self.fake.last('POST', 'Messages.json').form_dict()
        self.assertEqual((form['To'], form['From'], form['Body']),
                         ('whatsapp:+447700900123', 'whatsapp:+14155238886', 'Hi'))

        self.adapter.send_message(Outbound(to='+447700900123', channel='whatsapp', template=Template(
            content_sid='HX' + 'b' * 32, variables={'1': 'Ann', '2': '12:30'})))
        form = self.fake.last('POST', 'Messages.json').form_dict()
        self.assertEqual(form['ContentSid'], 'HX' + 'b' * 32)
        self.assertEqual(json.loads(form['ContentVariables']), {'1': 'Ann', '2': '12:30'})
        self.assertNotIn('Body', form)
        self.assertEqual(form['To'], 'whatsapp:+447700900123')

    def test_template_without_content_sid_is_unsupported(self):
        self.assertProviderError(lambda: self.adapter.send_message(Outbound(
            to='+447700900123', channel='whatsapp', template=Template(name='order_update'))),
            'unsupported', False, 'unknown')

    # -- errors ---------------------------------------------------------------------------------

    def test_error_400_invalid_number(self):
        self.fake.route('POST', MESSAGES, 400, json={
            'code': 21211, 'message': "The 'To' number +1555 is not a valid phone number.",
            'more_info': 'https://www.twilio.com/docs/errors/21211', 'status': 400})
        error = self.assertProviderError(
            lambda: self.adapter.send_message(Outbound(to='+1555', body='Hi')),
            '21211', False, 'sms_number_format', http_status=400)
        self.assertIn('not a valid phone number', error.message)

    def test_error_400_unknown_code_falls_back_to_http_status(self):
        self.fake.route('POST', MESSAGES, 400, json={'code': 21999, 'message': 'Odd', 'status': 400})
        self.assertProviderError(lambda: self.adapter.send_message(Outbound(to='+14155550123', body='Hi')),
                                 '21999', False, 'unknown', http_status=400)

    def test_error_401(self):
        self.fake.route('POST', MESSAGES, 401, json={'code': 20003, 'message': 'Authenticate', 'status': 401})
        self.assertProviderError(lambda: self.adapter.send_message(Outbound(to='+14155550123', body='Hi')),
                                 '20003', False, 'sms_acc', http_status=401)

    def test_error_429_honours_retry_after(self):
        self.fake.route('POST', MESSAGES, 429, json={'code': 20429, 'message': 'Too Many Requests', 'status': 429},
                        headers={'Retry-After': '7'})
        error = self.assertProviderError(
            lambda: self.adapter.send_message(Outbound(to='+14155550123', body='Hi')),
            '20429', True, 'sms_server', http_status=429)
        self.assertEqual(error.retry_after, 7.0)

    def test_error_500(self):
        self.fake.route('POST', MESSAGES, 500, body='<html>oops</html>', headers={'Content-Type': 'text/html'})
        error = self.assertProviderError(
            lambda: self.adapter.send_message(Outbound(to='+14155550123', body='Hi')),
            '500', True, 'sms_server', http_status=500)
        self.assertIsNone(error.retry_after)

    def test_error_rfc9457_service_exception(self):
        # newer Twilio APIs answer RFC 9457 problem details: the SDK raises TwilioServiceException
        self.fake.route('POST', MESSAGES, 400, json={
            'type': 'https://www.twilio.com/docs/errors/21610', 'title': 'Unsubscribed recipient',
            'status': 400, 'code': 21610, 'detail': 'The recipient replied STOP.'})
        self.assertProviderError(lambda: self.adapter.send_message(Outbound(to='+14155550123', body='Hi')),
                                 '21610', False, 'sms_optout', http_status=400)

    def test_timeout(self):
        self.fake.route('POST', MESSAGES, 201, json={'sid': 'SM1', 'status': 'queued'}, delay=1.5)
        adapter = self.twilio(timeout=0.5, sms_from='+15005550006')
        self.assertProviderError(lambda: adapter.send_message(Outbound(to='+14155550123', body='Hi')),
                                 'timeout', True, 'sms_server')

    def test_missing_credentials(self):
        adapter = self.twilio({'account_sid': SID, 'auth_token': ''})
        self.assertProviderError(adapter.check_credentials, 'credentials', False, 'sms_acc')
        self.assertFalse(self.fake.requests)

    # -- account, calls, lookups ----------------------------------------------------------------

    def test_check_credentials(self):
        self.fake.route('GET', rf'/2010-04-01/Accounts/{SID}.json', 200, json={
            'sid': SID, 'friendly_name': 'Acme Support', 'status': 'active', 'type': 'Full'})
        info = self.adapter.check_credentials()
        self.assertEqual((info.name, info.status), ('Acme Support', 'active'))
        self.assertTrue(self.fake.last('GET', f'{SID}.json').headers['authorization'].startswith('Basic '))

    def test_check_credentials_refused(self):
        self.fake.route('GET', rf'/2010-04-01/Accounts/{SID}.json', 401,
                        json={'code': 20003, 'message': 'Authenticate', 'status': 401})
        self.assertProviderError(self.adapter.check_credentials, '20003', False, 'sms_acc', http_status=401)

    def test_start_call_rings_agent_then_dials_customer(self):
        self.fake.route('POST', CALLS, 201, json={'sid': 'CA' + 'c' * 32, 'status': 'queued'})
        result = self.adapter.start_call(CallRequest(
            to='+14155550123', agent='+14155550111', sender='+15005550006', timeout=25,
            status_callback='https://odoo.example.com/voice_status'))
        self.assertEqual((result.provider_id, result.status), ('CA' + 'c' * 32, 'initiated'))
        request = self.fake.last('POST', 'Calls.json')
        self.assertTrue(request.headers['authorization'].startswith('Basic '))
        form = request.form_dict()
        self.assertEqual((form['To'], form['From'], form['Timeout']), ('+14155550111', '+15005550006', '25'))
        self.assertEqual(form['StatusCallback'], 'https://odoo.example.com/voice_status')
        self.assertEqual(form['StatusCallbackMethod'], 'POST')
        self.assertEqual(form['StatusCallbackEvent'], ['initiated', 'ringing', 'answered', 'completed'])
        dial = ET.fromstring(form['Twiml']).find('Dial')
        self.assertEqual(dial.get('callerId'), '+15005550006')
        self.assertEqual(dial.find('Number').text, '+14155550123')

    def test_fetch_status(self):
        self.fake.route('GET', rf'/2010-04-01/Accounts/{SID}/Messages/SM9.json', 200, json={
            'sid': 'SM9', 'status': 'undelivered', 'error_code': 30005, 'error_message': 'Unknown handset',
            'to': '+14155550123'})
        update = self.adapter.fetch_status('SM9')
        self.assertEqual(self.fake.last('GET').path, f'/2010-04-01/Accounts/{SID}/Messages/SM9.json')
        self.assertEqual((update.provider_id, update.status, update.provider_status),
                         ('SM9', 'undelivered', 'undelivered'))
        self.assertEqual((update.error_code, update.failure_type), ('30005', 'sms_number_format'))
        self.assertEqual(update.recipient, '+14155550123')

    def test_download_media_with_basic_auth_follows_redirect(self):
        self.fake.route('GET', r'/media/ME1', 302, body=b'',
                        headers={'Location': f'{self.fake.base_url}/signed/ME1'})
        self.fake.route('GET', r'/signed/ME1', 200, body=b'\x89PNG', headers={'Content-Type': 'image/png'})
        content, content_type = self.adapter.download_media(Media(url=f'{self.fake.base_url}/media/ME1'))
        self.assertEqual((content, content_type), (b'\x89PNG', 'image/png'))
        self.assertTrue(self.fake.last('GET', '/media/ME1').headers['authorization'].startswith('Basic '))

    # -- webhook signatures ---------------------------------------------------------------------

    def signed(self, url, form, token=TOKEN, headers=None):
        signature = RequestValidator(token).compute_signature(url, MultiDict(form))
        return WebhookRequest(method='POST', url=url, form=form,
                              headers={'X-Twilio-Signature': signature, **(headers or {})})

    def test_verify_webhook(self):
        url = HOOK.format('status')
        form = [('MessageSid', 'SM1'), ('MessageStatus', 'delivered'), ('To', '+14155550123')]
        self.assertSignatureChecked(self.adapter, self.signed, url, form,
                                    [('MessageSid', 'SM1'), ('MessageStatus', 'failed'), ('To', '+14155550123')])
        self.assertFalse(self.adapter.verify_webhook(WebhookRequest(method='POST', url=url, form=form)))
        unsigned = self.twilio({'account_sid': SID, 'auth_token': ''})
        self.assertFalse(unsigned.verify_webhook(self.signed(url, form)), 'no token, no trust')

    def test_verify_webhook_keeps_repeated_keys(self):
        url = HOOK.format('inbound')
        form = [('MessageSid', 'MM1'), ('MediaUrl', 'https://a'), ('MediaUrl', 'https://b')]
        self.assertTrue(self.adapter.verify_webhook(self.signed(url, form)))
        dropped = self.signed(url, form)
        dropped.form = form[:2]
        self.assertFalse(self.adapter.verify_webhook(dropped), 'a dropped repeated value')

    def test_verify_webhook_json_body(self):
        body = b'{"event": "x"}'
        url = HOOK.format('status') + '&bodySHA256=' + hashlib.sha256(body).hexdigest()
        signature = RequestValidator(TOKEN).compute_signature(url, {})
        request = WebhookRequest(method='POST', url=url, body=body, headers={
            'Content-Type': 'application/json', 'X-Twilio-Signature': signature})
        self.assertTrue(self.adapter.verify_webhook(request))
        request.body = b'{"event": "y"}'
        self.assertFalse(self.adapter.verify_webhook(request), 'body does not match bodySHA256')

    def test_verify_webhook_shared_key(self):
        """A request announcing a Webhook Shared Key signature is checked with the configured
        shared key and the announced algorithm, never with the Auth Token; without a configured
        key it is refused, with a log line saying why."""
        url = HOOK.format('status')
        form = [('MessageSid', 'SM1'), ('MessageStatus', 'sent')]
        settings = {'X-Twilio-Webhooks-Signature-Settings': 'key=webhooks_sharedkey_1,algorithm=HMAC_SHA256'}
        shared_key = 'webhooks-shared-key-secret'

        def request(key):
            signature = RequestValidator(key).compute_signature(url, dict(form), algorithm='HMAC_SHA256')
            return WebhookRequest(method='POST', url=url, form=form, headers={'X-Twilio-Signature': signature,
                                                                               **settings})
        with self.assertLogs('odoo.addons.comm_gateway.providers.twilio', 'WARNING') as logs:
            self.assertFalse(self.adapter.verify_webhook(request(TOKEN)), 'the Auth Token is not the shared key')
        self.assertIn('no shared key is configured', logs.output[0])
        adapter = self.twilio({'account_sid': SID, 'auth_token': TOKEN, 'webhook_shared_key': shared_key})
        self.assertTrue(adapter.verify_webhook(request(shared_key)))
        self.assertFalse(adapter.verify_webhook(request(TOKEN)))
        self.assertFalse(adapter.verify_webhook(self.signed(url, form, headers=settings)),
                         'a SHA1 Auth Token signature when the settings announce a SHA256 shared key')
        self.assertTrue(adapter.verify_webhook(self.signed(url, form)), 'plain Auth Token signatures still work')

    # -- webhook parsing ------------------------------------------------------------------------

    def parse(self, purpose, form):
        return self.adapter.parse_webhook(WebhookRequest(method='POST', url=HOOK.format(purpose), form=form),
                                          purpose)

    def test_parse_inbound_sms(self):
        [message] = self.parse('inbound', [
            ('MessageSid', 'SM0f'), ('SmsSid', 'SM0f'), ('AccountSid', SID), ('From', '+14155550123'),
            ('To', '+15005550006'), ('Body', 'STOP'), ('NumMedia', '0'), ('OptOutType', 'STOP')])
        self.assertEqual((message.provider_id, message.sender, message.recipient, message.body),
                         ('SM0f', '+14155550123', '+15005550006', 'STOP'))
        self.assertEqual((message.channel, message.message_type, message.optout), ('sms', 'text', 'stop'))
        self.assertEqual(message.media, [])

    def test_parse_inbound_mms(self):
        [message] = self.parse('inbound', [
            ('MessageSid', 'MM1'), ('From', '+14155550123'), ('To', '+15005550006'), ('Body', 'look'),
            ('NumMedia', '2'),
            ('MediaUrl0', 'https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME0'),
            ('MediaContentType0', 'image/jpeg'),
            ('MediaUrl1', 'https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1'),
            ('MediaContentType1', 'application/pdf')])
        self.assertEqual(message.channel, 'mms')
        self.assertEqual([(m.url.rsplit('/', 1)[1], m.content_type) for m in message.media],
                         [('ME0', 'image/jpeg'), ('ME1', 'application/pdf')])

    def test_parse_inbound_whatsapp(self):
        [message] = self.parse('inbound', [
            ('MessageSid', 'SM2'), ('From', 'whatsapp:+447700900123'), ('To', 'whatsapp:+14155238886'),
            ('Body', 'Hi'), ('NumMedia', '0'), ('ProfileName', 'Ann'), ('WaId', '447700900123'),
            ('MessageType', 'text'), ('SmsStatus', 'received')])
        self.assertEqual((message.channel, message.sender, message.recipient, message.profile_name),
                         ('whatsapp', '+447700900123', '+14155238886', 'Ann'))
        self.assertEqual(message.raw['WaId'], '447700900123')

    def test_parse_inbound_whatsapp_location(self):
        [message] = self.parse('inbound', [
            ('MessageSid', 'SM3'), ('From', 'whatsapp:+447700900123'), ('To', 'whatsapp:+14155238886'),
            ('Latitude', '51.5'), ('Longitude', '-0.12'), ('MessageType', 'location')])
        self.assertEqual((message.message_type, message.body), ('location', ''))
        self.assertEqual(message.content, {'location': {'latitude': '51.5', 'longitude': '-0.12'}})

    def test_parse_statuses(self):
        expected = {
            'queued': ('queued', ''), 'sent': ('sent', ''), 'delivered': ('delivered', ''),
            'read': ('read', ''), 'failed': ('failed', 'sms_optout'), 'undelivered': ('undelivered', 'unknown'),
        }
        codes = {'failed': '21610', 'undelivered': '30003'}
        for provider_status, (status, failure_type) in expected.items():
            form = [('MessageSid', 'SM1'), ('MessageStatus', provider_status), ('To', '+14155550123')]
            if provider_status in codes:
                form.append(('ErrorCode', codes[provider_status]))
            [update] = self.parse('status', form)
            self.assertEqual((update.provider_id, update.status, update.provider_status, update.failure_type),
                             ('SM1', status, provider_status, failure_type))
            self.assertEqual(update.error_code, codes.get(provider_status, ''))
            self.assertEqual(update.recipient, '+14155550123')

    def test_status_event_keys(self):
        def request(status):
            return WebhookRequest(method='POST', url=HOOK.format('status'),
                                  form=[('MessageSid', 'SM1'), ('MessageStatus', status)])
        self.assertEqual(self.adapter.event_key(request('sent'), 'status'),
                         self.adapter.event_key(request('sent'), 'status'))
        self.assertNotEqual(self.adapter.event_key(request('sent'), 'status'),
                            self.adapter.event_key(request('delivered'), 'status'))

    def test_event_keys_read_from_the_ids_are_the_parsed_ones(self):
        """The request path keys messages and statuses without parsing their numbers: the same
        keys as the base class derives from the parsed events (a queue filled before dedupes alike)."""
        base = super(type(self.adapter), self.adapter)
        cases = [('inbound', [('MessageSid', 'SM0f'), ('From', '0470 11 22 33'), ('To', '+15005550006')]),
                 ('inbound', [('SmsMessageSid', 'SM1f'), ('From', 'whatsapp:+447700900123')]),
                 ('status', [('MessageSid', 'SM1'), ('MessageStatus', 'delivered')]),
                 ('status', [('SmsSid', 'SM2'), ('SmsStatus', 'undelivered'), ('ErrorCode', '30003')]),
                 ('status', [('MessageSid', 'SM3'), ('MessageStatus', 'no-such-status')])]
        for purpose, form in cases:
            request = WebhookRequest(method='POST', url=HOOK.format(purpose), form=form)
            self.assertEqual(self.adapter.event_key(request, purpose), base.event_key(request, purpose), form)

    def test_parse_call_events(self):
        [incoming] = self.parse('voice', [
            ('CallSid', 'CA1'), ('From', '+14155550123'), ('To', '+15005550006'), ('CallStatus', 'ringing'),
            ('Direction', 'inbound')])
        self.assertEqual((incoming.provider_id, incoming.status, incoming.direction, incoming.sender),
                         ('CA1', 'ringing', 'inbound', '+14155550123'))
        expected = [('initiated', 'initiated'), ('ringing', 'ringing'), ('in-progress', 'in_progress'),
                    ('completed', 'completed'), ('no-answer', 'no_answer'), ('busy', 'busy')]
        for sequence, (provider_status, status) in enumerate(expected):
            [event] = self.parse('voice_status', [
                ('CallSid', 'CA2'), ('CallStatus', provider_status), ('Direction', 'outbound-api'),
                ('SequenceNumber', str(sequence)), ('From', '+15005550006'), ('To', '+14155550111')])
            self.assertEqual((event.status, event.provider_status, event.sequence, event.direction),
                             (status, provider_status, sequence, 'outbound'))
        [completed] = self.parse('voice_status', [
            ('CallSid', 'CA2'), ('CallStatus', 'completed'), ('CallDuration', '42'), ('SequenceNumber', '3'),
            ('RecordingUrl', 'https://api.twilio.com/rec/RE1'), ('ParentCallSid', 'CA0')])
        self.assertEqual((completed.duration, completed.recording_url, completed.parent_id),
                         (42, 'https://api.twilio.com/rec/RE1', 'CA0'))

    def test_parse_malformed(self):
        for purpose, form in [
            ('inbound', [('From', '+14155550123'), ('Body', 'no sid')]),
            ('status', [('MessageSid', 'SM1')]),
            ('voice_status', [('CallStatus', 'completed')]),
            ('voice_status', [('CallSid', 'CA1')]),
        ]:
            with self.assertRaises(ValueError, msg=f'{purpose} {form}'):
                self.parse(purpose, form)
        # what is readable is read: an unknown status is parked with its reason, a wrong
        # NumMedia does not matter (the media fields themselves are counted)
        [unknown] = self.parse('status', [('MessageSid', 'SM1'), ('MessageStatus', 'teleported')])
        self.assertEqual((unknown.kind, unknown.reason), ('unparsed', "unknown message status 'teleported' for message SM1"))
        [message] = self.parse('inbound', [('MessageSid', 'SM1'), ('From', '+1415'), ('NumMedia', 'many'),
                                           ('MediaUrl0', 'https://api.twilio.com/m/ME1')])
        self.assertEqual([media.url for media in message.media], ['https://api.twilio.com/m/ME1'])

    def test_webhook_ack(self):
        body, content_type = self.adapter.webhook_ack('inbound')
        self.assertEqual(content_type, 'text/xml')
        self.assertTrue(body.startswith('<?xml version="1.0" encoding="UTF-8"?>'))
        root = ET.fromstring(body)
        self.assertEqual((root.tag, len(root)), ('Response', 0), 'an empty TwiML: no auto-reply')
        self.assertEqual(self.adapter.webhook_ack('status'), ('', 'text/plain'))

    def test_params_in_query_string_are_parsed(self):
        # GET-configured webhooks carry their fields in the query string
        url = 'https://odoo.example.com/comm/webhook/tok/inbound?' + urlencode(
            {'MessageSid': 'SM5', 'From': '+14155550123', 'To': '+15005550006', 'Body': 'hey'})
        [message] = self.adapter.parse_webhook(WebhookRequest(method='GET', url=url), 'inbound')
        self.assertEqual((message.provider_id, message.body), ('SM5', 'hey'))
        signature = RequestValidator(TOKEN).compute_signature(url, {})
        self.assertTrue(self.adapter.verify_webhook(WebhookRequest(
            method='GET', url=url, headers={'X-Twilio-Signature': signature})))
