"""Tours for two administrator flows of data governance: reviewing the contacts created from
unknown numbers (filter, mark reviewed, merge a duplicate away: its messages and calls follow),
and adding a field mapping on an account, then receiving a signed webhook through the queue."""
from odoo.tests import HttpCase, tagged

from ..providers.base import InboundMessage
from .common import CommWebhookMixin
from .test_webhooks_twilio import SID, TOKEN, inbound_form, twilio_signature

OWN = '+15005550006'
LEA, NOE = '+33698765432', '+33698765433'


@tagged('post_install', '-at_install')
class TestReviewMappingUi(CommWebhookMixin, HttpCase):

    def setUp(self):
        super().setUp()
        self.env.ref('base.user_admin').groups_id += self.env.ref('comm_gateway.group_comm_manager')

    def test_contact_review_filter_mark_reviewed_and_merge(self):
        provider = self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox', 'sms_from': OWN})
        provider.company_id.comm_unknown_sender = 'review'
        existing = self.env['res.partner'].create({'name': 'Noé Bernard', 'phone': '+33 1 47 20 12 34'})
        lea_message, noe_message = self.env['comm.message']._receive_inbound(provider, [
            InboundMessage(provider_id='in-lea', sender=LEA, recipient=OWN, body='Hello', profile_name='Léa'),
            InboundMessage(provider_id='in-noe', sender=NOE, recipient=OWN, body='Call me', profile_name='Noé'),
        ], provider._get_adapter())
        lea, duplicate = lea_message.partner_id, noe_message.partner_id
        self.assertTrue(lea.comm_to_review and duplicate.comm_to_review)
        call = self.env['comm.call'].create({
            'direction': 'in', 'provider_id': provider.id, 'from_number': NOE, 'to_number': OWN,
            'partner_id': duplicate.id, 'res_model': 'res.partner', 'res_id': duplicate.id})
        self.start_tour('/odoo/contacts?view_type=list', 'comm_gateway_contact_review_tour', login='admin')
        self.assertFalse(lea.comm_to_review)
        self.assertFalse(lea.category_id)
        self.assertFalse(duplicate.exists(), 'merged away')
        self.assertEqual((noe_message.partner_id, noe_message.res_id), (existing, existing.id))
        self.assertEqual(noe_message.mail_message_id.res_id, existing.id, 'its chatter post moved')
        self.assertEqual((call.partner_id, call.res_id), (existing, existing.id))

    def test_field_mapping_added_then_applied_to_a_signed_webhook(self):
        self.setup_public_base_url()
        provider = self.env['comm.provider'].create({
            'name': 'Twilio', 'code': 'twilio', 'sms_from': OWN, 'twilio_account_sid': SID, 'twilio_auth_token': TOKEN})
        customer = self.env['res.partner'].create({'name': 'Camille Martin', 'mobile': '+32470555123'})
        self.start_tour(f'/odoo/action-comm_gateway.action_comm_provider/{provider.id}',
                        'comm_gateway_field_mapping_tour', login='admin')
        mapping = provider.sudo().field_mapping_ids
        self.assertEqual((mapping.source, mapping.target_field_id.name, mapping.transform), ('FromCity', 'city', 'lower'))
        url = provider.webhook_url_inbound
        form = inbound_form('SM' + 'c' * 32, '+32470555123', 'Open on Sunday?', to=OWN, FromCity='BRUSSELS')
        response = self.http('POST', url, data=form, headers={'X-Twilio-Signature': twilio_signature(url, form)})
        self.assertEqual(response.status_code, 200)
        self.run_queue()
        self.assertEqual(customer.city, 'brussels')
