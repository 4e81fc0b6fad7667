"""A campaign of Odoo SMS reaches our queue at once, whichever button sent it, and is queued
without parsing again what Odoo sanitized."""
from unittest.mock import patch

from odoo.addons.base.tests.test_ir_cron import CronMixinCase
from odoo.addons.sms.tests.common import SMSCase
from odoo.tests import tagged

DISPATCH = 'comm_gateway.ir_cron_comm_message_dispatch'
SMS_CRON = 'sms.ir_cron_sms_scheduler_action'


@tagged('post_install', '-at_install')
class TestSmsCampaign(CronMixinCase, SMSCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account = cls.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox', 'sms_from': '+15005550006'})
        cls.env.company.comm_sms_provider_id = cls.account
        cls.env.company.country_id = cls.env.ref('base.be')
        cls.customers = cls.env['res.partner'].create([
            {'name': f'Customer {index}', 'mobile': f'+3247000000{index}'} for index in range(4)])
        cls.template = cls.env['sms.template'].create({
            'name': 'Sale', 'model_id': cls.env.ref('base.model_res_partner').id, 'body': 'Sale today'})

    def composer(self, force_send):
        return self.env['sms.composer'].with_context(
            default_res_model='res.partner', default_res_ids=repr(self.customers.ids),
            default_composition_mode='mass').create({'body': 'Sale today', 'mass_force_send': force_send})

    def queued(self):
        return self.env['comm.message'].search([('to_number', 'in', self.customers.mapped('mobile'))])

    def test_put_in_queue_wakes_odoo_sms_cron_then_ours(self):
        with self.capture_triggers(SMS_CRON) as sms_cron, self.mockSMSGateway():
            self.composer(force_send=False).action_send_sms()
            self.env.cr.flush()   # what commit runs first
        self.assertEqual(len(sms_cron.records), 1, "Odoo's SMS cron runs now, not within the hour")
        with self.capture_triggers(DISPATCH) as dispatch, self.mockSMSGateway():
            self.env['sms.sms']._process_queue()
        self.assertEqual(len(self.queued()), 4)
        self.assertTrue(dispatch.records, 'our dispatch runs right after')
        self.assertFalse(self._sms, 'nothing went to IAP')

    def test_send_now_wakes_our_dispatch(self):
        with self.capture_triggers(DISPATCH) as dispatch, self.mockSMSGateway():
            self.composer(force_send=True).action_send_sms()
        self.assertEqual(len(self.queued()), 4)
        self.assertTrue(dispatch.records)

    def test_send_sms_server_action_wakes_odoo_sms_cron(self):
        action = self.env['ir.actions.server'].create({
            'name': 'Sale SMS', 'model_id': self.env.ref('base.model_res_partner').id, 'state': 'sms',
            'sms_template_id': self.template.id, 'sms_method': 'sms'})
        with self.capture_triggers(SMS_CRON) as sms_cron, self.mockSMSGateway():
            action.with_context(active_model='res.partner', active_ids=self.customers.ids).run()
            self.env.cr.flush()
        self.assertEqual(len(sms_cron.records), 1)
        with self.capture_triggers(DISPATCH) as dispatch, self.mockSMSGateway():
            self.env['sms.sms']._process_queue()
        self.assertEqual(len(self.queued()), 4)
        self.assertTrue(dispatch.records)

    def test_numbers_in_e164_are_not_parsed_again_blacklist_in_one_query(self):
        self.env['phone.blacklist'].sudo()._add(['+32470000001'])
        Partner = type(self.env['res.partner'])
        parsed = []
        original = Partner._phone_format

        def phone_format(records, *args, **kwargs):
            parsed.append(kwargs.get('number'))
            return original(records, *args, **kwargs)

        def sms_of(numbers):
            return self.env['sms.sms'].create([{'number': number, 'body': 'Sale today'} for number in numbers])

        few, many = sms_of(['+32470000000', '+32470000001', '0470 00 00 02']), sms_of(
            ['+32470000010', '+32470000001', '0470 00 00 12'] * 4)
        self.env['comm.message']._queue_sms(self.account, sms_of(['+32470000099']))   # caches warm
        self.env.flush_all()
        with patch.object(Partner, '_phone_format', phone_format), self.assertQueryCount(14):
            self.env['comm.message']._queue_sms(self.account, few)
        self.assertEqual(parsed, ['0470 00 00 02'], 'only the number not in E.164 is parsed')
        self.assertEqual(few.mapped('state'), ['process', 'error', 'process'])
        self.assertEqual(few[1].failure_type, 'sms_blacklist')
        self.assertEqual(sorted(self.queued().mapped('to_number')), ['+32470000000', '+32470000002'])
        self.assertEqual(few[2].number, '0470 00 00 02', "Odoo's record is left as it was")
        self.env.flush_all()
        with self.assertQueryCount(14):
            self.env['comm.message']._queue_sms(self.account, many)
        self.assertEqual(many.mapped('state'), ['process', 'error', 'process'] * 4, 'the same queries for 12 SMS as for 3')
