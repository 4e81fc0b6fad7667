"""Meta's template webhooks end to end: signed POSTs of ``message_template_status_update``,
``template_category_update`` and ``message_template_quality_update`` to our controller, the
queue's cron, down to the template and its chatter. Facts: PROTOCOLS.md 4.3, 4.6."""
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import CommWebhookMixin, FakeProviderMixin
from .test_webhooks_meta import WABA_ID, hub_signature, meta_account, raw

TEMPLATE_ID = 1689556908129832
LOGGERS = ('odoo.addons.comm_gateway.models.comm_whatsapp_template',
           'odoo.addons.comm_gateway.models.comm_webhook_event')


def template_webhook(field, value, time=1739321024):
    return {'object': 'whatsapp_business_account', 'entry': [{'id': WABA_ID, 'time': time, 'changes': [
        {'field': field, 'value': {'message_template_id': TEMPLATE_ID, 'message_template_name': 'order_update',
                                   'message_template_language': 'en_US', **value}}]}]}


def status_update(event, reason='NONE', time=1739321024, **extra):
    return template_webhook('message_template_status_update', {
        'event': event, 'reason': reason, 'message_template_category': 'UTILITY', **extra}, time)


@tagged('post_install', '-at_install')
class TestWebhooksMetaTemplates(FakeProviderMixin, CommWebhookMixin, HttpCase):

    def setUp(self):
        super().setUp()
        self.setup_public_base_url()
        self.provider = meta_account(self.env, self.fake.base_url)
        self.template = self.env['comm.whatsapp.template'].create({
            'name': 'order_update', 'provider_id': self.provider.id, 'body': 'Hi {{1}}, order {{2}} shipped'})
        self.template.write({'status': 'pending', 'provider_ref': str(TEMPLATE_ID)})

    def deliver(self, payload):
        """Post ``payload`` signed like Meta signs it, then run the queue."""
        body = raw(payload)
        response = self.http('POST', self.provider.webhook_url_inbound, data=body, headers={
            'Content-Type': 'application/json', 'X-Hub-Signature-256': hub_signature(body)})
        self.assertEqual((response.status_code, response.content), (200, b''))
        self.run_queue()

    def notes(self):
        return self.template.message_ids.filtered(lambda m: 'Meta:' in str(m.body))

    @mute_logger(*LOGGERS)
    def test_approved_then_paused_then_reinstated(self):
        self.deliver(status_update('APPROVED'))
        self.assertEqual((self.template.status, self.template.rejection_reason), ('approved', False))
        self.assertEqual(len(self.notes()), 1)
        self.deliver(status_update('APPROVED'))
        self.assertEqual(len(self.events(self.provider)), 1, 'the same delivery again is stored once')
        self.assertEqual(len(self.notes()), 1, 'a duplicate delivery changes nothing')

        self.deliver(status_update('PAUSED', time=1739400000, other_info={
            'title': 'FIRST_PAUSE', 'description': 'Your WhatsApp message template has been paused.'}))
        self.assertEqual((self.template.status, self.template.rejection_reason),
                         ('paused', 'FIRST_PAUSE — Your WhatsApp message template has been paused.'))
        self.deliver(status_update('FLAGGED', time=1739410000))
        self.assertEqual(self.template.status, 'paused', 'flagged: at risk, status kept')
        self.assertIn('FLAGGED', str(self.notes()[0].body))
        self.deliver(status_update('REINSTATED', time=1739500000))
        self.assertEqual((self.template.status, self.template.rejection_reason), ('approved', False))
        self.assertEqual(set(self.events(self.provider).mapped('state')), {'done'})

    @mute_logger(*LOGGERS)
    def test_rejected_with_reason(self):
        self.deliver(status_update('REJECTED', 'INVALID_FORMAT', rejection_info={
            'reason': 'Variable parameters are not defined correctly.',
            'recommendation': 'Use {{1}}, {{2}} in order.'}))
        self.assertEqual(self.template.status, 'rejected')
        self.assertEqual(self.template.rejection_reason, 'INVALID_FORMAT — Variable parameters are not defined '
                                                         'correctly. — Use {{1}}, {{2}} in order.')
        self.assertIn('INVALID_FORMAT', str(self.notes().body))

    @mute_logger(*LOGGERS)
    def test_category_and_quality(self):
        self.deliver(template_webhook('template_category_update', {
            'previous_category': 'UTILITY', 'new_category': 'MARKETING'}))
        self.assertEqual(self.template.category, 'marketing')
        self.deliver(template_webhook('message_template_quality_update', {
            'previous_quality_score': 'UNKNOWN', 'new_quality_score': 'YELLOW'}, time=1739400000))
        self.assertEqual(self.template.quality, 'yellow')

    @mute_logger('odoo.addons.comm_gateway.models.comm_webhook_event')
    def test_unknown_template_is_kept_not_retried(self):
        self.template.provider_ref = 'another'
        with self.assertLogs('odoo.addons.comm_gateway.models.comm_whatsapp_template', 'WARNING') as logs:
            self.deliver(status_update('APPROVED'))
        self.assertIn('unknown here', logs.output[0])
        event = self.events(self.provider)
        self.assertEqual((event.state, event.error), ('done', False), 'kept in the queue, not an error loop')
        self.assertEqual(self.template.status, 'pending')
