"""Operations: the lifecycle of one message (steps, correlation id, debug switches), stale
statuses asked from the providers, the reconciliation report against the providers' message lists,
and the contact matching review. Twilio and Plivo through their SDKs against the local fake provider."""
import logging
from datetime import datetime, timedelta
from unittest.mock import patch

from twilio.request_validator import RequestValidator

from odoo import fields
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged
from odoo.tools import SQL, mute_logger

from ..providers.base import ProviderError, SendResult, WebhookRequest
from ..tools import log
from .common import FakeProviderMixin
from .fake_provider import plivo_message, plivo_message_list, twilio_message, twilio_message_list

SID = 'AC' + '7' * 32
TOKEN = 'twilio-token-ops'
MESSAGES = rf'/2010-04-01/Accounts/{SID}/Messages\.json'
AUTH_ID = 'MA' + 'D' * 18
PLIVO_MESSAGES = rf'/v1/Account/{AUTH_ID}/Message/'
OURS = '+15005550006'
TO = '+14155550132'
LOGGERS = ('odoo.addons.comm_gateway.models.comm_message', 'odoo.addons.comm_gateway.models.comm_dispatch',
           'odoo.addons.comm_gateway.models.comm_webhook_event', 'odoo.addons.comm_gateway.tools.dispatch',
           'odoo.addons.comm_gateway.models.comm_message_lifecycle')


class OperationsCase(FakeProviderMixin, TransactionCase):

    def setUp(self):
        super().setUp()
        self.twilio = self.env['comm.provider'].create({
            'name': 'Twilio', 'code': 'twilio', 'sms_from': OURS, 'api_base_url': self.fake.base_url,
            'twilio_account_sid': SID, 'twilio_auth_token': TOKEN, 'timeout': 5, 'rate_limit': 0,
            'max_concurrency': 1})

    def queue(self, provider=None, to=TO, body='Order 1042 shipped', **values):
        now = fields.Datetime.now()
        return self.env['comm.message'].create({
            'direction': 'out', 'channel': 'sms', 'provider_id': (provider or self.twilio).id, 'state': 'queued',
            'dispatch_state': 'todo', 'next_try_at': now, 'queued_at': now, 'from_number': OURS,
            'to_number': to, 'body': body, **values})

    def sent(self, sid, provider=None, minutes_ago=120, **values):
        """A message the provider accepted ``minutes_ago``, with no final status since."""
        values = {'dispatch_state': 'done', 'provider_message_id': sid, 'state': 'sent', 'attempts': 1,
                  'attempt_at': fields.Datetime.now() - timedelta(minutes=minutes_ago), **values}
        return self.queue(provider, **values)

    def status_webhook(self, sid, status):
        """A Twilio status callback, signed with the SDK, received into the queue."""
        url = self.twilio._webhook_url('status')
        form = [('MessageSid', sid), ('MessageStatus', status), ('To', TO), ('From', OURS), ('AccountSid', SID)]
        signature = RequestValidator(TOKEN).compute_signature(url, dict(form))
        self.env['comm.webhook.event']._receive(self.twilio, 'status', WebhookRequest(
            method='POST', url=url, form=form,
            headers={'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': signature}))
        return self.env['comm.webhook.event'].search([('provider_id', '=', self.twilio.id)], limit=1, order='id desc')

    def inbound_webhook(self, sid, body):
        """A Twilio inbound SMS, signed with the SDK, received into the queue."""
        url = self.twilio._webhook_url('inbound')
        form = [('MessageSid', sid), ('SmsSid', sid), ('AccountSid', SID), ('From', TO), ('To', OURS),
                ('Body', body), ('NumMedia', '0')]
        signature = RequestValidator(TOKEN).compute_signature(url, dict(form))
        self.env['comm.webhook.event']._receive(self.twilio, 'inbound', WebhookRequest(
            method='POST', url=url, form=form,
            headers={'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': signature}))
        return self.env['comm.webhook.event'].search([('provider_id', '=', self.twilio.id)], limit=1, order='id desc')

    def steps(self, message):
        self.env.cr.flush()         # steps are written at the next savepoint or commit
        message.invalidate_recordset(['step_ids'])
        return [(step.kind, step.state or '') for step in message.step_ids]


@tagged('post_install', '-at_install')
class TestMessageLifecycle(OperationsCase):

    @mute_logger(*LOGGERS)
    def test_lifecycle_through_a_retry_and_two_statuses(self):
        message = self.queue()
        sid = 'SM' + 'e' * 32
        self.fake.route('POST', MESSAGES, 201, json={'sid': sid, 'status': 'queued', 'to': TO})
        self.fake.route('POST', MESSAGES, 503, json={'code': 20500, 'message': 'busy', 'status': 503}, times=1)
        self.env['comm.message']._cron_dispatch()
        self.assertEqual(message.dispatch_state, 'todo', 'a 503 is retried')
        message.next_try_at = fields.Datetime.now()
        self.env['comm.message']._cron_dispatch()
        self.assertEqual((message.dispatch_state, message.provider_message_id), ('done', sid))
        sent_event = self.status_webhook(sid, 'sent')
        delivered_event = self.status_webhook(sid, 'delivered')
        self.env['comm.webhook.event']._cron_process()
        self.assertEqual(message.state, 'delivered')
        self.assertEqual(self.steps(message), [
            ('queued', 'queued'), ('attempt', ''), ('retry', ''), ('attempt', ''),
            ('webhook', 'sent'), ('status', 'sent'), ('webhook', 'delivered'), ('status', 'delivered')])
        steps = message.step_ids
        failed, retry, accepted = steps[1:4]
        self.assertEqual(failed.error_code, '20500')
        self.assertIn('Attempt 1', failed.detail)
        self.assertIn('busy', retry.detail, 'the retry says why')
        self.assertIn(f'Attempt 2: accepted as {sid}', accepted.detail)
        self.assertTrue(all(step.duration is not False and step.duration >= 0 for step in (failed, accepted)))
        self.assertEqual(steps[4:].mapped('event_id'), sent_event | delivered_event, 'each raw event linked')
        self.assertEqual(steps[4].provider_status, 'sent')
        self.assertEqual(set(steps.mapped('company_id')), {message.company_id})

    @mute_logger(*LOGGERS)
    def test_inbound_messages_processed_together_link_their_own_event(self):
        events = [self.inbound_webhook('SM' + str(index) * 32, f'Hello {index}') for index in (1, 2)]
        with patch.object(type(self.env['comm.webhook.event']), '_process_one', autospec=True,
                          side_effect=AssertionError('the batch path, not one by one')):
            self.env['comm.webhook.event']._cron_process()
        for index, event in zip((1, 2), events):
            message = self.env['comm.message'].search([('provider_message_id', '=', 'SM' + str(index) * 32)])
            self.assertEqual(self.steps(message), [('webhook', 'received')])
            self.assertEqual(message.step_ids.event_id, event, 'its own raw event linked')

    @mute_logger(*LOGGERS)
    def test_a_status_that_changes_nothing_is_still_a_step(self):
        message = self.sent('SM' + 'f' * 32, state='delivered')
        self.status_webhook(message.provider_message_id, 'sent')
        self.env['comm.webhook.event']._cron_process()
        self.assertEqual(message.state, 'delivered', 'never backwards')
        self.assertEqual(self.steps(message)[-1], ('webhook', 'sent'), 'the webhook is shown, no status change')

    def test_one_insert_per_batch(self):
        Cursor = type(self.env.cr)
        original, inserts = Cursor.execute, []

        def execute(cr, query, *args, **kwargs):
            if 'INSERT INTO comm_message_step' in (query.code if isinstance(query, SQL) else str(query)):
                inserts.append(query)
            return original(cr, query, *args, **kwargs)

        with patch.object(Cursor, 'execute', execute):
            messages = self.env['comm.message'].create([{
                'direction': 'out', 'provider_id': self.twilio.id, 'to_number': f'+1415555{index:04d}',
                'state': 'queued', 'dispatch_state': 'attempt', 'attempts': 1} for index in range(5)])
            self.env.cr.flush()
            queued = self.env['comm.message.step'].search_count([('message_id', 'in', messages.ids)])
            self.env['comm.message']._record_answers([
                (message, SendResult(provider_id=f'SM{message.id:032x}', status='sent', elapsed=0.1))
                for message in messages])
            self.env.cr.flush()
        self.assertEqual(len(inserts), 2, 'the queued steps, then the attempts and status changes of the batch')
        self.assertEqual(queued, 5)
        self.assertEqual(self.env['comm.message.step'].search_count([('message_id', 'in', messages.ids)]), 15)
        self.assertEqual(self.steps(messages[0]), [('queued', 'queued'), ('attempt', ''), ('status', 'sent')])
        self.assertEqual(set(messages.mapped('state')), {'sent'})
        self.assertEqual(messages.mapped('provider_message_id'), [f'SM{message.id:032x}' for message in messages])
        self.assertEqual(set(messages.mapped('dispatch_state')), {'done'})

    @mute_logger(*LOGGERS)
    def test_a_group_of_mixed_answers_is_recorded_each_as_its_own(self):
        queued, split, sent, busy, refused = messages = self.env['comm.message'].create([{
            'direction': 'out', 'provider_id': self.twilio.id, 'to_number': f'+1415555{index:04d}',
            'state': 'queued', 'dispatch_state': 'attempt', 'attempts': 1, 'error_code': 'old'} for index in range(5)])
        self.env.cr.flush()
        self.env['comm.message']._record_answers([
            (queued, SendResult(provider_id='SMq', status='queued', elapsed=0.1)),
            (split, SendResult(provider_id='SMp1', status='queued', extra_ids=('SMp2', 'SMp3'), elapsed=0.1)),
            (sent, SendResult(provider_id='SMs', status='sent', elapsed=0.1)),
            (busy, ProviderError('busy', code='20500', retryable=True)),
            (refused, ProviderError('not a mobile number', code='21614', failure_type='sms_number_format')),
        ])
        self.assertEqual([(m.dispatch_state, m.provider_message_id, m.state, m.error_code) for m in messages], [
            ('done', 'SMq', 'queued', False), ('done', 'SMp1', 'queued', False), ('done', 'SMs', 'sent', False),
            ('todo', False, 'queued', '20500'), ('failed', False, 'failed', '21614')])
        self.assertEqual(self.env['comm.message.ref'].search([('message_id', '=', split.id)]).mapped('ref'),
                         ['SMp2', 'SMp3'], 'a status naming another part finds the message')
        self.assertEqual([kind for kind, _state in self.steps(sent)], ['queued', 'attempt', 'status'])
        self.assertEqual([kind for kind, _state in self.steps(busy)], ['queued', 'attempt', 'retry'])
        self.assertEqual(queued.write_uid, self.env.user)

    def test_steps_of_a_rolled_back_savepoint_are_not_written(self):
        message = self.queue()
        self.env.cr.flush()
        with self.assertRaises(ZeroDivisionError), self.env.cr.savepoint():
            message._comm_step('retry', detail='never happened')
            1 / 0   # noqa: B018
        self.assertEqual(self.steps(message), [('queued', 'queued')])

    def test_correlation_id_in_the_log_lines_about_a_message(self):
        message = self.queue()
        self.fake.route('POST', MESSAGES, 201, json={'sid': 'SM' + '1' * 32, 'status': 'queued'})
        log.install_filter()
        with self.assertLogs('odoo.addons.comm_gateway.tools.dispatch', logging.DEBUG) as logs:
            self.env['comm.message']._cron_dispatch()
        self.assertIn(f'[ref {message.client_ref}]', '\n'.join(logs.output))
        with log.correlation('abc123'), self.assertLogs('odoo.addons.comm_gateway.models.comm_message') as logs:
            logging.getLogger('odoo.addons.comm_gateway.models.comm_message').info('comm.message %s: hello', 7)
        self.assertEqual(logs.records[0].getMessage(), 'comm.message 7: hello [ref abc123]')

    def test_debug_switches_apply_without_restart_and_bodies_stay_off(self):
        twilio_logger = logging.getLogger('odoo.addons.comm_gateway.providers.twilio')
        queue_logger = logging.getLogger('odoo.addons.comm_gateway.models.comm_webhook_event')
        self.addCleanup(log.apply_levels, ())
        params = self.env['ir.config_parameter'].sudo()
        params.set_param(log.DEBUG_PARAM % 'twilio', 'True')
        log.refresh(self.env, force=True)
        self.assertEqual(twilio_logger.level, logging.DEBUG)
        self.assertEqual(queue_logger.level, logging.NOTSET)
        self.assertFalse(log.bodies_logged())
        settings = self.env['res.config.settings'].create({'comm_debug_twilio': False, 'comm_log_bodies': True})
        settings.execute()
        log.refresh(self.env, force=True)
        self.assertEqual(twilio_logger.level, logging.NOTSET)
        self.assertTrue(log.bodies_logged())


@tagged('post_install', '-at_install')
class TestStaleStatuses(OperationsCase):

    def setUp(self):
        super().setUp()
        self.plivo = self.env['comm.provider'].create({
            'name': 'Plivo', 'code': 'plivo', 'plivo_auth_id': AUTH_ID, 'plivo_auth_token': 'plivo-token',
            'sms_from': OURS, 'api_base_url': self.fake.base_url, 'timeout': 5, 'rate_limit': 0})
        self.meta = self.env['comm.provider'].create({
            'name': 'Meta', 'code': 'meta', 'meta_access_token': 'meta-token', 'meta_phone_number_id': '1234',
            'meta_app_secret': 'secret', 'api_base_url': self.fake.base_url})

    @mute_logger(*LOGGERS)
    def test_stale_statuses_are_asked_and_applied_like_webhooks(self):
        twilio_sid, plivo_uuid = 'SM' + 'a' * 32, '22222222-0000-4000-8000-000000000002'
        stale_twilio = self.sent(twilio_sid)
        stale_plivo = self.sent(plivo_uuid, provider=self.plivo)
        recent = self.sent('SM' + 'b' * 32, minutes_ago=5)
        meta = self.sent('wamid.X', provider=self.meta, channel='whatsapp')
        self.fake.route('GET', rf'/2010-04-01/Accounts/{SID}/Messages/{twilio_sid}\.json', 200, json=twilio_message(
            SID, twilio_sid, TO, OURS, status='undelivered', error_code=30005, sent=datetime(2026, 1, 2, 10)))
        self.fake.route('GET', rf'{PLIVO_MESSAGES}{plivo_uuid}/', 200,
                        json={'api_id': 'get', **plivo_message(AUTH_ID, plivo_uuid, TO[1:])})
        asked = self.env['comm.message']._cron_poll_statuses()
        self.assertEqual(asked, 2, 'Meta cannot be asked; a recent message is not stale')
        self.assertEqual((stale_twilio.state, stale_twilio.error_code), ('undelivered', '30005'))
        self.assertEqual(stale_plivo.state, 'delivered')
        self.assertEqual((recent.state, meta.state), ('sent', 'sent'))
        self.assertFalse(recent.status_checked_at)
        self.assertEqual(self.steps(stale_plivo)[-2:], [('poll', 'delivered'), ('status', 'delivered')])
        self.assertEqual(len([r for r in self.fake.requests if r.method == 'GET']), 2)
        self.assertEqual(self.env['comm.message']._cron_poll_statuses(), 0, 'asked once per period')

    @mute_logger(*LOGGERS)
    def test_a_provider_error_is_noted_and_the_batch_goes_on(self):
        first, second = self.sent('SM' + 'c' * 32), self.sent('SM' + 'd' * 32)
        self.fake.route('GET', rf'/2010-04-01/Accounts/{SID}/Messages/SM\w+\.json', 404,
                        json={'code': 20404, 'message': 'not found', 'status': 404})
        self.assertEqual(self.env['comm.message']._cron_poll_statuses(batch_size=1), 1, 'bounded batch')
        self.assertEqual(self.env['comm.message']._cron_poll_statuses(batch_size=1), 1)
        self.assertTrue(first.status_checked_at and second.status_checked_at)
        self.assertEqual(self.steps(first)[-1], ('poll', ''))
        self.assertEqual(first.step_ids[-1].error_code, '20404')


@tagged('post_install', '-at_install')
class TestReconciliation(OperationsCase):

    def setUp(self):
        super().setUp()
        self.manager = new_test_user(self.env, 'reconcile_manager', groups='comm_gateway.group_comm_manager')
        self.since, self.until = datetime(2026, 1, 2, 0, 0), datetime(2026, 1, 3, 0, 0)

    def wizard(self, provider):
        return self.env['comm.reconcile.wizard'].with_user(self.manager).create({
            'provider_id': provider.id, 'date_from': self.since, 'date_to': self.until})

    def lines(self, wizard):
        return sorted((line.kind, line.provider_message_id or line.message_id.body) for line in wizard.line_ids)

    @mute_logger(*LOGGERS)
    def test_twilio_list_compared_with_odoo_and_fixed(self):
        at = datetime(2026, 1, 2, 10, 0)
        matching = self.sent('SM' + '1' * 32, state='delivered', attempt_at=at)
        behind = self.sent('SM' + '2' * 32, attempt_at=at)
        self.sent('SM' + '3' * 32, attempt_at=at, body='lost at Twilio')
        listed = [
            twilio_message(SID, matching.provider_message_id, TO, OURS, status='delivered', sent=at),
            twilio_message(SID, behind.provider_message_id, TO, OURS, status='delivered', sent=at),
            twilio_message(SID, 'SM' + '4' * 32, OURS, TO, status='received', direction='inbound',
                           body='Where is my order?', sent=at),
        ]
        # two pages: the SDK follows next_page_uri
        self.fake.route('GET', MESSAGES, 200, json=lambda request: twilio_message_list(
            SID, listed[:2], next_page=True) if 'Page' not in dict(request.query) else twilio_message_list(
            SID, listed[2:], page=1))
        wizard = self.wizard(self.twilio)
        wizard.action_compare()
        query = dict(self.fake.requests[0].query)
        self.assertEqual((query['DateSent>'], query['DateSent<']), ('2026-01-02T00:00:00Z', '2026-01-03T00:00:00Z'))
        self.assertEqual((wizard.listed_count, wizard.known_count, wizard.complete), (3, 3, True))
        self.assertEqual(self.lines(wizard), [
            ('mismatch', 'SM' + '2' * 32), ('missing_odoo', 'SM' + '4' * 32), ('missing_provider', 'SM' + '3' * 32)])
        # one click: the missing inbound message is recorded as its webhook would have been
        wizard.action_import_missing()
        inbound = self.env['comm.message'].search([('provider_message_id', '=', 'SM' + '4' * 32)])
        self.assertEqual((inbound.direction, inbound.from_number, inbound.body), ('in', TO, 'Where is my order?'))
        self.assertEqual(inbound.received_at, at)
        # the other: the status asked again, through the status path
        self.fake.route('GET', rf'/2010-04-01/Accounts/{SID}/Messages/SM2+\.json', 200, json=twilio_message(
            SID, behind.provider_message_id, TO, OURS, status='delivered', sent=at))
        wizard.action_refresh_statuses()
        self.assertEqual(behind.state, 'delivered')
        self.assertEqual(self.lines(wizard), [('missing_provider', 'SM' + '3' * 32)], 'compared again')

    @mute_logger(*LOGGERS)
    def test_plivo_list_pages_and_an_incomplete_list(self):
        plivo = self.env['comm.provider'].create({
            'name': 'Plivo', 'code': 'plivo', 'plivo_auth_id': AUTH_ID, 'plivo_auth_token': 'plivo-token',
            'sms_from': OURS, 'api_base_url': self.fake.base_url, 'timeout': 5, 'rate_limit': 0})
        known = self.sent('33333333-0000-4000-8000-000000000003', provider=plivo, attempt_at=datetime(2026, 1, 2, 10))
        self.sent('44444444-0000-4000-8000-000000000004', provider=plivo, attempt_at=datetime(2026, 1, 2, 11))
        first = [plivo_message(AUTH_ID, known.provider_message_id, TO[1:], state='sent')]
        second = [plivo_message(AUTH_ID, 'in-1', OURS[1:], from_=TO[1:], state='received', direction='inbound')]
        self.fake.route('GET', PLIVO_MESSAGES, 200, json=lambda request: plivo_message_list(
            AUTH_ID, first, total=2) if dict(request.query).get('offset') == '0' else plivo_message_list(
            AUTH_ID, second, offset=1, total=2))
        wizard = self.wizard(plivo)
        wizard.action_compare()
        query = dict(self.fake.requests[0].query)
        self.assertEqual((query['message_time__gte'], query['message_time__lte']),
                         ('2026-01-02 00:00:00', '2026-01-03 00:00:00'))
        self.assertEqual(self.lines(wizard), [('missing_odoo', 'in-1'),
                                              ('missing_provider', '44444444-0000-4000-8000-000000000004')])
        self.assertEqual(wizard.line_ids.filtered(lambda l: l.kind == 'missing_odoo').number, TO)
        # a list longer than one report: what Odoo alone knows is not called missing
        self.fake.route('GET', PLIVO_MESSAGES, 200, json=plivo_message_list(AUTH_ID, first, total=5000))
        with mute_logger('odoo.addons.comm_gateway'):
            from ..wizard import comm_reconcile  # noqa: PLC0415
            self.patch(comm_reconcile, 'LIST_LIMIT', 1)
            wizard.action_compare()
        self.assertFalse(wizard.complete)
        self.assertEqual(self.lines(wizard), [])

    def test_meta_cannot_be_reconciled(self):
        meta = self.env['comm.provider'].create({
            'name': 'Meta', 'code': 'meta', 'meta_access_token': 'meta-token', 'meta_phone_number_id': '1234',
            'meta_app_secret': 'secret'})
        with self.assertRaisesRegex(Exception, 'no list of messages'):
            self.wizard(meta).action_compare()


@tagged('post_install', '-at_install')
class TestContactReview(OperationsCase):

    def test_reattach_moves_every_message_of_the_number(self):
        manager = new_test_user(self.env, 'review_manager', groups='comm_gateway.group_comm_manager,base.group_partner_manager')
        self.env.company.comm_unknown_sender = 'create'
        auto = self.env['res.partner'].sudo().create({'name': TO, 'mobile': TO, 'comm_sender_number': TO})  # by the queue
        known = self.env['res.partner'].create({'name': 'Ann', 'email': 'ann@example.com'})
        loose = self.env['comm.message'].create({
            'direction': 'in', 'provider_id': self.twilio.id, 'from_number': '+14155550199', 'state': 'received',
            'body': 'no contact'})
        first = self.env['comm.message'].create({
            'direction': 'in', 'provider_id': self.twilio.id, 'from_number': TO, 'state': 'received',
            'body': 'hello', 'partner_id': auto.id, 'res_model': 'res.partner', 'res_id': auto.id})
        post = auto.message_post(body='hello', message_type='comment')
        first.mail_message_id = post
        reply = self.queue(partner_id=auto.id, res_model='res.partner', res_id=auto.id)
        other_number = self.queue(to='+14155550100', partner_id=known.id)
        review = self.env['comm.message'].with_user(manager).action_open_contact_review()
        listed = self.env['comm.message'].search(review['domain'])
        self.assertIn(loose, listed)
        self.assertIn(first, listed)
        self.assertNotIn(other_number, listed)
        wizard = self.env['comm.message.reattach'].with_user(manager).with_context(
            active_model='comm.message', active_ids=first.ids).create({'partner_id': known.id})
        self.assertEqual((wizard.numbers, wizard.count), (TO, 2))
        wizard.action_apply()
        self.assertEqual((first | reply).mapped('partner_id'), known)
        self.assertEqual((first.res_id, reply.res_id, post.res_id), (known.id, known.id, known.id),
                         'the conversation moves with them')
        self.assertEqual(loose.partner_id.id, False)
        self.assertNotIn(first, self.env['comm.message'].search(self.env['comm.message']._contact_review_domain()))


@tagged('post_install', '-at_install')
class TestOperationsUi(FakeProviderMixin, HttpCase):

    def test_contact_review_reattach(self):
        provider = self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox', 'sms_from': OURS})
        ann = self.env['res.partner'].create({'name': 'Ann Review', 'email': 'ann.review@example.com'})
        messages = self.env['comm.message'].create([{
            'direction': 'in', 'provider_id': provider.id, 'from_number': '+14155550177', 'state': 'received',
            'body': body} for body in ('first', 'second')])
        self.start_tour('/odoo/action-comm_gateway.action_comm_contact_review', 'comm_contact_review_tour',
                        login='admin')
        self.assertEqual(messages.partner_id, ann, 'both messages of the number, one selected')

    def test_reconcile_and_import_the_missing_inbound(self):
        self.env['comm.provider'].create({
            'name': 'Twilio Ops', 'code': 'twilio', 'sms_from': OURS, 'api_base_url': self.fake.base_url,
            'twilio_account_sid': SID, 'twilio_auth_token': TOKEN, 'timeout': 5})
        sid = 'SM' + '5' * 32
        self.fake.route('GET', MESSAGES, 200, json=twilio_message_list(SID, [twilio_message(
            SID, sid, OURS, TO, status='received', direction='inbound', body='Missed me?',
            sent=datetime.now() - timedelta(hours=1))]))
        self.start_tour('/odoo/action-comm_gateway.action_comm_message', 'comm_reconcile_tour', login='admin')
        inbound = self.env['comm.message'].search([('provider_message_id', '=', sid)])
        self.assertEqual((inbound.direction, inbound.body), ('in', 'Missed me?'))
