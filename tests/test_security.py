from unittest.mock import patch

from cryptography.fernet import Fernet

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, new_test_user, tagged
from odoo.tests.common import TransactionCase
from odoo.tools import SQL, config, mute_logger

from ..models.fields_secret import MASK
from ..tools import crypto

PLAIN = 'plain-auth-token-4c1a9e'


@tagged('post_install', '-at_install')
class TestSecrets(TransactionCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider = cls.env['comm.provider'].create({
            'name': 'Twilio test', 'code': 'twilio', 'twilio_account_sid': 'AC' + 'a' * 32,
            'twilio_auth_token': PLAIN, 'meta_app_secret': 'app-secret-77',
        })
        cls.manager = new_test_user(cls.env, 'comm_manager', groups='comm_gateway.group_comm_manager')
        cls.agent = new_test_user(cls.env, 'comm_agent', groups='comm_gateway.group_comm_user')

    def raw_column(self, fname, provider=None):
        self.env.flush_all()
        self.env.cr.execute(SQL('SELECT %s FROM comm_provider WHERE id = %s',
                                SQL.identifier(fname), (provider or self.provider).id))
        return self.env.cr.fetchone()[0]

    def test_column_holds_ciphertext_only(self):
        raw = self.raw_column('twilio_auth_token')
        self.assertTrue(raw.startswith(crypto.PREFIX))
        self.assertNotIn(PLAIN, raw)
        self.assertNotIn('app-secret-77', self.raw_column('meta_app_secret'))
        self.assertEqual(self.provider._get_secret('twilio_auth_token'), PLAIN)
        # an update goes through the write path, which must encrypt as well
        self.provider.twilio_auth_token = 'second-token-55'
        raw = self.raw_column('twilio_auth_token')
        self.assertNotIn('second-token-55', raw)
        self.assertEqual(self.provider._get_secret('twilio_auth_token'), 'second-token-55')

    def test_python_access_never_gives_plaintext(self):
        self.assertNotEqual(self.provider.twilio_auth_token, PLAIN)
        self.assertTrue(crypto.is_encrypted(self.provider.twilio_auth_token))

    def test_admin_reads_mask(self):
        self.assertEqual(self.provider.read(['twilio_auth_token'])[0]['twilio_auth_token'], MASK)
        rows = self.env['comm.provider'].search_read([('id', '=', self.provider.id)], ['twilio_auth_token'])
        self.assertEqual(rows[0]['twilio_auth_token'], MASK)
        self.assertFalse(self.provider.read(['plivo_auth_token'])[0]['plivo_auth_token'], 'unset secret reads False')
        exported = self.provider.export_data(['twilio_auth_token'])['datas']
        self.assertEqual(exported, [[MASK]])
        result = self.provider.onchange({'twilio_auth_token': MASK, 'code': 'twilio'}, ['code'],
                                        {'twilio_auth_token': {}, 'code': {}, 'name': {}})
        self.assertNotIn(PLAIN, str(result))

    def test_writing_the_mask_keeps_the_secret(self):
        self.provider.write({'twilio_auth_token': MASK, 'name': 'renamed'})
        self.assertEqual(self.provider._get_secret('twilio_auth_token'), PLAIN)
        form = Form(self.provider)
        form.name = 'renamed again'
        form.save()
        self.assertEqual(self.provider._get_secret('twilio_auth_token'), PLAIN)

    def test_non_admins_cannot_read_secrets(self):
        for user in (self.manager, self.agent):
            provider = self.provider.with_user(user)
            with self.assertRaises(AccessError), mute_logger('odoo.models'):
                provider.read(['twilio_auth_token'])
            with self.assertRaises(AccessError), mute_logger('odoo.models'):
                provider.search_read([], ['twilio_auth_token'])
            with self.assertRaises(UserError), mute_logger('odoo.models'):
                provider.export_data(['twilio_auth_token'])
            rows = provider.search_read([('id', '=', self.provider.id)])
            self.assertNotIn('twilio_auth_token', rows[0])
            self.assertNotIn(PLAIN, str(rows))
            values = provider.web_read({'name': {}, 'code': {}})
            self.assertNotIn(PLAIN, str(values))
            with self.assertRaises(AccessError), mute_logger('odoo.models'):
                provider.onchange({'code': 'twilio'}, ['code'], {'twilio_auth_token': {}, 'code': {}})
        # the agent cannot even write the account
        with self.assertRaises(AccessError), mute_logger('odoo.models', 'odoo.addons.base.models.ir_model'):
            self.provider.with_user(self.agent).write({'name': 'hijacked'})

    def test_key_rotation(self):
        old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
        file_key = crypto._key_file_key()  # what the other accounts of this database use
        with patch.dict(config.options, {'comm_gateway_key': old_key}):
            provider = self.env['comm.provider'].create({
                'name': 'Rotated', 'code': 'plivo', 'plivo_auth_id': 'MA' + 'A' * 18, 'plivo_auth_token': 'tok-1'})
            before = self.raw_column('plivo_auth_token', provider)
        with patch.dict(config.options, {'comm_gateway_key': f'{new_key},{old_key},{file_key}'}):
            self.assertEqual(provider._get_secret('plivo_auth_token'), 'tok-1', 'old key still decrypts')
            self.assertGreaterEqual(self.env['comm.provider'].action_rotate_secrets(), 1)
            after = self.raw_column('plivo_auth_token', provider)
            self.assertNotEqual(before, after)
        with patch.dict(config.options, {'comm_gateway_key': new_key}):
            self.assertEqual(provider._get_secret('plivo_auth_token'), 'tok-1', 'newest key alone decrypts')
        with patch.dict(config.options, {'comm_gateway_key': old_key}):
            with self.assertRaises(crypto.SecretError):
                provider._get_secret('plivo_auth_token')

    def test_rotation_is_admin_only(self):
        with self.assertRaises(Exception):
            self.env['comm.provider'].with_user(self.manager).action_rotate_secrets()

    def test_key_file_is_private(self):
        import os  # noqa: PLC0415
        with patch.dict(config.options, {'comm_gateway_key': ''}), patch.dict(os.environ, {'COMM_GATEWAY_KEY': ''}):
            crypto.encrypt('x')
            path = os.path.join(config['data_dir'], crypto.KEY_FILE_NAME)
            self.assertTrue(os.path.exists(path))
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)

    def test_locally_generated_key_is_announced(self):
        """A key generated in the data directory works for one server only: the account form and
        the server log at start say so, with how to configure it."""
        import os  # noqa: PLC0415
        local = {'comm_gateway_key': ''}
        with patch.dict(config.options, local), patch.dict(os.environ, {'COMM_GATEWAY_KEY': ''}):
            self.provider.invalidate_recordset(['key_warning'])
            self.assertIn('comm_gateway_key', self.provider.key_warning)
            with self.assertLogs('odoo.addons.comm_gateway.models.comm_provider', 'WARNING') as logs:
                self.env['comm.provider']._register_hook()
            self.assertIn('must use the same key', logs.output[0])
            self.assertIn(crypto.KEY_FILE_NAME, logs.output[0])
        with patch.dict(config.options, {'comm_gateway_key': Fernet.generate_key().decode()}):
            self.provider.invalidate_recordset(['key_warning'])
            self.assertFalse(self.provider.key_warning)
            with self.assertNoLogs('odoo.addons.comm_gateway.models.comm_provider', 'WARNING'):
                self.env['comm.provider']._register_hook()
        with self.assertRaises(AccessError), mute_logger('odoo.models'):
            self.provider.with_user(self.manager).read(['key_warning'])
