"""Bulk sends above the company's threshold wait for a Communications Administrator's approval:
nothing of them leaves before (our dispatch, Odoo's SMS queue), nothing at all once refused."""
from odoo.addons.sms.tests.common import MockSMS
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged

from .test_sms_native import MESSAGES, twilio_accepts
from .whatsapp_common import WhatsappCase, WhatsappMixin
from .common import FakeProviderMixin

DOCUMENTS = 'base.group_partner_manager'


class ApprovalMixin:

    def setup_people(self):
        self.env.company.comm_approval_threshold = 1
        self.agent = new_test_user(self.env, 'bulk_agent', groups=f'comm_gateway.group_comm_user,{DOCUMENTS}')
        self.approver = new_test_user(self.env, 'bulk_approver',
                                      groups=f'comm_gateway.group_comm_manager,{DOCUMENTS}')

    def batch(self):
        return self.env['comm.send.batch'].search([('user_id', '=', self.agent.id)])


@tagged('post_install', '-at_install')
class TestSmsApproval(ApprovalMixin, FakeProviderMixin, MockSMS):

    def setUp(self):
        super().setUp()
        self.env['ir.config_parameter'].set_param('comm_gateway.public_base_url', 'https://odoo.example.com')
        self.twilio = self.env['comm.provider'].create({
            'name': 'Twilio', 'code': 'twilio', 'sms_from': '+15005550006', 'api_base_url': self.fake.base_url,
            'twilio_account_sid': 'AC' + '7' * 32, 'twilio_auth_token': 'tok', 'timeout': 5, 'rate_limit': 0})
        self.env.company.comm_sms_provider_id = self.twilio
        self.fake.route('POST', MESSAGES, 201, json=twilio_accepts)
        belgium, france = self.env.ref('base.be'), self.env.ref('base.fr')
        self.partners = self.env['res.partner'].create([
            {'name': 'Emma', 'mobile': '0470 11 22 33', 'country_id': belgium.id},
            {'name': 'Noah', 'mobile': '0470 44 55 66', 'country_id': belgium.id},
            {'name': 'Léa', 'mobile': '06 12 34 56 78', 'country_id': france.id},
        ])
        self.setup_people()

    def mass_send(self, user):
        composer = self.env['sms.composer'].with_user(user).with_context(
            active_model='res.partner', active_ids=self.partners.ids,
            default_composition_mode='mass').create({'body': 'Sale starts tomorrow', 'mass_keep_log': True})
        with self.mockSMSGateway():
            return composer._action_send_sms()

    def run_queues(self):
        """Odoo's SMS cron, then our dispatch: everything that may leave, leaves."""
        with self.mockSMSGateway():
            self.env['sms.sms']._process_queue()
        self.env['comm.message']._cron_dispatch()

    def sent(self):
        return sorted(r.form_dict()['To'] for r in self.fake.requests if r.method == 'POST')

    def test_blocked_until_approved(self):
        result = self.mass_send(self.agent)
        self.assertEqual(result['params']['title'], 'Waiting for approval')
        batch = self.batch()
        self.assertEqual((batch.state, batch.recipient_count, batch.channel, batch.body),
                         ('to_approve', 3, 'sms', 'Sale starts tomorrow'))
        self.assertIn(self.approver, batch.activity_ids.user_id, 'the approvers are asked')
        self.assertNotIn(self.agent, batch.activity_ids.user_id)
        self.run_queues()
        self.assertEqual(self.sent(), [], 'nothing leaves before the approval')
        self.assertFalse(self._sms, 'nor through IAP')
        self.assertEqual(set(batch.sms_ids.mapped('state')), {'outgoing'})
        with self.assertRaises(AccessError):
            batch.with_user(self.agent).action_approve()
        batch.with_user(self.approver).action_approve()
        self.assertEqual((batch.state, batch.decided_by_id), ('approved', self.approver))
        self.assertFalse(batch.activity_ids, 'the approvers\' activities are done')
        self.run_queues()
        self.assertEqual(self.sent(), ['+32470112233', '+32470445566', '+33612345678'])

    def test_refused_sends_nothing(self):
        self.mass_send(self.agent)
        batch = self.batch()
        batch.with_user(self.approver).action_refuse()
        self.assertEqual(batch.state, 'refused')
        self.assertEqual(set(batch.sms_ids.mapped('state')), {'canceled'})
        self.run_queues()
        self.assertEqual(self.sent(), [])
        self.assertFalse(self._sms)

    def test_below_threshold_or_by_an_administrator_no_approval(self):
        self.env.company.comm_approval_threshold = 3
        self.mass_send(self.agent)
        self.env.company.comm_approval_threshold = 1
        self.mass_send(self.approver)
        self.assertFalse(self.env['comm.send.batch'].search([]))
        self.run_queues()
        self.assertEqual(len(self.sent()), 6)

    def test_server_action_send_sms_waits_too(self):
        template = self.env['sms.template'].create({
            'name': 'Welcome', 'model_id': self.env.ref('base.model_res_partner').id, 'body': 'Welcome {{ object.name }}'})
        action = self.env['ir.actions.server'].create({
            'name': 'Welcome SMS', 'model_id': self.env.ref('base.model_res_partner').id,
            'state': 'sms', 'sms_template_id': template.id, 'sms_method': 'comment'})
        with self.mockSMSGateway():
            action.with_user(self.agent).with_context(active_model='res.partner', active_ids=self.partners.ids).run()
        self.assertEqual((self.batch().recipient_count, self.batch().template_name), (3, 'Welcome'))
        self.run_queues()
        self.assertEqual(self.sent(), [])
        self.batch().with_user(self.approver).action_approve()
        self.run_queues()
        self.assertEqual(len(self.sent()), 3)

    def test_cost_estimate_per_country(self):
        self.env['comm.provider.price'].create([
            {'provider_id': self.twilio.id, 'country_id': self.env.ref('base.be').id, 'price': 0.07},
            {'provider_id': self.twilio.id, 'price': 0.1}])
        self.mass_send(self.agent)
        currency = self.env.company.currency_id.name
        self.assertEqual(self.batch().cost_estimate.splitlines(), [
            f'BE: 2 × 1 × 0.07 = 0.14 {currency}', f'FR: 1 × 1 × 0.1 = 0.10 {currency}', f'Total: 0.24 {currency}'])


@tagged('post_install', '-at_install')
class TestWhatsappApproval(ApprovalMixin, WhatsappCase):

    def setUp(self):
        super().setUp()
        self.sandbox = self.account('sandbox')
        self.template = self.make_template(self.sandbox, 'Hello {{1}}', name='hello',
                                           bindings=[('body.1', {'field_path': 'name'})])
        self.action = self.env['ir.actions.server'].create({
            'name': 'Hello on WhatsApp', 'model_id': self.env['ir.model']._get_id('res.partner'),
            'state': 'comm_whatsapp', 'comm_whatsapp_template_id': self.template.id})
        self.other = self.env['res.partner'].create({'name': 'Bob', 'mobile': '+32 470 12 34 56'})
        self.setup_people()

    def run_action(self):
        return self.action.with_user(self.agent).with_context(
            active_model='res.partner', active_ids=(self.partner | self.other).ids).run()

    def messages(self):
        return self.outbound() | self.outbound(self.other)

    def test_blocked_until_approved(self):
        result = self.run_action()
        self.assertEqual(result['params']['title'], 'Waiting for approval')
        batch = self.batch()
        self.assertEqual((batch.recipient_count, batch.template_name, batch.provider_id), (2, 'hello', self.sandbox))
        self.assertEqual(self.messages().batch_id, batch)
        self.dispatch()
        self.assertEqual(set(self.messages().mapped('dispatch_state')), {'approval'}, 'the dispatch never claims them')
        batch.with_user(self.approver).action_approve()
        self.dispatch()
        self.assertEqual(set(self.messages().mapped('dispatch_state')), {'done'})

    def test_refused_sends_nothing(self):
        self.run_action()
        self.batch().with_user(self.approver).action_refuse()
        self.dispatch()
        self.assertEqual(set(self.messages().mapped('dispatch_state')), {'failed'})
        self.assertEqual(set(self.messages().mapped('state')), {'canceled'})
        self.assertFalse(self.messages().mapped('attempts') != [0, 0])


@tagged('post_install', '-at_install')
class TestSendApprovalUi(ApprovalMixin, WhatsappMixin, FakeProviderMixin, HttpCase):
    """An administrator approves a bulk send in the browser."""

    def test_approve_in_browser(self):
        self.setup_whatsapp()
        self.setup_people()
        sandbox = self.account('sandbox')
        self.env['comm.provider.price'].create({'provider_id': sandbox.id, 'price': 0.05})
        template = self.make_template(sandbox, 'Hello {{1}}', name='hello', bindings=[('body.1', {'field_path': 'name'})])
        action = self.env['ir.actions.server'].create({
            'name': 'Hello on WhatsApp', 'model_id': self.env['ir.model']._get_id('res.partner'),
            'state': 'comm_whatsapp', 'comm_whatsapp_template_id': template.id})
        other = self.env['res.partner'].create({'name': 'Bob', 'mobile': '+32 470 12 34 56'})
        action.with_user(self.agent).with_context(active_model='res.partner',
                                                  active_ids=(self.partner | other).ids).run()
        batch = self.batch()
        self.assertEqual(batch.state, 'to_approve')
        self.assertIn('Total: 0.10', batch.cost_estimate)
        self.start_tour('/odoo/action-comm_gateway.action_comm_send_batch', 'comm_send_batch_tour', login='admin')
        self.assertEqual(batch.state, 'approved')
        self.assertEqual(set(batch.comm_message_ids.mapped('dispatch_state')), {'todo'})
