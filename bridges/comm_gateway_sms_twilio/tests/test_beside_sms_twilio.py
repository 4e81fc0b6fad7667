"""Current 18.0 layout: our accounts beside Odoo's own Twilio SMS (sms_twilio) and IAP. Each SMS
takes exactly one path: a company with our account goes through us only, a company set up for
sms_twilio without one through sms_twilio, the others through IAP."""
from unittest.mock import patch

from odoo.addons.comm_gateway.tests.common import erase_opted_out
from odoo.addons.comm_gateway.tools.sms_api import CommSmsApi
from odoo.addons.sms.tools.sms_api import SmsApi
from odoo.addons.sms_twilio.tests.common import MockSmsTwilioApi
from odoo.addons.sms_twilio.tools.sms_api import SmsApiTwilio
from odoo.tests import tagged


@tagged('post_install', '-at_install')
class TestBesideSmsTwilio(MockSmsTwilioApi):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ours = cls.env.company
        cls.twilio, cls.iap = cls.env['res.company'].create([{'name': 'Twilio Co'}, {'name': 'IAP Co'}])
        cls.account = cls.env['comm.provider'].create(
            {'name': 'Our Sandbox', 'code': 'sandbox', 'sms_from': '+15005550006', 'company_id': cls.ours.id})
        cls.ours.comm_sms_provider_id = cls.account
        cls._setup_sms_twilio(cls.ours)      # also set up for sms_twilio: ours wins
        cls._setup_sms_twilio(cls.twilio)

    def sms_for(self, companies_numbers, body='Hello'):
        return self.env['sms.sms'].create([{'number': number, 'body': body, 'record_company_id': company.id}
                                           for company, number in companies_numbers])

    def queued(self):
        return self.env['comm.message'].search([('provider_id', '=', self.account.id)])

    def test_each_sms_takes_exactly_one_path(self):
        sms = self.sms_for([(self.ours, '+32470100001'), (self.twilio, '+32470100002'), (self.iap, '+32470100003')])
        with self.mockSMSGateway(), self.mock_sms_twilio_send():
            sms.send()   # as Odoo's SMS cron does, in the main company
        via_twilio = [call.args[2] for call in self._sms_twilio_send_mock.call_args_list]
        self.assertEqual(via_twilio, ['+32470100002'])
        self.assertEqual(sorted(s['number'] for s in self._sms), ['+32470100002', '+32470100003'],
                         'Twilio and IAP, one SMS each')
        self.assertEqual(self.queued().mapped('to_number'), ['+32470100001'])

    def test_api_class_per_company(self):
        self.assertIs(self.ours._get_sms_api_class(), CommSmsApi)
        self.assertIs(self.twilio._get_sms_api_class(), SmsApiTwilio)
        self.assertIs(self.iap._get_sms_api_class(), SmsApi)

    def test_settings_say_which_path_sms_take(self):
        self.assertIn('Our Sandbox', self.ours.comm_sms_route)
        self.assertIn('Twilio', self.twilio.comm_sms_route)
        self.assertIn('IAP', self.iap.comm_sms_route)
        settings = self.env['res.config.settings'].with_company(self.twilio).create({})
        self.assertEqual(settings.comm_sms_route, self.twilio.comm_sms_route)

    def test_our_batches_are_not_sms_twilio_batches_of_ten(self):
        sms = self.sms_for([(self.ours, f'+324701{i:05d}') for i in range(25)])
        with self.mockSMSGateway(), self.mock_sms_twilio_send(), \
                patch.object(CommSmsApi, '_queue', autospec=True, side_effect=CommSmsApi._queue) as queue:
            sms.send()
        self.assertEqual(queue.call_count, 1, 'one queue insert for the 25 SMS')
        self.assertEqual(len(self.queued()), 25)
        self.assertFalse(self._sms)

    def test_sms_twilio_test_wizard_says_where_the_sms_went(self):
        wizard = self.env['sms.twilio.account.manage'].with_company(self.ours).create({'test_number': '+32470100009'})
        with self.mockSMSGateway(), self.mock_sms_twilio_send():
            action = wizard.action_send_test()
        self.assertFalse(self._sms, 'neither Twilio nor IAP')
        self.assertEqual(action['params']['type'], 'warning')
        self.assertIn('Our Sandbox', action['params']['message'])
        self.assertNotIn('has been sent', action['params']['message'])
        self.assertEqual(self.queued().mapped('to_number'), ['+32470100009'])

    def test_erased_number_never_reaches_sms_twilio(self):
        """An opted-out number whose contact was erased (only its hash kept) is refused on
        sms_twilio's path too, though that path checks only Odoo's blacklist."""
        erase_opted_out(self.env, '+32470100077')
        sms = self.sms_for([(self.twilio, '+32470100077'), (self.twilio, '+32470100002')])
        with self.mockSMSGateway(), self.mock_sms_twilio_send():
            sms.send()
        self.assertEqual([call.args[2] for call in self._sms_twilio_send_mock.call_args_list], ['+32470100002'])
        refused = sms.filtered(lambda s: s.number == '+32470100077')
        self.assertEqual((refused.state, refused.failure_type), ('canceled', 'sms_blacklist'))

    def test_sms_twilio_test_wizard_refuses_an_erased_number(self):
        erase_opted_out(self.env, '+32470100077')
        wizard = self.env['sms.twilio.account.manage'].with_company(self.twilio).create({'test_number': '+32470100077'})
        with self.mockSMSGateway(), self.mock_sms_twilio_send():
            action = wizard.action_send_test()
        self.assertFalse(self._sms_twilio_send_mock.called)
        self.assertEqual(action['params']['type'], 'danger')
        self.assertIn('Blacklisted', action['params']['message'])

    def test_ours_first_whatever_the_load_order(self):
        """sms_twilio answers for its companies without calling super(): the bridge, which depends
        on both modules, comes first in every model it shares with sms_twilio."""
        for model, module in (('sms.sms', 'sms_sms'), ('res.company', 'res_company')):
            mro = [cls.__module__ for cls in type(self.env[model]).__mro__]
            self.assertLess(mro.index(f'odoo.addons.comm_gateway_sms_twilio.models.{module}'),
                            mro.index(f'odoo.addons.sms_twilio.models.{module}'), model)
