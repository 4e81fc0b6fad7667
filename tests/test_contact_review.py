"""Contacts from unknown numbers: the Settings rule (create, flag for review, hold until
reviewed), number intelligence on the contacts created, the lead option, and the merge of a
flagged contact into an existing one."""
import itertools

from odoo.tests import new_test_user, tagged
from odoo.tests.common import TransactionCase

from ..providers.base import InboundMessage

OWN = '+15005550006'
FRENCH_MOBILE, FRENCH_FIXED = '+33698765432', '+33147201234'
_ids = itertools.count(1)


@tagged('post_install', '-at_install')
class TestContactReview(TransactionCase):

    def setUp(self):
        super().setUp()
        self.provider = self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox', 'sms_from': OWN})
        self.company = self.provider.company_id
        self.tag = self.env.ref('comm_gateway.res_partner_category_to_review')

    def receive(self, sender, body='Hello', **values):
        inbound = InboundMessage(provider_id=f'in-{next(_ids)}', sender=sender, recipient=OWN, body=body, **values)
        return self.env['comm.message']._receive_inbound(self.provider, [inbound], self.provider._get_adapter())

    def test_review_rule_flags_and_tags_with_number_intelligence(self):
        self.company.comm_unknown_sender = 'review'
        message = self.receive(FRENCH_MOBILE, profile_name='Léa')
        partner = message.partner_id
        self.assertEqual((partner.name, partner.comm_to_review, partner.category_id), ('Léa', True, self.tag))
        self.assertEqual((partner.comm_number_type, partner.comm_number_carrier, partner.country_id.code),
                         ('mobile', 'Bouygues', 'FR'))
        self.assertEqual(message.mail_message_id.res_id, partner.id, 'posted on the contact')
        self.assertIn(partner, self.env['res.partner'].search([('comm_to_review', '=', True)]))
        self.assertEqual((message.number_type, message.number_carrier), ('mobile', 'Bouygues'), 'shown on the message too')
        partner.action_comm_mark_reviewed()
        self.assertEqual((partner.comm_to_review, partner.category_id.ids), (False, []))

    def test_create_rule_stores_the_number_type_without_flag(self):
        self.company.comm_unknown_sender = 'create'
        partner = self.receive(FRENCH_FIXED).partner_id
        self.assertEqual((partner.comm_number_type, partner.comm_to_review), ('fixed', False))

    def test_hold_rule_attaches_to_nobody_until_reviewed(self):
        self.company.comm_unknown_sender = 'hold'
        first = self.receive(FRENCH_MOBILE)
        second = self.receive(FRENCH_MOBILE, body='Anyone?')
        partner = self.env['res.partner'].search([('mobile', '=', FRENCH_MOBILE)])
        self.assertEqual(len(partner), 1, 'one contact, not one per message')
        self.assertTrue(partner.comm_to_review)
        messages = first | second
        self.assertFalse(messages.partner_id)
        self.assertFalse(messages.mail_message_id, 'posted nowhere')
        agent = new_test_user(self.env, 'review_agent', groups='comm_gateway.group_comm_user,base.group_partner_manager')
        partner.with_user(agent).action_comm_mark_reviewed()
        self.assertEqual(messages.partner_id, partner)
        self.assertEqual(set(messages.mail_message_id.mapped('res_id')), {partner.id})
        self.assertEqual(self.receive(FRENCH_MOBILE).partner_id, partner, 'reviewed: attached at once')

    def test_ignore_rule_creates_nothing(self):
        self.company.comm_unknown_sender = 'ignore'
        self.assertFalse(self.receive(FRENCH_MOBILE).partner_id)
        self.assertFalse(self.env['res.partner'].search([('mobile', '=', FRENCH_MOBILE)]))

    def test_lead_per_account(self):
        self.company.comm_unknown_sender = 'review'
        self.provider.comm_lead_unknown = True
        message = self.receive(FRENCH_MOBILE, body='Do you deliver to Lyon?', profile_name='Léa')
        lead = self.env['crm.lead'].search([('phone', '=', FRENCH_MOBILE)])
        self.assertEqual((len(lead), lead.partner_id, lead.company_id), (1, message.partner_id, self.company))
        self.assertEqual((message.res_model, message.res_id), ('crm.lead', lead.id))
        self.assertIn('Do you deliver to Lyon?', lead.message_ids[0].body, 'the message is in its chatter')
        self.receive(FRENCH_MOBILE, body='Hello again')
        self.assertEqual(self.env['crm.lead'].search_count([('phone', '=', FRENCH_MOBILE)]), 1,
                         'a known number makes no second lead')

    def test_merge_moves_messages_and_calls(self):
        self.company.comm_unknown_sender = 'review'
        existing = self.env['res.partner'].create({'name': 'Léa Martin', 'phone': '+33 1 47 20 12 34'})
        message = self.receive(FRENCH_MOBILE)
        flagged = message.partner_id
        call = self.env['comm.call'].create({
            'direction': 'in', 'provider_id': self.provider.id, 'from_number': FRENCH_MOBILE, 'to_number': OWN,
            'partner_id': flagged.id, 'res_model': 'res.partner', 'res_id': flagged.id})
        post = message.mail_message_id
        wizard = self.env['base.partner.merge.automatic.wizard'].create({
            'partner_ids': [(6, 0, (existing | flagged).ids)], 'dst_partner_id': existing.id})
        wizard.action_merge()
        self.assertFalse(flagged.exists())
        self.assertEqual((message.partner_id, message.res_model, message.res_id), (existing, 'res.partner', existing.id))
        self.assertEqual((call.partner_id, call.res_id), (existing, existing.id))
        self.assertEqual(post.res_id, existing.id, 'the chatter post moved too')
        self.assertIn(message, existing.comm_history_ids.mapped('message_id'))


@tagged('post_install', '-at_install')
class TestFixedLineWarning(TransactionCase):
    """The composers warn before texting a fixed line."""

    def setUp(self):
        super().setUp()
        self.provider = self.env['comm.provider'].create({
            'name': 'Sandbox', 'code': 'sandbox', 'channel_whatsapp': True, 'whatsapp_from': '+14155238886'})
        self.partner = self.env['res.partner'].create({'name': 'Office', 'phone': FRENCH_FIXED})

    def test_whatsapp_composer(self):
        composer = self.env['comm.whatsapp.composer'].with_context(
            default_res_model='res.partner', default_res_id=self.partner.id).create({'provider_id': self.provider.id})
        self.assertIn('fixed line number', composer.number_warning)
        composer.to_number = FRENCH_MOBILE
        self.assertFalse(composer.number_warning)

    def test_sms_composer(self):
        composer = self.env['sms.composer'].with_context(
            active_model='res.partner', active_id=self.partner.id).create({'body': 'Hi'})
        self.assertEqual(composer.recipient_single_number_itf.replace(' ', ''), FRENCH_FIXED)
        self.assertIn('fixed line number', composer.comm_number_warning)
        composer.recipient_single_number_itf = FRENCH_MOBILE
        self.assertFalse(composer.comm_number_warning)
