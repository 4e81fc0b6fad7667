"""An opted-out number whose contact was erased survives only as a hash (``comm.blacklist.hash``):
Odoo's own SMS path, for a company on none of our accounts, refuses it as well as ours does —
cancelled as blacklisted before any SMS API is called. Runs on both 18.0 layouts (IAP here;
``sms_twilio`` and SMS Marketing in the bridges' tests)."""
from odoo.addons.sms.tests.common import SMSCase
from odoo.tests import tagged

from .common import erase_opted_out

ERASED = '+32470990001'
OTHER = '+32470990002'


@tagged('post_install', '-at_install')
class TestErasedNumberOdooSms(SMSCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.comm_sms_provider_id = False    # Odoo's own path (IAP)
        erase_opted_out(cls.env, ERASED)
        # the number comes back on a new contact, unknown to the blacklist
        cls.newcomer = cls.env['res.partner'].create({'name': 'Newcomer', 'mobile': ERASED})

    def test_queued_sms_to_an_erased_number_is_cancelled(self):
        sms = self.env['sms.sms'].create([{'number': ERASED, 'body': 'Sale'}, {'number': OTHER, 'body': 'Sale'}])
        with self.mockSMSGateway():
            self.env['sms.sms']._process_queue()
        self.assertSMSIapSent([OTHER])
        refused = sms.filtered(lambda s: s.number == ERASED)
        self.assertEqual((refused.state, refused.failure_type), ('canceled', 'sms_blacklist'))
        self.assertFalse(self.env['comm.message'].search([('to_number', '=', ERASED)]), 'nor queued by us')

    def test_national_format_is_recognised(self):
        self.env.user.country_id = self.env.ref('base.be')
        sms = self.env['sms.sms'].create({'number': '0470 99 00 01', 'body': 'Sale'})
        with self.mockSMSGateway():
            sms.send()
        self.assertFalse(self._sms)
        self.assertEqual(sms.state, 'canceled')

    def test_chatter_sms_notification_says_blacklisted(self):
        """``_message_sms`` (the composer's comment mode, automated actions) checks nothing itself."""
        with self.mockSMSGateway():
            message = self.newcomer._message_sms('Your order', partner_ids=self.newcomer.ids)
        self.assertFalse(self._sms)
        notification = message.notification_ids
        self.assertEqual((notification.notification_status, notification.failure_type), ('canceled', 'sms_blacklist'))

    def test_opting_in_again_allows_texting(self):
        self.env['phone.blacklist']._remove([ERASED])     # opted in again (START, by hand): the hash goes
        sms = self.env['sms.sms'].create({'number': ERASED, 'body': 'Welcome back'})
        with self.mockSMSGateway():
            sms.send()
        self.assertSMSIapSent([ERASED])

    def test_our_account_refuses_it_on_the_chatter_too(self):
        self.env.company.comm_sms_provider_id = self.env['comm.provider'].create(
            {'name': 'Ours', 'code': 'sandbox', 'sms_from': '+15005550006'})
        with self.mockSMSGateway():
            message = self.newcomer._message_sms('Your order', partner_ids=self.newcomer.ids)
        self.assertFalse(self._sms)
        self.assertFalse(self.env['comm.message'].search([('to_number', '=', ERASED)]))
        self.assertEqual(message.notification_ids.failure_type, 'sms_blacklist')
