"""Twilio webhooks end to end: real HTTP to our controller, signed like Twilio signs (the SDK's
``RequestValidator``), then the queue's cron, down to the chatter. Facts: PROTOCOLS.md 1.3–1.5."""
import base64
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import CommWebhookMixin, FakeProviderMixin

SID = 'AC' + '0123456789abcdef' * 2
TOKEN = 'twilio-auth-token-5e1f0c7d9a'
OUR_NUMBER = '+15005550006'
JPEG = b'\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01fake-jpeg-bytes\xff\xd9'
QUEUE_LOGGER = 'odoo.addons.comm_gateway.models.comm_webhook_event'
MEDIA_LOGGER = 'odoo.addons.comm_gateway.models.comm_message_media'


def twilio_signature(url, params, token=TOKEN):
    """X-Twilio-Signature as Twilio computes it (the official SDK helper)."""
    return RequestValidator(token).compute_signature(url, dict(params))


def inbound_form(sid, sender, body, to=OUR_NUMBER, **extra):
    """An inbound message webhook as Twilio posts it (PROTOCOLS 1.3)."""
    return {
        'ToCountry': 'US', 'ToState': 'CA', 'SmsMessageSid': sid, 'NumMedia': '0', 'ToCity': '',
        'FromZip': '', 'SmsSid': sid, 'FromState': '', 'SmsStatus': 'received', 'FromCity': '',
        'Body': body, 'FromCountry': 'FR', 'To': to, 'ToZip': '', 'NumSegments': '1',
        'MessageSid': sid, 'AccountSid': SID, 'From': sender, 'ApiVersion': '2010-04-01', **extra,
    }


def status_form(sid, status, to, error_code=None):
    """A message status callback (PROTOCOLS 1.4)."""
    form = {'SmsSid': sid, 'SmsStatus': status, 'MessageStatus': status, 'To': to, 'MessageSid': sid,
            'AccountSid': SID, 'From': OUR_NUMBER, 'ApiVersion': '2010-04-01'}
    if error_code:
        form['ErrorCode'] = error_code
    return form


@tagged('post_install', '-at_install')
class TestWebhooksTwilio(FakeProviderMixin, CommWebhookMixin, HttpCase):

    def setUp(self):
        super().setUp()
        self.setup_public_base_url()
        self.provider = self.env['comm.provider'].create({
            'name': 'Twilio', 'code': 'twilio', 'channel_whatsapp': True, 'sms_from': OUR_NUMBER,
            'twilio_account_sid': SID, 'twilio_auth_token': TOKEN,
            'api_base_url': self.fake.base_url})     # media URLs are fetched from the provider's hosts only
        self.token = self.provider.sudo().webhook_token
        self.partner = self.env['res.partner'].create({
            'name': 'Camille Martin', 'mobile': '06 23 45 67 89', 'country_id': self.env.ref('base.fr').id})

    # -- helpers --------------------------------------------------------------------------------

    def url(self, purpose, base=None):
        return f'{base or self.base_url()}/comm/webhook/{self.token}/{purpose}'

    def post_signed(self, purpose, form, url=None, signed_url=None, token=TOKEN, headers=None):
        """POST ``form`` to ``url``, signed for ``signed_url`` (the URL Twilio called) with ``token``."""
        url = url or self.url(purpose)
        signature = twilio_signature(signed_url or url, form, token=token)
        return self.http('POST', url, data=form, headers={'X-Twilio-Signature': signature, **(headers or {})})


    def outbound(self, sid, to='+33623456789', state='queued'):
        return self.env['comm.message'].create({
            'direction': 'out', 'provider_id': self.provider.id, 'from_number': OUR_NUMBER, 'to_number': to,
            'provider_message_id': sid, 'state': state, 'body': 'Your order shipped'})

    def assertEmptyTwiml(self, response):
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.headers['Content-Type'].startswith('text/xml'), response.headers['Content-Type'])
        root = ET.fromstring(response.content)
        self.assertEqual(root.tag, 'Response')
        self.assertEqual(len(root), 0, 'empty TwiML: no automatic reply')

    # -- inbound --------------------------------------------------------------------------------

    def test_inbound_sms_reaches_partner_chatter(self):
        form = inbound_form('SM' + 'a1' * 16, '+33623456789', 'Bonjour, is my order ready?')
        response = self.post_signed('inbound', form)
        self.assertEmptyTwiml(response)
        event = self.events(self.provider)
        self.assertEqual(len(event), 1)
        self.assertEqual((event.state, event.purpose, event.event_key), ('pending', 'inbound', f'm:{"SM" + "a1" * 16}'))
        self.assertNotIn('x-twilio-signature', {key.lower() for key in event.headers}, 'no replay material kept')
        self.assertEqual(event.company_id, self.provider.company_id, "the account's company sees the event")
        self.run_queue()
        self.assertEqual(event.state, 'done')
        message = self.messages()
        self.assertEqual(len(message), 1)
        self.assertRecordValues(message, [{
            'direction': 'in', 'state': 'received', 'channel': 'sms', 'from_number': '+33623456789',
            'to_number': OUR_NUMBER, 'body': 'Bonjour, is my order ready?', 'partner_id': self.partner.id,
            'provider_message_id': 'SM' + 'a1' * 16, 'res_model': 'res.partner', 'res_id': self.partner.id}])
        post = message.mail_message_id
        self.assertEqual((post.model, post.res_id, post.author_id), ('res.partner', self.partner.id, self.partner))
        self.assertIn('Bonjour, is my order ready?', post.body)
        self.assertIn(post, self.partner.message_ids)

    def test_inbound_matches_us_phone_in_national_format(self):
        partner = self.env['res.partner'].create({
            'name': 'Jordan Lee', 'phone': '(415) 555-0177', 'country_id': self.env.ref('base.us').id})
        self.assertEmptyTwiml(self.post_signed('inbound', inbound_form('SM' + 'b2' * 16, '+14155550177', 'Hi')))
        self.run_queue()
        message = self.messages(provider_message_id='SM' + 'b2' * 16)
        self.assertEqual(message.partner_id, partner)
        self.assertEqual(message.mail_message_id.res_id, partner.id)

    def test_inbound_get_signed_with_its_query(self):
        form = inbound_form('SM' + 'c3' * 16, '+33623456789', 'by GET')
        url = self.url('inbound') + '?' + urlencode(form)
        response = self.http('GET', url, headers={'X-Twilio-Signature': twilio_signature(url, {})})
        self.assertEmptyTwiml(response)
        self.run_queue()
        self.assertEqual(self.messages(provider_message_id='SM' + 'c3' * 16).body, 'by GET')

    def test_script_in_body_is_escaped_in_chatter(self):
        form = inbound_form('SM' + 'd4' * 16, '+33623456789', '<script>alert(1)</script><b>x</b>')
        self.assertEmptyTwiml(self.post_signed('inbound', form))
        self.run_queue()
        message = self.messages()
        self.assertEqual(message.body, '<script>alert(1)</script><b>x</b>', 'stored as received')
        self.assertEscapedInChatter(message)

    def test_mms_media_downloaded_with_basic_auth(self):
        media_path = f'/2010-04-01/Accounts/{SID}/Messages/MM{"e5" * 16}/Media/ME{"f6" * 16}'
        self.fake.route('GET', media_path, 200, body=JPEG, headers={'Content-Type': 'image/jpeg'})
        form = inbound_form('MM' + 'e5' * 16, '+33623456789', 'the parcel', NumMedia='1',
                            MediaUrl0=self.fake.base_url + media_path, MediaContentType0='image/jpeg')
        self.assertEmptyTwiml(self.post_signed('inbound', form))
        self.run_queue()
        self.assertEqual(self.events(self.provider).state, 'done')
        message = self.messages()
        self.assertEqual((message.channel, message.message_type), ('mms', 'media'))
        self.assertEqual(len(message.attachment_ids), 1)
        attachment = message.attachment_ids
        self.assertEqual((attachment.raw, attachment.mimetype), (JPEG, 'image/jpeg'))
        self.assertEqual((attachment.res_model, attachment.res_id), ('res.partner', self.partner.id))
        self.assertEqual(message.mail_message_id.attachment_ids, attachment)
        download = self.fake.last('GET', media_path)
        self.assertEqual(download.headers['authorization'],
                         'Basic ' + base64.b64encode(f'{SID}:{TOKEN}'.encode()).decode())

    def test_whatsapp_from_unknown_number_creates_contact(self):
        self.assertEqual(self.env.company.comm_unknown_sender, 'create', 'the default')
        self.assertFalse(self.env['res.partner']._comm_find_by_number('+33687654321'))
        form = inbound_form('SM' + 'a7' * 16, 'whatsapp:+33687654321', 'Salut', to='whatsapp:' + OUR_NUMBER,
                            ProfileName='Léa Dubois', WaId='33687654321', MessageType='text')
        self.assertEmptyTwiml(self.post_signed('inbound', form))
        self.run_queue()
        message = self.messages()
        self.assertEqual((message.channel, message.from_number, message.to_number),
                         ('whatsapp', '+33687654321', OUR_NUMBER))
        self.assertEqual(message.profile_name, 'Léa Dubois')
        contact = message.partner_id
        self.assertEqual((contact.name, contact.mobile), ('Léa Dubois', '+33687654321'))
        self.assertEqual(message.mail_message_id.res_id, contact.id)
        self.assertEqual(message.mail_message_id.author_id, contact)

    def test_messaging_service_mms_without_body_with_add_ons(self):
        """A Messaging Service forwards an MMS of two media and no text, with Add-ons results."""
        paths = [f'/2010-04-01/Accounts/{SID}/Messages/MM{"a2" * 16}/Media/ME{n}' for n in ('01', '02')]
        self.fake.route('GET', paths[0], 200, body=JPEG, headers={'Content-Type': 'image/jpeg'})
        self.fake.route('GET', paths[1], 200, body=b'\x00\x00\x00\x18ftyp3gp4', headers={'Content-Type': 'video/3gpp'})
        add_ons = '{"status":"successful","message":null,"code":null,"results":{"ibm_watson_insights":{"status":"successful"}}}'
        form = inbound_form('MM' + 'a2' * 16, '+33623456789', '', NumMedia='2', MessagingServiceSid='MG' + '3c' * 16,
                            MediaUrl0=self.fake.base_url + paths[0], MediaContentType0='image/jpeg',
                            MediaUrl1=self.fake.base_url + paths[1], MediaContentType1='video/3gpp',
                            AddOns=add_ons, FromCountry='FR', SomeFieldTwilioAddsTomorrow='1')
        self.assertEmptyTwiml(self.post_signed('inbound', form))
        self.run_queue(media=False)
        message = self.messages()
        self.assertEqual((message.channel, message.body, message.partner_id), ('mms', '', self.partner))
        post = message.mail_message_id
        self.assertIn('1 image, 1 video', post.body)
        self.assertFalse(post.attachment_ids)
        self.fetch_media()
        self.assertEqual(post.attachment_ids.mapped('mimetype'), ['image/jpeg', 'video/3gpp'])
        self.assertEqual(message.attachment_ids, post.attachment_ids)

    @mute_logger(MEDIA_LOGGER)
    def test_mms_media_failing_for_good_leaves_the_message_and_a_note(self):
        form = inbound_form('MM' + 'b3' * 16, '+33623456789', 'photo of the damage', NumMedia='1',
                            MediaUrl0=self.fake.base_url + '/gone', MediaContentType0='image/jpeg')
        self.fake.route('GET', '/gone', 404, json={'code': 20404, 'message': 'The requested resource was not found'})
        self.assertEmptyTwiml(self.post_signed('inbound', form))
        self.run_queue()
        self.assertEqual(self.events(self.provider).state, 'done')
        message = self.messages()
        self.assertIn('photo of the damage', message.mail_message_id.body)
        self.assertEqual(message.media_ids.state, 'failed')
        note = self.partner.message_ids.filtered(lambda m: 'could not be downloaded' in (m.body or ''))
        self.assertIn('image', note.body)

    def test_whatsapp_quick_reply_is_a_reply_to_our_template(self):
        template_message = self.outbound('SM' + 'c4' * 16, state='read')
        template_message.write({'channel': 'whatsapp', 'mail_message_id': self.partner.message_post(
            body='Your delivery is tomorrow. Confirm?', message_type='comment').id})
        form = inbound_form('SM' + 'd5' * 16, 'whatsapp:+33623456789', 'Yes, tomorrow', to='whatsapp:' + OUR_NUMBER,
                            ButtonText='Yes, tomorrow', ButtonPayload='confirm-delivery-7', MessageType='button',
                            OriginalRepliedMessageSid='SM' + 'c4' * 16, ProfileName='Camille', WaId='33623456789')
        self.assertEmptyTwiml(self.post_signed('inbound', form))
        self.run_queue()
        reply = self.messages(provider_message_id='SM' + 'd5' * 16)
        self.assertEqual((reply.body, reply.message_type), ('Yes, tomorrow', 'button'))
        self.assertEqual(reply.content['reply'], {'title': 'Yes, tomorrow', 'payload': 'confirm-delivery-7'})
        self.assertEqual(reply.reply_to_id, template_message)
        self.assertEqual(reply.mail_message_id.parent_id, template_message.mail_message_id)

    def test_whatsapp_session_button_and_list_picker_replies(self):
        """The fields Twilio really sends (captured payloads in public projects): a twilio/quick-reply
        tap is MessageType=interactive with ButtonText/ButtonPayload, OriginalRepliedMessageSid and
        Sender, ExternalUserId, Forwarded…; a twilio/list-picker choice carries ListId/ListTitle,
        the title in Body too."""
        asked = self.outbound('MM' + 'a8' * 16, state='read')
        asked.write({'channel': 'whatsapp', 'mail_message_id': self.partner.message_post(
            body='Pick a slot', message_type='comment').id})
        whatsapp = {'To': 'whatsapp:' + OUR_NUMBER, 'WaId': '33623456789', 'ProfileName': 'Camille',
                    'OriginalRepliedMessageSid': 'MM' + 'a8' * 16, 'OriginalRepliedMessageSender': 'whatsapp:' + OUR_NUMBER,
                    'ExternalUserId': 'whatsapp:ID.4566546130240823', 'Forwarded': 'false',
                    'FrequentlyForwarded': 'false', 'ReferralNumMedia': '0', 'MessageType': 'interactive'}
        button = inbound_form('SM' + 'b9' * 16, 'whatsapp:+33623456789', 'Confirm <b>now</b>', **{
            **whatsapp, 'ButtonText': 'Confirm <b>now</b>', 'ButtonPayload': '{confirm:slot-9}'})
        listed = inbound_form('SM' + 'ca' * 16, 'whatsapp:+33623456789', 'Tuesday 9:00', **{
            **whatsapp, 'ListId': 'slot-tue-9', 'ListTitle': 'Tuesday 9:00'})
        for form in (button, listed):
            self.assertEmptyTwiml(self.post_signed('inbound', form))
        self.run_queue()
        for sid, text_, kept in (('SM' + 'b9' * 16, 'Confirm <b>now</b>', {'id': '{confirm:slot-9}',
                                                                            'payload': '{confirm:slot-9}'}),
                                 ('SM' + 'ca' * 16, 'Tuesday 9:00', {'id': 'slot-tue-9'})):
            with self.subTest(sid):
                reply = self.messages(provider_message_id=sid)
                self.assertEqual((reply.body, reply.message_type), (text_, 'interactive'), 'exactly the choice')
                self.assertLessEqual(kept.items(), reply.content['reply'].items())
                self.assertEqual(reply.content['reply']['title'], text_)
                self.assertEqual(reply.reply_to_id, asked)
                self.assertEqual(reply.mail_message_id.parent_id, asked.mail_message_id)
        self.assertIn('Confirm &lt;b&gt;now&lt;/b&gt;', self.messages(provider_message_id='SM' + 'b9' * 16).mail_message_id.body)

    def test_whatsapp_location(self):
        form = inbound_form('SM' + 'e6' * 16, 'whatsapp:+33623456789', '', to='whatsapp:' + OUR_NUMBER,
                            MessageType='location', Latitude='48.858370', Longitude='2.294481',
                            Address='Champ de Mars, Paris', Label='Tour Eiffel', WaId='33623456789')
        self.assertEmptyTwiml(self.post_signed('inbound', form))
        self.run_queue()
        message = self.messages()
        self.assertEqual(message.content['location']['name'], 'Tour Eiffel')
        self.assertIn('Champ de Mars, Paris', message.mail_message_id.body)
        self.assertIn('mlat=48.85837&amp;mlon=2.294481', message.mail_message_id.body)

    def test_possible_but_not_valid_numbers_match_their_contact(self):
        """+1 555 555 0100 is possible, not valid: Odoo leaves phone_sanitized empty for it."""
        partner = self.env['res.partner'].create({
            'name': 'Film Studio', 'mobile': '(555) 555-0100', 'country_id': self.env.ref('base.us').id})
        self.assertFalse(partner.phone_sanitized)
        self.assertEqual(partner.comm_mobile_sanitized, '+15555550100')
        typed = self.env['res.partner'].create({'name': 'Props', 'phone': '5555550111',
                                                'country_id': self.env.ref('base.us').id})
        self.assertEqual(typed.comm_phone_sanitized, '+15555550111', "a contact's bare digits are national")
        self.assertEmptyTwiml(self.post_signed('inbound', inbound_form('SM' + 'f7' * 16, '+15555550100', 'Hi')))
        self.run_queue()
        self.assertEqual(self.messages().partner_id, partner)
        # an unknown possible-but-not-valid sender gets one contact, found again next time
        for index in range(2):
            self.assertEmptyTwiml(self.post_signed('inbound', inbound_form(f'SM{"0" * 30}{index}a', '+15555550199', 'x')))
            self.run_queue()
        strangers = self.messages(from_number='+15555550199').partner_id
        self.assertEqual(len(strangers), 1)
        self.assertEqual(self.env['res.partner'].search_count([('comm_mobile_sanitized', '=', '+15555550199')]), 1)

    def test_query_string_is_part_of_the_signed_url(self):
        url = self.url('inbound') + '?account=7&region=eu'
        form = inbound_form('SM' + 'b8' * 16, '+33623456789', 'with a query')
        self.assertEmptyTwiml(self.post_signed('inbound', form, url=url))
        event = self.events(self.provider)
        self.assertEqual(event.url, url, 'the URL checked is the one called, query included')
        with mute_logger(QUEUE_LOGGER):
            response = self.post_signed('inbound', inbound_form('SM' + 'c9' * 16, '+33623456789', 'x'),
                                        url=url, signed_url=self.url('inbound'))
        self.assertEqual(response.status_code, 403, 'signed without the query string')
        self.assertEqual(len(self.events(self.provider)), 1)

    def test_behind_reverse_proxy_the_public_url_is_checked(self):
        public = 'https://odoo.example.com'
        self.env['ir.config_parameter'].sudo().set_param('comm_gateway.public_base_url', public)
        self.assertEqual(self.provider.webhook_url_inbound, self.url('inbound', public))
        proxy_headers = {'X-Forwarded-Host': 'odoo.example.com', 'X-Forwarded-Proto': 'https',
                         'X-Forwarded-For': '203.0.113.7'}
        form = inbound_form('SM' + 'd0' * 16, '+33623456789', 'through the proxy')
        response = self.post_signed('inbound', form, url=self.url('inbound'), signed_url=self.url('inbound', public),
                                    headers=proxy_headers)
        self.assertEmptyTwiml(response)
        event = self.events(self.provider)
        self.assertEqual(event.url, self.url('inbound', public))
        with mute_logger(QUEUE_LOGGER):
            local = self.post_signed('inbound', inbound_form('SM' + 'e1' * 16, '+33623456789', 'x'),
                                     url=self.url('inbound'), headers=proxy_headers)
        self.assertEqual(local.status_code, 403, 'signed for the local URL, not the one Twilio called')
        self.assertEqual(self.events(self.provider), event)
        self.run_queue()
        self.assertEqual(self.messages().body, 'through the proxy')

    # -- forged, duplicates ---------------------------------------------------------------------

    @mute_logger(QUEUE_LOGGER)
    def test_forged_requests_get_403_and_store_nothing(self):
        url = self.url('inbound')
        form = inbound_form('SM' + 'f2' * 16, '+33623456789', 'Pay 10 EUR')
        signature = twilio_signature(url, form)
        cases = {
            'tampered body': (url, {**form, 'Body': 'Pay 1000 EUR'}, {'X-Twilio-Signature': signature}),
            'added field': (url, {**form, 'OptOutType': 'STOP'}, {'X-Twilio-Signature': signature}),
            'query string added': (url + '?x=1', form, {'X-Twilio-Signature': signature}),
            'https instead of http': (url, form, {
                'X-Twilio-Signature': twilio_signature(url.replace('http://', 'https://'), form)}),
            'wrong auth token': (url, form, {'X-Twilio-Signature': twilio_signature(url, form, token='other')}),
            'no signature': (url, form, {}),
        }
        for name, (post_url, data, headers) in cases.items():
            with self.subTest(name):
                response = self.http('POST', post_url, data=data, headers=headers)
                self.assertEqual(response.status_code, 403)
                self.assertEqual(response.content, b'')
        self.assertFalse(self.events(self.provider))
        self.assertFalse(self.messages())
        counter = self.env['comm.webhook.rejection'].search([('provider_id', '=', self.provider.id)])
        self.assertEqual(counter.count, len(cases))
        # the genuine one still goes through
        self.assertEmptyTwiml(self.http('POST', url, data=form, headers={'X-Twilio-Signature': signature}))
        self.assertEqual(len(self.events(self.provider)), 1)

    def test_unknown_token_is_404(self):
        form = inbound_form('SM' + 'a3' * 16, '+33623456789', 'x')
        url = self.url('inbound').replace(self.token, 'not-a-token')
        response = self.http('POST', url, data=form, headers={'X-Twilio-Signature': twilio_signature(url, form)})
        self.assertEqual(response.status_code, 404)
        self.assertFalse(self.events(self.provider))

    def test_duplicate_delivery_is_stored_once(self):
        form = inbound_form('SM' + 'b4' * 16, '+33623456789', 'once')
        for _attempt in range(2):
            self.assertEmptyTwiml(self.post_signed('inbound', form))
        self.assertEqual(len(self.events(self.provider)), 1)
        status = status_form('SM' + 'c5' * 16, 'delivered', '+33623456789')
        for _attempt in range(2):
            response = self.post_signed('status', status)
            self.assertEqual((response.status_code, response.content), (200, b''))
        self.assertEqual(len(self.events(self.provider)), 2)
        self.outbound('SM' + 'c5' * 16)
        self.run_queue()
        self.assertEqual(len(self.messages(direction='in')), 1)
        self.assertEqual(self.messages(direction='out').state, 'delivered')

    # -- statuses -------------------------------------------------------------------------------

    def test_statuses_move_the_message_forward(self):
        sid = 'SM' + 'd6' * 16
        message = self.outbound(sid)
        for twilio_status, expected, date_field in (('sending', 'queued', 'queued_at'), ('sent', 'sent', 'sent_at'),
                                                    ('delivered', 'delivered', 'delivered_at'),
                                                    ('read', 'read', 'read_at')):
            with self.subTest(twilio_status):
                response = self.post_signed('status', status_form(sid, twilio_status, '+33623456789'))
                self.assertEqual(response.status_code, 200)
                self.run_queue()
                self.assertEqual(message.state, expected)
                if date_field != 'queued_at':
                    self.assertTrue(message[date_field])
        self.assertEqual(len(self.events(self.provider)), 4)
        self.assertEqual(set(self.events(self.provider).mapped('state')), {'done'})

    def test_statuses_out_of_order(self):
        sid = 'SM' + 'e7' * 16
        message = self.outbound(sid)
        self.post_signed('status', status_form(sid, 'delivered', '+33623456789'))
        self.post_signed('status', status_form(sid, 'sent', '+33623456789'))
        self.assertEqual(len(self.events(self.provider)), 2)
        self.run_queue()
        self.assertEqual(message.state, 'delivered', 'a late "sent" does not move delivered back')
        self.assertFalse(message.sent_at)

    def test_failed_and_undelivered_carry_the_error_code(self):
        failed, undelivered = self.outbound('SM' + 'f8' * 16), self.outbound('SM' + 'a9' * 16, state='sent')
        self.post_signed('status', status_form('SM' + 'f8' * 16, 'failed', '+33623456789', error_code='21610'))
        self.post_signed('status', status_form('SM' + 'a9' * 16, 'undelivered', '+33623456789', error_code='30003'))
        self.run_queue()
        self.assertRecordValues(failed + undelivered, [
            {'state': 'failed', 'error_code': '21610', 'failure_type': 'sms_optout'},
            {'state': 'undelivered', 'error_code': '30003', 'failure_type': 'unknown'},
        ])
        self.assertTrue(failed.failed_at)
        # a late "sent" does not revive a failure
        self.post_signed('status', status_form('SM' + 'f8' * 16, 'sent', '+33623456789'))
        self.run_queue()
        self.assertEqual(failed.state, 'failed')
