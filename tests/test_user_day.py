import json

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.sms.tests.common import MockSMS

from .common import CommWebhookMixin
from .whatsapp_common import WhatsappCase

LOGGERS = ('odoo.addons.comm_gateway.models.comm_webhook_event', 'odoo.addons.comm_gateway.models.comm_provider',
           'odoo.addons.comm_gateway.models.comm_message', 'odoo.addons.mail.models.mail_mail')


@tagged('post_install', '-at_install')
class TestLiveChatter(CommWebhookMixin, MockSMS):
    """What the queue posts and the statuses it moves are sent to the chatters open on the record."""

    def setUp(self):
        super().setUp()
        self.env['ir.config_parameter'].set_param('comm_gateway.public_base_url', 'http://127.0.0.1:8069')
        self.sandbox = self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox',
                                                         'sms_from': '+15005550006'})
        self.env.company.comm_sms_provider_id = self.sandbox
        self.partner = self.env['res.partner'].create({
            'name': 'Lukas', 'mobile': '0151 23456780', 'country_id': self.env.ref('base.de').id})
        self.channel = f'comm_gateway.thread_res.partner_{self.partner.id}'

    def send_sms(self, partner):
        composer = self.env['sms.composer'].with_context(
            active_model='res.partner', active_id=partner.id).create({'body': 'Your order shipped'})
        with self.mockSMSGateway():
            composer._action_send_sms()

    def live_notifications(self, channel=None):
        """``[(type, payload)]`` sent on the record's live channel by what the transaction did."""
        self.env.cr.precommit.run()    # what a commit does: the bus rows are written
        rows = self.env['bus.bus'].sudo().search(
            [('channel', '=', json.dumps([self.env.cr.dbname, channel or self.channel], separators=(',', ':')))], order='id')
        return [(json.loads(row.message)['type'], json.loads(row.message)['payload']) for row in rows]

    @mute_logger(*LOGGERS)
    def test_reply_and_statuses_reach_the_open_chatter(self):
        self.send_sms(self.partner)
        self.live_notifications()
        self.env['comm.message']._cron_dispatch()
        self.env['comm.webhook.event']._cron_process()
        sent = self.live_notifications()
        self.assertIn(('comm_gateway.thread/refresh', {'model': 'res.partner', 'id': self.partner.id}), sent,
                      'the reply: the chatter fetches it')
        statuses = [payload['mail.notification'] for kind, payload in sent
                    if kind == 'mail.record/insert' and 'mail.notification' in payload]
        self.assertTrue(statuses, 'the statuses: the chatter updates its icon')
        self.assertEqual(statuses[-1][0]['notification_status'], 'sent', 'delivered')

    @mute_logger(*LOGGERS)
    def test_failure_reason_is_sent(self):
        partner = self.env['res.partner'].create({'name': 'Nobody', 'mobile': '+1 415 555 0199'})
        self.send_sms(partner)
        self.env['comm.message']._cron_dispatch()
        self.env['comm.webhook.event']._cron_process()
        sent = self.live_notifications(f'comm_gateway.thread_res.partner_{partner.id}')
        failed = [notif for kind, payload in sent if kind == 'mail.record/insert'
                  for notif in payload.get('mail.notification', [])
                  if notif['notification_status'] in ('exception', 'bounce')]   # a number that does not exist bounces
        self.assertTrue(failed and failed[-1].get('failure_reason'), 'the provider reason, in plain words')

    def test_live_channel_only_for_readers(self):
        user = new_test_user(self.env, 'agent14', groups='base.group_user')
        portal = new_test_user(self.env, 'portal14', groups='base.group_portal')
        private = self.env['mail.activity.type'].create({'name': 'not a thread'})
        websocket = self.env['ir.websocket']
        self.assertTrue(websocket.with_user(user)._comm_may_follow_live(f'res.partner_{self.partner.id}'))
        for name in (f'mail.activity.type_{private.id}', 'res.partner_999999999', 'nope_1', 'res.partner_x'):
            self.assertFalse(websocket.with_user(user)._comm_may_follow_live(name), name)
        self.assertFalse(websocket.with_user(portal)._comm_may_follow_live(f'res.partner_{self.partner.id}'))


@tagged('post_install', '-at_install')
class TestSandboxCallTimes(CommWebhookMixin, MockSMS):

    @mute_logger(*LOGGERS, 'odoo.addons.comm_gateway.models.comm_call')
    def test_simulated_call_times_agree_with_its_duration(self):
        sandbox = self.env['comm.provider'].create({
            'name': 'Sandbox voice', 'code': 'sandbox', 'channel_voice': True, 'voice_from': '+15005550006'})
        self.env.company.comm_voice_provider_id = sandbox
        self.env.user.comm_agent_phone = '+1 415 555 0111'
        partner = self.env['res.partner'].create({'name': 'Sofie', 'mobile': '+32 470 12 34 56'})
        self.env['comm.call'].action_click_to_call(partner.mobile, 'res.partner', partner.id)
        self.env['comm.webhook.event']._cron_process()
        call = self.env['comm.call'].search([('partner_id', '=', partner.id)])
        self.assertEqual(call.state, 'completed')
        self.assertEqual((call.end_date - call.answer_date).total_seconds(), call.duration)
        self.assertLessEqual(call.start_date, call.answer_date)


@tagged('post_install', '-at_install')
class TestWebhookUrlsShown(TransactionCase):

    def test_urls_only_once_saved(self):
        unsaved = self.env['comm.provider'].new({'name': 'Twilio', 'code': 'twilio'})
        self.assertFalse(unsaved.webhook_url_inbound, 'the token of an unsaved account changes when saved')
        saved = self.env['comm.provider'].create({'name': 'Twilio', 'code': 'twilio'})
        url = saved.webhook_url_inbound
        self.assertTrue(url.endswith(f'/comm/webhook/{saved.sudo().webhook_token}/inbound'))
        edited = saved.new(origin=saved)     # what the form edits: the saved URLs stay shown
        self.assertEqual(edited.webhook_url_inbound, url)

    def test_public_base_url_warnings(self):
        params = self.env['ir.config_parameter'].sudo()
        provider = self.env['comm.provider'].create({'name': 'Twilio', 'code': 'twilio'})
        cases = {
            'odoo.example.com': 'has no scheme',
            'http://localhost:8069': 'points to this machine',
            'http://127.0.0.1:8069': 'points to this machine',
            'http://odoo.example.com': 'is not HTTPS',
            'https://odoo.example.com': False,
        }
        for base, expected in cases.items():
            params.set_param('comm_gateway.public_base_url', base)
            provider.invalidate_recordset(['webhook_url_warning'])
            settings = self.env['res.config.settings'].create({})
            for warning in (provider.webhook_url_warning, settings.comm_public_base_url_warning):
                if expected:
                    self.assertIn(expected, warning, base)
                else:
                    self.assertFalse(warning, base)
        sandbox = self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox'})
        params.set_param('comm_gateway.public_base_url', 'http://localhost:8069')
        self.assertFalse(sandbox.webhook_url_warning, 'the Sandbox never leaves this server')


@tagged('post_install', '-at_install')
class TestDeadEventWords(TransactionCase):

    @mute_logger('odoo.addons.comm_gateway.models.comm_webhook_event')
    def test_dead_event_says_it_gave_up_and_reprocess_answers(self):
        provider = self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox'})
        self.env['ir.config_parameter'].set_param('comm_gateway.webhook_max_attempts', 2)
        adapter = provider._get_adapter()
        request = adapter.simulate_statuses(provider.webhook_url_status, 'SB-NEVER', '+32470123456')[0]
        Event = self.env['comm.webhook.event']
        Event._receive(provider, 'status', request)
        event = Event.search([('provider_id', '=', provider.id)])
        Event._cron_process()
        self.assertEqual(event.state, 'pending')
        self.assertIn('retried automatically', event.error)
        event._queue_write({'next_try_at': '2000-01-01'})
        Event._cron_process()
        self.assertEqual(event.state, 'dead')
        self.assertIn('Gave up after 2 attempts', event.error)
        self.assertNotIn('retr', event.error.lower().split('gave up')[1])
        action = event.action_reprocess()
        self.assertEqual(event.state, 'pending')
        self.assertEqual(action['params']['type'], 'success')
        self.assertIn('1 event(s) queued again', action['params']['message'])


@tagged('post_install', '-at_install')
class TestWhatsappWindowWords(WhatsappCase):

    def test_closed_window_without_template_says_why(self):
        sandbox = self.account('sandbox')
        composer = self.composer(provider_id=sandbox.id, body='Hi')
        self.assertFalse(composer.window_open)
        with self.assertRaisesRegex(UserError, 'no approved template'):
            composer.action_send()
        self.make_template(sandbox, 'Hello {{1}}', bindings=[('body.1', {'source': 'field', 'field_path': 'name'})])
        with self.assertRaisesRegex(UserError, 'choose one of the approved templates'):
            self.composer(provider_id=sandbox.id, body='Hi').action_send()


@tagged('post_install', '-at_install')
class TestWhatsappServerActionWords(WhatsappCase):

    def test_recipient_fields_and_run_summary(self):
        sandbox = self.account('sandbox')
        template = self.make_template(sandbox, 'Hello {{1}}', bindings=[('body.1', {'source': 'field', 'field_path': 'name'})])
        action = self.env['ir.actions.server'].create({
            'name': 'Welcome', 'model_id': self.env['ir.model']._get_id('res.partner'),
            'state': 'comm_whatsapp', 'comm_whatsapp_template_id': template.id})
        offered = set(action.comm_whatsapp_recipient_field_ids.mapped('name'))
        self.assertTrue({'mobile', 'phone', 'parent_id'} <= offered)
        self.assertFalse({'name', 'email', 'street', 'user_id'} & offered, 'phone fields and contacts only')
        with self.assertRaises(ValidationError):
            action.comm_whatsapp_recipient_field_id = self.env['ir.model.fields']._get('res.partner', 'email')
        nobody = self.env['res.partner'].create([{'name': 'No phone'}, {'name': 'Nor this one'}])
        result = action.with_context(active_model='res.partner', active_ids=(self.partner | nobody).ids).run()
        self.assertEqual(result['params']['message'], '1 queued, 2 without a number')


@tagged('post_install', '-at_install')
class TestLongSms(CommWebhookMixin, MockSMS):

    def test_segments(self):
        from ..tools.sms_text import sms_segments  # noqa: PLC0415
        self.assertEqual([sms_segments('a' * n) for n in (1, 160, 161, 306, 307)], [1, 1, 2, 2, 3])
        self.assertEqual([sms_segments('é' * 70), sms_segments('ł' * 70), sms_segments('ł' * 71)], [1, 1, 2])

    def test_refused_above_the_account_limit_before_queueing(self):
        sandbox = self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox', 'sms_from': '+15005550006'})
        self.env.company.comm_sms_provider_id = sandbox
        partner = self.env['res.partner'].create({'name': 'Lukas', 'mobile': '+49 151 23456780'})
        composer = self.env['sms.composer'].with_context(
            active_model='res.partner', active_id=partner.id).create({'body': 'x' * 1601})
        with self.assertRaisesRegex(UserError, '1601 characters .11 SMS.: Sandbox accepts at most 1600'):
            composer.action_send_sms()
        self.assertFalse(self.env['comm.message'].search([('provider_id', '=', sandbox.id)]))
        composer.body = 'x' * 1600
        with self.mockSMSGateway():
            composer.action_send_sms()
        self.assertTrue(self.env['comm.message'].search([('provider_id', '=', sandbox.id)]))


@tagged('post_install', '-at_install')
class TestRetryCancel(TransactionCase):

    def setUp(self):
        super().setUp()
        self.sandbox = self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox', 'sms_from': '+15005550006'})

    def message(self, **values):
        return self.env['comm.message'].create({
            'direction': 'out', 'provider_id': self.sandbox.id, 'to_number': '+32470123456', 'body': 'Hi',
            **values})

    def test_retry_now_and_cancel(self):
        failed = self.message(state='failed', dispatch_state='failed', attempts=6, error_message='Timeout')
        waiting = self.message(state='queued', dispatch_state='todo', attempts=2, next_try_at='2999-01-01')
        accepted = self.message(state='undelivered', dispatch_state='done', provider_message_id='SB1')
        action = (failed | accepted).action_retry_now()
        self.assertEqual(action['params']['type'], 'warning', 'one was left alone: the provider accepted it')
        self.assertRecordValues(failed, [{'state': 'queued', 'dispatch_state': 'todo', 'attempts': 0,
                                          'error_message': False}])
        self.assertEqual(accepted.dispatch_state, 'done', 'never sent twice')
        waiting.action_retry_now()
        # the wall clock: cr.now() is when the test class's transaction began
        self.assertLessEqual(waiting.next_try_at, fields.Datetime.now())
        action = (waiting | accepted).action_cancel()
        self.assertRecordValues(waiting, [{'state': 'canceled', 'dispatch_state': 'failed'}])
        self.assertIn('1 message(s) canceled', action['params']['message'])
        self.env['comm.message']._cron_dispatch()
        self.assertEqual(waiting.state, 'canceled', 'a canceled message is not sent')
        self.assertEqual(failed.dispatch_state, 'done', 'the retried one went')


@tagged('post_install', '-at_install')
class TestDemoNumbers(TransactionCase):

    def test_demo_contacts_are_valid_and_reachable(self):
        """Every demo contact's number is valid; only the named failure contact ends in 99."""
        partners = self.env['res.partner'].browse([
            self.env['ir.model.data']._xmlid_to_res_id(f'comm_gateway.{name}') for name in (
                'partner_demo_fr_national', 'partner_demo_us_national', 'partner_demo_uk_international',
                'partner_demo_de_00', 'partner_demo_be_compact', 'partner_demo_unreachable')]).exists()
        failure = self.env.ref('comm_gateway.partner_demo_unreachable', raise_if_not_found=False)
        for partner in partners:
            for number in filter(None, (partner.phone, partner.mobile)):
                e164 = partner._phone_format(number=number, force_format='E164')
                self.assertTrue(e164, f'{partner.name}: {number} is not valid')
                self.assertEqual(e164.endswith('99'), partner == failure, f'{partner.name}: {number}')
        if failure:
            self.assertIn('99', failure.name, 'the failure case says so in its name')


@tagged('post_install', '-at_install')
class TestMassSmsAtOnce(CommWebhookMixin, MockSMS):

    @mute_logger(*LOGGERS)
    def test_mass_sms_all_dispatched_by_one_run(self):
        """A mass SMS from a list: one dispatch run (what the trigger starts) sends every message."""
        self.env['ir.config_parameter'].set_param('comm_gateway.public_base_url', 'http://127.0.0.1:8069')
        sandbox = self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox', 'sms_from': '+15005550006'})
        self.env.company.comm_sms_provider_id = sandbox
        partners = self.env['res.partner'].create([
            {'name': f'Client {index}', 'mobile': f'+32 470 12 34 {index:02d}'} for index in range(10, 22)])
        composer = self.env['sms.composer'].with_context(
            active_model='res.partner', active_ids=partners.ids, default_composition_mode='mass',
            default_mass_keep_log=True).create({'body': 'Our shop opens at 9', 'mass_force_send': True})
        cron = self.env.ref('comm_gateway.ir_cron_comm_message_dispatch')
        Trigger = self.env['ir.cron.trigger']
        before = Trigger.search([('cron_id', '=', cron.id)])
        with self.mockSMSGateway():
            composer.action_send_sms()
        self.assertTrue(Trigger.search([('cron_id', '=', cron.id)]) - before, 'the dispatch is woken at once')
        messages = self.env['comm.message'].search([('provider_id', '=', sandbox.id), ('direction', '=', 'out')])
        self.assertEqual(len(messages), 12)
        self.env['comm.message']._cron_dispatch()
        self.assertEqual(set(messages.mapped('dispatch_state')), {'done'}, 'every message sent by the same run')


@tagged('post_install', '-at_install')
class TestTemplateDraftDefaults(TransactionCase):

    def test_account_defaulted_when_only_one(self):
        self.env['comm.provider'].search([]).write({'active': False})
        meta = self.env['comm.provider'].create({'name': 'Meta', 'code': 'meta', 'channel_whatsapp': True})
        self.assertEqual(self.env['comm.whatsapp.template'].new({}).provider_id, meta)
        self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox', 'channel_whatsapp': True})
        self.assertFalse(self.env['comm.whatsapp.template'].new({}).provider_id, 'two accounts: the user chooses')
