"""The composer through the fake provider: the requests Meta and Twilio get, media by token URL,
double submits."""
import json

from odoo.tests import tagged

from odoo.addons.mail.tools.discuss import Store

from .whatsapp_common import META_MESSAGES, META_SENT, NUMBER, PUBLIC_URL, TWILIO_MESSAGES, WhatsappCase

TWILIO_SENT = {'sid': 'SM' + 'a' * 32, 'status': 'queued', 'num_segments': '1'}


@tagged('post_install', '-at_install')
class TestWhatsapp(WhatsappCase):
    """The composer sends through each provider with the request the provider expects."""

    def attachment(self, name='photo.jpg', mimetype='image/jpeg', raw=b'\xff\xd8JPEG'):
        return self.env['ir.attachment'].create({'name': name, 'raw': raw, 'mimetype': mimetype,
                                                 'res_model': 'comm.whatsapp.composer', 'res_id': 0})

    def test_meta_free_text(self):
        meta = self.account('meta')
        self.fake.route('POST', META_MESSAGES, 200, json=META_SENT)
        self.open_window(meta)
        self.composer(provider_id=meta.id, body='Your parcel left today').action_send()
        self.dispatch()
        sent = self.fake.last('POST', '/messages')
        self.assertEqual(sent.headers['authorization'], 'Bearer EAAGtoken123')
        message = self.outbound()
        self.assertEqual(sent.json(), {
            'messaging_product': 'whatsapp', 'recipient_type': 'individual', 'to': '4915123456780',
            'type': 'text', 'text': {'body': 'Your parcel left today', 'preview_url': False},
            'biz_opaque_callback_data': message.client_ref})
        self.assertEqual((message.dispatch_state, message.provider_message_id), ('done', 'wamid.HBgMNDQ3'))

    def test_meta_template(self):
        meta = self.account('meta')
        self.fake.route('POST', META_MESSAGES, 200, json=META_SENT)
        template = self.make_template(meta, 'Hi {{1}}, order {{2}} shipped', bindings=[
            ('body.1', {'field_path': 'name'}), ('body.2', {'source': 'static', 'static_value': '#1042'})])
        self.composer(provider_id=meta.id, template_id=template.id).action_send()
        self.dispatch()
        sent = self.fake.last('POST', '/messages').json()
        self.assertEqual((sent['type'], sent['template']), ('template', {
            'name': 'order_update', 'language': {'code': 'en_US'},
            'components': [{'type': 'body', 'parameters': [{'type': 'text', 'text': 'Ann Example'},
                                                           {'type': 'text', 'text': '#1042'}]}]}))

    def test_meta_media_by_short_lived_url(self):
        meta = self.account('meta')
        self.fake.route('POST', META_MESSAGES, 200, json={**META_SENT, 'messages': [{'id': 'wamid.2'}]})
        self.fake.route('POST', META_MESSAGES, 200, json=META_SENT, times=1)
        self.open_window(meta)
        photo, invoice = self.attachment(), self.attachment('invoice.pdf', 'application/pdf', b'%PDF-1.4')
        self.composer(provider_id=meta.id, body='Here you go',
                      attachment_ids=[(6, 0, (photo | invoice).ids)]).action_send()
        first, second = self.outbound()
        self.assertEqual((first.body, first.attachment_ids, second.body, second.attachment_ids),
                         ('Here you go', photo, False, invoice), 'one media per WhatsApp message')
        self.assertEqual(first.mail_message_id, second.mail_message_id, 'one post in the chatter')
        self.assertEqual(photo.res_model, 'res.partner', 'attachments move to the document, never public')
        self.assertFalse(photo.public)
        self.dispatch()
        image, document = [r.json() for r in self.fake.requests if r.path.endswith('/messages')]
        self.assertEqual(image['type'], 'image')
        self.assertEqual(image['image']['caption'], 'Here you go')
        self.assertRegex(image['image']['link'], rf'^{PUBLIC_URL}/comm/media/[\w-]{{43}}/photo\.jpg$')
        self.assertEqual((document['type'], document['document']['filename']), ('document', 'invoice.pdf'))
        token = image['image']['link'].split('/')[-2]
        self.assertEqual(self.env['comm.media.token']._resolve(token), photo)

    def test_twilio_free_text_with_media_and_template(self):
        twilio = self.account('twilio')
        self.fake.route('POST', TWILIO_MESSAGES, 201, json=TWILIO_SENT)
        self.open_window(twilio)
        self.composer(provider_id=twilio.id, body='Look',
                      attachment_ids=[(6, 0, self.attachment().ids)]).action_send()
        self.dispatch()
        form = self.fake.last('POST', 'Messages.json').form_dict()
        self.assertEqual((form['To'], form['From'], form['Body']), (f'whatsapp:{NUMBER}', 'whatsapp:+14155238886', 'Look'))
        self.assertRegex(form['MediaUrl'], rf'^{PUBLIC_URL}/comm/media/[\w-]{{43}}/photo\.jpg$')

        template = self.make_template(twilio, 'Hi {{1}}, your order is ready.', provider_ref='HX' + 'b' * 32,
                                      bindings=[('body.1', {'field_path': 'name'})])
        self.fake.route('POST', TWILIO_MESSAGES, 201, json={**TWILIO_SENT, 'sid': 'SM' + 'c' * 32})
        self.composer(provider_id=twilio.id, template_id=template.id).action_send()
        self.dispatch()
        form = self.fake.last('POST', 'Messages.json').form_dict()
        self.assertEqual(form['ContentSid'], 'HX' + 'b' * 32)
        self.assertEqual(json.loads(form['ContentVariables']), {'1': 'Ann Example'})
        self.assertNotIn('Body', form)
        self.assertNotIn('MediaUrl', form)

    def test_double_submit_creates_one_message(self):
        sandbox = self.account('sandbox')
        self.open_window(sandbox)
        composer = self.composer(body='Only once', provider_id=sandbox.id)
        composer.action_send()
        composer.action_send()          # double click, retried request
        # a retried save: a second composer record carrying the same key from the form
        self.composer(body='Only once', provider_id=sandbox.id, idempotency_key=composer.idempotency_key).action_send()
        self.assertEqual(len(self.outbound()), 1)
        posts = self.partner.message_ids.filtered(lambda m: 'Only once' in (m.body or ''))
        self.assertEqual(len(posts), 1)
        self.composer(body='Once more', provider_id=sandbox.id).action_send()
        self.assertEqual(len(self.outbound()), 2, 'a new composer is a new message')

    def test_whatsapp_button_data(self):
        store = Store()
        self.partner._thread_to_store(store, request_list=['followers'])
        [thread] = [t for t in store.get_result()['mail.thread'] if t['id'] == self.partner.id]
        self.assertEqual(thread['commWhatsappNumber'], NUMBER)
        nobody = self.env['res.partner'].create({'name': 'No phone'})
        store = Store()
        nobody._thread_to_store(store, request_list=['followers'])
        self.assertFalse(store.get_result()['mail.thread'][0]['commWhatsappNumber'])
