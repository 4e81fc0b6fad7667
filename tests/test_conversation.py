import json
from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from ..models import comm_conversation
from .whatsapp_common import LOGGERS, NUMBER, WhatsappCase

OTHER = '+4915199999999'


@tagged('post_install', '-at_install')
class TestConversation(WhatsappCase):
    """The conversation per number: every message with it in order, the unread counter, the reply
    on the conversation's channel and account, with the user's rights."""

    def setUp(self):
        super().setUp()
        self.sandbox = self.account('sandbox', channel_sms=True)
        self.second = self.account('sandbox', name='Second sandbox', channel_sms=True, sms_from='+15005550009')
        self.env.company.comm_sms_provider_id = self.sandbox
        self.agent = new_test_user(self.env, 'conv_agent', groups='comm_gateway.group_comm_user,'
                                   'sales_team.group_sale_salesman,base.group_partner_manager')
        other_salesman = new_test_user(self.env, 'conv_other', groups='sales_team.group_sale_salesman')
        self.hidden_lead = self.env['crm.lead'].create({'name': 'Theirs', 'user_id': other_salesman.id})

    def message(self, **values):
        return self.env['comm.message'].create({
            'provider_id': self.second.id, 'partner_id': self.partner.id, 'state': 'received',
            'res_model': 'res.partner', 'res_id': self.partner.id, **values})

    def inbound(self, body, number=NUMBER, **values):
        return self.message(direction='in', from_number=number, to_number='+15005550009', body=body, **values)

    def bus_rows(self):
        self.env.cr.precommit.run()    # what a commit does: the bus rows are written
        group = self.env.ref('comm_gateway.group_comm_user')
        channel = json.dumps([self.env.cr.dbname, 'res.groups', group.id], separators=(',', ':'))
        return [json.loads(row.message)['type'] for row in self.env['bus.bus'].sudo().search([('channel', '=', channel)])]

    def test_every_message_with_the_number_in_order(self):
        first = self.inbound('Hello, is my order ready?')
        ours = self.message(direction='out', to_number=NUMBER, body='Tomorrow', channel='whatsapp', state='delivered')
        again = self.inbound('Thanks', channel='whatsapp', res_model='crm.lead', res_id=self.env['crm.lead'].create(
            {'name': 'Kitchen', 'user_id': self.agent.id}).id)
        self.inbound('Someone else', number=OTHER)
        hidden = self.inbound('On a lead I may not read', res_model='crm.lead', res_id=self.hidden_lead.id)
        conversation = self.env['comm.message'].with_user(self.agent).comm_conversation_open(NUMBER)
        self.assertEqual([m['id'] for m in conversation['messages']], [first.id, ours.id, again.id],
                         'in and out, any channel or record, oldest first; not what the user may not read')
        self.assertEqual(conversation['name'], 'Ann Example')
        self.assertEqual(conversation['messages'][2]['record'], 'Kitchen')
        self.assertNotIn(hidden.id, [m['id'] for m in conversation['messages']])

    def test_unread_counted_then_read_when_opened(self):
        self.inbound('One')
        self.inbound('Two')
        self.inbound('Three', number=OTHER)
        self.message(direction='out', to_number=NUMBER, body='Ours', state='sent')
        self.inbound('Hidden', number='+4915100000000', res_model='crm.lead', res_id=self.hidden_lead.id)
        self.assertIn('comm_gateway.inbox/refresh', self.bus_rows(), 'the systray and open views fetch again')
        Message = self.env['comm.message'].with_user(self.agent)
        inbox = Message.comm_conversation_list(unread_only=True)
        self.assertEqual(inbox['unread'], 3, 'inbound ones only, those the user may read')
        self.assertEqual({(c['number'], c['unread']) for c in inbox['conversations']}, {(NUMBER, 2), (OTHER, 1)})
        Message.comm_conversation_open(NUMBER)
        inbox = Message.comm_conversation_list(unread_only=True)
        self.assertEqual((inbox['unread'], [c['number'] for c in inbox['conversations']]), (1, [OTHER]))
        self.assertEqual([c['number'] for c in Message.comm_conversation_list()['conversations']], [NUMBER, OTHER],
                         'newest first (our answer to NUMBER came last); not the number the user may not read')

    def test_sms_reply_goes_through_the_conversation_account(self):
        self.inbound('Is my order ready?')
        Message = self.env['comm.message'].with_user(self.agent)
        context = Message.comm_conversation_reply(NUMBER, 'Yes, come by at 5')
        self.assertEqual((context['channel'], context['account']), ('sms', 'Second sandbox'))
        reply = self.env['comm.message'].search([('direction', '=', 'out'), ('to_number', '=', NUMBER)])
        self.assertEqual((reply.provider_id, reply.channel, reply.body), (self.second, 'sms', 'Yes, come by at 5'),
                         'the account the customer wrote to, not the company default')
        self.assertEqual(reply.mail_message_id.model, 'res.partner', 'posted in the contact\'s chatter')
        self.assertEqual(reply.mail_message_id.res_id, self.partner.id)
        with self.assertRaisesRegex(UserError, r'1601 characters \(11 SMS\)'):
            Message.comm_conversation_reply(NUMBER, 'x' * 1601)

    @mute_logger(*LOGGERS)
    def test_whatsapp_reply_respects_the_window(self):
        self.inbound('Hi on WhatsApp', channel='whatsapp', received_at='2020-01-01 00:00:00')
        Message = self.env['comm.message'].with_user(self.agent)
        context = Message.comm_conversation_open(NUMBER)['reply']
        self.assertFalse(context['window_open'])
        self.assertEqual(context['template_action']['context']['default_to_number'], NUMBER)
        with self.assertRaisesRegex(UserError, 'only an approved template'):
            Message.comm_conversation_reply(NUMBER, 'Free text')
        self.open_window(self.second)
        self.assertTrue(Message.comm_conversation_open(NUMBER)['reply']['window_open'])
        Message.comm_conversation_reply(NUMBER, 'Free text now', 'key-1')
        Message.comm_conversation_reply(NUMBER, 'Free text now', 'key-1')
        reply = self.outbound()
        self.assertEqual((reply.channel, reply.provider_id, reply.body), ('whatsapp', self.second, 'Free text now'),
                         'once for a double submit')

    def test_opted_out_and_rights(self):
        self.inbound('STOP please')
        self.env['phone.blacklist'].sudo()._add([NUMBER])
        with self.assertRaisesRegex(UserError, 'opted out'):
            self.env['comm.message'].with_user(self.agent).comm_conversation_reply(NUMBER, 'Hi')
        hidden_number = '+4915100000000'
        self.inbound('Hidden', number=hidden_number, res_model='crm.lead', res_id=self.hidden_lead.id)
        opened = self.env['comm.message'].with_user(self.agent).comm_conversation_open(hidden_number)
        self.assertFalse(opened['messages'], 'a number the user may not read shows nothing')
        with self.assertRaises(AccessError):
            self.env['comm.message'].with_user(self.agent).comm_conversation_reply(hidden_number, 'Hi')
        internal = new_test_user(self.env, 'conv_internal', groups='base.group_user')
        with self.assertRaises(AccessError):
            self.env['comm.message'].with_user(internal).comm_conversation_list()

    def test_reachable_from_message_and_contact(self):
        message = self.inbound('Hello')
        action = message.with_user(self.agent).action_open_conversation()
        self.assertEqual((action['tag'], action['params']), ('comm_gateway.conversation', {'number': NUMBER}))
        action = self.partner.with_user(self.agent).action_comm_conversation()
        self.assertEqual(action['params'], {'number': NUMBER})

    def manager(self):
        return new_test_user(self.env, 'conv_manager', groups='comm_gateway.group_comm_manager')

    def test_search_by_number_name_or_text(self):
        self.inbound('Where is my parcel?')
        zoe = self.env['res.partner'].create({'name': 'Zoe Roux'})
        self.inbound('Booking for two', number=OTHER, partner_id=zoe.id, profile_name='Zozo on WhatsApp',
                     res_id=zoe.id)
        Message = self.env['comm.message'].with_user(self.agent)

        def found(search):
            return [c['number'] for c in Message.comm_conversation_list(search=search)['conversations']]

        self.assertEqual(found('ann exa'), [NUMBER], 'the contact\'s name')
        self.assertEqual(found('zoe r'), [OTHER], 'the contact\'s name')
        self.assertEqual(found('zozo'), [OTHER], 'the WhatsApp profile name')
        self.assertEqual(found('PARCEL'), [NUMBER], 'the text')
        self.assertEqual(found('151 9999'), [OTHER], 'the number, spaces ignored')
        self.assertEqual(found('+49 151'), [OTHER, NUMBER])
        self.assertEqual(found('nothing like it'), [])
        self.inbound('Hidden parcel', number='+4915100000000', res_model='crm.lead', res_id=self.hidden_lead.id)
        self.assertEqual(found('parcel'), [NUMBER], 'not what the user may not read')

    def test_paging_conversations_and_older_messages(self):
        for index in range(5):
            self.inbound(f'Hello {index}', number=f'+491510000001{index}')
        Message = self.env['comm.message'].with_user(self.agent)
        first = Message.comm_conversation_list(limit=2)
        second = Message.comm_conversation_list(limit=2, offset=2)
        last = Message.comm_conversation_list(limit=2, offset=4)
        self.assertEqual([c['body'] for page in (first, second, last) for c in page['conversations']],
                         ['Hello 4', 'Hello 3', 'Hello 2', 'Hello 1', 'Hello 0'], 'newest first, page after page')
        self.assertEqual([page['has_more'] for page in (first, second, last)], [True, True, False])
        self.assertEqual(len(Message.comm_conversation_list(limit=1000)['conversations']), 5)
        with patch.object(comm_conversation, 'CONVERSATIONS_LIMIT', 3):
            self.assertEqual(len(Message.comm_conversation_list(limit=1000)['conversations']), 3,
                             'never more than a page')

        ids = [self.inbound(f'Message {index}').id for index in range(5)]
        with patch.object(comm_conversation, 'MESSAGES_LIMIT', 2):
            newest = Message.comm_conversation_open(NUMBER)
            self.assertEqual(([m['id'] for m in newest['messages']], newest['has_older']), (ids[3:], True))
            older = Message.comm_conversation_open(NUMBER, before_id=ids[3])
            self.assertEqual(([m['id'] for m in older['messages']], older['has_older']), (ids[1:3], True))
            self.assertFalse(older['reply'], 'an older page leaves the reply box alone')
            oldest = Message.comm_conversation_open(NUMBER, before_id=ids[1])
            self.assertEqual(([m['id'] for m in oldest['messages']], oldest['has_older']), (ids[:1], False))

    def test_sms_reply_to_a_number_without_contact_or_document(self):
        self.inbound('Who is this?', number=OTHER, partner_id=False, res_model=False, res_id=False)
        # messages with neither contact nor document: for Communications Administrators only
        Message = self.env['comm.message'].with_user(self.manager())
        context = Message.comm_conversation_open(OTHER)['reply']
        self.assertTrue(context['window_open'])
        self.assertIn('stays in this conversation', context['notice'])
        Message.comm_conversation_reply(OTHER, 'The bakery, about your order')
        reply = self.env['comm.message'].search([('direction', '=', 'out'), ('to_number', '=', OTHER)])
        self.assertEqual((reply.provider_id, reply.channel, reply.body, reply.state, reply.res_model, reply.partner_id),
                         (self.second, 'sms', 'The bakery, about your order', 'queued', False,
                          self.env['res.partner']), 'sent to the number, on the account it wrote to')
        thread = Message.comm_conversation_open(OTHER)['messages']
        self.assertEqual([m['body'] for m in thread], ['Who is this?', 'The bakery, about your order'],
                         'the reply is in the conversation')

    @mute_logger(*LOGGERS)
    def test_whatsapp_reply_to_a_number_without_contact_or_document(self):
        self.inbound('Old one on WhatsApp', number=OTHER, channel='whatsapp', partner_id=False, res_model=False,
                     res_id=False, received_at='2020-01-01 00:00:00')
        Message = self.env['comm.message'].with_user(self.manager())
        context = Message.comm_conversation_open(OTHER)['reply']
        self.assertEqual((context['channel'], context['window_open'], context['template_action']),
                         ('whatsapp', False, False), 'the template composer needs a document')
        self.assertIn('template needs a contact', context['notice'])
        with self.assertRaisesRegex(UserError, 'only an approved template .*create the contact first'):
            Message.comm_conversation_reply(OTHER, 'Hi')
        self.assertFalse(self.env['comm.message'].search([('direction', '=', 'out'), ('to_number', '=', OTHER)]))

        self.open_window(self.second, number=OTHER)
        context = Message.comm_conversation_open(OTHER)['reply']
        self.assertTrue(context['window_open'])
        self.assertIn('stays in this conversation', context['notice'])
        Message.comm_conversation_reply(OTHER, 'The bakery, on WhatsApp', 'key-unknown')
        Message.comm_conversation_reply(OTHER, 'The bakery, on WhatsApp', 'key-unknown')
        reply = self.env['comm.message'].search([('direction', '=', 'out'), ('to_number', '=', OTHER)])
        self.assertEqual((reply.provider_id, reply.channel, reply.body, reply.state, reply.res_model, reply.partner_id,
                          reply.mail_message_id),
                         (self.second, 'whatsapp', 'The bakery, on WhatsApp', 'queued', False,
                          self.env['res.partner'], self.env['mail.message']),
                         'queued once to the number on the account it wrote to, in no chatter')
        thread = Message.comm_conversation_open(OTHER)['messages']
        self.assertEqual(thread[-1]['id'], reply.id, 'the reply is in the conversation')
        self.dispatch()
        self.assertEqual(reply.dispatch_state, 'done', 'sent by the dispatch like any other')

        self.env['phone.blacklist'].sudo()._add([OTHER])
        with self.assertRaisesRegex(UserError, 'opted out'):
            Message.comm_conversation_reply(OTHER, 'Still there?')
        self.assertEqual(len(self.env['comm.message'].search([('direction', '=', 'out'), ('to_number', '=', OTHER)])),
                         1)
