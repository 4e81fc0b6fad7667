from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import CommWebhookMixin


@tagged('post_install', '-at_install')
class TestWebhooksSandbox(CommWebhookMixin, HttpCase):
    """The whole inbound path with the Sandbox: HTTP → verify → queue → cron → chatter."""

    def setUp(self):
        super().setUp()
        self.setup_public_base_url()
        self.provider = self.env['comm.provider'].create({
            'name': 'Sandbox', 'code': 'sandbox', 'channel_whatsapp': True, 'sms_from': '+15005550006'})
        self.adapter = self.provider._get_adapter()
        self.partner = self.env['res.partner'].create({
            'name': 'Camille', 'mobile': '06 98 76 54 32', 'country_id': self.env.ref('base.fr').id})

    def inbound(self, body, sender='+33698765432', **kw):
        return self.adapter.simulate_inbound(self.provider.webhook_url_inbound, sender, '+15005550006', body, **kw)

    def test_inbound_reaches_partner_chatter(self):
        response = self.post_webhook(self.provider, 'inbound', self.inbound('Hello <script>alert(1)</script>'))
        self.assertEqual(response.status_code, 200)
        event = self.events(self.provider)
        self.assertEqual(event.state, 'pending')
        self.assertEqual(event.purpose, 'inbound')
        self.run_queue()
        self.assertEqual(event.state, 'done')
        message = self.env['comm.message'].search([('provider_id', '=', self.provider.id)])
        self.assertEqual((message.direction, message.state, message.partner_id), ('in', 'received', self.partner))
        self.assertEqual(message.from_number, '+33698765432')
        post = message.mail_message_id
        self.assertEqual(post.model, 'res.partner')
        self.assertEqual(post.res_id, self.partner.id)
        self.assertEqual(post.author_id, self.partner)
        self.assertNotIn('<script>', post.body)
        self.assertIn('&lt;script&gt;', post.body)

    def test_duplicate_delivery_enqueues_once(self):
        request = self.inbound('Hi')
        self.assertEqual(self.post_webhook(self.provider, 'inbound', request).status_code, 200)
        self.assertEqual(self.post_webhook(self.provider, 'inbound', request).status_code, 200)
        self.assertEqual(len(self.events(self.provider)), 1)
        self.run_queue()
        self.assertEqual(self.env['comm.message'].search_count([('provider_id', '=', self.provider.id)]), 1)

    @mute_logger('odoo.addons.comm_gateway.models.comm_webhook_event')
    def test_forged_requests_get_403_and_store_nothing(self):
        request = self.inbound('Hi')
        request.body = request.body.replace(b'Hi', b'Yo')
        response = self.post_webhook(self.provider, 'inbound', request)
        self.assertEqual(response.status_code, 403)
        self.assertEqual(response.text, '')
        unsigned = self.inbound('Hi')
        unsigned.headers.pop('X-Sandbox-Signature')
        self.assertEqual(self.post_webhook(self.provider, 'inbound', unsigned).status_code, 403)
        self.assertFalse(self.events(self.provider))
        counter = self.env['comm.webhook.rejection'].search([('provider_id', '=', self.provider.id)])
        self.assertEqual(counter.count, 2)

    def test_unknown_token_and_purpose_404(self):
        request = self.inbound('Hi')
        bad_url = request.url.replace(self.provider.sudo().webhook_token, 'nope')
        self.assertEqual(self.post_webhook(self.provider, 'inbound', request, url=bad_url).status_code, 404)
        self.assertEqual(self.post_webhook(self.provider, 'voice', request,
                                           url=request.url.replace('/inbound', '/voice')).status_code, 404)

    def test_bad_input(self):
        url = self.provider.webhook_url_inbound
        big = b'{"x": "' + b'a' * (1024 * 1024 + 10) + b'"}'
        json_type = {'Content-Type': 'application/json'}
        self.assertEqual(self.http('POST', url, data=big, headers=json_type).status_code, 413)
        self.assertEqual(self.http('POST', url, data=b'<x/>', headers={'Content-Type': 'text/xml'}).status_code, 415)
        self.assertEqual(self.http('POST', url, data=b'\xff\xfe{', headers=json_type).status_code, 400)
        self.assertEqual(self.http('GET', url).status_code, 405, 'the Sandbox only posts')
        self.assertEqual(self.http('PUT', url, data=b'x', headers=json_type).status_code, 405)
        broken = b'{"type": '
        signed = {**json_type, 'X-Sandbox-Signature': 'sha256=' + self.adapter._sign(broken)}
        self.assertEqual(self.http('POST', url, data=broken, headers=signed).status_code, 400,
                         'signed, but not well-formed JSON')
        self.assertEqual(self.http('POST', url, data=broken, headers=json_type).status_code, 403,
                         'unsigned: forged before anything else')
        self.assertFalse(self.events(self.provider))

    @mute_logger('odoo.addons.comm_gateway.models.comm_webhook_event')
    def test_signed_but_unreadable_is_stored_then_dead_with_the_reason(self):
        """A request that verifies is stored, whatever its payload says: parsing is the cron's
        job, and the provider is not made to retry for days."""
        request = self.adapter._signed(self.provider.webhook_url_inbound, {'no': 'type'})
        self.assertAccepted(self.post_webhook(self.provider, 'inbound', request))
        self.assertAccepted(self.post_webhook(self.provider, 'inbound', request))
        event = self.events(self.provider)
        self.assertEqual(len(event), 1, 'deduplicated on a hash of the body')
        self.assertTrue(event.event_key.startswith('body:'))
        self.run_queue()
        self.assertEqual(event.state, 'dead')
        self.assertIn('malformed', event.error)

    def test_unknown_number_creates_contact_or_not(self):
        self.env.company.comm_unknown_sender = 'create'
        self.post_webhook(self.provider, 'inbound', self.inbound('Hi', sender='+32470999888', channel='whatsapp',
                                                                 profile_name='Sofie'))
        self.run_queue()
        message = self.env['comm.message'].search([('from_number', '=', '+32470999888')])
        self.assertEqual(message.partner_id.name, 'Sofie')
        self.assertEqual(message.partner_id.mobile, '+32470999888')
        self.env.company.comm_unknown_sender = 'ignore'
        self.post_webhook(self.provider, 'inbound', self.inbound('Hi', sender='+32470111222'))
        self.run_queue()
        message = self.env['comm.message'].search([('from_number', '=', '+32470111222')])
        self.assertTrue(message)
        self.assertFalse(message.partner_id)
        self.assertFalse(message.mail_message_id)

    def test_media_become_attachments(self):
        self.post_webhook(self.provider, 'inbound', self.inbound(
            'photo', channel='whatsapp', media=[(b'\x89PNG\r\n', 'image/png', 'pic.png')]))
        self.run_queue()
        message = self.env['comm.message'].search([('provider_id', '=', self.provider.id)])
        self.assertEqual(message.attachment_ids.mapped('name'), ['pic.png'])
        self.assertEqual(message.mail_message_id.attachment_ids, message.attachment_ids)
        self.assertEqual(message.attachment_ids.res_model, 'res.partner')

    def test_opt_out_and_in(self):
        self.post_webhook(self.provider, 'inbound', self.inbound(' stop '))
        self.run_queue()
        self.assertTrue(self.env['phone.blacklist'].search([('number', '=', '+33698765432')]))
        self.assertIn('no more SMS', self.partner.message_ids[0].body)
        self.post_webhook(self.provider, 'inbound', self.inbound('START'))
        self.run_queue()
        self.assertFalse(self.env['phone.blacklist'].search([('number', '=', '+33698765432')]))

    def test_statuses_move_forward_only(self):
        message = self.env['comm.message'].create({
            'direction': 'out', 'provider_id': self.provider.id, 'to_number': '+33698765432',
            'provider_message_id': 'SB42', 'state': 'queued', 'body': 'x'})
        sent, delivered = self.adapter.simulate_statuses(self.provider.webhook_url_status, 'SB42', '+33698765432')
        self.post_webhook(self.provider, 'status', delivered)
        self.post_webhook(self.provider, 'status', sent)
        self.assertEqual(len(self.events(self.provider)), 2)
        self.run_queue()
        self.assertEqual(message.state, 'delivered', 'a late "sent" does not move delivered back')
        self.assertTrue(message.delivered_at)

    def test_undelivered_status(self):
        message = self.env['comm.message'].create({
            'direction': 'out', 'provider_id': self.provider.id, 'to_number': '+14155550199',
            'provider_message_id': 'SB99', 'state': 'sent', 'body': 'x'})
        for request in self.adapter.simulate_statuses(self.provider.webhook_url_status, 'SB99', '+14155550199'):
            self.post_webhook(self.provider, 'status', request)
        self.run_queue()
        self.assertEqual(message.state, 'undelivered')
        self.assertEqual(message.error_code, '30003')
