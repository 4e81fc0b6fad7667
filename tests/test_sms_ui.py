from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger


@tagged('post_install', '-at_install')
class TestSmsUi(HttpCase):
    """In a browser, with the Sandbox as default: an agent texts a contact from its chatter and
    sees the SMS delivered, then the reply, in the same chatter."""

    # the reply notifies the contact's followers by email; this test database has no mail server
    @mute_logger('odoo.addons.comm_gateway.models.comm_message', 'odoo.addons.comm_gateway.models.comm_webhook_event',
                 'odoo.addons.mail.models.mail_mail')
    def test_sms_from_contact_chatter(self):
        self.env['ir.config_parameter'].set_param('comm_gateway.public_base_url', self.base_url())
        sandbox = self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox', 'sms_from': '+15005550006'})
        self.env.company.comm_sms_provider_id = sandbox
        partner = self.env['res.partner'].create({
            'name': 'Ines Costa', 'mobile': '912 345 670', 'country_id': self.env.ref('base.pt').id})
        url = f'/odoo/res.partner/{partner.id}'
        self.start_tour(url, 'comm_gateway_sms_tour', login='admin')
        message = self.env['comm.message'].search([('provider_id', '=', sandbox.id), ('direction', '=', 'out')])
        self.assertEqual((message.to_number, message.state), ('+351912345670', 'queued'))
        # what the triggered crons do within seconds on a running server
        self.env['comm.message']._cron_dispatch()
        self.env['comm.webhook.event']._cron_process()
        self.assertEqual(message.state, 'delivered')
        self.start_tour(url, 'comm_gateway_sms_delivered_tour', login='admin')
