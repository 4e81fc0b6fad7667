"""Which account sends an SMS of Odoo: the company it is sent for decides, as Odoo resolves it,
also when Odoo's own SMS cron sends it later in another company. Runs on both 18.0 layouts."""
from unittest.mock import patch

from odoo import fields
from odoo.addons.base.tests.test_ir_cron import CronMixinCase
from odoo.addons.sms.tests.common import SMSCase
from odoo.tests import tagged

from ..tools.sms_api import CommSmsApi


@tagged('post_install', '-at_install')
class TestSmsRouting(CronMixinCase, SMSCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env['res.company'].create({'name': 'Company B', 'country_id': cls.env.ref('base.be').id})
        cls.account_a, cls.account_b = cls.env['comm.provider'].create([
            {'name': 'Sandbox A', 'code': 'sandbox', 'sms_from': '+15005550006', 'company_id': cls.company_a.id},
            {'name': 'Sandbox B', 'code': 'sandbox', 'sms_from': '+15005550007', 'company_id': cls.company_b.id},
        ])
        cls.company_a.comm_sms_provider_id = cls.account_a
        cls.company_b.comm_sms_provider_id = cls.account_b
        cls.user_a = cls.env['res.users'].create({
            'name': 'Agent A', 'login': 'agent_a', 'company_id': cls.company_a.id,
            'company_ids': [(6, 0, (cls.company_a | cls.company_b).ids)],
            'groups_id': [(6, 0, cls.env.ref('base.group_user').ids)]})
        country = cls.env.ref('base.be').id
        cls.customer_b = cls.env['res.partner'].create(
            {'name': 'Customer of B', 'mobile': '0470 11 22 33', 'country_id': country, 'company_id': cls.company_b.id})
        cls.shared = cls.env['res.partner'].create({'name': 'Shared', 'mobile': '0470 44 55 66', 'country_id': country})

    def queued(self, number):
        return self.env['comm.message'].search([('to_number', '=', number)])

    def mass_sms(self, user, company, partners, keep_log):
        """A mass SMS composed by ``user`` in ``company``, left for Odoo's SMS cron to send."""
        companies = [company.id] + (self.company_a | self.company_b - company).ids   # both active, ``company`` first
        composer = self.env['sms.composer'].with_user(user).with_context(
            allowed_company_ids=companies, default_res_model='res.partner', default_res_ids=repr(partners.ids),
            default_composition_mode='mass',
        ).create({'body': 'Spring sale', 'mass_keep_log': keep_log, 'mass_force_send': False})
        with self.mockSMSGateway():
            composer.action_send_sms()
        sms = self.env['sms.sms'].search([('partner_id', 'in', partners.ids), ('state', '=', 'outgoing')])
        self.assertEqual(len(sms), len(partners), 'left in the queue for the cron')
        return sms

    def run_odoo_sms_cron(self):
        """Odoo's SMS queue cron, as it runs: as the superuser, in the main company."""
        with self.mockSMSGateway():
            self.env['sms.sms'].with_user(self.env.ref('base.user_root')).with_company(self.company_a)._process_queue()
        self.assertFalse(self._sms, 'nothing went to IAP')

    def test_mass_sms_without_log_sent_later_by_the_cron_uses_the_record_company(self):
        sms = self.mass_sms(self.user_a, self.company_a, self.customer_b, keep_log=False)
        self.assertFalse(sms.mail_message_id)
        self.assertEqual(sms.record_company_id, self.company_b)
        self.run_odoo_sms_cron()
        self.assertEqual(self.queued('+32470112233').provider_id, self.account_b)

    def test_logged_sms_on_a_shared_record_uses_the_sender_company(self):
        sms = self.mass_sms(self.user_a, self.company_b, self.shared, keep_log=True)
        self.assertEqual(sms.mail_message_id.record_company_id | sms.record_company_id, self.company_b,
                         'the record belongs to no company: the sender company is recorded')
        self.run_odoo_sms_cron()
        self.assertEqual(self.queued('+32470445566').provider_id, self.account_b)

    def test_companies_resolved_in_one_read_per_table(self):
        records = self.env['res.partner'].create([
            {'name': f'P{i}', 'mobile': f'+3247000{i:04d}', 'company_id': self.company_b.id} for i in range(20)])
        messages = self.env['mail.message'].create([
            {'model': 'res.partner', 'res_id': record.id, 'body': 'x'} for record in records])
        sms = self.env['sms.sms'].create([
            {'number': record.mobile, 'body': 'x', 'mail_message_id': message.id}
            for record, message in zip(records, messages)])
        sms.record_company_id = False   # sms_twilio (current layout) fills it at create
        messages.record_company_id = False
        self.env.invalidate_all()
        self.env.company  # noqa: B018 (the current company, read once per request anyway)
        with self.assertQueryCount(3):  # sms.sms, mail.message, res.partner
            companies = sms._comm_sms_companies()
        self.assertEqual(set(companies), {self.company_b.id}, 'the document company when the message has none')

    def test_no_query_and_odoo_untouched_when_no_company_uses_our_accounts(self):
        (self.company_a | self.company_b).comm_sms_provider_id = False
        sms = self.env['sms.sms'].create({'number': '+32470112233', 'body': 'Via IAP'})
        self.env.invalidate_all()
        self.env['res.company']._comm_sms_accounts()  # the cached map, read once per process
        with self.assertQueryCount(0):
            by_account, rest = sms._comm_split_by_account()
        self.assertEqual((by_account, rest), ({}, sms))
        with self.mockSMSGateway():
            sms.send()
        self.assertSMSIapSent(['+32470112233'], content='Via IAP')
        self.assertFalse(self.queued('+32470112233'))

    def test_archived_account_leaves_the_company_to_odoo(self):
        self.account_b.active = False
        sms = self.env['sms.sms'].create({'number': '+32470112233', 'body': 'Via IAP', 'record_company_id': self.company_b.id})
        with self.mockSMSGateway():
            sms.send()
        self.assertSMSIapSent(['+32470112233'], content='Via IAP')

    def test_our_sends_create_no_iap_account(self):
        before = self.env['iap.account'].sudo().with_context(active_test=False).search_count([])
        sms = self.env['sms.sms'].create({'number': '+32470112233', 'body': 'Ours', 'record_company_id': self.company_b.id})
        with self.mockSMSGateway():
            sms.send()
        self.assertEqual(self.queued('+32470112233').provider_id, self.account_b)
        self.assertEqual(self.env['iap.account'].sudo().with_context(active_test=False).search_count([]), before)

    def test_direct_api_callers_reach_our_queue(self):
        """``company._get_sms_api_class()(env)._send_sms_batch(...)`` (SMS Marketing's test, sms_twilio)
        on the current layout; the May layout has no such hook, its callers use ``sms.sms._send``."""
        company = self.company_b
        if hasattr(self.env['res.company'].browse(), '_get_sms_api_class') and 'sms_provider' in company._fields:
            self.assertIs(company._get_sms_api_class(), CommSmsApi)
            api = company._get_sms_api_class()(self.env)
            api._set_company(company)
            results = api._send_sms_batch([{'content': 'Direct', 'numbers': [
                {'uuid': 'u-direct-1', 'number': '+32470112233'}, {'uuid': 'u-direct-2', 'number': 'not a number'}]}])
            self.assertEqual([r['state'] for r in results], ['processing', 'wrong_number_format'])
            self.assertEqual(api.PROVIDER_TO_SMS_FAILURE_TYPE['wrong_number_format'], 'sms_number_format')
        else:
            sms = self.env['sms.sms'].create({'number': '+32470112233', 'body': 'Direct', 'record_company_id': company.id})
            with self.mockSMSGateway():
                sms._send()
            self.assertEqual(sms.state, 'process')
        message = self.queued('+32470112233')
        self.assertEqual((message.provider_id, message.body), (self.account_b, 'Direct'))

    def test_settings_say_which_path_sms_take(self):
        self.assertIn('Sandbox B', self.company_b.comm_sms_route)
        self.company_b.comm_sms_provider_id = False
        self.company_b.invalidate_recordset(['comm_sms_route'])
        self.assertIn('IAP', self.company_b.comm_sms_route)

    def test_put_in_queue_wakes_odoo_sms_cron_for_our_companies(self):
        """Odoo's "Put in queue" leaves the SMS for its hourly cron: for our companies the cron is
        triggered as the transaction commits, once, and the SMS reach our queue at once."""
        with self.capture_triggers('sms.ir_cron_sms_scheduler_action') as capture:
            self.mass_sms(self.user_a, self.company_b, self.customer_b | self.shared, keep_log=False)
            self.env.cr.flush()   # what commit runs first
        self.assertEqual(len(capture.records), 1)

    def test_odoo_sms_queue_one_slice_per_run(self):
        """Odoo's SMS cron hands our SMS over one slice per run, committed by Odoo's own send, and
        triggers its next run at once for the rest (not one 10,000-SMS job that Odoo's watchdog
        kills, nor a cron worker busy with it while our dispatch waits for its first send)."""
        sms = self.env['sms.sms'].create([
            {'number': f'+3247011220{index}', 'body': f'Sale {index}', 'record_company_id': self.company_b.id}
            for index in range(5)])
        self.env.flush_all()

        def outgoing():
            return sms.exists().filtered(lambda s: s.state == 'outgoing').mapped('body')

        with patch('odoo.addons.comm_gateway.models.sms_sms.QUEUE_SLICE', 2), \
                self.capture_triggers('sms.ir_cron_sms_scheduler_action') as capture:
            self.env['sms.sms']._process_queue()
            self.assertEqual(outgoing(), ['Sale 2', 'Sale 3', 'Sale 4'], 'one slice of two')
            self.assertEqual(len(capture.records), 1, 'the rest goes to the next run, triggered now')
            self.assertLessEqual(capture.records.call_at, fields.Datetime.now())
            self.env['sms.sms']._process_queue()
            self.env['sms.sms']._process_queue()
            self.assertEqual(len(capture.records), 2, 'the last slice triggers nothing more')
        self.assertFalse(outgoing())
        queued = self.env['comm.message'].search([('to_number', 'in', sms.mapped('number'))])
        self.assertEqual(len(queued), 5)

    def test_sms_sent_at_once_or_not_ours_wake_nothing(self):
        with self.capture_triggers('sms.ir_cron_sms_scheduler_action') as capture:
            sms = self.env['sms.sms'].create({'number': '+32470112233', 'body': 'Now', 'record_company_id': self.company_b.id})
            with self.mockSMSGateway():
                sms.send()
            self.env.cr.flush()
            (self.company_a | self.company_b).comm_sms_provider_id = False
            self.env['sms.sms'].create({'number': '+32470112233', 'body': 'IAP, later'})
            self.env.cr.flush()
        self.assertFalse(capture.records)
        self.assertEqual(self.queued('+32470112233').body, 'Now')
