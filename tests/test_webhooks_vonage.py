"""Vonage webhooks end to end: real HTTP to our controller, SMS API callbacks signed with ``sig``
(the SDK's ``Auth.sign_params`` for HMAC, MD5 hash by hand), Messages API callbacks with an HS256
JWT (``payload_hash``), then the queue's cron, down to the chatter. Facts: PROTOCOLS.md 3.3–3.7."""
import hashlib
import json
import time
import uuid as uuidlib
from urllib.parse import urlencode

import jwt
from vonage_http_client import Auth

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import CommWebhookMixin, FakeProviderMixin

API_KEY = 'abcd1234'
SECRET = 'vonage-signature-secret-0123456789abcdef'   # >= 32 bytes (HS256)
APPLICATION_ID = 'aaaaaaaa-bbbb-cccc-dddd-0123456789ab'
OUR_NUMBER = '447700900000'
CUSTOMER = '32470987654'          # the partner's '0470 98 76 54' (Belgium)
QUEUE_LOGGER = 'odoo.addons.comm_gateway.models.comm_webhook_event'
MEDIA_LOGGER = 'odoo.addons.comm_gateway.models.comm_message_media'


def sign_sms(params, method, secret=SECRET, timestamp=None):
    """``params`` plus ``timestamp`` and ``sig``, as Vonage signs SMS API webhooks (PROTOCOLS 3.4):
    HMAC with the SDK's own ``Auth.sign_params``, the dashboard's "MD5 hash" by hand."""
    params = {**params, 'timestamp': str(timestamp or int(time.time()))}
    if method == 'md5hash':
        text = ''.join(f'&{key}={str(value).replace("&", "_").replace("=", "_")}'
                       for key, value in sorted(params.items()))
        params['sig'] = hashlib.md5((text + secret).encode()).hexdigest().upper()
    else:
        params['sig'] = Auth(api_key=API_KEY, signature_secret=secret,
                             signature_method=method).sign_params(dict(params)).upper()
    return params


def inbound_sms(message_id, text, sender=CUSTOMER):
    """An inbound SMS (PROTOCOLS 3.3), before signing."""
    return {'msisdn': sender, 'to': OUR_NUMBER, 'messageId': message_id, 'text': text, 'type': 'text',
            'keyword': text.split()[0].upper() if text.split() else '', 'api-key': API_KEY,
            'message-timestamp': '2025-01-01 12:00:00', 'nonce': str(uuidlib.uuid4())}


def dlr(message_id, status, err_code='0'):
    """A delivery receipt (PROTOCOLS 3.3), before signing."""
    return {'msisdn': CUSTOMER, 'to': OUR_NUMBER, 'network-code': '20601', 'messageId': message_id,
            'price': '0.03330000', 'status': status, 'scts': '2501011201', 'err-code': err_code,
            'api-key': API_KEY, 'client-ref': 'odoo-42', 'message-timestamp': '2025-01-01 12:01:05',
            'nonce': str(uuidlib.uuid4())}


def jwt_headers(body, secret=SECRET, **claims):
    """Messages API signed webhook: Bearer HS256 JWT with the hash of the raw body (PROTOCOLS 3.7)."""
    claims = {'iat': int(time.time()), 'jti': str(uuidlib.uuid4()), 'iss': 'Vonage', 'api_key': API_KEY,
              'application_id': APPLICATION_ID, 'payload_hash': hashlib.sha256(body).hexdigest(), **claims}
    claims = {name: value for name, value in claims.items() if value is not None}
    return {'Authorization': 'Bearer ' + jwt.encode(claims, secret, algorithm='HS256'),
            'Content-Type': 'application/json'}


def messages_status(message_uuid, status, error=None):
    data = {'message_uuid': message_uuid, 'to': CUSTOMER, 'from': OUR_NUMBER, 'timestamp': '2025-01-01T12:00:05Z',
            'status': status, 'channel': 'whatsapp', 'client_ref': 'odoo-43',
            'usage': {'currency': 'EUR', 'price': '0.0333'}}
    if error:
        data['error'] = error
    return json.dumps(data).encode()


@tagged('post_install', '-at_install')
class TestWebhooksVonage(FakeProviderMixin, CommWebhookMixin, HttpCase):

    def setUp(self):
        super().setUp()
        self.setup_public_base_url()
        self.provider = self.env['comm.provider'].create({
            'name': 'Vonage', 'code': 'vonage', 'channel_whatsapp': True, 'sms_from': '+' + OUR_NUMBER,
            'vonage_api_key': API_KEY, 'vonage_api_secret': 'ApiSecret99', 'vonage_signature_secret': SECRET,
            'vonage_signature_method': 'sha256'})
        self.token = self.provider.sudo().webhook_token
        self.partner = self.env['res.partner'].create({
            'name': 'Lotte Janssens', 'mobile': '0470 98 76 54', 'country_id': self.env.ref('base.be').id})

    # -- helpers --------------------------------------------------------------------------------

    def url(self, purpose):
        return f'{self.base_url()}/comm/webhook/{self.token}/{purpose}'

    def post_form(self, purpose, params):
        return self.http('POST', self.url(purpose), data=params)

    def post_json(self, purpose, body, headers):
        return self.http('POST', self.url(purpose), data=body, headers=headers)


    def outbound(self, provider_id, channel='sms', state='queued'):
        return self.env['comm.message'].create({
            'direction': 'out', 'provider_id': self.provider.id, 'channel': channel,
            'from_number': '+' + OUR_NUMBER, 'to_number': '+' + CUSTOMER, 'provider_message_id': provider_id,
            'state': state, 'body': 'Table for two at 8'})

    # -- SMS API: inbound -----------------------------------------------------------------------

    def test_inbound_sms_hmac_form_post_reaches_partner_chatter(self):
        self.assertAccepted(self.post_form('inbound', sign_sms(inbound_sms('0A00000012ABCD34', 'Hello there'),
                                                               'sha256')))
        event = self.events(self.provider)
        self.assertEqual((len(event), event.state, event.event_key), (1, 'pending', 'm:0A00000012ABCD34'))
        self.run_queue()
        self.assertEqual(event.state, 'done')
        message = self.messages()
        self.assertRecordValues(message, [{
            'direction': 'in', 'state': 'received', 'channel': 'sms', 'from_number': '+' + CUSTOMER,
            'to_number': '+' + OUR_NUMBER, 'body': 'Hello there', 'partner_id': self.partner.id,
            'provider_message_id': '0A00000012ABCD34'}])
        self.assertEqual(str(message.received_at), '2025-01-01 12:00:00', "Vonage's message-timestamp (UTC)")
        post = message.mail_message_id
        self.assertEqual((post.model, post.res_id, post.author_id), ('res.partner', self.partner.id, self.partner))
        self.assertIn('Hello there', post.body)

    def test_inbound_sms_hmac_get_query(self):
        params = sign_sms(inbound_sms('0A00000012ABCD35', 'Fish & chips = 5'), 'sha256')
        self.assertAccepted(self.http('GET', self.url('inbound') + '?' + urlencode(params)))
        self.run_queue()
        message = self.messages()
        self.assertEqual((message.body, message.partner_id), ('Fish & chips = 5', self.partner))
        with mute_logger(QUEUE_LOGGER):
            tampered = {**params, 'text': 'Fish & chips = 6'}
            self.assertRefused(self.http('GET', self.url('inbound') + '?' + urlencode(tampered)))

    def test_inbound_sms_hmac_json_post(self):
        params = sign_sms(inbound_sms('0A00000012ABCD36', 'as JSON'), 'sha512')
        self.provider.vonage_signature_method = 'sha512'
        self.assertAccepted(self.post_json('inbound', json.dumps(params).encode(),
                                           {'Content-Type': 'application/json'}))
        self.run_queue()
        self.assertEqual(self.messages().body, 'as JSON')

    def test_inbound_sms_md5_hash_method(self):
        self.provider.vonage_signature_method = 'md5hash'
        self.assertAccepted(self.post_form('inbound', sign_sms(inbound_sms('0A00000012ABCD37', 'md5 form'), 'md5hash')))
        params = sign_sms(inbound_sms('0A00000012ABCD38', 'md5 query'), 'md5hash')
        self.assertAccepted(self.http('GET', self.url('inbound') + '?' + urlencode(params)))
        with mute_logger(QUEUE_LOGGER):
            self.assertRefused(self.post_form('inbound', sign_sms(inbound_sms('0A00000012ABCD39', 'x'), 'sha256')))
            self.assertRefused(self.post_form('inbound', sign_sms(inbound_sms('0A00000012ABCD39', 'x'), 'md5')))
        self.run_queue()
        self.assertEqual(sorted(self.messages().mapped('body')), ['md5 form', 'md5 query'])

    def test_script_in_body_is_escaped_in_chatter(self):
        self.assertAccepted(self.post_form('inbound', sign_sms(
            inbound_sms('0A00000012ABCD40', '<script>alert(1)</script><b>x</b>'), 'sha256')))
        self.run_queue()
        self.assertEscapedInChatter(self.messages())

    # -- forged, stale, duplicates --------------------------------------------------------------

    @mute_logger(QUEUE_LOGGER)
    def test_forged_and_stale_sms_get_403_and_store_nothing(self):
        params = sign_sms(inbound_sms('0A00000012ABCD41', 'Pay 10 EUR'), 'sha256')
        unsigned = dict(params)
        del unsigned['sig']
        no_timestamp = dict(params)
        del no_timestamp['timestamp']
        cases = {
            'tampered text': {**params, 'text': 'Pay 1000 EUR'},
            'added field': {**params, 'concat': 'true'},
            'wrong secret': sign_sms(inbound_sms('0A00000012ABCD41', 'Pay 10 EUR'), 'sha256',
                                     secret='another-secret-0123456789abcdef0123'),
            'other method': sign_sms(inbound_sms('0A00000012ABCD41', 'Pay 10 EUR'), 'sha1'),
            'stale timestamp': sign_sms(inbound_sms('0A00000012ABCD41', 'Pay 10 EUR'), 'sha256',
                                        timestamp=int(time.time()) - 600),
            'timestamp from the future': sign_sms(inbound_sms('0A00000012ABCD41', 'Pay 10 EUR'), 'sha256',
                                                  timestamp=int(time.time()) + 600),
            'no sig': unsigned,
            'no timestamp': no_timestamp,
        }
        for name, data in cases.items():
            with self.subTest(name):
                self.assertRefused(self.post_form('inbound', data))
        self.assertRefused(self.http('GET', self.url('inbound') + '?' + urlencode(cases['stale timestamp'])))
        # a genuine JWT (issued for another body) replayed beside a form body or a GET query
        genuine = jwt_headers(messages_status('6f1b1f5c-2222-4c2b-9a7d-2f2b2d2e2f30', 'delivered'))
        forged = inbound_sms('0A00000012ABCD43', 'Pay 10 EUR')
        as_form = {**genuine, 'Content-Type': 'application/x-www-form-urlencoded'}
        self.assertRefused(self.http('POST', self.url('inbound'), data=forged, headers=as_form))
        self.assertRefused(self.http('GET', self.url('inbound') + '?' + urlencode(forged), headers=genuine))
        self.assertFalse(self.events(self.provider))
        counter = self.env['comm.webhook.rejection'].search([('provider_id', '=', self.provider.id)])
        self.assertEqual(counter.count, len(cases) + 3)
        self.assertAccepted(self.post_form('inbound', params))
        self.assertEqual(len(self.events(self.provider)), 1)

    def test_duplicate_delivery_is_stored_once(self):
        params = sign_sms(inbound_sms('0A00000012ABCD42', 'once'), 'sha256')
        self.assertAccepted(self.post_form('inbound', params))
        self.assertAccepted(self.post_form('inbound', params))
        # Vonage re-sends a fresh signature (new timestamp and nonce) for the same message
        self.assertAccepted(self.post_form('inbound', sign_sms(inbound_sms('0A00000012ABCD42', 'once'), 'sha256')))
        self.assertEqual(len(self.events(self.provider)), 1)
        outbound = self.outbound('6f1b1f5c-1111-4c2b-9a7d-2f2b2d2e2f30', channel='whatsapp')
        body = messages_status(outbound.provider_message_id, 'delivered')
        self.assertAccepted(self.post_json('status', body, jwt_headers(body)))
        self.assertAccepted(self.post_json('status', body, jwt_headers(body)))
        self.assertEqual(len(self.events(self.provider)), 2)
        self.run_queue()
        self.assertEqual(len(self.messages(direction='in')), 1)
        self.assertEqual(outbound.state, 'delivered')

    # -- SMS API: delivery receipts -------------------------------------------------------------

    def test_delivery_receipts_move_the_message_forward(self):
        message = self.outbound('0C000000A1B2C3D4')
        for vonage_status, expected in (('accepted', 'sent'), ('buffered', 'sent'), ('delivered', 'delivered')):
            with self.subTest(vonage_status):
                self.assertAccepted(self.post_form('status', sign_sms(dlr('0C000000A1B2C3D4', vonage_status), 'sha256')))
                self.run_queue()
                self.assertEqual(message.state, expected)
        self.assertTrue(message.sent_at and message.delivered_at)
        self.assertEqual(len(self.events(self.provider)), 3)

    def test_delivery_receipts_out_of_order(self):
        message = self.outbound('0C000000A1B2C3D5')
        self.assertAccepted(self.post_form('status', sign_sms(dlr('0C000000A1B2C3D5', 'delivered'), 'sha256')))
        self.assertAccepted(self.post_form('status', sign_sms(dlr('0C000000A1B2C3D5', 'accepted'), 'sha256')))
        self.run_queue()
        self.assertEqual(message.state, 'delivered')
        self.assertFalse(message.sent_at)

    def test_failed_delivery_receipts_carry_the_error_code(self):
        opted_out, expired = self.outbound('0C000000A1B2C3D6', state='sent'), self.outbound('0C000000A1B2C3D7')
        self.assertAccepted(self.post_form('status', sign_sms(dlr('0C000000A1B2C3D6', 'failed', '9'), 'sha256')))
        self.assertAccepted(self.post_form('status', sign_sms(dlr('0C000000A1B2C3D7', 'expired', '2'), 'sha256')))
        self.run_queue()
        self.assertRecordValues(opted_out + expired, [
            {'state': 'undelivered', 'error_code': '9', 'failure_type': 'sms_optout'},
            {'state': 'undelivered', 'error_code': '2', 'failure_type': 'unknown'},
        ])
        self.assertIn('opted out', opted_out.error_message)

    # -- Messages API (JWT) -----------------------------------------------------------------------

    def test_whatsapp_inbound_with_jwt_creates_contact(self):
        body = json.dumps({
            'channel': 'whatsapp', 'message_uuid': 'aaaaaaaa-0000-4000-8000-000000000001', 'to': OUR_NUMBER,
            'from': '32470555666', 'timestamp': '2025-01-01T12:00:00Z', 'profile': {'name': 'Sofie Peeters'},
            'message_type': 'text', 'text': 'Hallo! Is de winkel open?', 'context_status': 'none'}).encode()
        self.assertAccepted(self.post_json('inbound', body, jwt_headers(body)))
        event = self.events(self.provider)
        self.assertEqual(event.event_key, 'm:aaaaaaaa-0000-4000-8000-000000000001')
        self.run_queue()
        message = self.messages()
        self.assertRecordValues(message, [{
            'direction': 'in', 'channel': 'whatsapp', 'from_number': '+32470555666', 'to_number': '+' + OUR_NUMBER,
            'body': 'Hallo! Is de winkel open?', 'profile_name': 'Sofie Peeters'}])
        self.assertEqual((message.partner_id.name, message.partner_id.mobile), ('Sofie Peeters', '+32470555666'))
        self.assertEqual(message.mail_message_id.res_id, message.partner_id.id)

    def test_whatsapp_statuses_with_jwt(self):
        message_uuid = 'bbbbbbbb-0000-4000-8000-000000000002'
        message = self.outbound(message_uuid, channel='whatsapp')
        for vonage_status, expected in (('submitted', 'sent'), ('delivered', 'delivered'), ('read', 'read')):
            with self.subTest(vonage_status):
                body = messages_status(message_uuid, vonage_status)
                self.assertAccepted(self.post_json('status', body, jwt_headers(body)))
                self.run_queue()
                self.assertEqual(message.state, expected)
        self.assertTrue(message.read_at)
        # out of order: a late 'submitted' changes nothing
        late = messages_status(message_uuid, 'submitted')
        self.assertAccepted(self.post_json('status', late, jwt_headers(late)))
        self.run_queue()
        self.assertEqual(message.state, 'read')

    def test_whatsapp_rejected_and_undeliverable_carry_the_error_code(self):
        rejected = self.outbound('cccccccc-0000-4000-8000-000000000003', channel='whatsapp')
        undeliverable = self.outbound('dddddddd-0000-4000-8000-000000000004', channel='whatsapp', state='sent')
        for message, status, code, detail in (
                (rejected, 'rejected', 1340, 'Outside the allowed window'),
                (undeliverable, 'undeliverable', 1300, 'Not part of the provider network')):
            body = messages_status(message.provider_message_id, status, error={
                'type': f'https://developer.vonage.com/api-errors/messages#{code}', 'title': code, 'detail': detail})
            self.assertAccepted(self.post_json('status', body, jwt_headers(body)))
        self.run_queue()
        self.assertRecordValues(rejected + undeliverable, [
            {'state': 'failed', 'error_code': '1340', 'failure_type': 'unknown',
             'error_message': 'Outside the allowed window'},
            {'state': 'failed', 'error_code': '1300', 'failure_type': 'sms_number_format',
             'error_message': 'Not part of the provider network'},
        ])

    @mute_logger(QUEUE_LOGGER)
    def test_forged_jwt_requests_get_403(self):
        message = self.outbound('eeeeeeee-0000-4000-8000-000000000005', channel='whatsapp')
        body = messages_status(message.provider_message_id, 'read')
        headers = jwt_headers(body)
        cases = {
            'tampered body': (body.replace(b'"read"', b'"delivered"'), headers),
            're-serialized body': (json.dumps(json.loads(body), indent=1).encode(), headers),
            'wrong secret': (body, jwt_headers(body, secret='x' * 40)),
            'expired token': (body, jwt_headers(body, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
            'issued in the future': (body, jwt_headers(body, iat=int(time.time()) + 3600)),
            'issued 6 minutes ago': (body, jwt_headers(body, iat=int(time.time()) - 360)),
            'issued 6 minutes ahead': (body, jwt_headers(body, iat=int(time.time()) + 360)),
            'no jti': (body, jwt_headers(body, jti=None)),
            'hash of another body': (body, jwt_headers(b'{}')),
            'not a JWT': (body, {**headers, 'Authorization': 'Bearer not.a.jwt'}),
            'no Authorization': (body, {'Content-Type': 'application/json'}),
        }
        for name, (data, request_headers) in cases.items():
            with self.subTest(name):
                self.assertRefused(self.post_json('status', data, request_headers))
        self.assertFalse(self.events(self.provider))
        self.assertAccepted(self.post_json('status', body, headers))
        self.run_queue()
        self.assertEqual(message.state, 'read')

    @mute_logger(QUEUE_LOGGER)
    def test_jwt_route_takes_the_signed_body_only(self):
        """A JWT is single use (``jti`` remembered in the database) and vouches for the POSTed
        body only: a GET or a query string beside it is signed by nobody."""
        message = self.outbound('eeeeeeee-0000-4000-8000-000000000006', channel='whatsapp')
        body = messages_status(message.provider_message_id, 'delivered')
        headers = jwt_headers(body)
        self.assertAccepted(self.post_json('status', body, headers))
        self.assertRefused(self.post_json('status', body, headers))          # the same token again
        self.assertEqual(len(self.events(self.provider)), 1)
        self.assertTrue(self.env['comm.webhook.nonce'].search([('provider_id', '=', self.provider.id)]))
        read = messages_status(message.provider_message_id, 'read')
        self.assertRefused(self.http('POST', self.url('status') + '?status=read', data=read, headers=jwt_headers(read)))
        self.assertEqual(self.http('GET', self.url('status') + '?' + urlencode(json.loads(read)),
                                   headers=jwt_headers(b'')).status_code, 403)
        self.assertEqual(len(self.events(self.provider)), 1)
        stored = {name.lower() for name in self.events(self.provider).headers}
        self.assertNotIn('authorization', stored, 'the token is replay material: not kept with the event')

    # -- real-world inbound ---------------------------------------------------------------------

    def whatsapp(self, message_uuid, message_type, content=None, sender=CUSTOMER, **extra):
        data = {'channel': 'whatsapp', 'message_uuid': message_uuid, 'to': OUR_NUMBER, 'from': sender,
                'timestamp': '2025-01-01T12:00:00Z', 'profile': {'name': 'Lotte'}, 'message_type': message_type,
                'context_status': 'none', **extra}
        if content is not None:
            data[message_type] = content
        body = json.dumps(data).encode()
        self.assertAccepted(self.post_json('inbound', body, jwt_headers(body)))

    def test_national_format_senders_read_in_the_country_of_our_number(self):
        """Our number is British: '07700 900456' and '0044 7700 900456' are +447700900456, a
        number in Ofcom's drama range (possible, not valid) that still finds its contact."""
        partner = self.env['res.partner'].create({'name': 'Alfie Moon', 'mobile': '07700 900456',
                                                  'country_id': self.env.ref('base.uk').id})
        for message_id, sender in (('0A00000012ABCD60', '07700 900456'), ('0A00000012ABCD61', '0044 7700 900456'),
                                   ('0A00000012ABCD62', '447700900456')):
            self.assertAccepted(self.post_form('inbound', sign_sms(inbound_sms(message_id, 'Hi', sender=sender),
                                                                   'sha256')))
        self.run_queue()
        self.assertEqual(set(self.messages().mapped('from_number')), {'+447700900456'})
        self.assertEqual(self.messages().partner_id, partner)

    def test_alphanumeric_sender_in_delivery_receipt(self):
        message = self.outbound('0B00000012ABCD70', state='sent')
        self.assertAccepted(self.post_form('status', sign_sms({**dlr('0B00000012ABCD70', 'delivered'), 'to': 'MyShop'},
                                                              'sha256')))
        self.run_queue()
        self.assertEqual(message.state, 'delivered')

    @mute_logger(MEDIA_LOGGER)
    def test_whatsapp_image_posted_first_fetched_with_retries(self):
        self.provider.api_base_url = self.fake.base_url     # media only from the provider's own host
        url = f'{self.fake.base_url}/v3/media/6c1b1b3a-0000-4000-8000-00000000aaaa'
        self.fake.route('GET', r'/v3/media/.*', 500, json={'title': 'Internal Error'})
        self.whatsapp('aaaaaaaa-0000-4000-8000-000000000101', 'image', {'url': url, 'caption': 'Kassabon'})
        self.run_queue()
        message = self.messages()
        self.assertEqual(message.body, 'Kassabon')
        self.assertIn('1 image', message.mail_message_id.body)
        self.assertEqual((message.media_ids.state, message.media_ids.attempts), ('pending', 1))
        self.fake.route('GET', r'/v3/media/.*', 200, body=b'\xff\xd8vonage-jpeg', headers={'Content-Type': 'image/jpeg'})
        message.media_ids.next_try_at = '2000-01-01 00:00:00'
        self.fetch_media()
        self.assertEqual(message.mail_message_id.attachment_ids.raw, b'\xff\xd8vonage-jpeg')

    def test_whatsapp_reply_button_reaction_location_and_unknown_type(self):
        asked = self.outbound('cccccccc-0000-4000-8000-000000000200', channel='whatsapp', state='read')
        asked.mail_message_id = self.partner.message_post(body='Which shop?', message_type='comment')
        context = {'message_uuid': asked.provider_message_id, 'message_from': OUR_NUMBER}
        self.whatsapp('aaaaaaaa-0000-4000-8000-000000000201', 'reply',
                      {'id': 'shop-2', 'title': 'Gent Centrum', 'description': 'Veldstraat 1'},
                      context=context, context_status='available')
        self.whatsapp('aaaaaaaa-0000-4000-8000-000000000202', 'button', {'payload': 'YES-1', 'text': 'Ja'},
                      context=context)
        self.whatsapp('aaaaaaaa-0000-4000-8000-000000000203', 'reaction', {'action': 'react', 'emoji': '😍'},
                      context=context)
        self.whatsapp('aaaaaaaa-0000-4000-8000-000000000204', 'location',
                      {'lat': 51.054342, 'long': 3.717424, 'name': 'Gravensteen'})
        self.whatsapp('aaaaaaaa-0000-4000-8000-000000000205', 'custom', {'foo': 'bar'})
        self.run_queue()
        reply = self.messages(provider_message_id='aaaaaaaa-0000-4000-8000-000000000201')
        self.assertEqual((reply.body, reply.content['reply']['id'], reply.reply_to_id), ('Gent Centrum', 'shop-2', asked))
        self.assertEqual(reply.mail_message_id.parent_id, asked.mail_message_id)
        button = self.messages(provider_message_id='aaaaaaaa-0000-4000-8000-000000000202')
        self.assertEqual((button.body, button.content['reply']['payload']), ('Ja', 'YES-1'))
        reactions = asked.mail_message_id.reaction_ids
        self.assertEqual((reactions.content, reactions.partner_id), ('😍', self.partner))
        location = self.messages(provider_message_id='aaaaaaaa-0000-4000-8000-000000000204')
        self.assertIn('Gravensteen', location.mail_message_id.body)
        self.assertIn('mlat=51.054342', location.mail_message_id.body)
        unknown = self.messages(provider_message_id='aaaaaaaa-0000-4000-8000-000000000205')
        self.assertIn('Unsupported message type: custom', unknown.mail_message_id.body)
        # the customer takes the reaction back
        self.whatsapp('aaaaaaaa-0000-4000-8000-000000000206', 'reaction', {'action': 'unreact'}, context=context)
        self.run_queue()
        self.assertFalse(asked.mail_message_id.reaction_ids)

    @mute_logger(QUEUE_LOGGER)
    def test_unknown_statuses_are_parked_readably(self):
        message = self.outbound('ffffffff-0000-4000-8000-000000000300', channel='whatsapp', state='sent')
        body = messages_status(message.provider_message_id, 'teleported')
        self.assertAccepted(self.post_json('status', body, jwt_headers(body)))
        self.run_queue()
        event = self.events(self.provider)
        self.assertEqual(event.state, 'dead')
        self.assertIn("unknown Messages API status 'teleported'", event.error)
        self.assertEqual(message.state, 'sent')

    def test_sender_names_and_short_codes_are_explained(self):
        for message_id, sender, label in (
                ('0A00000012ABCD80', 'MyBank', 'MyBank (a sender name, not a phone number: it cannot be replied to)'),
                ('0A00000012ABCD81', '72345', '72345 (a short code)')):
            self.assertAccepted(self.post_form('inbound', sign_sms(inbound_sms(message_id, 'Code 1234', sender=sender),
                                                                   'sha256')))
            self.run_queue()
            message = self.messages(provider_message_id=message_id)
            self.assertEqual(message.from_number, sender)
            self.assertIn(label, message.mail_message_id.body)
            self.assertFalse(message.partner_id.mobile)
