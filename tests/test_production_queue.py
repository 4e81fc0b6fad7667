"""Production mode, inbound and statuses: the webhook cron within its time budget, poison events,
orphan parts, cleanup, statuses found by our reference or by a part id, Meta routing by number."""
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.addons.base.tests.test_ir_cron import CronMixinCase
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from ..models import comm_webhook_event
from ..providers.base import StatusUpdate, WebhookRequest
from ..tools.dispatch import TimeBudget
from .common import FakeProviderMixin, reported_progress
from .test_production_dispatch import TickingClock
from .test_queue import _status_request
from .test_webhooks_meta import APP_SECRET, CUSTOMER, hub_signature, meta_account, raw, status, text, value, webhook

QUEUE_LOGGER = 'odoo.addons.comm_gateway.models.comm_webhook_event'
MESSAGE_LOGGERS = ('odoo.addons.comm_gateway.models.comm_message', 'odoo.addons.comm_gateway.models.comm_message_ref')


class QueueCase(CronMixinCase, TransactionCase):

    def setUp(self):
        super().setUp()
        self.provider = self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox'})
        self.Event = self.env['comm.webhook.event']
        self.env['ir.config_parameter'].set_param('comm_gateway.webhook_max_attempts', 3)
        self.cron = self.env.ref('comm_gateway.ir_cron_comm_webhook_event')

    def outbound(self, provider_message_id, **values):
        return self.env['comm.message'].create({
            'direction': 'out', 'provider_id': self.provider.id, 'to_number': '+32470123456',
            'provider_message_id': provider_message_id, 'state': 'sent', 'dispatch_state': 'done', **values})

    def status_events(self, *ids):
        for provider_message_id in ids:
            self.Event._receive(self.provider, 'status', _status_request(self.provider, provider_message_id))
        return self.Event.search([('provider_id', '=', self.provider.id)], order='id')

    def progress(self, **kwargs):
        """Run the cron method; ``[(done, remaining)]`` it reported."""
        return reported_progress(self.env, lambda: self.Event._cron_process(**kwargs))


@tagged('post_install', '-at_install')
class TestQueueProduction(QueueCase):

    def test_budget_stops_processing_and_hands_the_rest_over(self):
        """Events processed one by one (call events here: statuses and plain messages go in
        batches) look at the budget before each: what is left is given back."""
        adapter = self.provider._get_adapter()
        for call_id in ('SC-1', 'SC-2', 'SC-3'):
            self.env['comm.call'].create({'provider_id': self.provider.id, 'direction': 'out',
                                          'provider_call_id': call_id, 'to_number': '+32470123456'})
            [ringing, *_later] = adapter.simulate_call(self.provider._webhook_url('voice_status'), call_id,
                                                       '+14155550132', '+32470123456')
            self.Event._receive(self.provider, 'voice_status', ringing)
        events = self.Event.search([('provider_id', '=', self.provider.id)], order='id')
        # every look at the clock "costs" 30 s: room for one event out of three
        with self.capture_triggers(self.cron.id) as capture:
            reported = self.progress(budget=TimeBudget(130, clock=TickingClock(step=30)))
        self.assertEqual(events.mapped('state'), ['done', 'pending', 'pending'])
        self.assertEqual(events.mapped('attempts'), [1, 0, 0], 'given back without counting an attempt')
        self.assertEqual(reported, [(1, 0)], 'the runner stops calling: the next round goes on')
        self.assertTrue(capture.records)
        self.progress()
        self.assertEqual(set(events.mapped('state')), {'done'})

    @mute_logger(QUEUE_LOGGER)
    def test_poison_event_goes_dead_alone(self):
        """An event whose worker dies every time: each crash counts an attempt; after a crash the
        events are processed alone, so the poison takes no other with it; dead after its attempts."""
        for provider_message_id in ('SB-P', 'SB-A', 'SB-B'):
            self.outbound(provider_message_id)
        events = self.status_events('SB-P', 'SB-A', 'SB-B')
        poison, others = events[0], events[1:]
        old = fields.Datetime.now() - timedelta(hours=1)

        def crash(claimed):
            """The worker claimed these, then was killed while processing the poison event."""
            claimed._queue_write({'locked_at': old})
            self.Event._requeue_stale()

        crash(self.Event._claim(10))
        self.assertEqual(events.mapped('state'), ['pending'] * 3)
        self.assertEqual(events.mapped('attempts'), [1, 1, 1], 'the claim counted the attempt')
        self.assertFalse(self.Event._claim(10), 'after a crash, never in a batch again')
        for attempt in (2, 3):
            claimed = self.Event._claim(1, suspects=True)
            self.assertEqual(claimed, poison, 'alone')
            crash(claimed)
            self.assertEqual(poison.attempts, attempt)
        self.assertEqual((poison.state, poison.crashes), ('dead', 3), 'dead after its attempts')
        self.assertIn('worker processing it stopped', poison.error)
        self.progress()
        self.assertEqual(others.mapped('state'), ['done', 'done'], 'the others processed, one by one')
        self.assertEqual(others.mapped('attempts'), [2, 2])
        self.assertEqual(poison.state, 'dead')

    @mute_logger('odoo.addons.comm_gateway.models.comm_message')
    def test_one_bad_orphan_group_does_not_stop_the_others(self):
        vonage = self.env['comm.provider'].create({'name': 'Vonage', 'code': 'vonage'})
        Part = self.env['comm.message.part']
        Part.create([
            {'provider_id': vonage.id, 'sender': '+34612000111', 'concat_ref': 'bad', 'total': 2, 'part': 1,
             'provider_message_id': 'P-bad', 'payload': {'no body': True}},
            {'provider_id': vonage.id, 'sender': '+34612000222', 'concat_ref': 'ok', 'total': 2, 'part': 1,
             'provider_message_id': 'P-ok', 'payload': {'body': 'Hello', 'recipient': '+447700900000'}},
        ])
        self.env.flush_all()
        self.env.cr.execute('UPDATE comm_message_part SET create_date = %s', [fields.Datetime.now() - timedelta(hours=1)])
        Part.invalidate_model()
        self.assertEqual(Part._flush_orphans(), 1)
        posted = self.env['comm.message'].search([('provider_id', '=', vonage.id)])
        self.assertEqual(posted.from_number, '+34612000222')
        left = Part.search([('provider_id', '=', vonage.id)])
        self.assertEqual(left.concat_ref, 'bad', 'kept, and moved to the back')
        self.assertFalse(Part._flush_orphans(), 'not before its turn comes again')

    def test_cleanup_in_slices_keeps_dead_letters_their_days(self):
        self.env['ir.config_parameter'].set_param('comm_gateway.webhook_dead_kept_days', 10)
        events = self.status_events(*(f'SB-GC{index}' for index in range(9)))
        now = fields.Datetime.now()
        old_done, recent_done, old_dead, recent_dead = events[:5], events[5:6], events[6:8], events[8:]
        old_done._queue_write({'state': 'done', 'processed_at': now - timedelta(days=31)})
        recent_done._queue_write({'state': 'done', 'processed_at': now - timedelta(days=1)})
        old_dead._queue_write({'state': 'dead', 'processed_at': False})
        recent_dead._queue_write({'state': 'dead'})
        self.env.flush_all()
        self.env.cr.execute('UPDATE comm_webhook_event SET write_date = %s WHERE id IN %s',
                            [now - timedelta(days=11), tuple(old_dead.ids)])
        with patch.object(comm_webhook_event, 'GC_SLICE', 2):
            deleted = self.Event._gc_done_events(budget=TimeBudget(100))
        self.assertEqual(deleted, 7, 'five done events in three slices, two dead letters')
        self.assertEqual(self.Event.search([('provider_id', '=', self.provider.id)]), recent_done | recent_dead)


@tagged('post_install', '-at_install')
class TestStatusByReference(FakeProviderMixin, TransactionCase):

    @mute_logger(*MESSAGE_LOGGERS, QUEUE_LOGGER)
    def test_meta_status_finds_an_uncertain_send_by_our_reference(self):
        """The worker died during the send; Meta cannot be asked; the message failed as uncertain.
        Its statuses carry our reference back: it was sent after all, and is delivered."""
        meta = meta_account(self.env, self.fake.base_url)
        message = self.env['comm.message'].create({
            'direction': 'out', 'channel': 'whatsapp', 'provider_id': meta.id, 'to_number': '+' + CUSTOMER,
            'body': 'Hi', 'state': 'queued', 'dispatch_state': 'attempt', 'attempts': 1,
            'attempt_at': fields.Datetime.now() - timedelta(hours=1)})
        self.env['comm.message']._reconcile_stale_attempts()
        self.assertEqual((message.state, message.error_code), ('failed', 'uncertain'))
        payload = webhook(value(statuses=[dict(status('wamid.SENT', 'delivered'),
                                               biz_opaque_callback_data=message.client_ref)]))
        body = raw(payload)
        request = WebhookRequest(method='POST', url=meta.webhook_url_inbound, body=body, headers={
            'Content-Type': 'application/json', 'X-Hub-Signature-256': hub_signature(body)})
        self.assertEqual(self.env['comm.webhook.event']._receive(meta, 'inbound', request), 'queued')
        self.env['comm.webhook.event']._cron_process()
        self.assertEqual((message.state, message.dispatch_state, message.provider_message_id),
                         ('delivered', 'done', 'wamid.SENT'))
        self.assertFalse(message.error_code)

    @mute_logger(*MESSAGE_LOGGERS)
    def test_vonage_receipts_of_every_part_find_their_message(self):
        vonage = self.env['comm.provider'].create({
            'name': 'Vonage', 'code': 'vonage', 'vonage_api_key': 'abcd1234', 'vonage_api_secret': 'ApiSecret99',
            'sms_from': '+447700900000', 'api_base_url': self.fake.base_url, 'timeout': 5, 'rate_limit': 0})
        self.fake.route('POST', '/sms/json', 200, json={'message-count': '3', 'messages': [
            {'to': '447700900001', 'message-id': f'0A00000{part}', 'status': '0'} for part in (1, 2, 3)]})
        message = self.env['comm.message'].create({
            'direction': 'out', 'channel': 'sms', 'provider_id': vonage.id, 'to_number': '+447700900001',
            'body': 'x' * 400, 'state': 'queued', 'dispatch_state': 'todo', 'next_try_at': fields.Datetime.now()})
        self.env['comm.message']._cron_dispatch()
        self.assertEqual(message.provider_message_id, '0A000001')
        adapter = vonage._get_adapter()
        for part in (3, 2):
            receipt = WebhookRequest(method='POST', url=vonage.webhook_url_status, form=[
                ('msisdn', '447700900001'), ('to', '447700900000'), ('messageId', f'0A00000{part}'),
                ('status', 'delivered'), ('err-code', '0'), ('client-ref', message.client_ref)])
            found = self.env['comm.message']._receive_status(vonage, adapter.parse_webhook(receipt, 'status')[0])
            self.assertEqual(found, message, f'the receipt of part {part}')
        self.assertEqual(message.state, 'delivered')
        self.assertEqual(message.provider_message_id, '0A000001', 'the first part keeps naming it')

    @mute_logger(*MESSAGE_LOGGERS)
    def test_part_found_by_reference_is_remembered(self):
        vonage = self.env['comm.provider'].create({'name': 'Vonage', 'code': 'vonage'})
        message = self.env['comm.message'].create({
            'direction': 'out', 'provider_id': vonage.id, 'to_number': '+447700900001',
            'provider_message_id': 'PART-1', 'state': 'sent', 'dispatch_state': 'done'})
        Message = self.env['comm.message']
        self.assertEqual(Message._receive_status(vonage, StatusUpdate(
            provider_id='PART-2', status='delivered', client_ref=message.client_ref)), message)
        self.assertEqual(Message._receive_status(vonage, StatusUpdate(provider_id='PART-2', status='read')), message,
                         'its id is known now, reference or not')


@tagged('post_install', '-at_install')
class TestMetaRouting(FakeProviderMixin, TransactionCase):
    """One Meta app, several numbers, one callback URL: each event goes to its number's account."""

    def receive(self, account, payload):
        body = raw(payload)
        request = WebhookRequest(method='POST', url=account.webhook_url_inbound, body=body, headers={
            'Content-Type': 'application/json', 'X-Hub-Signature-256': hub_signature(body)})
        self.assertEqual(self.env['comm.webhook.event']._receive(account, 'inbound', request), 'queued')
        self.env['comm.webhook.event']._cron_process()

    def routed(self, phone_number_id, wamid):
        data = value(messages=[text('Hello', wamid)])
        data['metadata'] = {'display_phone_number': '15550002222', 'phone_number_id': phone_number_id}
        return webhook(data)

    def test_events_go_to_the_account_of_their_number(self):
        self.env.company.comm_unknown_sender = 'ignore'
        first = meta_account(self.env, self.fake.base_url)
        second = first.copy({'name': 'Meta 2', 'meta_phone_number_id': '222222222222222',
                             'meta_app_secret': APP_SECRET, 'meta_access_token': 'tok2'})
        stranger = first.copy({'name': 'Other app', 'meta_phone_number_id': '333333333333333',
                               'meta_app_secret': 'another-app-secret', 'meta_access_token': 'tok3'})
        self.receive(first, self.routed('222222222222222', 'wamid.TO-SECOND'))
        self.receive(first, self.routed('333333333333333', 'wamid.TO-STRANGER'))
        Message = self.env['comm.message']
        self.assertEqual(Message.search([('provider_message_id', '=', 'wamid.TO-SECOND')]).provider_id, second)
        self.assertEqual(Message.search([('provider_message_id', '=', 'wamid.TO-STRANGER')]).provider_id, first,
                         'another app\'s number: not trusted, kept on the account called')
        self.assertFalse(Message.search([('provider_id', '=', stranger.id)]))
