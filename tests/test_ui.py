from odoo.tests import HttpCase, tagged


@tagged('post_install', '-at_install')
class TestUi(HttpCase):

    def test_provider_tour(self):
        self.start_tour('/odoo/settings', 'comm_gateway_provider_tour', login='admin')
        provider = self.env['comm.provider'].search([('code', '=', 'twilio')])
        self.assertEqual(provider.mapped('name'), ['Twilio US'])
        self.assertEqual(provider.code, 'twilio')
        self.assertEqual(provider._get_secret('twilio_auth_token'), 'tour-auth-token-51f0')
        self.assertNotIn('tour-auth-token', provider.twilio_auth_token)
