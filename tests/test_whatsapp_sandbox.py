"""With the Sandbox: queued → sent → delivered in the chatter, and the reply in the same chatter."""
from odoo import fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from .whatsapp_common import LOGGERS, NUMBER, WhatsappCase


@tagged('post_install', '-at_install')
class TestWhatsapp(WhatsappCase):
    """With the Sandbox: queued → sent → delivered in the chatter, and the reply in the same chatter."""

    def notification(self, message):
        return message.mail_message_id.notification_ids.filtered(lambda n: n.notification_type == 'whatsapp')

    @mute_logger(*LOGGERS)
    def test_queued_sent_delivered_and_reply(self):
        sandbox = self.account('sandbox')
        self.env.company.comm_whatsapp_provider_id = sandbox
        self.open_window(sandbox)
        composer = self.composer(body='Your table is ready')
        self.assertEqual(composer.provider_id, sandbox, 'the company default')
        composer.action_send()
        message = self.outbound()
        post = message.mail_message_id
        self.assertEqual((post.model, post.res_id), ('res.partner', self.partner.id))
        self.assertEqual(self.notification(message).notification_status, 'process')
        self.assertEqual(self.notification(message).res_partner_id, self.partner)
        self.dispatch()
        self.assertEqual(message.dispatch_state, 'done')
        self.env['comm.webhook.event']._cron_process()
        self.assertEqual(message.state, 'delivered')
        self.assertEqual(self.notification(message).notification_status, 'sent', 'chatter: delivered')
        reply = self.env['comm.message'].search([('direction', '=', 'in'), ('channel', '=', 'whatsapp'),
                                                 ('from_number', '=', NUMBER), ('id', '>', message.id)])
        self.assertEqual((reply.mail_message_id.model, reply.mail_message_id.res_id),
                         ('res.partner', self.partner.id), 'the reply lands in the same chatter')
        self.assertTrue(self.env['comm.message']._whatsapp_window_end(NUMBER, sandbox) > fields.Datetime.now())

    @mute_logger(*LOGGERS)
    def test_undelivered_shows_in_the_chatter(self):
        sandbox = self.account('sandbox')
        partner = self.env['res.partner'].create({'name': 'Unreachable', 'mobile': '+1 415-555-0199'})
        self.open_window(sandbox, number='+14155550199')
        self.composer(partner, provider_id=sandbox.id, body='Hello?').action_send()
        self.dispatch()
        self.env['comm.webhook.event']._cron_process()
        message = self.outbound(partner)
        self.assertEqual(message.state, 'undelivered')
        self.assertEqual(self.notification(message).notification_status, 'exception')
