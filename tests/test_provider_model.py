from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged
from odoo.tests.common import TransactionCase
from odoo.tools import mute_logger


@tagged('post_install', '-at_install')
class TestProviderModel(TransactionCase):

    def test_webhook_urls_use_public_base_url_and_token(self):
        self.env['ir.config_parameter'].set_param('comm_gateway.public_base_url', 'https://odoo.example.com/')
        twilio = self.env['comm.provider'].create({'name': 'T', 'code': 'twilio'})
        token = twilio.sudo().webhook_token
        self.assertGreaterEqual(len(token), 32)
        self.assertEqual(twilio.webhook_url_inbound, f'https://odoo.example.com/comm/webhook/{token}/inbound')
        self.assertEqual(twilio.webhook_url_status, f'https://odoo.example.com/comm/webhook/{token}/status')
        self.assertEqual(twilio.webhook_url_voice, f'https://odoo.example.com/comm/webhook/{token}/voice')
        self.assertEqual(twilio.webhook_url_voice_status,
                         f'https://odoo.example.com/comm/webhook/{token}/voice_status')
        meta = self.env['comm.provider'].create({'name': 'M', 'code': 'meta'})
        self.assertTrue(meta.webhook_url_inbound)
        self.assertFalse(meta.webhook_url_status, 'Meta posts everything to one URL')
        self.assertNotEqual(meta.sudo().webhook_token, token)
        twilio.action_regenerate_webhook_token()
        self.assertNotIn(token, twilio.webhook_url_inbound)
        self.assertEqual(self.env['comm.provider']._find_by_webhook_token(twilio.sudo().webhook_token), twilio)
        self.assertFalse(self.env['comm.provider']._find_by_webhook_token(token))

    def test_adapter_and_token_caches_follow_every_change(self):
        """Adapters and the token map are cached per process; any change they depend on drops them."""
        Provider = self.env['comm.provider']
        twilio = Provider.create({'name': 'T', 'code': 'twilio', 'twilio_account_sid': 'AC' + '1' * 32,
                                  'twilio_auth_token': 'first-token'})
        adapter = twilio._get_adapter()
        self.assertIs(twilio._get_adapter(), adapter, 'built once, its HTTP session kept alive')
        twilio.sudo().write({'breaker_failures': 3, 'state': 'connected'})
        self.assertIs(twilio._get_adapter(), adapter, 'runtime state does not rebuild the adapter')
        twilio.sudo().twilio_auth_token = 'second-token'
        self.assertEqual(twilio._get_adapter().credentials['auth_token'], 'second-token')
        twilio.sudo().api_base_url = 'http://127.0.0.1:9'
        self.assertEqual(twilio._get_adapter().base_url, 'http://127.0.0.1:9')

        token = twilio.sudo().webhook_token
        self.assertEqual(Provider._find_by_webhook_token(token), twilio)
        self.assertEqual(Provider._find_by_webhook_token(token).code, 'twilio')
        twilio.active = False
        self.assertFalse(Provider._find_by_webhook_token(token), 'an archived account takes no webhooks')
        twilio.active = True
        self.assertEqual(Provider._find_by_webhook_token(token), twilio)
        twilio.unlink()
        self.assertFalse(Provider._find_by_webhook_token(token))
        self.assertFalse(Provider._find_by_webhook_token(''))

    def test_webhook_url_falls_back_to_web_base_url(self):
        self.env['ir.config_parameter'].set_param('comm_gateway.public_base_url', False)
        self.env['ir.config_parameter'].set_param('web.base.url', 'http://localhost:8069')
        provider = self.env['comm.provider'].create({'name': 'S', 'code': 'sandbox'})
        self.assertTrue(provider.webhook_url_inbound.startswith('http://localhost:8069/comm/webhook/'))

    def test_sandbox_connection(self):
        sandbox = self.env['comm.provider'].create({'name': 'S', 'code': 'sandbox'})
        self.assertTrue(sandbox._get_secret('sandbox_secret'), 'a signing secret is generated')
        action = sandbox.action_test_connection()
        self.assertEqual(sandbox.state, 'connected')
        self.assertIn('Sandbox', sandbox.last_test_message)
        self.assertTrue(sandbox.last_test_date)
        self.assertEqual(action['params']['type'], 'success')
        sandbox.sandbox_mode = 'outage'
        self.assertEqual(sandbox.state, 'untested', 'changing the configuration invalidates the test')
        action = sandbox.action_test_connection()
        self.assertEqual(sandbox.state, 'error')
        self.assertEqual(action['params']['type'], 'danger')
        self.assertIn('answered with an error', sandbox.last_test_message)

    def test_demo_sandbox_is_company_default(self):
        sandbox = self.env.ref('comm_gateway.provider_sandbox', raise_if_not_found=False)
        if sandbox is None:  # installed without demo data: nothing to check
            return
        company = self.env.ref('base.main_company')
        self.assertEqual(company.comm_sms_provider_id, sandbox)
        self.assertEqual(company.comm_whatsapp_provider_id, sandbox)

    def test_settings_pick_defaults(self):
        sandbox = self.env['comm.provider'].create({'name': 'S2', 'code': 'sandbox', 'channel_whatsapp': True})
        settings = self.env['res.config.settings'].create({
            'comm_sms_provider_id': sandbox.id, 'comm_whatsapp_provider_id': sandbox.id,
            'comm_unknown_sender': 'ignore', 'comm_public_base_url': 'https://proxy.example.com'})
        settings.execute()
        self.assertEqual(self.env.company.comm_sms_provider_id, sandbox)
        self.assertEqual(self.env.company.comm_unknown_sender, 'ignore')
        self.assertEqual(self.env['ir.config_parameter'].get_param('comm_gateway.public_base_url'),
                         'https://proxy.example.com')

    def test_multi_company_rule(self):
        other = self.env['res.company'].create({'name': 'Other Co'})
        theirs = self.env['comm.provider'].create({'name': 'Theirs', 'code': 'sandbox', 'company_id': other.id})
        user = new_test_user(self.env, 'comm_mc', groups='comm_gateway.group_comm_manager',
                             company_id=self.env.company.id, company_ids=[(6, 0, [self.env.company.id])])
        visible = self.env['comm.provider'].with_user(user).search([])
        self.assertNotIn(theirs, visible)
        with self.assertRaises(AccessError), mute_logger('odoo.addons.base.models.ir_rule'):
            theirs.with_user(user).read(['name'])
