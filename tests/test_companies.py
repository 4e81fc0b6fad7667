"""Inbound messages and calls stay in the account's company: conversations, contacts, calls."""
from odoo.tests import tagged

from .whatsapp_common import NUMBER, WhatsappCase
from ..providers.base import CallEvent, InboundMessage


@tagged('post_install', '-at_install')
class TestCompanies(WhatsappCase):

    def setUp(self):
        super().setUp()
        self.company_a = self.env.company
        self.company_b = self.env['res.company'].create({'name': 'Company B'})
        self.account_a = self.account('sandbox', name='A')
        self.account_b = self.account('sandbox', name='B', company_id=self.company_b.id)
        self.env.user.company_ids |= self.company_b

    def inbound(self, provider, provider_id, sender=NUMBER, body='Hello'):
        message = InboundMessage(provider_id=provider_id, sender=sender, recipient='+14155238886', body=body,
                                 channel='whatsapp')
        return self.env['comm.message']._receive_inbound(provider, [message], provider._get_adapter())

    def test_reply_goes_to_the_conversation_of_its_own_company(self):
        lead_a = self.env['crm.lead'].create({'name': 'A lead', 'company_id': self.company_a.id})
        lead_b = self.env['crm.lead'].create({'name': 'B lead', 'company_id': self.company_b.id})
        for provider, lead in ((self.account_a, lead_a), (self.account_b, lead_b)):
            self.env['comm.message'].create({
                'direction': 'out', 'channel': 'whatsapp', 'provider_id': provider.id, 'to_number': NUMBER,
                'state': 'sent', 'res_model': 'crm.lead', 'res_id': lead.id})
        # B's message is the last one sent to the number: a reply to A's number still goes to A's lead
        reply = self.inbound(self.account_a, 'in-a')
        self.assertEqual((reply.res_model, reply.res_id), ('crm.lead', lead_a.id))
        self.assertEqual((reply.mail_message_id.model, reply.mail_message_id.res_id), ('crm.lead', lead_a.id))

    def test_contacts_created_in_the_accounts_company(self):
        self.company_b.comm_unknown_sender = 'create'
        message = self.inbound(self.account_b, 'in-b', sender='+4915199999990')
        self.assertEqual(message.partner_id.company_id, self.company_b)
        # company A does not see B's new contact as its own: a message to A creates A's contact
        self.company_a.comm_unknown_sender = 'create'
        other = self.inbound(self.account_a, 'in-a', sender='+4915199999990')
        self.assertNotEqual(other.partner_id, message.partner_id)
        self.assertEqual(other.partner_id.company_id, self.company_a)

    def test_inbound_call_matches_the_accounts_company_contacts(self):
        self.env['res.partner'].create({'name': 'B customer', 'mobile': '+4915188888880',
                                        'company_id': self.company_b.id})
        event = CallEvent(provider_id='call-a', status='ringing', sender='+4915188888880',
                          recipient='+14155238886', direction='inbound')
        call = self.env['comm.call']._receive_event(self.account_a, event)
        self.assertFalse(call.partner_id, "another company's contact is not this call's")
        self.assertEqual(call.company_id, self.company_a)
