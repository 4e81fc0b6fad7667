from unittest.mock import patch

from odoo.tests import tagged
from odoo.tests.common import TransactionCase
from odoo.tools import mute_logger

OWN = '+15005550006'


@tagged('post_install', '-at_install')
class TestQueueBatch(TransactionCase):
    """A batch of plain inbound messages is processed together, and posts what message_post would."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider = cls.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox', 'sms_from': OWN})
        cls.provider.company_id.comm_unknown_sender = 'create'
        cls.adapter = cls.provider._get_adapter()
        cls.Event = cls.env['comm.webhook.event']
        Partner = cls.env['res.partner']
        cls.alice = Partner.create({'name': 'Alice', 'mobile': '+32470000001'})
        cls.bob = Partner.create({'name': 'Bob', 'mobile': '+32470000002'})
        cls.deal = cls.env['crm.lead'].create({'name': 'Deal'})     # where the conversation with Bob lives
        cls.follower = cls.env['res.users'].create({
            'name': 'Agent', 'login': 'batch-agent', 'notification_type': 'inbox',
            'groups_id': [(6, 0, [cls.env.ref('base.group_user').id])]})
        cls.alice.message_subscribe(partner_ids=cls.follower.partner_id.ids)

    def receive(self, sender, body):
        request = self.adapter.simulate_inbound(self.provider.webhook_url_inbound, sender, OWN, body)
        self.assertEqual(self.Event._receive(self.provider, 'inbound', request), 'queued')
        return request

    def inbound(self, body):
        return self.env['comm.message'].search([('provider_id', '=', self.provider.id), ('body', '=', body)])

    def test_batch_posts_each_message_where_its_conversation_lives(self):
        self.alice.message_post(body='Earlier note', message_type='comment')
        self.env['comm.message'].create({
            'direction': 'out', 'provider_id': self.provider.id, 'to_number': '+32470000002', 'state': 'sent',
            'res_model': 'crm.lead', 'res_id': self.deal.id})
        self.deal.message_post(body='Earlier note on the deal', message_type='comment')
        for sender, body in [('+32470000001', 'Hello <b>there</b>'), ('+32470000002', 'About the deal'),
                             ('+32470000009', 'New here'), ('+32470000009', 'Still me'),
                             ('+32470000001', 'STOP')]:
            self.receive(sender, body)
        self.Event._cron_process()
        events = self.Event.search([('provider_id', '=', self.provider.id)])
        self.assertEqual(set(events.mapped('state')), {'done'})

        hello = self.inbound('Hello <b>there</b>')
        post = hello.mail_message_id
        self.assertEqual((post.model, post.res_id, post.author_id), ('res.partner', self.alice.id, self.alice))
        self.assertEqual(post.message_type, 'comment')
        self.assertEqual(post.subtype_id, self.env.ref('mail.mt_comment'))
        self.assertEqual(post.record_name, 'Alice')
        reference = self.alice.message_post(body='Reference', message_type='comment')
        self.assertEqual(post.parent_id, reference.parent_id, 'threaded as message_post threads')
        self.assertIn('Hello &lt;b&gt;there&lt;/b&gt;', post.body, 'escaped, never rendered')
        self.assertNotIn('<b>', post.body)
        self.assertTrue(self.env['mail.notification'].search([
            ('mail_message_id', '=', post.id), ('res_partner_id', '=', self.follower.partner_id.id),
            ('notification_type', '=', 'inbox')]), "the record's followers are notified")

        deal = self.inbound('About the deal').mail_message_id
        self.assertEqual((deal.model, deal.res_id, deal.author_id), ('crm.lead', self.deal.id, self.bob))
        reference = self.deal.message_post(body='Reference', message_type='comment')
        self.assertTrue(reference.parent_id, 'leads thread flat: under their first message')
        self.assertEqual(deal.parent_id, reference.parent_id)
        self.assertEqual(deal.record_name, 'Deal')

        new, again = self.inbound('New here'), self.inbound('Still me')
        self.assertEqual(new.partner_id, again.partner_id, 'one contact for an unknown number writing twice')
        self.assertEqual(new.partner_id.mobile, '+32470000009')
        self.assertEqual(new.mail_message_id.res_id, new.partner_id.id)

        self.assertTrue(self.env['phone.blacklist'].search([('number', '=', '+32470000001')]))
        notes = self.alice.message_ids.filtered(lambda m: 'replied STOP' in m.body)
        self.assertEqual(len(notes), 1, 'the opt-out leaves one note in the chatter')

    @mute_logger('odoo.addons.comm_gateway.models.comm_webhook_event')
    def test_a_failing_message_falls_back_to_one_by_one(self):
        """When the batch fails, each event runs alone: the culprit is retried, the others land."""
        Partner = type(self.env['res.partner'])
        original = Partner._message_post_after_hook
        bob = self.bob

        def after_hook(records, message, msg_values):
            if records.id == bob.id:
                raise RuntimeError('the chatter of this record is broken')
            return original(records, message, msg_values)

        self.receive('+32470000001', 'From Alice')
        self.receive('+32470000002', 'From Bob')
        self.receive('+32470000009', 'From a stranger')
        with patch.object(Partner, '_message_post_after_hook', after_hook):
            self.Event._cron_process()
        events = self.Event.search([('provider_id', '=', self.provider.id)])
        states = {event.state for event in events if 'RuntimeError' not in (event.error or '')}
        self.assertEqual(states, {'done'})
        failed = events.filtered(lambda e: e.state == 'pending')
        self.assertEqual(len(failed), 1)
        self.assertIn('the chatter of this record is broken', failed.error)
        self.assertFalse(self.inbound('From Bob'), 'nothing half-saved: the retry records it')
        self.assertEqual(self.inbound('From Alice').mail_message_id.res_id, self.alice.id)
        self.assertTrue(self.inbound('From a stranger').mail_message_id)
        # the retry, with the chatter fixed, lands it once
        failed._queue_write({'next_try_at': failed.create_date})
        self.Event._cron_process()
        self.assertEqual(failed.state, 'done')
        self.assertEqual(self.inbound('From Bob').mail_message_id.res_id, self.bob.id)
