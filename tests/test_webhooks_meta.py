"""Meta WhatsApp Cloud API webhooks end to end: the subscription handshake, then real HTTP POSTs
to our controller signed with ``X-Hub-Signature-256`` over the raw body, the queue's cron, media
downloads from a local fake Graph API, down to the chatter. Facts: PROTOCOLS.md 4.3–4.5."""
import hashlib
import hmac
import json
from urllib.parse import urlencode

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import CommWebhookMixin, FakeProviderMixin

APP_SECRET = 'meta-app-secret-4b8d1f0e2a'
VERIFY_TOKEN = 'verify-me-7f3c'
ACCESS_TOKEN = 'EAAGwebhooktoken123'
PHONE_NUMBER_ID = '106540352242922'
WABA_ID = '102290129340398'
BUSINESS = '15550001111'
CUSTOMER = '4915123456780'          # the partner's '0151 23456780' (Germany)
JPEG = b'\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01meta-fake-jpeg\xff\xd9'
QUEUE_LOGGER = 'odoo.addons.comm_gateway.models.comm_webhook_event'


def hub_signature(raw, secret=APP_SECRET):
    """X-Hub-Signature-256: 'sha256=' + hex HMAC-SHA256 of the raw body with the app secret."""
    return 'sha256=' + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def webhook(*values):
    return {'object': 'whatsapp_business_account', 'entry': [{'id': WABA_ID, 'changes': [
        {'field': 'messages', 'value': value} for value in values]}]}


def value(messages=(), statuses=(), contacts=()):
    data = {'messaging_product': 'whatsapp',
            'metadata': {'display_phone_number': BUSINESS, 'phone_number_id': PHONE_NUMBER_ID}}
    if contacts:
        data['contacts'] = [{'profile': {'name': name}, 'wa_id': wa_id} for wa_id, name in contacts]
    if messages:
        data['messages'] = list(messages)
    if statuses:
        data['statuses'] = list(statuses)
    return data


def message(kind, content, wamid, sender=CUSTOMER, **extra):
    return {'from': sender, 'id': wamid, 'timestamp': '1735732800', 'type': kind, kind: content, **extra}


def text(body, wamid, sender=CUSTOMER):
    return message('text', {'body': body}, wamid, sender)


def status(wamid, state, errors=None, timestamp='1735732900'):
    data = {'id': wamid, 'status': state, 'timestamp': timestamp, 'recipient_id': CUSTOMER,
            'biz_opaque_callback_data': 'odoo-44',
            'conversation': {'id': 'c0nv3rs4t10n', 'origin': {'type': 'service'}},
            'pricing': {'billable': True, 'pricing_model': 'PMP', 'category': 'service'}}
    if errors:
        data['errors'] = errors
    return data


def meta_account(env, api_base_url):
    """A Meta account on the fake Graph API, with the app secret the webhooks are signed with."""
    return env['comm.provider'].create({
        'name': 'Meta', 'code': 'meta', 'channel_sms': False, 'channel_whatsapp': True,
        'whatsapp_from': '+' + BUSINESS, 'meta_app_secret': APP_SECRET, 'meta_verify_token': VERIFY_TOKEN,
        'meta_access_token': ACCESS_TOKEN, 'meta_phone_number_id': PHONE_NUMBER_ID,
        'meta_business_account_id': WABA_ID, 'api_base_url': api_base_url, 'timeout': 5})


def raw(payload):
    """The body as Meta sends it: compact JSON bytes."""
    return json.dumps(payload, separators=(',', ':'), ensure_ascii=False).encode()


@tagged('post_install', '-at_install')
class TestWebhooksMeta(FakeProviderMixin, CommWebhookMixin, HttpCase):

    def setUp(self):
        super().setUp()
        self.setup_public_base_url()
        self.provider = meta_account(self.env, self.fake.base_url)
        self.token = self.provider.sudo().webhook_token
        self.partner = self.env['res.partner'].create({
            'name': 'Jonas Becker', 'mobile': '0151 23456780', 'country_id': self.env.ref('base.de').id})

    # -- helpers --------------------------------------------------------------------------------

    def url(self):
        return f'{self.base_url()}/comm/webhook/{self.token}/inbound'

    def post(self, body, signature=None, headers=None):
        headers = {'Content-Type': 'application/json',
                   'X-Hub-Signature-256': signature if signature is not None else hub_signature(body),
                   **(headers or {})}
        return self.http('POST', self.url(), data=body, headers=headers)


    def outbound(self, wamid, state='queued'):
        return self.env['comm.message'].create({
            'direction': 'out', 'provider_id': self.provider.id, 'channel': 'whatsapp',
            'from_number': '+' + BUSINESS, 'to_number': '+' + CUSTOMER, 'provider_message_id': wamid,
            'state': state, 'body': 'Your table is ready'})

    # -- handshake ------------------------------------------------------------------------------

    def test_subscription_handshake(self):
        query = {'hub.mode': 'subscribe', 'hub.challenge': '1158201444', 'hub.verify_token': VERIFY_TOKEN}
        response = self.http('GET', self.url() + '?' + urlencode(query))
        self.assertEqual((response.status_code, response.text), (200, '1158201444'))
        for name, changes in (('wrong token', {'hub.verify_token': 'not-the-token'}),
                              ('other mode', {'hub.mode': 'unsubscribe'}),
                              ('no token', {'hub.verify_token': ''})):
            with self.subTest(name):
                response = self.http('GET', self.url() + '?' + urlencode({**query, **changes}))
                self.assertEqual(response.status_code, 403)
                self.assertNotIn(b'1158201444', response.content)
        self.assertEqual(self.http('GET', self.url()).status_code, 403)
        self.assertFalse(self.events(self.provider))

    # -- inbound --------------------------------------------------------------------------------

    def test_text_message_reaches_partner_chatter(self):
        body = raw(webhook(value([text('Guten Tag! Noch offen?', 'wamid.IN1')],
                                 contacts=[(CUSTOMER, 'Jonas B.')])))
        self.assertAccepted(self.post(body))
        event = self.events(self.provider)
        self.assertEqual((len(event), event.state, event.event_key), (1, 'pending', 'm:wamid.IN1'))
        self.assertEqual(event.body, body.decode(), 'the raw body is stored as received')
        self.run_queue()
        self.assertEqual(event.state, 'done')
        message_ = self.messages()
        self.assertRecordValues(message_, [{
            'direction': 'in', 'state': 'received', 'channel': 'whatsapp', 'from_number': '+' + CUSTOMER,
            'to_number': '+' + BUSINESS, 'body': 'Guten Tag! Noch offen?', 'profile_name': 'Jonas B.',
            'partner_id': self.partner.id, 'provider_message_id': 'wamid.IN1'}])
        self.assertEqual(str(message_.received_at), '2025-01-01 12:00:00', "Meta's unix timestamp")
        post = message_.mail_message_id
        self.assertEqual((post.model, post.res_id, post.author_id), ('res.partner', self.partner.id, self.partner))
        self.assertIn('Guten Tag! Noch offen?', post.body)
        self.assertEqual(self.partner.name, 'Jonas Becker', 'a known contact keeps its name')

    def test_unknown_sender_creates_contact_from_profile_name(self):
        body = raw(webhook(value([text('Hi!', 'wamid.IN2', sender='4915199887766')],
                                 contacts=[('4915199887766', 'Mia Schulz')])))
        self.assertAccepted(self.post(body))
        self.run_queue()
        contact = self.messages().partner_id
        self.assertEqual((contact.name, contact.mobile), ('Mia Schulz', '+4915199887766'))
        self.assertEqual(self.messages().mail_message_id.res_id, contact.id)

    def test_image_message_media_downloaded_in_two_steps(self):
        self.fake.route('GET', r'/v21\.0/1234567890', 200, json={
            'url': f'{self.fake.base_url}/lookaside/whatsapp_business/attachments/?mid=1234567890&ext=1',
            'mime_type': 'image/jpeg', 'sha256': hashlib.sha256(JPEG).hexdigest(), 'file_size': len(JPEG),
            'id': '1234567890', 'messaging_product': 'whatsapp'})
        self.fake.route('GET', r'/lookaside/whatsapp_business/attachments/', 200, body=JPEG,
                        headers={'Content-Type': 'image/jpeg'})
        image = {'caption': 'Das Paket', 'mime_type': 'image/jpeg', 'sha256': hashlib.sha256(JPEG).hexdigest(),
                 'id': '1234567890'}
        self.assertAccepted(self.post(raw(webhook(value([message('image', image, 'wamid.IMG1')],
                                                        contacts=[(CUSTOMER, 'Jonas')])))))
        self.run_queue()
        self.assertEqual(self.events(self.provider).state, 'done')
        message_ = self.messages()
        self.assertEqual((message_.message_type, message_.body), ('image', 'Das Paket'))
        attachment = message_.attachment_ids
        self.assertEqual(len(attachment), 1)
        self.assertEqual((attachment.raw, attachment.mimetype), (JPEG, 'image/jpeg'))
        self.assertEqual(message_.mail_message_id.attachment_ids, attachment)
        self.assertEqual((attachment.res_model, attachment.res_id), ('res.partner', self.partner.id))
        lookup, download = self.fake.requests
        self.assertEqual((lookup.method, lookup.path), ('GET', '/v21.0/1234567890'))
        self.assertEqual((download.method, download.path), ('GET', '/lookaside/whatsapp_business/attachments/'))
        for request in (lookup, download):
            self.assertEqual(request.headers['authorization'], f'Bearer {ACCESS_TOKEN}')

    def test_two_messages_and_a_status_in_one_request(self):
        out = self.outbound('wamid.OUT1', state='sent')
        body = raw(webhook(
            value([text('first', 'wamid.IN3'), text('second', 'wamid.IN4')], contacts=[(CUSTOMER, 'Jonas')]),
            value(statuses=[status('wamid.OUT1', 'delivered')])))
        self.assertAccepted(self.post(body))
        self.assertEqual(len(self.events(self.provider)), 1, 'one request, one event')
        self.run_queue()
        inbound = self.messages(direction='in')
        self.assertEqual(sorted(inbound.mapped('body')), ['first', 'second'])
        self.assertEqual(inbound.partner_id, self.partner)
        self.assertEqual(len(inbound.mail_message_id), 2)
        self.assertEqual(out.state, 'delivered')

    @mute_logger(QUEUE_LOGGER)
    def test_unknown_status_does_not_hold_back_the_messages_beside_it(self):
        # a status for a wamid Odoo does not know (sent by another app on the same number)
        body = raw(webhook(
            value([text('still here', 'wamid.IN7')], contacts=[(CUSTOMER, 'Jonas')]),
            value(statuses=[status('wamid.UNKNOWN', 'delivered')])))
        self.assertAccepted(self.post(body))
        self.run_queue()
        self.assertEqual(self.messages(direction='in').mapped('body'), ['still here'])
        event = self.events(self.provider)
        self.assertEqual((event.state, event.attempts), ('pending', 1), 'the unknown status is retried')
        event._queue_write({'next_try_at': '2000-01-01 00:00:00'})
        self.run_queue()
        self.assertEqual(len(self.messages(direction='in')), 1, 'the retry does not post the message twice')

    def test_script_in_body_is_escaped_in_chatter(self):
        self.assertAccepted(self.post(raw(webhook(value([text('<script>alert(1)</script><b>x</b>', 'wamid.IN5')],
                                                        contacts=[(CUSTOMER, 'Jonas')])))))
        self.run_queue()
        self.assertEscapedInChatter(self.messages())

    # -- forged, duplicates ---------------------------------------------------------------------

    @mute_logger(QUEUE_LOGGER)
    def test_forged_requests_get_403_and_store_nothing(self):
        payload = webhook(value([text('Pay 10 EUR', 'wamid.IN6')], contacts=[(CUSTOMER, 'Jonas')]))
        body = raw(payload)
        signature = hub_signature(body)
        cases = {
            're-serialized JSON': (json.dumps(payload, indent=2).encode(), signature),
            're-serialized JSON, default spacing': (json.dumps(payload).encode(), signature),
            'tampered body': (body.replace(b'Pay 10 EUR', b'Pay 99 EUR'), signature),
            'wrong app secret': (body, hub_signature(body, secret='another-app-secret')),
            'no prefix': (body, signature.removeprefix('sha256=')),
            'legacy sha1': (body, 'sha1=' + hmac.new(APP_SECRET.encode(), body, hashlib.sha1).hexdigest()),
            'no signature': (body, ''),
        }
        for name, (data, header) in cases.items():
            with self.subTest(name):
                self.assertRefused(self.post(data, signature=header))
        self.assertFalse(self.events(self.provider))
        counter = self.env['comm.webhook.rejection'].search([('provider_id', '=', self.provider.id)])
        self.assertEqual(counter.count, len(cases))
        self.assertAccepted(self.post(body, signature=signature.upper().replace('SHA256=', 'sha256=')))
        self.assertEqual(len(self.events(self.provider)), 1, 'hex compared case-insensitively')

    def test_duplicate_delivery_is_stored_once(self):
        body = raw(webhook(value([text('once', 'wamid.IN7')], contacts=[(CUSTOMER, 'Jonas')])))
        self.assertAccepted(self.post(body))
        self.assertAccepted(self.post(body))
        self.assertEqual(len(self.events(self.provider)), 1)
        self.run_queue()
        self.assertEqual(len(self.messages()), 1)

    # -- statuses -------------------------------------------------------------------------------

    def test_statuses_move_the_message_forward(self):
        out = self.outbound('wamid.OUT2')
        for meta_status, date_field in (('sent', 'sent_at'), ('delivered', 'delivered_at'), ('read', 'read_at')):
            with self.subTest(meta_status):
                self.assertAccepted(self.post(raw(webhook(value(statuses=[status('wamid.OUT2', meta_status)])))))
                self.run_queue()
                self.assertEqual(out.state, meta_status)
                self.assertEqual(str(out[date_field]), '2025-01-01 12:01:40', "the status's own timestamp")
        self.assertEqual(self.events(self.provider).mapped('event_key'),
                         ['s:wamid.OUT2:read', 's:wamid.OUT2:delivered', 's:wamid.OUT2:sent'])

    def test_read_before_delivered(self):
        out = self.outbound('wamid.OUT3', state='sent')
        self.assertAccepted(self.post(raw(webhook(value(statuses=[status('wamid.OUT3', 'read')])))))
        self.assertAccepted(self.post(raw(webhook(value(statuses=[status('wamid.OUT3', 'delivered')])))))
        self.run_queue()
        self.assertEqual(out.state, 'read')
        self.assertFalse(out.delivered_at)

    def test_failed_status_carries_the_error_code(self):
        out = self.outbound('wamid.OUT4', state='sent')
        errors = [{'code': 131050, 'title': 'Unable to deliver the message', 'message': 'Unable to deliver',
                   'error_data': {'details': 'The user has stopped marketing messages'}}]
        self.assertAccepted(self.post(raw(webhook(value(statuses=[status('wamid.OUT4', 'failed', errors)])))))
        self.run_queue()
        self.assertRecordValues(out, [{'state': 'failed', 'error_code': '131050', 'failure_type': 'sms_optout'}])
        self.assertIn('stopped marketing messages', out.error_message)
        self.assertTrue(out.failed_at)
