from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .whatsapp_common import LOGGERS, NUMBER, WhatsappMixin


@tagged('post_install', '-at_install')
class TestWhatsappUi(WhatsappMixin, HttpCase):
    """In a browser, with the Sandbox as default: the chatter's WhatsApp button, the composer,
    queued → sent → delivered, and the reply in the same chatter."""

    @mute_logger(*LOGGERS)
    def test_whatsapp_from_contact_chatter(self):
        self.setup_whatsapp()
        sandbox = self.account('sandbox')
        self.env.company.comm_whatsapp_provider_id = sandbox
        self.open_window(sandbox)
        url = f'/odoo/res.partner/{self.partner.id}'
        self.start_tour(url, 'comm_whatsapp_tour', login='admin')
        message = self.outbound()
        self.assertEqual((message.channel, message.to_number, message.state), ('whatsapp', NUMBER, 'queued'))
        self.env['comm.message']._cron_dispatch()
        self.assertEqual(message.state, 'queued', 'accepted by the provider; statuses come by webhook')
        self.env['comm.webhook.event']._cron_process()
        self.assertEqual(message.state, 'delivered')
        self.assertTrue(message.sent_at)
        self.start_tour(url, 'comm_whatsapp_delivered_tour', login='admin')
