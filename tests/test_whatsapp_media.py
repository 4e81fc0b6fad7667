"""The short-lived token URL a provider fetches media by."""
from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, tagged

from .whatsapp_common import WhatsappMixin


@tagged('post_install', '-at_install')
class TestWhatsapp(WhatsappMixin, HttpCase):
    """The provider fetches media by an unguessable, short-lived URL; nothing else opens it."""

    def test_token_url(self):
        self.setup_whatsapp()
        self.env['ir.config_parameter'].sudo().set_param('comm_gateway.public_base_url', self.base_url())
        sandbox = self.account('sandbox')
        self.open_window(sandbox)
        attachment = self.env['ir.attachment'].create({'name': 'menu.pdf', 'raw': b'%PDF-1.4 menu',
                                                       'mimetype': 'application/pdf',
                                                       'res_model': 'comm.whatsapp.composer', 'res_id': 0})
        self.composer(body='Our menu', provider_id=sandbox.id, attachment_ids=[(6, 0, attachment.ids)]).action_send()
        [media] = self.outbound()._to_outbound().media
        response = self.url_open(media.url)
        self.assertEqual((response.status_code, response.content), (200, b'%PDF-1.4 menu'))
        self.assertEqual(response.headers['Content-Type'], 'application/pdf')
        self.assertEqual(self.url_open(media.url.replace(media.url.split('/')[-2], 'x' * 43)).status_code, 404)
        self.env['comm.media.token'].search([]).write({'expires_at': fields.Datetime.now() - timedelta(seconds=1)})
        self.assertEqual(self.url_open(media.url).status_code, 404, 'expired')
