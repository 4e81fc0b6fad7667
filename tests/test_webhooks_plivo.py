"""Plivo webhooks end to end: real HTTP to our controller, signed with Plivo's V3 (the SDK's own
helpers) or V2 scheme, then the queue's cron, down to the chatter. Facts: PROTOCOLS.md 2.3–2.5."""
import base64
import hashlib
import hmac
import json
import uuid as uuidlib
from urllib.parse import urlencode

from plivo.utils import validate_signature
from plivo.utils.signature_v3 import construct_get_url, construct_post_url, get_signature_v3

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import CommWebhookMixin, FakeProviderMixin

AUTH_ID = 'MA' + 'A' * 18
TOKEN = 'plivo-auth-token-7c2e9b'
OUR_NUMBER = '14155550100'
CUSTOMER = '12125550147'           # the partner's '(212) 555-0147' (US)
NONCE = '05429567804466091622'
PNG = b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDRfake-png'
QUEUE_LOGGER = 'odoo.addons.comm_gateway.models.comm_webhook_event'


def sign_v3(method, url, params, nonce=NONCE, token=TOKEN):
    """X-Plivo-Signature-V3 as Plivo computes it (the SDK's own helpers)."""
    signed = construct_get_url(url, dict(params)) if method == 'GET' else construct_post_url(url, dict(params))
    return get_signature_v3(token.encode(), signed.decode(), nonce.encode()).decode()


def sign_v2(url, nonce=NONCE, token=TOKEN):
    """X-Plivo-Signature-V2: base64 HMAC-SHA256 of the URL without its query, then the nonce."""
    mac = hmac.new(token.encode(), (url.split('?')[0] + nonce).encode(), hashlib.sha256)
    signature = base64.b64encode(mac.digest()).decode()
    assert validate_signature(url, nonce, signature, token), 'the SDK agrees with the V2 signature'
    return signature


def v3_headers(method, url, params, nonce=NONCE, token=TOKEN):
    return {'X-Plivo-Signature-V3': sign_v3(method, url, params, nonce, token),
            'X-Plivo-Signature-V3-Nonce': nonce,
            'X-Plivo-Signature-Ma-V3': sign_v3(method, url, params, nonce, 'main-account-token')}


def inbound_form(uuid, text, sender=CUSTOMER, **extra):
    """An inbound SMS as Plivo posts it to the message_url (PROTOCOLS 2.3)."""
    return {'From': sender, 'To': OUR_NUMBER, 'Type': 'sms', 'Text': text, 'MessageUUID': uuid,
            'Units': '1', 'TotalRate': '0.00000', 'TotalAmount': '0.00000', 'MessageIntent': '', **extra}


def whatsapp_form(uuid, content_type, body='', **details):
    """An inbound WhatsApp message as Plivo documents it (PROTOCOLS 2.3, "Handling incoming
    SMS/MMS/WhatsApp"): ``Type=whatsapp``, ``ContentType`` text / media / button / unknown, the text
    in ``Body``. ``details`` are the undocumented JSON fields the adapter tolerates (Button,
    Interactive, Location, Context)."""
    form = {'From': CUSTOMER, 'To': OUR_NUMBER, 'Type': 'whatsapp', 'ContentType': content_type, 'Body': body,
            'MessageUUID': uuid, 'Units': '1', 'TotalRate': '0.00000', 'TotalAmount': '0.00000'}
    return {**form, **{key: json.dumps(value) for key, value in details.items()}}


def status_form(uuid, status, sequence, error_code=None):
    """A message status callback (PROTOCOLS 2.4)."""
    form = {'MessageUUID': uuid, 'To': CUSTOMER, 'From': OUR_NUMBER, 'Type': 'sms', 'Status': status,
            'Units': '1', 'TotalRate': '0.0050', 'TotalAmount': '0.0050', 'MCC': '310', 'MNC': '410',
            'Sequence': str(sequence), 'MessageTime': '2025-01-01 12:00:00+00:00'}
    if error_code:
        form['ErrorCode'] = error_code
    return form


@tagged('post_install', '-at_install')
class TestWebhooksPlivo(FakeProviderMixin, CommWebhookMixin, HttpCase):

    def setUp(self):
        super().setUp()
        self.setup_public_base_url()
        self.provider = self.env['comm.provider'].create({
            'name': 'Plivo', 'code': 'plivo', 'sms_from': '+' + OUR_NUMBER,
            'plivo_auth_id': AUTH_ID, 'plivo_auth_token': TOKEN,
            'api_base_url': self.fake.base_url})     # media URLs are fetched from the provider's hosts only
        self.token = self.provider.sudo().webhook_token
        self.partner = self.env['res.partner'].create({
            'name': 'Morgan Diaz', 'phone': '(212) 555-0147', 'country_id': self.env.ref('base.us').id})

    # -- helpers --------------------------------------------------------------------------------

    def url(self, purpose):
        return f'{self.base_url()}/comm/webhook/{self.token}/{purpose}'

    def post_v3(self, purpose, form, url=None, signed_url=None, token=TOKEN, nonce=None):
        """A V3-signed post, with a fresh nonce unless told (Plivo's nonces are single-use)."""
        url = url or self.url(purpose)
        nonce = nonce or str(uuidlib.uuid4().int)[:20]
        return self.http('POST', url, data=form, headers=v3_headers('POST', signed_url or url, form, nonce, token))

    def post_v2(self, purpose, form, signed_url=None, token=TOKEN, nonce=NONCE):
        url = self.url(purpose)
        return self.http('POST', url, data=form, headers={
            'X-Plivo-Signature-V2': sign_v2(signed_url or url, nonce, token), 'X-Plivo-Signature-V2-Nonce': nonce})


    def outbound(self, uuid, state='queued'):
        return self.env['comm.message'].create({
            'direction': 'out', 'provider_id': self.provider.id, 'from_number': '+' + OUR_NUMBER,
            'to_number': '+' + CUSTOMER, 'provider_message_id': uuid, 'state': state, 'body': 'See you at 3'})

    # -- inbound --------------------------------------------------------------------------------

    def test_inbound_sms_v3_reaches_partner_chatter(self):
        uuid = '3e6e1a5c-0a7d-11f0-9d2b-0242ac110002'
        self.assertAccepted(self.post_v3('inbound', inbound_form(uuid, 'Can we move to 4?')))
        event = self.events(self.provider)
        self.assertEqual((len(event), event.state, event.purpose, event.event_key), (1, 'pending', 'inbound', f'm:{uuid}'))
        self.run_queue()
        self.assertEqual(event.state, 'done')
        message = self.messages()
        self.assertRecordValues(message, [{
            'direction': 'in', 'state': 'received', 'channel': 'sms', 'from_number': '+' + CUSTOMER,
            'to_number': '+' + OUR_NUMBER, 'body': 'Can we move to 4?', 'partner_id': self.partner.id,
            'provider_message_id': uuid}])
        post = message.mail_message_id
        self.assertEqual((post.model, post.res_id, post.author_id), ('res.partner', self.partner.id, self.partner))
        self.assertIn('Can we move to 4?', post.body)

    def test_inbound_get_v3(self):
        form = inbound_form('4f7f2b6d-0a7d-11f0-9d2b-0242ac110002', 'by GET')
        url = self.url('inbound') + '?' + urlencode(form)
        self.assertAccepted(self.http('GET', url, headers=v3_headers('GET', url, {})))
        self.run_queue()
        self.assertEqual(self.messages().body, 'by GET')
        with mute_logger(QUEUE_LOGGER):
            tampered = url.replace('by+GET', 'by+GOT')
            self.assertEqual(self.http('GET', tampered, headers=v3_headers('GET', url, {})).status_code, 403)

    def test_inbound_mms_media_downloaded(self):
        self.fake.route('GET', r'/media/m1', 200, body=PNG, headers={'Content-Type': 'image/png'})
        form = inbound_form('5a8a3c7e-0a7d-11f0-9d2b-0242ac110002', '', Type='mms', Body='the receipt',
                            MediaCount='1', Media1=f'{self.fake.base_url}/media/m1')
        del form['Text']
        self.assertAccepted(self.post_v3('inbound', form))
        self.run_queue()
        message = self.messages()
        self.assertEqual((message.channel, message.body), ('mms', 'the receipt'))
        self.assertEqual((message.attachment_ids.raw, message.attachment_ids.mimetype), (PNG, 'image/png'))
        self.assertEqual(message.mail_message_id.attachment_ids, message.attachment_ids)
        self.assertEqual(self.fake.last('GET', '/media/m1').headers['authorization'],
                         'Basic ' + base64.b64encode(f'{AUTH_ID}:{TOKEN}'.encode()).decode())

    def test_script_in_body_is_escaped_in_chatter(self):
        self.assertAccepted(self.post_v3('inbound', inbound_form('6b9b4d8f-0a7d-11f0-9d2b-0242ac110002',
                                                                 '<script>alert(1)</script><b>x</b>')))
        self.run_queue()
        self.assertEscapedInChatter(self.messages())

    # -- forged, duplicates ---------------------------------------------------------------------

    @mute_logger(QUEUE_LOGGER)
    def test_forged_requests_get_403_and_store_nothing(self):
        url = self.url('inbound')
        form = inbound_form('7cac5e90-0a7d-11f0-9d2b-0242ac110002', 'Pay 10 EUR')
        headers = v3_headers('POST', url, form)
        no_nonce = dict(headers)
        del no_nonce['X-Plivo-Signature-V3-Nonce']
        cases = {
            'tampered body': (url, {**form, 'Text': 'Pay 1000 EUR'}, headers),
            'query string added': (url + '?account=7', form, headers),
            'https instead of http': (url, form, v3_headers('POST', url.replace('http://', 'https://'), form)),
            'wrong auth token': (url, form, v3_headers('POST', url, form, token='other-token')),
            'other nonce': (url, form, {**headers, 'X-Plivo-Signature-V3-Nonce': '99999999999999999999'}),
            'no nonce': (url, form, no_nonce),
            'no signature': (url, form, {}),
            'V2 for another URL': (url, form, {'X-Plivo-Signature-V2': sign_v2(self.url('status')),
                                               'X-Plivo-Signature-V2-Nonce': NONCE}),
            'V2 with a wrong token': (url, form, {'X-Plivo-Signature-V2': sign_v2(url, token='other-token'),
                                                  'X-Plivo-Signature-V2-Nonce': NONCE}),
            'valid V2 only': (url, form, {'X-Plivo-Signature-V2': sign_v2(url), 'X-Plivo-Signature-V2-Nonce': NONCE}),
        }
        for name, (post_url, data, request_headers) in cases.items():
            with self.subTest(name):
                response = self.http('POST', post_url, data=data, headers=request_headers)
                self.assertEqual(response.status_code, 403)
                self.assertEqual(response.content, b'')
        self.assertFalse(self.events(self.provider))
        counter = self.env['comm.webhook.rejection'].search([('provider_id', '=', self.provider.id)])
        self.assertEqual(counter.count, len(cases))
        self.assertAccepted(self.http('POST', url, data=form, headers=headers))
        self.assertEqual(len(self.events(self.provider)), 1)

    def test_duplicate_delivery_is_stored_once(self):
        form = inbound_form('8dbd6fa1-0a7d-11f0-9d2b-0242ac110002', 'once')
        self.assertAccepted(self.post_v3('inbound', form))
        self.assertAccepted(self.post_v3('inbound', form))
        self.assertEqual(len(self.events(self.provider)), 1)
        self.run_queue()
        self.assertEqual(len(self.messages()), 1)

    # -- statuses -------------------------------------------------------------------------------

    @mute_logger(QUEUE_LOGGER)
    def test_v2_only_signatures_are_refused(self):
        """V2 signs the URL and nonce, not the parameters: a valid V2 signature vouches for nothing."""
        uuid = '9ece70b2-0a7d-11f0-9d2b-0242ac110002'
        message = self.outbound(uuid)
        self.assertRefused(self.post_v2('status', status_form(uuid, 'delivered', 2)))
        self.assertFalse(self.events(self.provider))
        self.run_queue()
        self.assertEqual(message.state, 'queued')

    @mute_logger(QUEUE_LOGGER)
    def test_v3_nonce_is_single_use(self):
        """Plivo retries with the same nonce and parameters (a duplicate, 2xx, nothing new); the
        same nonce over other parameters is a replay, refused — even correctly signed."""
        form = inbound_form('5f5f5f5f-0a7d-11f0-9d2b-0242ac110002', 'first')
        self.assertAccepted(self.post_v3('inbound', form, nonce=NONCE))
        self.assertAccepted(self.post_v3('inbound', form, nonce=NONCE))
        other = inbound_form('6a6a6a6a-0a7d-11f0-9d2b-0242ac110002', 'Pay 10 EUR')
        self.assertRefused(self.post_v3('inbound', other, nonce=NONCE))
        self.assertEqual(self.events(self.provider).mapped('event_key'), ['m:5f5f5f5f-0a7d-11f0-9d2b-0242ac110002'])
        remembered = self.env['comm.webhook.nonce'].search([('provider_id', '=', self.provider.id)])
        self.assertEqual(remembered.key, f'plivo:{NONCE}', 'remembered in the database, not in a process')
        self.assertAccepted(self.post_v3('inbound', other))     # the same content with its own nonce
        self.assertEqual(len(self.events(self.provider)), 2)

    def test_stored_event_keeps_no_signature(self):
        self.assertAccepted(self.post_v3('inbound', inbound_form('7b7b7b7b-0a7d-11f0-9d2b-0242ac110002', 'hi')))
        headers = {name.lower() for name in self.events(self.provider).headers}
        self.assertFalse({h for h in headers if 'signature' in h or h == 'authorization'}, headers)

    def test_statuses_move_the_message_forward(self):
        uuid = 'afdf81c3-0a7d-11f0-9d2b-0242ac110002'
        message = self.outbound(uuid)
        for sequence, (plivo_status, expected) in enumerate(
                (('queued', 'queued'), ('sent', 'sent'), ('delivered', 'delivered'), ('read', 'read')), start=1):
            with self.subTest(plivo_status):
                self.assertAccepted(self.post_v3('status', status_form(uuid, plivo_status, sequence)))
                self.run_queue()
                self.assertEqual(message.state, expected)
        self.assertTrue(message.sent_at and message.delivered_at and message.read_at)
        self.assertEqual(len(self.events(self.provider)), 4)

    def test_statuses_out_of_order_and_duplicated(self):
        uuid = 'b0e092d4-0a7d-11f0-9d2b-0242ac110002'
        message = self.outbound(uuid)
        delivered = status_form(uuid, 'delivered', 2)
        self.assertAccepted(self.post_v3('status', delivered))
        self.assertAccepted(self.post_v3('status', status_form(uuid, 'sent', 1)))
        self.assertAccepted(self.post_v3('status', delivered))
        self.assertEqual(len(self.events(self.provider)), 2, 'the repeated callback is stored once')
        self.run_queue()
        self.assertEqual(message.state, 'delivered')

    def test_failed_undelivered_rejected_carry_the_error_code(self):
        failed = self.outbound('c1f1a3e5-0a7d-11f0-9d2b-0242ac110002')
        undelivered = self.outbound('d2a2b4f6-0a7d-11f0-9d2b-0242ac110002', state='sent')
        rejected = self.outbound('e3b3c5a7-0a7d-11f0-9d2b-0242ac110002', state='sent')
        self.post_v3('status', status_form(failed.provider_message_id, 'failed', 2, error_code='200'))
        self.post_v3('status', status_form(undelivered.provider_message_id, 'undelivered', 3, error_code='50'))
        self.post_v3('status', status_form(rejected.provider_message_id, 'rejected', 3, error_code='100'))
        self.run_queue()
        self.assertRecordValues(failed + undelivered + rejected, [
            {'state': 'failed', 'error_code': '200', 'failure_type': 'sms_optout'},
            {'state': 'undelivered', 'error_code': '50', 'failure_type': 'sms_number_format'},
            {'state': 'undelivered', 'error_code': '100', 'failure_type': 'unknown'},
        ])

    # -- real-world inbound ---------------------------------------------------------------------

    def test_mms_without_text_two_media_from_zero(self):
        """Media numbered from 0 (seen in Plivo's support articles), no text: the message is posted
        at once with what it carries, the media join it when fetched."""
        self.fake.route('GET', r'/media/p0', 200, body=PNG, headers={'Content-Type': 'image/png'})
        self.fake.route('GET', r'/media/p1', 200, body=b'GIF89a-fake', headers={'Content-Type': 'image/gif'})
        form = inbound_form('f4c4d6b8-0a7d-11f0-9d2b-0242ac110002', '', Type='mms', Body='', MediaCount='2',
                            Media0=f'{self.fake.base_url}/media/p0', Media1=f'{self.fake.base_url}/media/p1')
        del form['Text']
        self.assertAccepted(self.post_v3('inbound', form))
        self.run_queue(media=False)
        message = self.messages()
        self.assertIn('2 files', message.mail_message_id.body, 'Plivo does not say what they are')
        self.fetch_media()
        self.assertEqual(message.mail_message_id.attachment_ids.mapped('raw'), [PNG, b'GIF89a-fake'])

    def test_whatsapp_documented_button_and_unknown_content_types(self):
        """The documented format: a tapped button is ``ContentType=button`` with its text in ``Body``;
        what Plivo cannot describe is ``unknown`` (with an ``ErrorCode`` when it failed)."""
        button = whatsapp_form('6b7c8d9e-0a7d-11f0-9d2b-0242ac110002', 'button', 'Yes, confirm <now>')
        unknown = {**whatsapp_form('7c8d9eaf-0a7d-11f0-9d2b-0242ac110002', 'unknown'), 'ErrorCode': '1001'}
        for form in (button, unknown):
            self.assertAccepted(self.post_v3('inbound', form))
        self.run_queue()
        reply = self.messages(provider_message_id=button['MessageUUID'])
        self.assertEqual((reply.channel, reply.message_type, reply.body), ('whatsapp', 'button', 'Yes, confirm <now>'),
                         'exactly the text chosen, no prefix')
        self.assertEqual(reply.content['reply'], {'title': 'Yes, confirm <now>', 'payload': ''})
        self.assertIn('Yes, confirm &lt;now&gt;', reply.mail_message_id.body)
        self.assertIn('Unsupported message type: unknown (Plivo error code 1001)',
                      self.messages(provider_message_id=unknown['MessageUUID']).mail_message_id.body)

    def test_whatsapp_tolerated_json_details_show_the_choice_as_a_reply(self):
        """Not documented by Plivo, tolerated: Meta's details as JSON objects in form fields."""
        asked = self.outbound('0b1c2d3e-0a7d-11f0-9d2b-0242ac110002', state='read')
        asked.write({'channel': 'whatsapp', 'mail_message_id': self.partner.message_post(
            body='When suits you?', message_type='comment').id})
        context = {'MessageUUID': asked.provider_message_id}
        forms = [
            whatsapp_form('1c2d3e4f-0a7d-11f0-9d2b-0242ac110002', 'interactive', Context=context, Interactive={
                'Type': 'button_reply', 'ButtonReply': {'Id': 'slot-9', 'Title': 'Tomorrow <9>'}}),
            whatsapp_form('2d3e4f5a-0a7d-11f0-9d2b-0242ac110002', 'interactive', Context=context, Interactive={
                'Type': 'list_reply', 'ListReply': {'Id': 'row-2', 'Title': 'Downtown', 'Description': 'Main St 1'}}),
            whatsapp_form('3e4f5a6b-0a7d-11f0-9d2b-0242ac110002', 'button', 'Yes, confirm', Context=context,
                          Button={'Text': 'Yes, confirm', 'Payload': 'CONFIRM_42'}),
        ]
        for form in forms:
            self.assertAccepted(self.post_v3('inbound', form))
        self.run_queue()
        for form, type_, text_, kept in (
                (forms[0], 'interactive', 'Tomorrow <9>', {'id': 'slot-9'}),
                (forms[1], 'interactive', 'Downtown', {'id': 'row-2', 'description': 'Main St 1'}),
                (forms[2], 'button', 'Yes, confirm', {'payload': 'CONFIRM_42'})):
            with self.subTest(text_):
                reply = self.messages(provider_message_id=form['MessageUUID'])
                self.assertEqual((reply.channel, reply.message_type, reply.body), ('whatsapp', type_, text_),
                                 'exactly the text chosen, no prefix')
                self.assertLessEqual(kept.items(), reply.content['reply'].items())
                self.assertEqual(reply.reply_to_id, asked)
                self.assertEqual(reply.mail_message_id.parent_id, asked.mail_message_id, 'posted as a reply')
        self.assertIn('Tomorrow &lt;9&gt;', self.messages(provider_message_id=forms[0]['MessageUUID']).mail_message_id.body)

    def test_whatsapp_tolerated_location_and_unknown_type_are_readable(self):
        location = whatsapp_form('4f5a6b7c-0a7d-11f0-9d2b-0242ac110002', 'unknown', Location={
            'Latitude': 40.748817, 'Longitude': -73.985428, 'Name': 'Empire <State>', 'Address': '20 W 34th St'})
        unknown = whatsapp_form('5a6b7c8d-0a7d-11f0-9d2b-0242ac110002', 'unknown')
        for form in (location, unknown):
            self.assertAccepted(self.post_v3('inbound', form))
        self.run_queue()
        message = self.messages(provider_message_id=location['MessageUUID'])
        self.assertEqual((message.message_type, message.body), ('location', ''))
        self.assertEqual(message.content['location'], {'latitude': 40.748817, 'longitude': -73.985428,
                                                       'name': 'Empire <State>', 'address': '20 W 34th St'})
        body = message.mail_message_id.body
        for shown in ('Empire &lt;State&gt;', '20 W 34th St', 'mlat=40.748817&amp;mlon=-73.985428'):
            self.assertIn(shown, body)
        self.assertIn('Unsupported message type: unknown',
                      self.messages(provider_message_id=unknown['MessageUUID']).mail_message_id.body)

    def test_national_format_sender_is_read_in_the_country_of_our_number(self):
        self.assertAccepted(self.post_v3('inbound', inbound_form(
            'a5d5e7c9-0a7d-11f0-9d2b-0242ac110002', 'from a carrier that drops the country', sender='(212) 555-0147')))
        self.run_queue()
        message = self.messages()
        self.assertEqual((message.from_number, message.partner_id), ('+12125550147', self.partner))

    @mute_logger(QUEUE_LOGGER)
    def test_unknown_status_is_parked_readably(self):
        message = self.outbound('b6e6f8da-0a7d-11f0-9d2b-0242ac110002', state='sent')
        self.assertAccepted(self.post_v3('status', status_form(message.provider_message_id, 'teleported', 4)))
        self.run_queue()
        event = self.events(self.provider)
        self.assertEqual(event.state, 'dead')
        self.assertIn("unknown message status 'teleported'", event.error)
        self.assertEqual(message.state, 'sent')
