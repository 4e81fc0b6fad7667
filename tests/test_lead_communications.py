"""The lead form's "Communications" tab and Messages / Calls smart buttons, and what is made from a
lead (chatter SMS, its reply, click-to-call) being counted there."""
from odoo.addons.sms.tests.common import MockSMS
from odoo.exceptions import AccessError
from odoo.tests import Form, new_test_user, tagged
from odoo.tools import mute_logger

from .common import CommWebhookMixin

LOGGERS = ('odoo.addons.comm_gateway.models.comm_webhook_event', 'odoo.addons.comm_gateway.models.comm_message',
           'odoo.addons.comm_gateway.models.comm_call')
NUMBER = '+4915123456780'


@tagged('post_install', '-at_install')
class TestLeadCommunications(CommWebhookMixin, MockSMS):

    def setUp(self):
        super().setUp()
        self.env['ir.config_parameter'].set_param('comm_gateway.public_base_url', 'http://127.0.0.1:8069')
        self.sandbox = self.env['comm.provider'].create({
            'name': 'Sandbox', 'code': 'sandbox', 'sms_from': '+15005550006', 'channel_voice': True,
            'voice_from': '+15005550006'})
        self.env.company.write({'comm_sms_provider_id': self.sandbox.id, 'comm_voice_provider_id': self.sandbox.id})
        self.env.user.comm_agent_phone = '+33612345678'
        self.lead, self.other = self.env['crm.lead'].create([
            {'name': 'Fleet renewal', 'type': 'opportunity', 'mobile': '+49 151 23456780'},
            {'name': 'Other deal', 'type': 'opportunity'}])

    def message(self, record, **values):
        return self.env['comm.message'].create({
            'provider_id': self.sandbox.id, 'res_model': record._name, 'res_id': record.id, **values})

    def call(self, record, **values):
        return self.env['comm.call'].create({
            'provider_id': self.sandbox.id, 'res_model': record._name, 'res_id': record.id, **values})

    def test_tab_and_smart_buttons_count_the_lead_messages_and_calls(self):
        lead, other = self.lead, self.other
        sms_in = self.message(lead, direction='in', state='received', from_number=NUMBER, body='Call me')
        wa_out = self.message(lead, direction='out', state='delivered', to_number=NUMBER, body='Sure',
                              channel='whatsapp')
        call_out = self.call(lead, direction='out', state='completed', duration=75, to_number=NUMBER,
                             start_date='2025-01-01 10:00:00')
        call_in = self.call(lead, direction='in', state='no_answer', from_number=NUMBER,
                            start_date='2025-01-01 09:00:00')
        other_message = self.message(other, direction='out', state='sent', to_number='+4915100000000')
        other_call = self.call(other, direction='in', state='completed', duration=5)
        # made from a record of another model with the lead's id: same res_id, other res_model
        self.message(lead, res_model='res.partner', direction='in', state='received')
        self.call(lead, res_model='res.partner', direction='in', state='busy')

        self.assertEqual((lead.comm_message_count, lead.comm_call_count), (2, 2))
        self.assertEqual((other.comm_message_count, other.comm_call_count), (1, 1))
        self.env.invalidate_all()       # comm.history is a view: the ORM cannot tell its rows changed
        history = lead.comm_history_ids
        self.assertEqual([(row.message_id, row.call_id) for row in history],
                         [(wa_out, self.env['comm.call']), (sms_in, self.env['comm.call']),
                          (self.env['comm.message'], call_out), (self.env['comm.message'], call_in)],
                         'newest first, nothing of another lead or of another model with the same id')
        self.assertEqual(history.mapped('channel'), ['whatsapp', 'sms', 'voice', 'voice'])
        self.assertEqual(history.mapped('direction'), ['out', 'in', 'out', 'in'])
        self.assertEqual(history.mapped('state'), ['delivered', 'received', 'completed', 'no_answer'])
        self.assertEqual(history.mapped('duration_display'), [False, False, '1 min 15 s', False])
        self.assertEqual((other.comm_history_ids.message_id, other.comm_history_ids.call_id),
                         (other_message, other_call))

        action = lead.action_view_comm_messages()
        self.assertEqual(action['res_model'], 'comm.message')
        self.assertEqual(self.env['comm.message'].search(action['domain']), sms_in | wa_out)
        action = lead.action_view_comm_calls()
        self.assertEqual(action['res_model'], 'comm.call')
        self.assertEqual(self.env['comm.call'].search(action['domain']), call_out | call_in)
        self.assertEqual(self.env['comm.call'].search(other.action_view_comm_calls()['domain']), other_call)

    @mute_logger(*LOGGERS)
    def test_sms_reply_and_call_made_from_a_lead_land_on_it(self):
        lead = self.lead
        # through the form, as the chatter opens it: created bare, the composer computes its number
        # field only halfway through the send, and Odoo then queues the number twice
        composer = Form(self.env['sms.composer'].with_context(active_model='crm.lead', active_id=lead.id))
        composer.body = 'Your quote is ready'
        with self.mockSMSGateway():
            composer.save().action_send_sms()
        self.assertFalse(self._sms, 'nothing went to Odoo IAP')
        sent = self.env['comm.message'].search([('direction', '=', 'out')])
        self.assertRecordValues(sent, [{'to_number': NUMBER, 'res_model': 'crm.lead', 'res_id': lead.id}])
        self.env['comm.message']._cron_dispatch()
        self.run_queue()                # the Sandbox's statuses and its simulated reply
        reply = self.env['comm.message'].search([('direction', '=', 'in')])
        self.assertRecordValues(reply, [{'from_number': NUMBER, 'res_model': 'crm.lead', 'res_id': lead.id}])
        self.assertEqual((reply.mail_message_id.model, reply.mail_message_id.res_id), ('crm.lead', lead.id),
                         'the reply is posted in the lead\'s chatter')

        self.env['comm.call'].action_click_to_call(lead.mobile, 'crm.lead', lead.id)
        call = self.env['comm.call'].search([])
        self.assertRecordValues(call, [{'to_number': NUMBER, 'res_model': 'crm.lead', 'res_id': lead.id}])
        self.run_queue()
        self.assertEqual(call.state, 'completed')
        self.assertIn('42 s, answered', lead.message_ids[0].body)

        self.assertEqual((lead.comm_message_count, lead.comm_call_count), (2, 1))
        self.env.invalidate_all()
        self.assertEqual(lead.comm_history_ids.message_id, sent | reply)
        self.assertEqual(lead.comm_history_ids.call_id, call)
        self.assertFalse(self.other.comm_history_ids)

    def test_lead_form_shows_tab_and_buttons_to_communications_users_only(self):
        self.call(self.lead, direction='out', state='completed', duration=12)
        agent = new_test_user(self.env, 'lead_agent', groups='sales_team.group_sale_salesman_all_leads,'
                                                            'comm_gateway.group_comm_user')
        seller = new_test_user(self.env, 'lead_seller', groups='sales_team.group_sale_salesman_all_leads')

        arch = self.env['crm.lead'].with_user(agent).get_views([(False, 'form')])['views']['form']['arch']
        for needle in ('name="comm_history_ids"', 'name="action_view_comm_messages"',
                       'name="action_view_comm_calls"', 'string="Communications"'):
            self.assertIn(needle, arch)
        form = Form(self.lead.with_user(agent))
        self.assertEqual((form.comm_message_count, form.comm_call_count), (0, 1))
        self.assertEqual(len(form.comm_history_ids), 1)

        arch = self.env['crm.lead'].with_user(seller).get_views([(False, 'form')])['views']['form']['arch']
        for needle in ('comm_history_ids', 'action_view_comm_messages', 'action_view_comm_calls',
                       'comm_message_count', 'comm_call_count'):
            self.assertNotIn(needle, arch)
        lead = self.lead.with_user(seller)
        self.assertEqual(lead.name, 'Fleet renewal', 'the seller reads the lead itself')
        with self.assertRaises(AccessError):
            lead.comm_call_count  # noqa: B018
