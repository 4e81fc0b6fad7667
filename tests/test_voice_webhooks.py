"""Voice webhooks end to end, per provider, in the providers' own formats: real HTTP to our
controller, signed as the providers sign (SDK helpers), then the queue, down to the call log and
the chatter. The answer URL replies with call-control at once. Facts: PROTOCOLS 1.7, 2.7, 3.7, 3.9."""
import hashlib
import json
import time
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import jwt
from twilio.request_validator import RequestValidator

from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import html2plaintext, mute_logger

from .common import CommWebhookMixin
from .test_provider_plivo import sign_v3

SID = 'AC' + '0123456789abcdef' * 2
TWILIO_TOKEN = 'twilio-voice-token-3c1d'
PLIVO_ID = 'MA' + 'C' * 18
PLIVO_TOKEN = 'plivo-voice-token-8e2a'
VONAGE_SECRET = 'vonage-voice-signature-secret-0123456789'
OUR_NUMBER = '+15005550006'
FORWARD = '+15005550010'
CUSTOMER = '+33623456789'          # Camille's mobile, '06 23 45 67 89' in France
SELLER_PHONE = '+14155550111'
UNKNOWN = '+14155550999'
NOBODY = 'Sorry, nobody can take your call right now.'
LOGGERS = ('odoo.addons.comm_gateway.models.comm_webhook_event', 'odoo.addons.comm_gateway.models.comm_call')


@tagged('post_install', '-at_install')
class TestVoice(CommWebhookMixin, HttpCase):

    def setUp(self):
        super().setUp()
        self.setup_public_base_url()
        seller = new_test_user(self.env, login='seller', name='Sam Seller', groups='base.group_user')
        seller.comm_agent_phone = SELLER_PHONE
        self.partner = self.env['res.partner'].create({
            'name': 'Camille Martin', 'mobile': '06 23 45 67 89', 'country_id': self.env.ref('base.fr').id,
            'user_id': seller.id})
        self.seller = seller

    def account(self, code, **values):
        credentials = {
            'twilio': {'twilio_account_sid': SID, 'twilio_auth_token': TWILIO_TOKEN},
            'plivo': {'plivo_auth_id': PLIVO_ID, 'plivo_auth_token': PLIVO_TOKEN},
            'vonage': {'vonage_api_key': 'abcd1234', 'vonage_signature_secret': VONAGE_SECRET},
        }[code]
        return self.env['comm.provider'].create({
            'name': code, 'code': code, 'channel_voice': True, 'voice_from': OUR_NUMBER,
            'voice_forward_number': FORWARD, **credentials, **values})

    def outgoing_call(self, provider, provider_call_id, parent_id=False):
        return self.env['comm.call'].create({
            'direction': 'out', 'provider_id': provider.id, 'from_number': OUR_NUMBER, 'to_number': CUSTOMER,
            'partner_id': self.partner.id, 'res_model': 'res.partner', 'res_id': self.partner.id,
            'user_id': self.env.uid, 'provider_call_id': provider_call_id, 'provider_parent_id': parent_id})

    def calls(self, provider):
        return self.env['comm.call'].search([('provider_id', '=', provider.id)])

    def notes(self):
        """The call summaries in the partner's chatter, newest first, as text."""
        texts = [html2plaintext(message.body or '').strip() for message in self.partner.message_ids]
        return [text for text in texts if ' call ' in f' {text.lower()} ']

    # -- signed requests, per provider --------------------------------------------------------------

    def url(self, provider, purpose, **query):
        url = provider._webhook_url(purpose)
        return f'{url}?{urlencode(query)}' if query else url

    def twilio(self, provider, purpose, form, token=TWILIO_TOKEN, **query):
        url = self.url(provider, purpose, **query)
        form = {'AccountSid': SID, 'ApiVersion': '2010-04-01', **form}
        signature = RequestValidator(token).compute_signature(url, form)
        return self.http('POST', url, data=form, headers={'X-Twilio-Signature': signature})

    def plivo(self, provider, purpose, form, token=PLIVO_TOKEN, **query):
        url = self.url(provider, purpose, **query)
        nonce = uuid.uuid4().hex
        return self.http('POST', url, data=form, headers={
            'X-Plivo-Signature-V3': sign_v3('POST', url, form, nonce=nonce, token=token),
            'X-Plivo-Signature-V3-Nonce': nonce})

    def vonage(self, provider, purpose, payload=None, secret=VONAGE_SECRET, **query):
        """A JWT-signed JSON POST; without ``payload``, the answer webhook (configured with HTTP
        POST: a JWT signs the body only, so GET or a query string on a JWT route is refused)."""
        if payload is None:
            payload, query = query, {}
        url = self.url(provider, purpose, **query)
        body = json.dumps(payload).encode()
        token = jwt.encode({'iat': int(time.time()), 'jti': uuid.uuid4().hex, 'iss': 'Vonage',
                            'application_id': 'app-123', 'payload_hash': hashlib.sha256(body).hexdigest()},
                           secret, algorithm='HS256')
        headers = {'Authorization': f'Bearer {token}'}
        return self.http('POST', url, data=body, headers={**headers, 'Content-Type': 'application/json'})

    # -- assertions ---------------------------------------------------------------------------------

    def assertXml(self, response, content_type):
        self.assertEqual(response.status_code, 200, response.text)
        self.assertTrue(response.headers['Content-Type'].startswith(content_type), response.headers)
        root = ET.fromstring(response.content)
        self.assertEqual(root.tag, 'Response')
        self.assertNoInternalData(response)
        return root

    def assertNcco(self, response):
        self.assertEqual(response.status_code, 200, response.text)
        self.assertTrue(response.headers['Content-Type'].startswith('application/json'))
        self.assertNoInternalData(response)
        return response.json()

    def assertNoInternalData(self, response):
        for secret in (self.partner.name, self.seller.name, self.seller.login, TWILIO_TOKEN, PLIVO_TOKEN):
            self.assertNotIn(secret, response.text)

    def assertDial(self, root, number, provider):
        dial = root.find('Dial')
        self.assertIsNotNone(dial, ET.tostring(root))
        self.assertEqual(dial.find('Number').text, number)
        self.assertEqual(dial.get('action'), self.url(provider, 'voice_dialed'))

    def assertSays(self, root, verb):
        self.assertIsNone(root.find('Dial'))
        self.assertIn(NOBODY, root.find(verb).text)
        self.assertIsNotNone(root.find('Hangup'))

    # -- Twilio -------------------------------------------------------------------------------------

    def twilio_incoming(self, provider, sid, caller):
        return self.twilio(provider, 'voice', {
            'CallSid': sid, 'From': caller, 'To': OUR_NUMBER, 'CallStatus': 'ringing', 'Direction': 'inbound',
            'CallerName': '', 'FromCountry': 'FR', 'ToCountry': 'US'})

    @mute_logger(*LOGGERS)
    def test_twilio_inbound_forwards_to_salesperson_then_missed(self):
        provider = self.account('twilio')
        sid = 'CA' + 'a' * 32
        self.assertDial(self.assertXml(self.twilio_incoming(provider, sid, CUSTOMER), 'text/xml'),
                        SELLER_PHONE, provider)
        self.run_queue()
        call = self.calls(provider)
        self.assertRecordValues(call, [{
            'direction': 'in', 'state': 'ringing', 'from_number': CUSTOMER, 'to_number': OUR_NUMBER,
            'partner_id': self.partner.id, 'user_id': self.seller.id, 'provider_call_id': sid}])
        # the salesperson did not pick up: Twilio asks the <Dial action> what next
        dial_done = self.twilio(provider, 'voice_dialed', {
            'CallSid': sid, 'From': CUSTOMER, 'To': OUR_NUMBER, 'CallStatus': 'in-progress', 'Direction': 'inbound',
            'DialCallStatus': 'no-answer', 'DialCallSid': 'CA' + 'b' * 32, 'DialCallDuration': '0'})
        self.assertSays(self.assertXml(dial_done, 'text/xml'), 'Say')
        self.twilio(provider, 'voice_status', {
            'CallSid': sid, 'From': CUSTOMER, 'To': OUR_NUMBER, 'CallStatus': 'completed', 'Direction': 'inbound',
            'CallDuration': '31', 'SequenceNumber': '1', 'Timestamp': 'Wed, 01 Jan 2025 12:00:31 +0000'})
        self.run_queue()
        self.assertEqual((call.state, call.duration), ('no_answer', 0))
        self.assertTrue(call.end_date)
        self.assertEqual(self.notes(), ['Missed call from Camille Martin'])

    @mute_logger(*LOGGERS)
    def test_twilio_inbound_unmatched_caller(self):
        provider = self.account('twilio')
        self.assertDial(self.assertXml(self.twilio_incoming(provider, 'CA' + 'c' * 32, UNKNOWN), 'text/xml'),
                        FORWARD, provider)
        provider.voice_forward_number = False
        self.assertSays(self.assertXml(self.twilio_incoming(provider, 'CA' + 'd' * 32, UNKNOWN), 'text/xml'), 'Say')
        self.run_queue()
        calls = self.calls(provider)
        self.assertEqual(calls.mapped('from_number'), [UNKNOWN, UNKNOWN])
        self.assertFalse(calls.partner_id)
        self.assertFalse(calls.user_id)

    @mute_logger(*LOGGERS)
    def test_twilio_inbound_from_a_sip_uri(self):
        """A call from a SIP endpoint: the URI is kept as the caller, matched to nobody, never a crash."""
        provider = self.account('twilio')
        sip = 'sip:alice@example.sip.twilio.com'
        self.assertDial(self.assertXml(self.twilio_incoming(provider, 'CA' + 'f' * 32, sip), 'text/xml'),
                        FORWARD, provider)
        self.run_queue()
        call = self.calls(provider)
        self.assertEqual((call.from_number, call.partner_id), (sip, self.env['res.partner']))

    @mute_logger(*LOGGERS)
    def test_twilio_events_out_of_order_and_duplicates(self):
        provider = self.account('twilio')
        sid = 'CA' + 'e' * 32
        call = self.outgoing_call(provider, sid)

        def status(call_status, sequence, **extra):
            return self.twilio(provider, 'voice_status', {
                'CallSid': sid, 'CallStatus': call_status, 'SequenceNumber': str(sequence),
                'Direction': 'outbound-api', 'From': OUR_NUMBER, 'To': '+33612345678', 'CallbackSource': 'call-progress-events',
                **extra})
        completed = {'CallDuration': '192'}
        for response in (status('completed', 3, **completed), status('initiated', 0), status('ringing', 1),
                         status('in-progress', 2), status('completed', 3, **completed)):
            self.assertEqual((response.status_code, response.text), (200, ''))
        self.assertEqual(len(self.events(provider)), 4, 'the duplicate is stored once')
        self.run_queue()
        self.assertEqual((call.state, call.duration), ('completed', 192), 'a finished call never moves back')
        self.assertEqual(self.notes(), ['Outgoing call with Camille Martin — 3 min 12 s, answered'])
        self.assertEqual(set(self.events(provider).mapped('state')), {'done'})

    @mute_logger(*LOGGERS)
    def test_twilio_click_to_call_dial_answered_ends_with_the_status_callback(self):
        provider = self.account('twilio')
        sid = 'CA' + 'f' * 32
        call = self.outgoing_call(provider, sid)
        common = {'CallSid': sid, 'Direction': 'outbound-api', 'From': OUR_NUMBER, 'To': '+33612345678'}
        self.twilio(provider, 'voice_status', {**common, 'CallStatus': 'in-progress', 'SequenceNumber': '2'})
        hangup = self.twilio(provider, 'voice_dialed', {
            **common, 'CallStatus': 'in-progress', 'DialCallStatus': 'completed', 'DialCallDuration': '70'})
        root = self.assertXml(hangup, 'text/xml')
        self.assertEqual([child.tag for child in root], ['Hangup'])
        self.run_queue()
        self.assertEqual(call.state, 'in_progress', 'the call itself is not over yet')
        self.twilio(provider, 'voice_status', {**common, 'CallStatus': 'completed', 'SequenceNumber': '3',
                                               'CallDuration': '75'})
        self.run_queue()
        self.assertEqual((call.state, call.duration), ('completed', 75))
        self.assertTrue(call.answer_date <= call.end_date)

    def test_twilio_answer_unsigned_or_forged_is_403(self):
        provider = self.account('twilio')
        form = {'CallSid': 'CA' + '9' * 32, 'From': CUSTOMER, 'To': OUR_NUMBER, 'CallStatus': 'ringing'}
        with mute_logger('odoo.addons.comm_gateway.models.comm_webhook_event'):
            unsigned = self.http('POST', provider.webhook_url_voice, data=form)
            forged = self.twilio(provider, 'voice', form, token='not-the-token')
        for response in (unsigned, forged):
            self.assertEqual((response.status_code, response.text), (403, ''))
        self.assertFalse(self.events(provider))
        self.assertFalse(self.calls(provider))

    # -- Plivo --------------------------------------------------------------------------------------

    @mute_logger(*LOGGERS)
    def test_plivo_click_to_call_answer_dials_customer_then_hangup_completes(self):
        provider = self.account('plivo')
        call = self.outgoing_call(provider, 'req-1')
        leg = {'CallUUID': 'leg-a', 'ALegUUID': 'leg-a', 'ALegRequestUUID': 'req-1', 'Direction': 'outbound',
               'From': OUR_NUMBER[1:], 'To': '33612345678'}
        # the agent picked up: Plivo asks the answer URL of the call (with our query) what to do
        answer = self.plivo(provider, 'voice', {**leg, 'CallStatus': 'in-progress', 'Event': 'StartApp'},
                            comm_to=CUSTOMER)
        root = self.assertXml(answer, 'application/xml')
        dial = root.find('Dial')
        self.assertEqual((dial.find('Number').text, dial.get('callerId')), (CUSTOMER[1:], OUR_NUMBER[1:]))
        self.assertEqual(dial.get('action'), self.url(provider, 'voice_dialed'))
        dial_done = self.plivo(provider, 'voice_dialed', {
            **leg, 'CallStatus': 'in-progress', 'DialStatus': 'completed', 'DialALegUUID': 'leg-a',
            'DialBLegUUID': 'leg-b', 'DialHangupCause': 'NORMAL_CLEARING', 'DialRingStatus': 'true'})
        self.assertEqual([child.tag for child in self.assertXml(dial_done, 'application/xml')], ['Hangup'])
        hangup = {**leg, 'CallStatus': 'completed', 'Duration': '75', 'BillDuration': '120',
                  'HangupCause': 'NORMAL_CLEARING', 'HangupSource': 'Callee', 'Event': 'Hangup'}
        for form in (hangup, hangup, {'CallUUID': 'leg-a', 'RequestUUID': 'req-1', 'CallStatus': 'ringing',
                                      'Direction': 'outbound', 'Event': 'Ring'}):
            self.assertEqual(self.plivo(provider, 'voice_status', form).status_code, 200)
        self.run_queue()
        self.assertRecordValues(call, [{'state': 'completed', 'duration': 75, 'hangup_cause': 'NORMAL_CLEARING'}])
        self.assertEqual(self.notes(), ['Outgoing call with Camille Martin — 1 min 15 s, answered'])

    @mute_logger(*LOGGERS)
    def test_plivo_inbound_matched_unmatched_and_busy(self):
        provider = self.account('plivo')

        def incoming(call_uuid, caller):
            return self.plivo(provider, 'voice', {
                'CallUUID': call_uuid, 'From': caller[1:], 'To': OUR_NUMBER[1:], 'CallStatus': 'ringing',
                'Direction': 'inbound', 'Event': 'StartApp'})
        root = self.assertXml(incoming('in-1', CUSTOMER), 'application/xml')
        self.assertEqual(root.find('Dial').find('Number').text, SELLER_PHONE[1:])
        self.assertEqual(root.find('Dial').get('action'), self.url(provider, 'voice_dialed'))
        root = self.assertXml(incoming('in-2', UNKNOWN), 'application/xml')
        self.assertEqual(root.find('Dial').find('Number').text, FORWARD[1:])
        busy = self.plivo(provider, 'voice_dialed', {
            'CallUUID': 'in-1', 'From': CUSTOMER[1:], 'To': OUR_NUMBER[1:], 'CallStatus': 'in-progress',
            'Direction': 'inbound', 'DialStatus': 'busy', 'DialHangupCause': 'USER_BUSY'})
        self.assertSays(self.assertXml(busy, 'application/xml'), 'Speak')
        self.run_queue()
        matched = self.calls(provider).filtered(lambda c: c.provider_call_id == 'in-1')
        self.assertRecordValues(matched, [{'direction': 'in', 'state': 'busy', 'partner_id': self.partner.id,
                                           'user_id': self.seller.id, 'hangup_cause': 'USER_BUSY'}])
        self.assertEqual(self.notes(), ['Missed call from Camille Martin'])
        with mute_logger('odoo.addons.comm_gateway.models.comm_webhook_event'):
            forged = self.plivo(provider, 'voice', {'CallUUID': 'in-3', 'From': CUSTOMER[1:]}, token='wrong')
        self.assertEqual((forged.status_code, forged.text), (403, ''))

    # -- Vonage -------------------------------------------------------------------------------------

    @mute_logger(*LOGGERS)
    def test_vonage_inbound_answer_ncco_then_missed(self):
        provider = self.account('vonage')
        answer = {'to': OUR_NUMBER[1:], 'from': CUSTOMER[1:], 'uuid': 'in-1', 'conversation_uuid': 'CON-9',
                  'region_url': 'https://api-eu-3.vonage.com', 'endpoint_type': 'phone'}
        [connect] = self.assertNcco(self.vonage(provider, 'voice', **answer))
        self.assertEqual((connect['action'], connect['from'], connect['endpoint']),
                         ('connect', OUR_NUMBER[1:], [{'type': 'phone', 'number': SELLER_PHONE[1:]}]))
        self.assertEqual((connect['eventType'], connect['eventUrl']),
                         ('synchronous', [self.url(provider, 'voice_dialed')]))
        # the salesperson's leg: Vonage posts its events to the connect's eventUrl and obeys the
        # answer when the leg was not answered
        leg_b = {'uuid': 'leg-b', 'conversation_uuid': 'CON-9', 'direction': 'outbound',
                 'from': OUR_NUMBER[1:], 'to': SELLER_PHONE[1:]}
        ringing = self.vonage(provider, 'voice_dialed', {**leg_b, 'status': 'ringing',
                                                         'timestamp': '2025-01-01T12:00:01.000Z'})
        self.assertEqual(self.assertNcco(ringing), [])
        unanswered = self.vonage(provider, 'voice_dialed', {
            **leg_b, 'status': 'timeout', 'timestamp': '2025-01-01T12:00:31.000Z'})
        [talk] = self.assertNcco(unanswered)
        self.assertEqual(talk['action'], 'talk')
        self.assertIn(NOBODY, talk['text'])
        # a JWT signs the body only: no query string rides on it, not even the old dial marker
        for query in ({'comm_dialed': 1}, {'comm_to': SELLER_PHONE}):
            forged = self.vonage(provider, 'voice', {**leg_b, 'status': 'timeout'}, **query)
            self.assertEqual(forged.status_code, 403, query)
        self.vonage(provider, 'voice_status', {
            'uuid': 'in-1', 'conversation_uuid': 'CON-9', 'status': 'completed', 'direction': 'inbound',
            'from': CUSTOMER[1:], 'to': OUR_NUMBER[1:], 'duration': '38', 'timestamp': '2025-01-01T12:00:38.000Z'})
        self.run_queue()
        call = self.calls(provider)
        self.assertRecordValues(call, [{'direction': 'in', 'state': 'no_answer', 'partner_id': self.partner.id,
                                        'user_id': self.seller.id, 'provider_parent_id': 'CON-9'}])
        self.assertEqual(self.notes(), ['Missed call from Camille Martin'])

    @mute_logger(*LOGGERS)
    def test_vonage_inbound_unmatched_and_unsigned(self):
        provider = self.account('vonage')
        [connect] = self.assertNcco(self.vonage(provider, 'voice', to=OUR_NUMBER[1:], **{'from': UNKNOWN[1:]},
                                                uuid='in-2', conversation_uuid='CON-2'))
        self.assertEqual(connect['endpoint'], [{'type': 'phone', 'number': FORWARD[1:]}])
        provider.voice_forward_number = False
        [talk] = self.assertNcco(self.vonage(provider, 'voice', to=OUR_NUMBER[1:], **{'from': UNKNOWN[1:]},
                                             uuid='in-3', conversation_uuid='CON-3'))
        self.assertEqual(talk['action'], 'talk')
        query = urlencode({'to': OUR_NUMBER[1:], 'from': CUSTOMER[1:], 'uuid': 'in-4', 'conversation_uuid': 'CON-4'})
        with mute_logger('odoo.addons.comm_gateway.models.comm_webhook_event'):
            unsigned = self.http('GET', f'{provider.webhook_url_voice}?{query}')
            forged = self.vonage(provider, 'voice', secret='x' * 40, to=OUR_NUMBER[1:], uuid='in-5')
        for response in (unsigned, forged):
            self.assertEqual((response.status_code, response.text), (403, ''))
        self.run_queue()
        self.assertEqual(sorted(self.calls(provider).mapped('provider_call_id')), ['in-2', 'in-3'])

    @mute_logger(*LOGGERS)
    def test_vonage_click_to_call_events_out_of_order_and_duplicates(self):
        provider = self.account('vonage')
        call = self.outgoing_call(provider, 'leg-a', parent_id='CON-1')

        def event(leg, status, second, **extra):
            return {'uuid': leg, 'conversation_uuid': 'CON-1', 'status': status, 'direction': 'outbound',
                    'from': OUR_NUMBER[1:], 'to': '33612345678' if leg == 'leg-a' else CUSTOMER[1:],
                    'timestamp': f'2025-01-01T12:00:{second:02d}.000Z', **extra}
        leg_b_done = event('leg-b', 'completed', 52, duration='42', start_time='2025-01-01T12:00:10.000Z',
                           end_time='2025-01-01T12:00:52.000Z', rate='0.01', price='0.007', network='20801')
        for payload in (event('leg-a', 'started', 0), event('leg-a', 'ringing', 1), leg_b_done,
                        event('leg-a', 'answered', 5), event('leg-b', 'ringing', 6), event('leg-b', 'answered', 10),
                        leg_b_done, event('leg-a', 'completed', 53, duration='53')):
            self.assertEqual(self.vonage(provider, 'voice_status', payload).status_code, 200)
        self.run_queue()
        self.assertRecordValues(call, [{'state': 'completed', 'duration': 42}])
        self.assertEqual(self.notes(), ['Outgoing call with Camille Martin — 42 s, answered'])
        # the recording comes once the call is over: kept, nothing else moves
        self.vonage(provider, 'voice_status', {
            'start_time': '2025-01-01T12:00:10Z', 'recording_url': 'https://api.nexmo.com/v1/files/rec-1',
            'size': 12222, 'recording_uuid': 'rec-1', 'end_time': '2025-01-01T12:00:52Z',
            'conversation_uuid': 'CON-1', 'timestamp': '2025-01-01T12:00:53Z'})
        self.run_queue()
        self.assertRecordValues(call, [{'state': 'completed', 'duration': 42,
                                        'recording_url': 'https://api.nexmo.com/v1/files/rec-1'}])
        self.assertEqual(len(self.notes()), 1)
