"""Admin-defined field mapping: payload fields of real webhooks (Twilio's FromCity, Meta's
referral.source_url of a click-to-WhatsApp ad) copied to the contact, the lead and the message."""
import json
from datetime import date

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from ..providers.base import WebhookRequest
from .whatsapp_common import PHONE_NUMBER_ID, WhatsappCase

TWILIO_FORM = [
    ('ToCountry', 'BE'), ('ToState', ''), ('SmsMessageSid', 'SM' + 'a' * 32), ('NumMedia', '0'),
    ('ToCity', ''), ('FromZip', '1000'), ('SmsSid', 'SM' + 'a' * 32), ('FromState', 'Brussels'),
    ('SmsStatus', 'received'), ('FromCity', 'BRUSSELS'), ('Body', 'Is the shop open on Sunday?'),
    ('FromCountry', 'BE'), ('To', '+14155238886'), ('ToZip', ''), ('NumSegments', '1'),
    ('MessageSid', 'SM' + 'a' * 32), ('AccountSid', 'AC' + '1' * 32), ('From', '+32470555123'), ('ApiVersion', '2010-04-01'),
]
META_BODY = {'object': 'whatsapp_business_account', 'entry': [{'id': '102290129340398', 'changes': [{
    'field': 'messages', 'value': {
        'messaging_product': 'whatsapp',
        'metadata': {'display_phone_number': '15550001111', 'phone_number_id': PHONE_NUMBER_ID},
        'contacts': [{'profile': {'name': 'Noor'}, 'wa_id': '32470555124'}],
        'messages': [{
            'from': '32470555124', 'id': 'wamid.HBgLMzI0NzA1NTUxMjQVAgASGBQzQUZBRDE', 'timestamp': '1764590400',
            'type': 'text', 'text': {'body': 'Hello, I saw your ad'},
            'referral': {'source_url': 'https://fb.me/3cr4Wqqkv', 'source_id': '120209999', 'source_type': 'ad',
                         'headline': 'Spring sale', 'body': '20% off', 'media_type': 'image',
                         'ctwa_clid': 'ARAkLkA8rmlFeiCktEJQ'}}]}}]}]}

# a long SMS as Vonage's SMS API delivers it: one webhook per part, each with the concat-* parameters
VONAGE_TEXT = ('Hello, I would like to book a table for four on Saturday evening, around eight if possible. '
               'We will also bring a dog; is that all right? Thank you very much, see you soon.')
VONAGE_PARTS = [{
    'msisdn': '447700900001', 'to': '447700900000', 'messageId': f'0A000000123456{part}B', 'text': text,
    'type': 'text', 'keyword': text.split()[0].upper().strip(','), 'api-key': 'abcd1234',
    'message-timestamp': '2025-12-01 09:30:0%s' % part, 'timestamp': str(1764581400 + part),
    'nonce': f'aaaaaaaa-bbbb-cccc-dddd-00000000000{part}',
    'concat': 'true', 'concat-ref': '08B5', 'concat-total': '2', 'concat-part': str(part),
} for part, text in ((1, VONAGE_TEXT[:153]), (2, VONAGE_TEXT[153:]))]


@tagged('post_install', '-at_install')
class TestFieldMapping(WhatsappCase):

    def setUp(self):
        super().setUp()
        self.env.company.comm_unknown_sender = 'create'

    def field(self, model, name):
        return self.env['ir.model.fields']._get(model, name)

    def map(self, provider, source, model, name, transform='as_is', **values):
        return self.env['comm.field.mapping'].create({
            'provider_id': provider.id, 'source': source, 'target_model': model,
            'target_field_id': self.field(model, name).id, 'transform': transform, **values})

    def receive(self, provider, request):
        events = provider._get_adapter().parse_webhook(request, 'inbound')
        return self.env['comm.message']._receive_inbound(provider, events, provider._get_adapter())

    def test_twilio_from_city_to_the_contact(self):
        twilio = self.account('twilio', channel_sms=True)
        self.map(twilio, 'FromCity', 'res.partner', 'city', 'lower')
        self.map(twilio, 'FromZip', 'res.partner', 'zip')
        message = self.receive(twilio, WebhookRequest(method='POST', url='https://x/y', form=TWILIO_FORM))
        self.assertEqual(message.partner_id.mobile, '+32470555123')
        self.assertEqual((message.partner_id.city, message.partner_id.zip), ('brussels', '1000'))

    def test_existing_value_kept_unless_overwrite(self):
        twilio = self.account('twilio', channel_sms=True)
        known = self.env['res.partner'].create({'name': 'Known', 'mobile': '+32470555123', 'city': 'Ghent',
                                                'zip': '9000'})
        self.map(twilio, 'FromCity', 'res.partner', 'city')
        self.map(twilio, 'FromZip', 'res.partner', 'zip', overwrite=True)
        self.receive(twilio, WebhookRequest(method='POST', url='https://x/y', form=TWILIO_FORM))
        self.assertEqual((known.city, known.zip), ('Ghent', '1000'))

    def test_meta_referral_to_the_lead(self):
        meta = self.account('meta', comm_lead_unknown=True)
        self.map(meta, 'referral.source_url', 'crm.lead', 'website')
        self.map(meta, 'timestamp', 'crm.lead', 'date_deadline', 'date')
        self.map(meta, 'referral.source_id', 'crm.lead', 'expected_revenue', 'number')
        self.map(meta, 'referral.headline', 'crm.lead', 'referred', 'date')   # no date: skipped
        body = json.dumps(META_BODY).encode()
        message = self.receive(meta, WebhookRequest(method='POST', url='https://x/y', body=body,
                                                    headers={'Content-Type': 'application/json'}))
        lead = self.env['crm.lead'].search([('phone', '=', '+32470555124')])
        self.assertEqual((message.res_model, message.res_id), ('crm.lead', lead.id))
        self.assertEqual(lead.website, 'https://fb.me/3cr4Wqqkv')
        self.assertEqual(lead.date_deadline, date(2025, 12, 1))
        self.assertEqual(lead.expected_revenue, 120209999.0)
        self.assertFalse(lead.referred, 'a value that cannot be read is skipped, the message recorded')

    def vonage_part(self, provider, part):
        return self.receive(provider, WebhookRequest(method='POST', url='https://x/y', form=list(VONAGE_PARTS[part - 1].items())))

    def test_vonage_long_sms_reassembled_then_mapped(self):
        """The parts come in any order; the whole message is mapped once, with the first part's
        parameters (its keyword is the message's first word) and the whole text."""
        vonage = self.account('vonage', channel_sms=True, comm_lead_unknown=True)
        self.map(vonage, 'keyword', 'res.partner', 'ref', 'lower')
        self.map(vonage, 'text', 'crm.lead', 'name', overwrite=True)
        self.map(vonage, 'message-timestamp', 'crm.lead', 'date_deadline', 'date')
        self.assertFalse(self.vonage_part(vonage, 2), 'waits for the other part')
        message = self.vonage_part(vonage, 1)
        self.assertEqual(message.body, VONAGE_TEXT)
        self.assertEqual(message.partner_id.ref, 'hello')
        lead = message._comm_lead()
        self.assertEqual(lead.name, VONAGE_TEXT)
        self.assertEqual(lead.date_deadline, date(2025, 12, 1))

    def test_vonage_parts_posted_alone_are_mapped(self):
        vonage = self.account('vonage', channel_sms=True)
        self.map(vonage, 'keyword', 'res.partner', 'ref', 'lower')
        self.vonage_part(vonage, 1)
        self.env.flush_all()
        self.env.cr.execute("UPDATE comm_message_part SET create_date = now() at time zone 'UTC' - interval '1 hour'")
        self.env['comm.message.part'].invalidate_model()
        self.env['comm.message.part']._flush_orphans()
        message = self.env['comm.message'].search([('provider_id', '=', vonage.id)])
        self.assertIn('never arrived', message.body)
        self.assertEqual(message.partner_id.ref, 'hello')

    def test_message_targets_are_custom_fields_only(self):
        meta = self.account('meta')
        with self.assertRaises(ValidationError):
            self.map(meta, 'referral.source_url', 'comm.message', 'body')
