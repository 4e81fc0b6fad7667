"""MMS from a record's chatter: the composer's MMS channel, the provider requests (Twilio
``MediaUrl``, Plivo ``type=mms`` + ``media_urls``) carrying the short-lived token URL that serves
the attachment, the chatter post with its delivery icon, and the MMS button in a browser."""
from twilio.request_validator import RequestValidator

from odoo.exceptions import UserError
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.mail.tools.discuss import Store

from .common import FakeProviderMixin
from .whatsapp_common import LOGGERS, TWILIO_MESSAGES, TWILIO_SID, WhatsappMixin

US_NUMBER = '+14155550132'
OUR_NUMBER = '+15005550006'
PLIVO_AUTH_ID = 'MA' + 'A' * 18
PLIVO_MESSAGE = rf'/v1/Account/{PLIVO_AUTH_ID}/Message/'
JPEG = b'\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01mms-photo\xff\xd9'


@tagged('post_install', '-at_install')
class TestMms(WhatsappMixin, FakeProviderMixin, HttpCase):

    def setUp(self):
        super().setUp()
        self.env['ir.config_parameter'].sudo().set_param('comm_gateway.public_base_url', self.base_url())
        self.env['comm.provider'].search([]).write({'active': False})   # the demo Sandbox sends MMS too
        self.partner = self.env['res.partner'].create({
            'name': 'Jo Rivera', 'mobile': '(415) 555-0132', 'country_id': self.env.ref('base.us').id})

    def mms_account(self, code, **values):
        base = {'name': code.title(), 'code': code, 'channel_sms': True, 'sms_from': OUR_NUMBER, 'timeout': 5,
                'api_base_url': self.fake.base_url}
        if code == 'twilio':
            base.update(twilio_account_sid=TWILIO_SID, twilio_auth_token='twilio-auth-token')
        elif code == 'plivo':
            base.update(plivo_auth_id=PLIVO_AUTH_ID, plivo_auth_token='plivo-auth-token')
        return self.env['comm.provider'].create({**base, **values})

    def photo(self, name='photo.jpg', raw=JPEG):
        return self.env['ir.attachment'].create({'name': name, 'raw': raw, 'mimetype': 'image/jpeg',
                                                 'res_model': 'comm.whatsapp.composer', 'res_id': 0})

    def send_mms(self, body='Your new kitchen', attachments=None, **values):
        attachments = attachments if attachments is not None else self.photo()
        return self.composer(channel='mms', body=body, attachment_ids=[(6, 0, attachments.ids)],
                             **values).action_send()

    @mute_logger(*LOGGERS)
    def test_twilio_mms_end_to_end(self):
        twilio = self.mms_account('twilio')
        self.env.company.comm_sms_provider_id = twilio
        self.fake.route('POST', TWILIO_MESSAGES, 201, json={'sid': 'MM' + 'b' * 32, 'status': 'queued',
                                                            'num_segments': '1'})
        self.send_mms()
        message = self.outbound()
        self.assertEqual((message.channel, message.provider_id, message.from_number, message.to_number,
                          message.state, message.dispatch_state),
                         ('mms', twilio, OUR_NUMBER, US_NUMBER, 'queued', 'todo'))
        # the chatter shows it at once, with its picture and a "Queued" MMS icon
        post = message.mail_message_id
        self.assertEqual((post.model, post.res_id), ('res.partner', self.partner.id))
        self.assertIn('Your new kitchen', str(post.body))
        self.assertEqual((post.attachment_ids.name, post.attachment_ids.res_model), ('photo.jpg', 'res.partner'))
        notification = post.notification_ids
        self.assertEqual((notification.notification_type, notification.notification_status), ('mms', 'process'))

        self.dispatch()
        request = self.fake.last('POST', '/Messages.json')
        form = request.form_dict()
        self.assertEqual((form['To'], form['From'], form['Body']), (US_NUMBER, OUR_NUMBER, 'Your new kitchen'))
        self.assertTrue(form['MediaUrl'].startswith(f'{self.base_url()}/comm/media/'), form['MediaUrl'])
        self.assertEqual((message.dispatch_state, message.provider_message_id), ('done', 'MM' + 'b' * 32))
        # the URL Twilio fetches serves the picture, to nobody's session
        response = self.url_open(form['MediaUrl'])
        self.assertEqual((response.status_code, response.content, response.headers['Content-Type']),
                         (200, JPEG, 'image/jpeg'))

        # Twilio's signed status callback, through the queue, turns the icon to delivered
        url = twilio.webhook_url_status
        status = {'MessageSid': message.provider_message_id, 'MessageStatus': 'delivered', 'To': US_NUMBER,
                  'From': OUR_NUMBER, 'AccountSid': TWILIO_SID, 'ApiVersion': '2010-04-01'}
        signature = RequestValidator('twilio-auth-token').compute_signature(url, status)
        self.assertEqual(self.url_open(url, data=status, headers={'X-Twilio-Signature': signature}).status_code, 200)
        self.env['comm.webhook.event']._cron_process()
        self.assertEqual((message.state, notification.notification_status), ('delivered', 'sent'))

    @mute_logger(*LOGGERS)
    def test_plivo_mms(self):
        plivo = self.mms_account('plivo')
        self.fake.route('POST', PLIVO_MESSAGE, 202, json={'api_id': 'a1', 'message': 'message(s) queued',
                                                          'message_uuid': ['6b4d2c1e-0000-4000-8000-000000000001']})
        self.send_mms(provider_id=plivo.id)
        self.dispatch()
        sent = self.fake.last('POST', '/Message/').json()
        self.assertEqual((sent['src'], sent['dst'], sent['type'], sent['text']),
                         (OUR_NUMBER[1:], US_NUMBER[1:], 'mms', 'Your new kitchen'))
        [url] = sent['media_urls']
        self.assertEqual(self.url_open(url).content, JPEG)
        self.assertEqual(self.outbound().provider_message_id, '6b4d2c1e-0000-4000-8000-000000000001')

    def test_composer_offers_mms_with_an_mms_account(self):
        meta = self.account('meta')
        self.env.company.comm_whatsapp_provider_id = meta
        composer = self.composer()
        self.assertFalse(composer.mms_available, 'WhatsApp only: no MMS choice')
        twilio = self.mms_account('twilio', channel_whatsapp=True)
        composer = self.composer(channel='mms')
        self.assertTrue(composer.mms_available)
        self.assertEqual(composer.provider_id, twilio, 'the MMS channel picks an account that sends MMS')
        self.assertEqual(self.composer().provider_id, meta)
        self.assertFalse(meta.channel_mms, 'Meta sends no MMS, even on an account marked SMS')
        self.assertEqual(self.env['comm.provider'].search([('channel_mms', '=', True)]), twilio)
        self.assertEqual(self.env['comm.provider'].search([('channel_mms', '!=', True)]), meta)

        store = Store()
        self.partner._thread_to_store(store, request_list=['followers'])
        [thread] = [t for t in store.get_result()['mail.thread'] if t['id'] == self.partner.id]
        self.assertEqual((thread['commWhatsappNumber'], thread['commMms']), (US_NUMBER, True))

    @mute_logger(*LOGGERS)
    def test_refusals_and_double_submit(self):
        twilio = self.mms_account('twilio')
        with self.assertRaisesRegex(UserError, 'does not send MMS'):
            self.send_mms(provider_id=self.account('meta').id)
        with self.assertRaisesRegex(UserError, 'at most 5 MB'):
            self.send_mms(provider_id=twilio.id, attachments=self.photo(raw=b'\xff' * (5 * 1024 * 1024 + 1)))
        with self.assertRaisesRegex(UserError, 'Write a message'):
            self.send_mms(provider_id=twilio.id, body='', attachments=self.env['ir.attachment'])
        composer = self.composer(channel='mms', provider_id=twilio.id, body='Twice?')
        composer.action_send()
        composer.action_send()
        self.assertEqual(len(self.outbound()), 1, 'a second click sends nothing more')

    def test_media_split_by_provider_limit(self):
        photos = self.env['ir.attachment'].union(*(self.photo(f'p{index}.jpg') for index in range(11)))
        self.send_mms(provider_id=self.mms_account('twilio').id, attachments=photos)
        first, second = self.outbound()
        self.assertEqual((len(first.attachment_ids), len(second.attachment_ids), second.body), (10, 1, False))
        vonage = self.mms_account('vonage', vonage_api_key='key', vonage_api_secret='secret')
        more = self.photo('q1.jpg') | self.photo('q2.jpg')     # those sent are the document's now, not uploads
        self.send_mms(provider_id=vonage.id, attachments=more, body='One per message')
        self.assertEqual(len(self.outbound()), 4, 'Vonage: one media per MMS')

    @mute_logger(*LOGGERS)
    def test_mms_from_chatter_in_browser(self):
        sandbox = self.account('sandbox', channel_sms=True)
        self.env.company.comm_sms_provider_id = sandbox
        self.start_tour(f'/odoo/res.partner/{self.partner.id}', 'comm_mms_tour', login='admin')
        message = self.outbound()
        self.assertEqual((message.channel, message.provider_id, message.to_number, message.body),
                         ('mms', sandbox, US_NUMBER, 'Hello from the MMS tour'))
