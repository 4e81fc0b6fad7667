from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import CommWebhookMixin


@tagged('post_install', '-at_install')
class TestVoiceUi(CommWebhookMixin, HttpCase):

    @mute_logger('odoo.addons.comm_gateway.models.comm_call')
    def test_click_to_call_tour(self):
        """An agent clicks a partner's number; the call is logged; the Sandbox's events complete it."""
        sandbox = self.env['comm.provider'].create({
            'name': 'Sandbox voice', 'code': 'sandbox', 'channel_voice': True, 'voice_from': '+15005550006'})
        self.env.ref('base.main_company').comm_voice_provider_id = sandbox
        admin = self.env.ref('base.user_admin')
        admin.comm_agent_phone = '+1 415 555 0111'
        partner = self.env['res.partner'].create({
            'name': 'Sofie Peeters', 'mobile': '0470 12 34 56', 'country_id': self.env.ref('base.be').id})
        self.start_tour(f'/odoo/res.partner/{partner.id}', 'comm_gateway_call_tour', login='admin')
        call = self.env['comm.call'].search([('partner_id', '=', partner.id)])
        self.assertRecordValues(call, [{
            'direction': 'out', 'state': 'initiated', 'user_id': admin.id, 'to_number': '+32470123456',
            'res_model': 'res.partner', 'res_id': partner.id}])
        self.run_queue()
        self.assertRecordValues(call, [{'state': 'completed', 'duration': 42}])
        self.assertIn('Outgoing call with Sofie Peeters — 42 s, answered', partner.message_ids[0].body)

    @mute_logger('odoo.addons.comm_gateway.models.comm_call')
    def test_agent_phone_asked_at_first_call(self):
        """An agent without a phone for calls is asked for it in a dialog; it is saved on the user
        and the call is placed."""
        sandbox = self.env['comm.provider'].create({
            'name': 'Sandbox voice', 'code': 'sandbox', 'channel_voice': True, 'voice_from': '+15005550006'})
        self.env.ref('base.main_company').comm_voice_provider_id = sandbox
        admin = self.env.ref('base.user_admin')
        admin.comm_agent_phone = False
        partner = self.env['res.partner'].create({
            'name': 'Sofie Peeters', 'mobile': '0470 12 34 56', 'country_id': self.env.ref('base.be').id})
        self.start_tour(f'/odoo/res.partner/{partner.id}', 'comm_agent_phone_tour', login='admin')
        self.assertEqual(admin.comm_agent_phone, '+1 415 555 0111')
        self.assertEqual(self.env['comm.call'].search([('partner_id', '=', partner.id)]).to_number, '+32470123456')

    def test_tab_and_smart_buttons_count_messages_and_calls(self):
        provider = self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox', 'channel_voice': True})
        partner, other = self.env['res.partner'].create([{'name': 'Camille'}, {'name': 'Other'}])
        Message, Call = self.env['comm.message'], self.env['comm.call']
        first, second = Message.create([
            {'direction': 'in', 'provider_id': provider.id, 'partner_id': partner.id, 'state': 'received',
             'from_number': '+33623456789', 'body': 'Hello'},
            {'direction': 'out', 'provider_id': provider.id, 'partner_id': partner.id, 'state': 'delivered',
             'to_number': '+33623456789', 'body': 'Hi Camille', 'channel': 'whatsapp'}])
        call = Call.create({'direction': 'out', 'provider_id': provider.id, 'partner_id': partner.id,
                            'to_number': '+33623456789', 'state': 'completed', 'duration': 192,
                            'start_date': '2025-01-01 10:00:00'})
        Call.create({'direction': 'in', 'provider_id': provider.id, 'partner_id': other.id, 'state': 'no_answer'})
        self.assertEqual((partner.comm_message_count, partner.comm_call_count), (2, 1))
        self.assertEqual((other.comm_message_count, other.comm_call_count), (0, 1))
        self.env.invalidate_all()       # a view: the ORM cannot tell its rows changed
        history = partner.comm_history_ids
        self.assertEqual([(row.message_id, row.call_id) for row in history],
                         [(second, Call), (first, Call), (Message, call)], 'newest first')
        self.assertEqual(history.mapped('channel'), ['whatsapp', 'sms', 'voice'])
        self.assertEqual(history.mapped('direction'), ['out', 'in', 'out'])
        self.assertEqual(history.mapped('state'), ['delivered', 'received', 'completed'])
        self.assertEqual(history[2].duration_display, '3 min 12 s')
        action = partner.action_view_comm_calls()
        self.assertEqual((action['res_model'], action['domain']), ('comm.call', [('partner_id', 'in', [partner.id])]))
        self.assertEqual(Call.search(action['domain']), call)
        action = partner.action_view_comm_messages()
        self.assertEqual(Message.search(action['domain']), first | second)
        arch = partner.get_view(view_type='form')['arch']
        for name in ('comm_history_ids', 'action_view_comm_messages', 'action_view_comm_calls'):
            self.assertIn(name, arch)
