"""Meta WhatsApp Cloud API webhooks end to end: the subscription handshake, then real HTTP POSTs
to our controller signed with ``X-Hub-Signature-256`` over the raw body, the queue's cron, media
downloads from a local fake Graph API, down to the chatter. Facts: PROTOCOLS.md 4.3–4.5."""
import hashlib
import hmac
import json
from urllib.parse import urlencode

from odoo.addons.mail.tools.discuss import Store
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
MEDIA_LOGGER = 'odoo.addons.comm_gateway.models.comm_message_media'


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

    # -- media never hold a message hostage -----------------------------------------------------

    def media_routes(self, media_id, content=JPEG, content_type='image/jpeg', status=200):
        """The fake Graph API serving media ``media_id`` in two steps (id -> URL -> bytes)."""
        self.fake.route('GET', rf'/v21\.0/{media_id}', 200, json={
            'url': f'{self.fake.base_url}/lookaside/{media_id}', 'mime_type': content_type,
            'sha256': hashlib.sha256(content).hexdigest(), 'file_size': len(content), 'id': media_id,
            'messaging_product': 'whatsapp'})
        self.fake.route('GET', rf'/lookaside/{media_id}', status, body=content if status == 200 else b'{}',
                        headers={'Content-Type': content_type})

    @mute_logger(MEDIA_LOGGER)
    def test_message_posted_before_its_media_which_joins_it_later(self):
        self.media_routes('5550001', status=503)
        self.bus_mark = self.env['bus.bus'].sudo().search([], order='id desc', limit=1).id or 0
        image = {'caption': 'Die Rechnung', 'mime_type': 'image/jpeg', 'sha256': 'x', 'id': '5550001'}
        self.assertAccepted(self.post(raw(webhook(value([message('image', image, 'wamid.HOSTAGE')],
                                                        contacts=[(CUSTOMER, 'Jonas')])))))
        self.run_queue(media=False)
        event, message_ = self.events(self.provider), self.messages()
        self.assertEqual(event.state, 'done', 'the media is not part of the event any more')
        self.assertEqual((message_.body, message_.partner_id), ('Die Rechnung', self.partner))
        post = message_.mail_message_id
        self.assertIn('Die Rechnung', post.body)
        self.assertIn('1 image', post.body)
        self.assertFalse(post.attachment_ids)
        # the provider's media server is down: the media is retried on its own, the message stays
        self.fetch_media()
        media = message_.media_ids
        self.assertRecordValues(media, [{'state': 'pending', 'attempts': 1, 'kind': 'image'}])
        self.assertIn('503', media.error)
        self.media_routes('5550001')
        media.next_try_at = '2000-01-01 00:00:00'
        self.env.cr.precommit.run()       # what the commits did: the bus rows sent so far are written
        self.fetch_media()
        self.assertEqual(media.state, 'done')
        self.assertEqual(post.attachment_ids, message_.attachment_ids)
        # the chatters open on the contact show the attachment at once, on the message they show
        self.env.cr.precommit.run()
        channel = json.dumps([self.env.cr.dbname, f'comm_gateway.thread_res.partner_{self.partner.id}'],
                             separators=(',', ':'))
        rows = self.env['bus.bus'].sudo().search([('channel', '=', channel), ('id', '>', self.bus_mark)])
        inserts = [json.loads(row.message)['payload'] for row in rows
                   if json.loads(row.message)['type'] == 'mail.record/insert']
        shown = [item['attachment_ids'] for payload in inserts for item in payload.get('mail.message', [])
                 if item['id'] == post.id and 'attachment_ids' in item]
        self.assertEqual(shown, [[post.attachment_ids.id]], inserts)
        self.assertIn(post.attachment_ids.id, [item['id'] for payload in inserts for item in payload['ir.attachment']])
        self.assertEqual((post.attachment_ids.raw, post.attachment_ids.res_id), (JPEG, self.partner.id))
        self.assertEqual(self.messages(), message_, 'one message, one post')
        self.assertEqual(len(self.partner.message_ids.filtered(lambda m: 'Die Rechnung' in (m.body or ''))), 1)

    @mute_logger(MEDIA_LOGGER)
    def test_media_failing_for_good_leaves_a_note(self):
        self.media_routes('5550002', status=404)
        video = {'mime_type': 'video/mp4', 'sha256': 'x', 'id': '5550002'}
        self.assertAccepted(self.post(raw(webhook(value([message('video', video, 'wamid.GONE')],
                                                        contacts=[(CUSTOMER, 'Jonas')])))))
        self.run_queue()
        message_ = self.messages()
        self.assertIn('1 video', message_.mail_message_id.body)
        self.assertEqual(message_.media_ids.state, 'failed', 'a 404 is not retried')
        note = self.partner.message_ids.filtered(lambda m: 'could not be downloaded' in (m.body or ''))
        self.assertEqual(len(note), 1)
        self.assertIn('video', note.body)
        self.assertIn('HTTP 404', note.body)

    @mute_logger(MEDIA_LOGGER)
    def test_media_retried_then_given_up_with_a_note(self):
        self.media_routes('5550004', status=503)
        audio = {'mime_type': 'audio/ogg', 'sha256': 'x', 'id': '5550004', 'voice': True}
        self.assertAccepted(self.post(raw(webhook(value([message('audio', audio, 'wamid.TIRED')],
                                                        contacts=[(CUSTOMER, 'Jonas')])))))
        self.run_queue(media=False)
        media = self.messages().media_ids
        for attempt in range(1, 7):
            media.next_try_at = '2000-01-01 00:00:00'
            self.fetch_media()
            self.assertEqual((media.attempts, media.state), (attempt, 'pending' if attempt < 6 else 'failed'))
        note = self.partner.message_ids.filtered(lambda m: 'could not be downloaded' in (m.body or ''))
        self.assertEqual(len(note), 1)
        self.assertIn('voice message', note.body)
        self.assertIn('503', note.body)

    @mute_logger(MEDIA_LOGGER)
    def test_media_refused_for_its_type_leaves_a_note(self):
        self.media_routes('5550003', content=b'MZ\x90\x00', content_type='application/x-msdownload')
        document = {'mime_type': 'application/pdf', 'sha256': 'x', 'id': '5550003', 'filename': 'invoice.pdf'}
        self.assertAccepted(self.post(raw(webhook(value([message('document', document, 'wamid.EXE')],
                                                        contacts=[(CUSTOMER, 'Jonas')])))))
        self.run_queue()
        media = self.messages().media_ids
        self.assertEqual((media.state, media.attempts), ('failed', 1))
        self.assertIn('application/x-msdownload', media.error)
        self.assertFalse(self.messages().attachment_ids)

    def test_every_media_kind_is_announced_then_attached(self):
        kinds = {
            'audio': ({'mime_type': 'audio/ogg; codecs=opus', 'sha256': 'x', 'id': '6660001', 'voice': True},
                      b'OggS-voice', 'audio/ogg', '1 voice message'),
            'sticker': ({'mime_type': 'image/webp', 'sha256': 'x', 'id': '6660002', 'animated': False},
                        b'RIFF-webp', 'image/webp', '1 sticker'),
            'document': ({'mime_type': 'application/pdf', 'sha256': 'x', 'id': '6660003', 'filename': 'Menü.pdf'},
                         b'%PDF-1.7', 'application/pdf', '1 document'),
            'video': ({'mime_type': 'video/mp4', 'sha256': 'x', 'id': '6660004', 'caption': 'Schau'},
                      b'\x00\x00\x00\x18ftypmp42', 'video/mp4', '1 video'),
        }
        messages_ = []
        for index, (kind, (content, data, content_type, _label)) in enumerate(kinds.items()):
            self.media_routes(content['id'], data, content_type)
            messages_.append(message(kind, content, f'wamid.KIND{index}'))
        self.assertAccepted(self.post(raw(webhook(value(messages_, contacts=[(CUSTOMER, 'Jonas')])))))
        self.run_queue()
        for index, (kind, (content, data, content_type, label)) in enumerate(kinds.items()):
            with self.subTest(kind):
                message_ = self.messages(provider_message_id=f'wamid.KIND{index}')
                self.assertIn(label, message_.mail_message_id.body)
                self.assertEqual(message_.mail_message_id.attachment_ids.raw, data)
                self.assertEqual(message_.attachment_ids.mimetype, content_type)
        self.assertEqual(self.messages(provider_message_id='wamid.KIND2').attachment_ids.name, 'Menü.pdf')
        self.assertEqual(self.messages(provider_message_id='wamid.KIND3').body, 'Schau')

    # -- a signed request is never refused for its shape ----------------------------------------

    def test_unsupported_and_unknown_types_show_a_placeholder(self):
        unsupported = {'from': CUSTOMER, 'id': 'wamid.UNSUP', 'timestamp': '1735732800', 'type': 'unsupported',
                       'errors': [{'code': 131051, 'title': 'Message type unknown',
                                   'message': 'Message type unknown',
                                   'error_data': {'details': 'Message type is currently not supported.'}}]}
        future = message('poll', {'question': 'Tee oder Kaffee?'}, 'wamid.POLL')
        self.assertAccepted(self.post(raw(webhook(value([unsupported, future], contacts=[(CUSTOMER, 'Jonas')])))))
        self.run_queue()
        self.assertEqual(self.events(self.provider).state, 'done')
        body = self.messages(provider_message_id='wamid.UNSUP').mail_message_id.body
        self.assertIn('Unsupported message type: unsupported', body)
        self.assertIn('Message type is currently not supported.', body)
        self.assertIn('Unsupported message type: poll', self.messages(provider_message_id='wamid.POLL').mail_message_id.body)

    @mute_logger(QUEUE_LOGGER)
    def test_unreadable_parts_are_parked_and_the_rest_processed(self):
        out = self.outbound('wamid.OUT9', state='sent')
        no_id = {'from': CUSTOMER, 'timestamp': '1735732800', 'type': 'text', 'text': {'body': 'lost id'}}
        errors = [{'code': 131000, 'title': 'Something went wrong', 'message': 'Something went wrong',
                   'error_data': {'details': 'Unknown error'}}]
        data = value([text('kept', 'wamid.KEPT'), no_id], statuses=[
            status('wamid.OUT9', 'delivered'), status('wamid.OUT9', 'teleported')], contacts=[(CUSTOMER, 'Jonas')])
        data['errors'] = errors
        self.assertAccepted(self.post(raw(webhook(data))))
        self.run_queue()
        self.assertEqual(self.messages(direction='in').mapped('body'), ['kept'])
        self.assertEqual(out.state, 'delivered')
        event = self.events(self.provider)
        self.assertEqual(event.state, 'dead', 'parked visibly')
        self.assertIn('3 part(s) not processed', event.error)
        self.assertIn("message without id not readable: KeyError 'id'", event.error)
        self.assertIn("status 'teleported'", event.error)
        self.assertIn('reported an error: (131000) Something went wrong — Unknown error', event.error)

    @mute_logger(QUEUE_LOGGER)
    def test_status_to_retry_and_unreadable_part_both_say_why(self):
        """A status for a message not known yet is retried; an unreadable part of the same event is
        parked: the event shows both reasons, and still both once it gives up."""
        data = value(statuses=[status('wamid.NOT_YET', 'delivered'), status('wamid.OUT9', 'teleported')])
        self.assertAccepted(self.post(raw(webhook(data))))
        self.run_queue()
        event = self.events(self.provider)
        self.assertEqual(event.state, 'pending', 'retried for the status')
        self.assertIn('No message wamid.NOT_YET yet', event.error)
        self.assertIn("1 part(s) not processed, the rest was: Meta WhatsApp status 'teleported'", event.error)
        self.env['ir.config_parameter'].set_param('comm_gateway.webhook_max_attempts', '1')
        event._queue_write({'next_try_at': '2000-01-01 00:00:00'})
        self.run_queue()
        self.assertEqual(event.state, 'dead')
        self.assertIn('No message wamid.NOT_YET yet', event.error)
        self.assertIn("status 'teleported'", event.error)

    def test_sender_without_phone_number(self):
        """Business-scoped user ids: a user with a username may write without a phone number."""
        bsuid = 'DE.1502576394655843'
        first = {'from_user_id': bsuid, 'id': 'wamid.BSUID1', 'timestamp': '1735732800', 'type': 'text',
                 'text': {'body': 'Hallo, ich bin @mia'}}
        contacts = [{'profile': {'name': 'Mia', 'username': '@mia'}, 'user_id': bsuid}]
        data = value([first])
        data['contacts'] = contacts
        self.assertAccepted(self.post(raw(webhook(data))))
        self.run_queue()
        message_ = self.messages()
        self.assertEqual((message_.from_number, message_.profile_name), (bsuid, 'Mia'))
        contact = message_.partner_id
        self.assertEqual((contact.name, contact.mobile), ('Mia', False))
        self.assertEqual(message_.mail_message_id.res_id, contact.id)
        self.assertIn('a WhatsApp user id', message_.mail_message_id.body)
        data['messages'] = [{**first, 'id': 'wamid.BSUID2', 'text': {'body': 'Noch da?'}}]
        self.assertAccepted(self.post(raw(webhook(data))))
        self.run_queue()
        self.assertEqual(self.messages(provider_message_id='wamid.BSUID2').partner_id, contact,
                         'the same user is the same contact')

    def test_statuses_outside_the_ladder(self):
        voice = self.outbound('wamid.VOICE', state='delivered')
        inbound = text('oops, wrong chat', 'wamid.DELETED')
        self.assertAccepted(self.post(raw(webhook(value([inbound], contacts=[(CUSTOMER, 'Jonas')])))))
        self.run_queue()
        self.assertAccepted(self.post(raw(webhook(value(statuses=[
            status('wamid.VOICE', 'played'), {'id': 'wamid.DELETED', 'status': 'deleted', 'timestamp': '1735732999',
                                              'recipient_id': CUSTOMER}])))))
        self.run_queue()
        self.assertEqual(voice.state, 'read', 'a voice message played was read')
        self.assertEqual(self.events(self.provider).mapped('state'), ['done', 'done'])
        note = self.partner.message_ids.filtered(lambda m: '"deleted"' in (m.body or ''))
        self.assertIn(f'WhatsApp message from +{CUSTOMER}', note.body)

    def test_iso_timestamps_are_read(self):
        data = text('ISO', 'wamid.ISO')
        data['timestamp'] = '2025-01-01T12:00:00Z'
        self.assertAccepted(self.post(raw(webhook(value([data], contacts=[(CUSTOMER, 'Jonas')])))))
        self.run_queue()
        self.assertEqual(str(self.messages().received_at), '2025-01-01 12:00:00')

    # -- interactive replies, reactions, rich messages ------------------------------------------

    def posted_outbound(self, wamid):
        out = self.outbound(wamid, state='delivered')
        out.mail_message_id = self.partner.message_post(body='Wann passt es Ihnen?', message_type='comment')
        return out

    def test_button_list_and_quick_replies_show_the_choice_as_a_reply(self):
        out = self.posted_outbound('wamid.ASK')
        context = {'from': BUSINESS, 'id': 'wamid.ASK'}
        replies = [
            message('interactive', {'type': 'button_reply', 'button_reply': {'id': 'slot-9', 'title': 'Morgen 9 Uhr'}},
                    'wamid.BTN', context=context),
            message('interactive', {'type': 'list_reply', 'list_reply': {
                'id': 'row-2', 'title': 'Filiale Mitte', 'description': 'Hauptstr. 1'}}, 'wamid.LIST', context=context),
            message('button', {'payload': 'CONFIRM_42', 'text': 'Ja, bestätigen'}, 'wamid.QUICK', context=context),
        ]
        self.assertAccepted(self.post(raw(webhook(value(replies, contacts=[(CUSTOMER, 'Jonas')])))))
        self.run_queue()
        for wamid, text_, kept in (('wamid.BTN', 'Morgen 9 Uhr', {'id': 'slot-9'}),
                                   ('wamid.LIST', 'Filiale Mitte', {'id': 'row-2', 'description': 'Hauptstr. 1'}),
                                   ('wamid.QUICK', 'Ja, bestätigen', {'payload': 'CONFIRM_42'})):
            with self.subTest(wamid):
                reply = self.messages(provider_message_id=wamid)
                self.assertEqual(reply.body, text_, 'exactly the text chosen, no prefix')
                self.assertLessEqual(kept.items(), reply.content['reply'].items())
                self.assertEqual(reply.reply_to_id, out)
                post = reply.mail_message_id
                self.assertEqual(post.parent_id, out.mail_message_id, 'posted as a reply')
                self.assertTrue(post.body.startswith(f'<p>{text_}</p>'), post.body)
                data = Store(post, for_current_user=True).get_result()
                stored = next(item for item in data['mail.message'] if item['id'] == post.id)
                self.assertEqual(stored['parentMessage'], out.mail_message_id.id, 'the chatter shows it as a reply')

    def test_flow_answers_are_listed_escaped_and_their_json_kept(self):
        """A WhatsApp Flow's answers (``nfm_reply``): the fields answered, as a list, escaped; the
        JSON Meta sent kept on the message; linked to the message that opened the flow."""
        out = self.posted_outbound('wamid.FLOW')
        answers = json.dumps({'flow_token': 'odoo-flow-7', 'date': '2025-03-02', 'party': 4,
                              'notes': 'no <script>nuts</script>', 'extras': ['terrace', 'cake']})
        self.assertAccepted(self.post(raw(webhook(value([message('interactive', {
            'type': 'nfm_reply', 'nfm_reply': {'name': 'booking', 'body': 'Sent', 'response_json': answers}},
            'wamid.ANSWERS', context={'from': BUSINESS, 'id': 'wamid.FLOW'})], contacts=[(CUSTOMER, 'Jonas')])))))
        self.run_queue()
        reply = self.messages(provider_message_id='wamid.ANSWERS')
        self.assertEqual((reply.body, reply.reply_to_id), ('Sent', out))
        flow = reply.content['flow']
        self.assertEqual((flow['name'], flow['response_json']), ('booking', answers), 'the JSON is kept as sent')
        self.assertEqual(flow['fields'], [['date', '2025-03-02'], ['party', '4'],
                                          ['notes', 'no <script>nuts</script>'], ['extras', 'terrace, cake']])
        body = reply.mail_message_id.body
        self.assertIn('Form "booking" answered', body)
        for shown in ('<li><b>date</b>: 2025-03-02</li>', '<li><b>party</b>: 4</li>',
                      '<li><b>notes</b>: no &lt;script&gt;nuts&lt;/script&gt;</li>', '<li><b>extras</b>: terrace, cake</li>'):
            self.assertIn(shown, body)
        self.assertNotIn('odoo-flow-7', body, 'our flow token is not shown')

    def test_reactions_go_on_the_message_they_react_to(self):
        out = self.posted_outbound('wamid.LIKED')
        Reaction = self.env['mail.message.reaction']

        def react(wamid, emoji):
            self.assertAccepted(self.post(raw(webhook(value([message(
                'reaction', {'message_id': 'wamid.LIKED', 'emoji': emoji}, wamid)], contacts=[(CUSTOMER, 'Jonas')])))))
            self.run_queue()
            return Reaction.search([('message_id', '=', out.mail_message_id.id)])

        reaction = react('wamid.R1', '👍')
        self.assertEqual((reaction.content, reaction.partner_id), ('👍', self.partner))
        self.assertFalse(self.messages(provider_message_id='wamid.R1').mail_message_id, 'no post of its own')
        self.assertEqual(react('wamid.R2', '❤️').mapped('content'), ['❤️'], 'one reaction per person, replaced')
        self.assertFalse(react('wamid.R3', ''), 'an empty emoji removes it')
        # a reaction to a message Odoo does not know still says something
        self.assertAccepted(self.post(raw(webhook(value([message(
            'reaction', {'message_id': 'wamid.NOT_OURS', 'emoji': '🎉'}, 'wamid.R4')], contacts=[(CUSTOMER, 'Jonas')])))))
        self.run_queue()
        self.assertIn('Reacted 🎉 to a message', self.messages(provider_message_id='wamid.R4').mail_message_id.body)

    def test_location_contacts_and_order_rendered_readably_and_escaped(self):
        location = message('location', {'latitude': 52.520008, 'longitude': 13.404954, 'name': 'Café <b>Mitte</b>',
                                        'address': 'Alexanderplatz 1, Berlin', 'url': 'https://example.com/cafe'},
                           'wamid.LOC')
        contacts = message('contacts', [{
            'name': {'formatted_name': 'Anna <script>x</script>', 'first_name': 'Anna'},
            'phones': [{'phone': '+49 30 1234567', 'wa_id': '49301234567', 'type': 'WORK'}],
            'emails': [{'email': 'anna@example.com', 'type': 'WORK'}]}], 'wamid.VCARD')
        order = message('order', {'catalog_id': 'cat-77', 'text': 'Bitte bis Freitag', 'product_items': [
            {'product_retailer_id': 'SKU-1', 'quantity': 2, 'item_price': 9.5, 'currency': 'EUR'},
            {'product_retailer_id': 'SKU-<2>', 'quantity': 1, 'item_price': 20, 'currency': 'EUR'}]}, 'wamid.ORDER')
        self.assertAccepted(self.post(raw(webhook(value([location, contacts, order], contacts=[(CUSTOMER, 'Jonas')])))))
        self.run_queue()
        loc = self.messages(provider_message_id='wamid.LOC')
        self.assertEqual(loc.content['location']['address'], 'Alexanderplatz 1, Berlin')
        body = loc.mail_message_id.body
        self.assertIn('Café &lt;b&gt;Mitte&lt;/b&gt;', body)
        self.assertIn('Alexanderplatz 1, Berlin', body)
        self.assertIn('https://www.openstreetmap.org/?mlat=52.520008&amp;mlon=13.404954', body)
        vcard = self.messages(provider_message_id='wamid.VCARD')
        self.assertEqual(vcard.content['contacts'][0]['phones'][0]['phone'], '+49 30 1234567')
        self.assertIn('Anna &lt;script&gt;x&lt;/script&gt;', vcard.mail_message_id.body)
        self.assertIn('+49 30 1234567', vcard.mail_message_id.body)
        self.assertIn(f'/odoo/comm.message/{vcard.id}', vcard.mail_message_id.body, 'a link to create the contacts')
        action = vcard.action_create_shared_contacts()
        anna = self.env['res.partner'].search(action['domain'])
        self.assertEqual((anna.name, anna.mobile, anna.email),
                         ('Anna <script>x</script>', '+49301234567', 'anna@example.com'))
        self.assertEqual(self.env['res.partner'].search(vcard.action_create_shared_contacts()['domain']), anna,
                         'created once')
        order_post = self.messages(provider_message_id='wamid.ORDER').mail_message_id.body
        self.assertIn('Bitte bis Freitag', order_post)
        self.assertIn('cat-77', order_post)
        self.assertIn('2 × SKU-1 — 9.5 EUR', order_post)
        self.assertIn('1 × SKU-&lt;2&gt; — 20 EUR', order_post)
        self.assertNotIn('<script>', order_post + vcard.mail_message_id.body + body)

    def test_reply_goes_where_the_answered_message_lives(self):
        """Our question was sent from a lead; the answer lands on that lead, as a reply to it,
        even though the number's contact has a chatter of its own."""
        lead = self.env['crm.lead'].create({'name': 'Neue Küche', 'partner_id': self.partner.id})
        asked = self.outbound('wamid.LEADQ', state='read')
        asked.write({'res_model': 'crm.lead', 'res_id': lead.id,
                     'mail_message_id': lead.message_post(body='Termin am Montag?', message_type='comment').id})
        self.outbound('wamid.LATER', state='sent').write({'res_model': 'res.partner', 'res_id': self.partner.id})
        answer = message('interactive', {'type': 'button_reply', 'button_reply': {'id': 'mo', 'title': 'Montag passt'}},
                         'wamid.LEADA', context={'from': BUSINESS, 'id': 'wamid.LEADQ'})
        self.assertAccepted(self.post(raw(webhook(value([answer], contacts=[(CUSTOMER, 'Jonas')])))))
        self.run_queue()
        reply = self.messages(provider_message_id='wamid.LEADA')
        self.assertEqual((reply.res_model, reply.res_id), ('crm.lead', lead.id))
        self.assertEqual(reply.mail_message_id.parent_id, asked.mail_message_id)
        self.assertEqual((reply.mail_message_id.model, reply.mail_message_id.res_id), ('crm.lead', lead.id))
