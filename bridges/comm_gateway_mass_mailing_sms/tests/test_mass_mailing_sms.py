"""SMS Marketing through our accounts: a campaign's traces and statistics follow our statuses,
and its test SMS is queued on the account (Odoo's own test SMS calls IAP directly)."""
from odoo.addons.comm_gateway.tests.common import erase_opted_out
from odoo.addons.sms.tests.common import SMSCase
from odoo.tests import tagged


@tagged('post_install', '-at_install')
class TestMassMailingSms(SMSCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account = cls.env['comm.provider'].create(
            {'name': 'Campaign account', 'code': 'sandbox', 'sms_from': '+15005550006'})
        cls.env.company.comm_sms_provider_id = cls.account
        country = cls.env.ref('base.be').id
        cls.customers = cls.env['res.partner'].create([
            {'name': name, 'mobile': mobile, 'country_id': country}
            for name, mobile in (('Ann', '0470 10 00 01'), ('Bob', '0470 10 00 02'), ('Cid', '0470 10 00 03'))])
        cls.mailing = cls.env['mailing.mailing'].create({
            'name': 'Spring', 'subject': 'Spring', 'mailing_type': 'sms', 'body_plaintext': 'Spring sale {{ object.name }}',
            'mailing_model_id': cls.env['ir.model']._get_id('res.partner'),
            'mailing_domain': [('id', 'in', cls.customers.ids)], 'sms_allow_unsubscribe': False})

    def message_to(self, number):
        return self.env['comm.message'].search([('to_number', '=', number)])

    def test_campaign_traces_and_statistics_follow_our_statuses(self):
        self.mailing.action_launch()
        with self.mockSMSGateway():
            self.mailing.action_send_sms()
            self.env['sms.sms'].sudo()._process_queue()
        self.assertFalse(self._sms, 'nothing went to IAP')
        ann, bob, cid = (self.message_to(number) for number in ('+32470100001', '+32470100002', '+32470100003'))
        self.assertEqual((ann | bob | cid).provider_id, self.account)
        traces = self.mailing.mailing_trace_ids
        self.assertEqual(len(traces), 3)
        self.assertEqual(set(traces.mapped('trace_status')), {'process'})
        self.assertEqual(self.mailing.state, 'sending')
        # the provider answers: Ann delivered, Bob's number does not exist, Cid's carrier failed
        for message, states in ((ann, ('sent', 'delivered')), (bob, ('sent', 'undelivered')), (cid, ('failed',))):
            for state in states:
                failure = {'failed': 'sms_server', 'undelivered': 'sms_number_format'}.get(state, '')
                message._apply_state(state, error_code='30005' if state == 'undelivered' else '30001',
                                     error_message='Unknown destination handset' if state == 'undelivered' else 'Down',
                                     failure_type=failure)
        by_partner = {trace.res_id: trace for trace in traces}
        ann_p, bob_p, cid_p = self.customers
        self.assertEqual(by_partner[ann_p.id].trace_status, 'sent')
        self.assertEqual((by_partner[bob_p.id].trace_status, by_partner[bob_p.id].failure_type),
                         ('bounce', 'sms_invalid_destination'))
        self.assertEqual(by_partner[cid_p.id].trace_status, 'error')
        self.mailing.invalidate_recordset()
        self.assertEqual((self.mailing.delivered, self.mailing.bounced, self.mailing.failed), (1, 1, 1))
        self.assertEqual(self.mailing.state, 'done')

    def test_test_sms_is_queued_on_our_account(self):
        wizard = self.env['mailing.sms.test'].create({'mailing_id': self.mailing.id, 'numbers': '+32470100009\nnope'})
        with self.mockSMSGateway():
            wizard.action_send_sms()
        self.assertFalse(self._sms, 'nothing went to IAP')
        message = self.message_to('+32470100009')
        self.assertEqual((message.provider_id, message.state), (self.account, 'queued'))
        self.assertIn('Spring sale', message.body)
        note = self.mailing.message_ids[:1].body
        self.assertIn('queued on Campaign account', note)
        self.assertIn('not correctly encoded: nope', note)

    def test_test_sms_of_a_company_without_our_account_stays_odoo(self):
        self.env.company.comm_sms_provider_id = False
        wizard = self.env['mailing.sms.test'].create({'mailing_id': self.mailing.id, 'numbers': '+32470100009'})
        with self.mockSMSGateway():
            wizard.action_send_sms()
        self.assertSMSIapSent(['+32470100009'])
        self.assertFalse(self.message_to('+32470100009'))

    def test_campaign_without_our_account_refuses_erased_numbers(self):
        """Ann opted out and was erased; her number comes back on a new contact the campaign
        targets. Odoo's blacklist no longer knows it (only its hash is kept): still not texted."""
        self.env.company.comm_sms_provider_id = False
        erase_opted_out(self.env, '+32470100055')
        returning = self.env['res.partner'].create({'name': 'Returning', 'mobile': '+32470100055'})
        self.mailing.mailing_domain = [('id', 'in', (self.customers | returning).ids)]
        self.mailing.action_launch()
        with self.mockSMSGateway():
            self.mailing.action_send_sms()
            self.env['sms.sms'].sudo()._process_queue()
        self.assertSMSIapSent(['+32470100001', '+32470100002', '+32470100003'])
        self.assertNotIn('+32470100055', [sms['number'] for sms in self._sms])
        trace = self.mailing.mailing_trace_ids.filtered(lambda t: t.res_id == returning.id)
        self.assertEqual((trace.trace_status, trace.failure_type), ('cancel', 'sms_blacklist'))

    def test_test_sms_without_our_account_refuses_erased_numbers(self):
        self.env.company.comm_sms_provider_id = False
        erase_opted_out(self.env, '+32470100055')
        wizard = self.env['mailing.sms.test'].create(
            {'mailing_id': self.mailing.id, 'numbers': '+32470100055\n+32470100009'})
        with self.mockSMSGateway():
            wizard.action_send_sms()
        self.assertSMSIapSent(['+32470100009'])
        self.assertEqual([sms['number'] for sms in self._sms], ['+32470100009'])
        self.assertIn('not sent to 1 number(s): opted out', ' '.join(self.mailing.message_ids.mapped('body')))
        self.assertNotIn('0470100055', ' '.join(self.mailing.message_ids.mapped('body')))
