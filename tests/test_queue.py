import threading
from datetime import timedelta

from odoo import api, fields
from odoo.tests import BaseCase, tagged
from odoo.tests.common import TransactionCase, get_db_name
from odoo.tools import mute_logger
from odoo.modules.registry import Registry



def _status_request(provider, provider_message_id, status='delivered'):
    adapter = provider._get_adapter()
    requests = adapter.simulate_statuses(provider.webhook_url_status, provider_message_id, '+32470123456')
    return next(r for r in requests if adapter.parse_webhook(r, 'status')[0].status == status)


@tagged('post_install', '-at_install')
class TestQueueRetries(TransactionCase):

    def setUp(self):
        super().setUp()
        self.provider = self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox'})
        self.Event = self.env['comm.webhook.event']
        self.env['ir.config_parameter'].set_param('comm_gateway.webhook_max_attempts', 3)

    def due_now(self, event):
        event._queue_write({'next_try_at': fields.Datetime.now() - timedelta(seconds=1)})

    @mute_logger('odoo.addons.comm_gateway.models.comm_webhook_event')
    def test_retry_then_dead_then_reprocessed_by_hand(self):
        request = _status_request(self.provider, 'SB-LATE')
        self.assertEqual(self.Event._receive(self.provider, 'status', request), 'queued')
        event = self.Event.search([('provider_id', '=', self.provider.id)])
        # the status arrives before the message exists: kept and retried with backoff
        self.Event._cron_process()
        self.assertEqual((event.state, event.attempts), ('pending', 1))
        self.assertIn('SB-LATE', event.error)
        self.assertGreater(event.next_try_at, fields.Datetime.now() + timedelta(seconds=20))
        self.Event._cron_process()
        self.assertEqual(event.attempts, 1, 'not due yet: not processed again')
        for attempt in (2, 3):
            self.due_now(event)
            self.Event._cron_process()
            self.assertEqual(event.attempts, attempt)
        self.assertEqual(event.state, 'dead', 'the last attempt makes it a dead letter')
        self.assertTrue(event.error)
        # the message shows up; an administrator reprocesses the dead letter
        message = self.env['comm.message'].create({
            'direction': 'out', 'provider_id': self.provider.id, 'to_number': '+32470123456',
            'provider_message_id': 'SB-LATE', 'state': 'sent'})
        event.action_reprocess()
        self.assertEqual((event.state, event.attempts), ('pending', 0))
        self.Event._cron_process()
        self.assertEqual(event.state, 'done')
        self.assertFalse(event.error)
        self.assertEqual(message.state, 'delivered')

    @mute_logger('odoo.addons.comm_gateway.models.comm_webhook_event')
    def test_one_bad_event_does_not_block_the_batch(self):
        message = self.env['comm.message'].create({
            'direction': 'out', 'provider_id': self.provider.id, 'to_number': '+32470123456',
            'provider_message_id': 'SB-OK', 'state': 'sent'})
        self.Event._receive(self.provider, 'status', _status_request(self.provider, 'SB-MISSING'))
        self.Event._receive(self.provider, 'status', _status_request(self.provider, 'SB-OK'))
        self.Event._cron_process()
        states = dict(self.Event.search([('provider_id', '=', self.provider.id)]).mapped(
            lambda e: (e.event_key.split(':')[1], e.state)))
        self.assertEqual(states, {'SB-MISSING': 'pending', 'SB-OK': 'done'})
        self.assertEqual(message.state, 'delivered')

    def test_discard(self):
        self.Event._receive(self.provider, 'status', _status_request(self.provider, 'SB-X'))
        event = self.Event.search([('provider_id', '=', self.provider.id)])
        event.action_discard()
        self.Event._cron_process()
        self.assertEqual(event.state, 'discarded')

    def test_stale_processing_events_are_picked_up_again(self):
        self.env['comm.message'].create({
            'direction': 'out', 'provider_id': self.provider.id, 'to_number': '+32470123456',
            'provider_message_id': 'SB-STALE', 'state': 'sent'})
        self.Event._receive(self.provider, 'status', _status_request(self.provider, 'SB-STALE'))
        event = self.Event.search([('provider_id', '=', self.provider.id)])
        event._queue_write({'state': 'processing', 'locked_at': fields.Datetime.now() - timedelta(minutes=5)})
        with mute_logger('odoo.addons.comm_gateway.models.comm_webhook_event'):
            self.Event._cron_process()
        self.assertEqual(event.state, 'processing', 'a recent lock belongs to a live worker')
        event._queue_write({'locked_at': fields.Datetime.now() - timedelta(hours=1)})
        with mute_logger('odoo.addons.comm_gateway.models.comm_webhook_event'):
            self.Event._cron_process()
        self.assertEqual(event.state, 'done')

    def test_cron_is_triggered_on_enqueue_and_reports_progress(self):
        cron = self.env.ref('comm_gateway.ir_cron_comm_webhook_event')
        # a wake-up already due (left by a test that committed) would rightly spare the new one
        self.env['ir.cron.trigger'].search([('cron_id', '=', cron.id)]).unlink()
        self.Event._receive(self.provider, 'status', _status_request(self.provider, 'SB-T'))
        self.assertEqual(self.env['ir.cron.trigger'].search_count([('cron_id', '=', cron.id)]), 1)
        progress = []
        origin = type(self.env['ir.cron'])._notify_progress

        def spy(model, *, done, remaining, deactivate=False):
            progress.append((done, remaining))
        type(self.env['ir.cron'])._notify_progress = spy
        try:
            self.Event._cron_process(batch_size=1)
        finally:
            type(self.env['ir.cron'])._notify_progress = origin
        self.assertEqual(progress, [(1, 0)])

    def test_a_burst_wakes_the_cron_once_and_a_repeat_is_stored_once(self):
        cron = self.env.ref('comm_gateway.ir_cron_comm_webhook_event')
        Trigger = self.env['ir.cron.trigger']
        Trigger.search([('cron_id', '=', cron.id)]).unlink()
        outcomes = [self.Event._receive(self.provider, 'status', _status_request(self.provider, f'SB-B{n}'))
                    for n in range(3)]
        self.assertEqual(outcomes, ['queued'] * 3)
        self.assertEqual(Trigger.search_count([('cron_id', '=', cron.id)]), 1,
                         'the wake-up due for the first serves the next ones')
        self.assertEqual(self.Event._receive(self.provider, 'status', _status_request(self.provider, 'SB-B1')),
                         'duplicate')
        events = self.Event.search([('provider_id', '=', self.provider.id)])
        self.assertEqual(len(events), 3)
        self.assertEqual(set(events.mapped('state')), {'pending'})
        self.assertEqual(events.mapped('company_id'), self.provider.company_id)
        self.assertTrue(all((event.form_data or event.body) and event.url and event.create_date and event.next_try_at
                            for event in events), 'the request is stored as received, dated')
        Trigger.search([('cron_id', '=', cron.id)]).unlink()
        self.Event._receive(self.provider, 'status', _status_request(self.provider, 'SB-B3'))
        self.assertEqual(Trigger.search_count([('cron_id', '=', cron.id)]), 1, 'no wake-up due: one is asked for')


@tagged('post_install', '-at_install')
class TestQueueConcurrency(BaseCase):
    """Two workers, two real database connections, one queue: each event processed once."""

    def test_two_workers_process_each_event_once(self):
        registry = Registry(get_db_name())
        n_events = 60
        with registry.cursor() as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            provider = env['comm.provider'].create({'name': 'Concurrency', 'code': 'sandbox'})
            adapter = provider._get_adapter()
            for index in range(n_events):
                env['comm.webhook.event']._receive(provider, 'inbound', adapter.simulate_inbound(
                    provider.webhook_url_inbound, f'+3247000{index:04d}', '+15005550006', f'msg {index}'))
            env.company.comm_unknown_sender = 'ignore'
            provider_id = provider.id
        processed = {}
        errors = []
        barrier = threading.Barrier(2)

        # One cursor (one connection, one transaction) per worker. Environments are made here:
        # the registry lock is held by the test runner's thread while tests run.
        envs = {name: api.Environment(registry.cursor(), api.SUPERUSER_ID, {}) for name in ('a', 'b')}

        def worker(name):
            env = envs[name]
            try:
                barrier.wait(timeout=10)
                events = env['comm.webhook.event']._claim(n_events)
                events = events.filtered(lambda e: e.provider_id.id == provider_id)
                processed[name] = set(events.ids)
                events._process_batch()
                env.cr.commit()
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(name,)) for name in envs]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            self.assertFalse(errors)
            self.assertFalse(processed['a'] & processed['b'], 'no event claimed by both workers')
            with registry.cursor() as cr:
                env = api.Environment(cr, api.SUPERUSER_ID, {})
                events = env['comm.webhook.event'].search([('provider_id', '=', provider_id)])
                self.assertEqual(len(processed['a'] | processed['b']), n_events)
                self.assertEqual(set(events.mapped('state')), {'done'})
                messages = env['comm.message'].search([('provider_id', '=', provider_id)])
                self.assertEqual(len(messages), n_events, 'each event produced exactly one message')
                self.assertEqual(len(set(messages.mapped('provider_message_id'))), n_events)
        finally:
            for env in envs.values():
                env.cr.close()
            with registry.cursor() as cr:
                env = api.Environment(cr, api.SUPERUSER_ID, {})
                env['comm.message'].search([('provider_id', '=', provider_id)]).unlink()
                env['comm.provider'].browse(provider_id).unlink()
                env.company.comm_unknown_sender = 'create'
