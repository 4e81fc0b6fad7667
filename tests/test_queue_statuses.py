"""Status callbacks are processed a batch at a time, as plain inbound messages are."""
import random
import time
from unittest.mock import patch

from odoo.tests import tagged
from odoo.tests.common import TransactionCase
from odoo.tools import mute_logger

OWN = '+15005550006'
# Reading the messages, the ladder, Odoo's trackers, the events done, the lifecycle steps' insert,
# the conversation views' refresh (one bus notification)
QUERIES = 23


@tagged('post_install', '-at_install')
class TestQueueStatuses(TransactionCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider = cls.env['comm.provider'].create({
            'name': 'Sandbox', 'code': 'sandbox', 'sms_from': OWN, 'sandbox_auto_reply': False})
        cls.env.company.comm_sms_provider_id = cls.provider
        cls.adapter = cls.provider._get_adapter()
        cls.Event = cls.env['comm.webhook.event']
        cls.url = cls.provider.webhook_url_status

    def campaign(self, count):
        """``count`` SMS sent from the chatter (sms.sms, sms.tracker, mail.notification), handed to
        the Sandbox: each has its provider id, as after a dispatch run."""
        partners = self.env['res.partner'].create([
            {'name': f'Customer {index}', 'mobile': f'+3247{index:07d}'} for index in range(count)])
        for partner in partners:
            partner._message_sms(body=f'Sale starts today, {partner.name}', partner_ids=partner.ids)
        messages = self.env['comm.message'].search([('provider_id', '=', self.provider.id), ('direction', '=', 'out')],
                                                   order='id')
        self.assertEqual(len(messages), count)
        for message in messages:
            message.write({'provider_message_id': f'SB{message.id:08d}', 'dispatch_state': 'done'})
        return messages

    def status(self, message, status, offset=0.0, error=False):
        payload = {'type': 'status', 'id': message.provider_message_id, 'status': status, 'to': message.to_number,
                   'timestamp': time.time() + offset}
        if error:
            payload.update(error_code='30003', error_message='Unreachable handset (simulated)')
        return self.adapter._signed(self.url, payload)

    def receive(self, requests):
        for request in requests:
            self.assertEqual(self.Event._receive(self.provider, 'status', request), 'queued')

    def duplicate(self, events):
        """The same callbacks once more under another key (a provider retrying with another
        idempotency token): the queue holds them twice."""
        self.env.flush_all()
        self.env.cr.execute(
            """INSERT INTO comm_webhook_event (provider_id, company_id, purpose, event_key, method, url, headers,
                                               body, remote_addr, state, attempts, next_try_at)
               SELECT provider_id, company_id, purpose, event_key || ':again', method, url, headers, body,
                      remote_addr, 'pending', 0, next_try_at
                 FROM comm_webhook_event WHERE id IN %s""", [tuple(events.ids)])

    def events(self):
        return self.Event.search([('provider_id', '=', self.provider.id)])

    def notification(self, message):
        return self.env['mail.notification'].search([('mail_message_id', '=', message.mail_message_id.id),
                                                     ('notification_type', '=', 'sms')])

    def test_campaign_statuses_shuffled_with_duplicates(self):
        """queued, sent and delivered for every SMS (undelivered for some), shuffled, some twice:
        each SMS ends in its last state, Odoo's trackers and chatter icons with it."""
        messages = self.campaign(40)
        unreachable = messages[::10]
        requests = []
        for message in messages:
            last = ('undelivered', True) if message in unreachable else ('delivered', False)
            requests += [self.status(message, 'queued'), self.status(message, 'sent', 1),
                         self.status(message, last[0], 2, error=last[1])]
        random.Random(17).shuffle(requests)
        self.receive(requests)
        self.duplicate(self.events()[:30])
        self.assertEqual(len(self.events()), 150)

        self.Event._cron_process()

        self.assertEqual(set(self.events().mapped('state')), {'done'})
        self.env.invalidate_all()
        for message in messages:
            notification = self.notification(message)
            if message in unreachable:
                self.assertEqual(message.state, 'undelivered', message.to_number)
                self.assertEqual(message.error_message, 'Unreachable handset (simulated)')
                self.assertEqual(notification.notification_status, 'exception')
                self.assertEqual(notification.failure_reason, 'Unreachable handset (simulated)')
            else:
                self.assertEqual(message.state, 'delivered', message.to_number)
                self.assertTrue(message.delivered_at)
                self.assertEqual(notification.notification_status, 'sent', 'the chatter shows delivered')

    def test_never_backwards_within_a_batch(self):
        message = self.campaign(1)
        self.receive([self.status(message, 'delivered', 2), self.status(message, 'sent', 1),
                      self.status(message, 'queued')])
        self.Event._cron_process()
        self.assertEqual(message.state, 'delivered')
        self.assertFalse(message.sent_at, 'the late "sent" moved nothing')
        self.assertEqual(self.notification(message).notification_status, 'sent')

    def test_queries_per_batch_do_not_grow_with_its_size(self):
        """Reading the messages, the ladder, Odoo's trackers, the events done, the steps: the same
        queries for 10 statuses as for 60 but one INSERT of steps per 100 (well under 2 per status)."""
        messages = self.campaign(70)
        small, large = messages[:10], messages[10:]
        self.receive([self.status(message, 'sent', 1) for message in small])
        self.env.flush_all()
        with self.assertQueryCount(__system__=QUERIES):
            self.Event._cron_process()
        self.assertEqual(set(small.mapped('state')), {'sent'})
        self.receive([self.status(message, 'sent', 1) for message in large])
        self.env.flush_all()
        # 120 lifecycle steps (reported, moved): Odoo inserts 100 rows per statement
        with self.assertQueryCount(__system__=QUERIES + 1):
            self.Event._cron_process()
        self.assertEqual(set(large.mapped('state')), {'sent'})
        self.assertEqual(set(self.events().mapped('state')), {'done'})

    @mute_logger('odoo.addons.comm_gateway.models.comm_webhook_event')
    def test_a_failing_batch_falls_back_to_one_by_one(self):
        """When the batch fails, each event runs alone: the culprit is retried, the others land."""
        messages = self.campaign(3)
        culprit = messages[1]
        Message = type(self.env['comm.message'])
        original = Message._sync_sms_trackers

        def sync(model, final):
            if culprit in final:
                raise RuntimeError('the tracker of this SMS is broken')
            return original(model, final)

        self.receive([self.status(message, 'delivered') for message in messages])
        with patch.object(Message, '_sync_sms_trackers', sync):
            self.Event._cron_process()
        failed = self.events().filtered(lambda e: e.state == 'pending')
        self.assertEqual(len(failed), 1)
        self.assertIn('the tracker of this SMS is broken', failed.error)
        self.assertEqual(set((self.events() - failed).mapped('state')), {'done'})
        self.assertEqual(culprit.state, 'queued', 'nothing half-saved: the retry applies it')
        self.assertEqual((messages - culprit).mapped('state'), ['delivered', 'delivered'])
        failed._queue_write({'next_try_at': failed.create_date})
        self.Event._cron_process()
        self.assertEqual(failed.state, 'done')
        self.assertEqual(culprit.state, 'delivered')

    @mute_logger('odoo.addons.comm_gateway.models.comm_webhook_event')
    def test_unknown_messages_go_alone(self):
        """A status for a message not committed yet waits; one naming a message by a further part
        id is found alone; the others are applied together."""
        messages = self.campaign(3)
        part = messages[2]
        self.env['comm.message.ref']._remember(part, ['SB-PART-2'])
        self.receive([self.status(messages[0], 'delivered')])
        self.receive([self.adapter._signed(self.url, {'type': 'status', 'id': 'SB-NOT-YET', 'status': 'sent',
                                                      'to': '+32470000009', 'timestamp': time.time()}),
                      self.adapter._signed(self.url, {'type': 'status', 'id': 'SB-PART-2', 'status': 'sent',
                                                      'to': part.to_number, 'timestamp': time.time()})])
        self.Event._cron_process()
        self.assertEqual(messages[0].state, 'delivered')
        self.assertEqual(part.state, 'sent')
        waiting = self.events().filtered(lambda e: e.state == 'pending')
        self.assertEqual(len(waiting), 1)
        self.assertIn('SB-NOT-YET', waiting.error)
