import logging
import secrets
from urllib.parse import urlsplit

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, consteq, ormcache

from ..providers import ADAPTERS, ProviderError, get_adapter_class
from ..tools import crypto
from .fields_secret import MASK, Secret

_logger = logging.getLogger(__name__)

# Which of our webhook URLs each provider calls: all are configured at the provider, except
# 'voice_dialed', which our own call-control hands it (how a dial of ours ended).
WEBHOOK_PURPOSES = {
    'twilio': ('inbound', 'status', 'voice', 'voice_dialed', 'voice_status'),
    'plivo': ('inbound', 'status', 'voice', 'voice_dialed', 'voice_status'),
    'vonage': ('inbound', 'status', 'voice', 'voice_dialed', 'voice_status'),
    'meta': ('inbound',),
    'sandbox': ('inbound', 'status', 'voice_status'),
}
# comm.provider field -> adapter credential key, per code (the field is '<code>_<key>').
CREDENTIAL_KEYS = {
    'twilio': ('account_sid', 'auth_token', 'messaging_service_sid', 'webhook_shared_key'),
    'plivo': ('auth_id', 'auth_token'),
    'vonage': ('api_key', 'api_secret', 'signature_secret', 'signature_method', 'application_id',
               'private_key'),
    'meta': ('access_token', 'app_secret', 'verify_token', 'phone_number_id', 'business_account_id'),
    'sandbox': ('secret',),
}
PUBLIC_BASE_URL_PARAM = 'comm_gateway.public_base_url'
LOCAL_HOSTS = frozenset({'localhost', '127.0.0.1', '::1', '0.0.0.0'})


def public_url_warning(env, base):
    """Why providers could not reach (or should not be given) ``base`` URLs; False when fine."""
    if not base:
        return env._('No public base URL: set the one providers reach this server by (e.g. '
                     'https://odoo.example.com) in Settings → Communications.')
    parts = urlsplit(base)
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        return env._('The public base URL %(url)s has no scheme: write it in full, e.g. https://%(url)s.',
                     url=base)
    host = parts.hostname
    if host in LOCAL_HOSTS or host.endswith('.localhost') or host.startswith('127.'):
        return env._('The public base URL %(url)s points to this machine: providers on the internet cannot '
                     'reach it. Use the address the outside world sees (a tunnel in development).', url=base)
    if parts.scheme != 'https':
        return env._('The public base URL %(url)s is not HTTPS: Meta refuses such URLs and the others would '
                     'send your messages unencrypted. Serve Odoo over HTTPS.', url=base)
    return False


# Besides the '<code>_*' fields, what an adapter or the webhook route is built from: writing any
# of them drops the cached adapters and token map (in every worker, through Odoo's cache signaling).
ADAPTER_FIELDS = frozenset({'code', 'active', 'company_id', 'channel_sms', 'webhook_token', 'sms_from', 'whatsapp_from', 'voice_from',
                            'max_concurrency', 'api_base_url', 'timeout', 'vonage_reports_api'})


class CommProvider(models.Model):
    _name = 'comm.provider'
    _description = 'Communication Provider Account'
    _order = 'sequence, id'

    name = fields.Char(required=True, translate=False)
    sequence = fields.Integer(default=10)
    code = fields.Selection(
        [('sandbox', 'Sandbox (built-in simulator)'), ('twilio', 'Twilio'), ('plivo', 'Plivo'),
         ('vonage', 'Vonage (Nexmo)'), ('meta', 'Meta WhatsApp Cloud API')],
        string='Provider', required=True, default='sandbox')
    active = fields.Boolean(default=True)
    company_id = fields.Many2one('res.company', required=True, default=lambda self: self.env.company,
                                 index=True)
    channel_sms = fields.Boolean('SMS / MMS', default=True)
    channel_whatsapp = fields.Boolean('WhatsApp')
    channel_voice = fields.Boolean('Voice')

    # Sender identity
    sms_from = fields.Char('SMS sender', help='Number (E.164) or alphanumeric sender id used for SMS.')
    whatsapp_from = fields.Char('WhatsApp sender', help='WhatsApp-enabled number (E.164).')
    voice_from = fields.Char('Caller id', help='Number (E.164) shown to the people you call.')
    voice_forward_number = fields.Char(
        'Forward inbound calls to', help='Number (E.164) that takes inbound calls when the caller '
        'has no salesperson with a phone.')

    # Twilio
    twilio_account_sid = fields.Char('Account SID', groups='base.group_system')
    twilio_auth_token = Secret('Twilio Auth Token', groups='base.group_system', copy=False)
    twilio_messaging_service_sid = fields.Char('Messaging Service SID', groups='base.group_system')
    twilio_webhook_shared_key = Secret(
        'Webhook shared key', groups='base.group_system', copy=False,
        help='Only for webhooks Twilio signs with a Webhook Shared Key (X-Twilio-Webhooks-Signature-Settings); '
             'those are refused while it is not set.')
    # Plivo
    plivo_auth_id = fields.Char('Auth ID', groups='base.group_system')
    plivo_auth_token = Secret('Plivo Auth Token', groups='base.group_system', copy=False)
    # Vonage
    vonage_api_key = fields.Char('API key', groups='base.group_system')
    vonage_api_secret = Secret('API secret', groups='base.group_system', copy=False)
    vonage_signature_secret = Secret('Signature secret', groups='base.group_system', copy=False)
    vonage_signature_method = fields.Selection(
        [('md5hash', 'MD5 hash'), ('md5', 'MD5 HMAC'), ('sha1', 'SHA1 HMAC'), ('sha256', 'SHA-256 HMAC'),
         ('sha512', 'SHA-512 HMAC')], string='Signature method', default='md5hash',
        groups='base.group_system')
    vonage_application_id = fields.Char('Application ID', groups='base.group_system')
    vonage_private_key = Secret('Application private key', groups='base.group_system', copy=False,
                                help='PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----").')
    vonage_reports_api = fields.Boolean(
        'Use Vonage Reports API (paid)',
        help='Ask the Reports API (a separately paid Vonage product, billed per record) about stale '
             'statuses and list the messages for the reconciliation report. Off: statuses come by '
             'webhook only and Vonage cannot be reconciled.')
    # Meta WhatsApp Cloud API
    meta_access_token = Secret('Access token', groups='base.group_system', copy=False)
    meta_app_secret = Secret('App secret', groups='base.group_system', copy=False)
    meta_verify_token = Secret('Webhook verify token', groups='base.group_system', copy=False)
    meta_phone_number_id = fields.Char('Phone number ID', groups='base.group_system')
    meta_business_account_id = fields.Char('WhatsApp Business Account ID', groups='base.group_system')
    meta_api_version = fields.Char('Graph API version', default='v21.0', groups='base.group_system')
    # Sandbox
    sandbox_secret = Secret('Sandbox signing secret', groups='base.group_system', copy=False)
    sandbox_mode = fields.Selection(
        [('normal', 'Working'), ('outage', 'Outage (every call fails, retryable)')],
        string='Sandbox behaviour', default='normal')

    sandbox_auto_reply = fields.Boolean(
        'Simulate replies', default=True,
        help='After each message it delivers, the Sandbox simulates a reply from the recipient.')

    # Dispatch
    max_concurrency = fields.Integer('Parallel sends', default=8,
                                     help='How many provider calls this account makes at once.')
    rate_limit = fields.Float('Messages per second', default=20.0,
                              help='Upper bound of sends per second for this account (0: no limit).')
    breaker_threshold = fields.Integer('Failures before pausing', default=5)
    breaker_cooldown = fields.Integer('Pause (seconds)', default=60)
    # breaker_state, breaker_failures, breaker_open_until: models/comm_dispatch.py (comm.provider.breaker)

    api_base_url = fields.Char(
        'API base URL', groups='base.group_system',
        help='Leave empty for the provider\'s default; set for a regional endpoint or a test server.')
    timeout = fields.Float('HTTP timeout (s)', default=15.0)

    # Connection test
    state = fields.Selection([('untested', 'Not tested'), ('connected', 'Connected'), ('error', 'Error')],
                             default='untested', required=True, readonly=True, copy=False)
    last_test_message = fields.Char(readonly=True, copy=False)
    last_test_date = fields.Datetime(readonly=True, copy=False)

    key_warning = fields.Char(compute='_compute_key_warning', groups='base.group_system')

    # Webhooks
    webhook_token = fields.Char(
        readonly=True, copy=False, index=True, groups='base.group_system',
        default=lambda self: secrets.token_urlsafe(24))
    # they carry the token: administrators only (server code reads them through _webhook_url)
    webhook_url_inbound = fields.Char('Inbound messages URL', compute='_compute_webhook_urls',
                                      groups='comm_gateway.group_comm_manager')
    webhook_url_status = fields.Char('Status callback URL', compute='_compute_webhook_urls',
                                     groups='comm_gateway.group_comm_manager')
    webhook_url_voice = fields.Char('Voice answer URL', compute='_compute_webhook_urls',
                                    groups='comm_gateway.group_comm_manager')
    webhook_url_voice_status = fields.Char('Call events URL', compute='_compute_webhook_urls',
                                           groups='comm_gateway.group_comm_manager')
    webhook_url_warning = fields.Char(compute='_compute_webhook_urls')

    _sql_constraints = [
        ('webhook_token_unique', 'unique(webhook_token)', 'The webhook token must be unique.'),
    ]

    # ------------------------------------------------------------------------------------------
    # Compute / CRUD
    # ------------------------------------------------------------------------------------------

    @api.depends('code', 'webhook_token')
    def _compute_webhook_urls(self):
        warning = public_url_warning(self.env, self._public_base_url())
        for provider in self:
            provider.webhook_url_warning = warning if provider.code != 'sandbox' else False
            # an unsaved account gets its token when saved: no URL to copy before it is final
            for purpose in ('inbound', 'status', 'voice', 'voice_status'):
                provider[f'webhook_url_{purpose}'] = provider._origin.id and provider._webhook_url(purpose)

    def _compute_key_warning(self):
        warning = False
        if crypto.key_source() == 'file':
            warning = _('The encryption key of these secrets was generated on this server (%(path)s), not '
                        'configured: another Odoo server on this database cannot read them. Copy it to the '
                        'comm_gateway_key option of every server\'s configuration (README, "Several servers").',
                        path=crypto.key_file_path())
        for provider in self:
            provider.key_warning = warning

    def _register_hook(self):
        """At start: say it in the server log when the key was generated locally (one server only)."""
        super()._register_hook()
        if crypto.key_source() == 'file':
            _logger.warning(crypto.KEY_FILE_WARNING, crypto.key_file_path())

    def _webhook_url(self, purpose):
        """Our URL for ``purpose`` (False when the account has none): what server code gives
        providers, whoever the current user (the fields are for administrators only)."""
        self.ensure_one()
        token = self.sudo().webhook_token
        if not token or purpose not in WEBHOOK_PURPOSES.get(self.code, ()):
            return False
        return f'{self._public_base_url()}/comm/webhook/{token}/{purpose}'

    def _public_url(self, path, query_string=b''):
        """The URL a provider called, rebuilt from the configured public base URL.

        Behind a reverse proxy Odoo may see another scheme, host or port than the provider used;
        providers sign the URL they called, so signatures are checked against this one.
        """
        query = query_string.decode('latin-1') if isinstance(query_string, bytes) else (query_string or '')
        return f'{self._public_base_url()}{path}' + (f'?{query}' if query else '')

    @api.model
    @ormcache()
    def _public_base_url(self):
        # once per process and database: read on every webhook request (cleared with any change of a
        # system parameter: ir.config_parameter clears the registry's cache)
        params = self.env['ir.config_parameter'].sudo()
        base = params.get_param(PUBLIC_BASE_URL_PARAM) or params.get_param('web.base.url') or ''
        return base.rstrip('/')

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._drop_masks(vals)
            if vals.get('code', 'sandbox') == 'sandbox' and not vals.get('sandbox_secret'):
                vals['sandbox_secret'] = secrets.token_urlsafe(32)
        providers = super().create(vals_list)
        self.env.registry.clear_cache()
        return providers

    def write(self, vals):
        self._drop_masks(vals)
        credentials = any(key.startswith(tuple(f'{code}_' for code in CREDENTIAL_KEYS))
                          for key in vals if key not in ADAPTER_FIELDS)
        if credentials:
            vals.setdefault('state', 'untested')
        result = super().write(vals)
        if credentials or ADAPTER_FIELDS.intersection(vals):
            self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result

    def _drop_masks(self, vals):
        """The UI shows secrets as MASK; writing MASK back must not overwrite the secret."""
        for fname in self._secret_fields():
            if vals.get(fname) == MASK:
                del vals[fname]

    @api.model
    def _secret_fields(self):
        return [name for name, field in self._fields.items() if isinstance(field, Secret)]

    # ------------------------------------------------------------------------------------------
    # Bridge to the adapters
    # ------------------------------------------------------------------------------------------

    def _get_secret(self, fname):
        """The decrypted value of secret field ``fname`` ('' when unset). Server-side use only."""
        self.ensure_one()
        return crypto.decrypt(self.sudo()[fname] or '')

    def _get_credentials(self):
        self.ensure_one()
        provider = self.sudo()
        credentials = {}
        for key in CREDENTIAL_KEYS[self.code]:
            fname = f'{self.code}_{key}'
            if isinstance(self._fields[fname], Secret):
                credentials[key] = self._get_secret(fname)
            else:
                credentials[key] = provider[fname] or ''
        return credentials

    def _get_adapter(self):
        """The adapter for this account: the only way models talk to a provider.

        Built once per account and process (its HTTP session keeps its connections alive), and
        rebuilt after any change to what it is built from (see ``write``).
        """
        self.ensure_one()
        if not self.id:                 # an unsaved form (onchange)
            return self._build_adapter()
        return self._cached_adapter(self.id)

    @api.model
    @ormcache('provider_id')
    def _cached_adapter(self, provider_id):
        return self.browse(provider_id).sudo()._build_adapter()

    def _build_adapter(self):
        options = {
            'sms_from': self.sms_from or '',
            'whatsapp_from': self.whatsapp_from or '',
            'voice_from': self.voice_from or '',
            'api_version': self.sudo().meta_api_version or 'v21.0',
            'mode': self.sandbox_mode or 'normal',
            'pool_size': self.max_concurrency or 0,
            'reports_api': self.code == 'vonage' and self.vonage_reports_api,
        }
        try:
            credentials = self._get_credentials()
        except crypto.SecretError as exc:
            raise UserError(str(exc)) from None
        return get_adapter_class(self.code)(
            credentials, base_url=self.sudo().api_base_url or None, timeout=self.timeout or 15.0,
            options=options)

    @api.model
    def _able_domain(self, ability):
        """The accounts whose adapter can ``ability`` ('status_lookup' or 'message_list'): those of
        a provider that always can, and the Vonage ones that use its (paid) Reports API."""
        codes = [code for code, adapter in ADAPTERS.items() if getattr(adapter, ability)]
        return ['|', ('code', 'in', codes), '&', ('code', '=', 'vonage'), ('vonage_reports_api', '=', True)]

    # ------------------------------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------------------------------

    def _check_manager(self):
        """Actions that change an account or call its provider: Communications Administrators
        who may write these accounts, checked before any ``sudo()`` or provider call."""
        if not self.env.user.has_group('comm_gateway.group_comm_manager'):
            raise AccessError(_('Only Communications Administrators can do this with provider accounts.'))
        self.check_access('write')

    def action_test_connection(self):
        self.ensure_one()
        self._check_manager()
        try:
            info = self._get_adapter().check_credentials()
        except (ProviderError, UserError) as exc:
            message = self._redact_identifiers(self._describe_connection_error(exc))
            self.write({'state': 'error', 'last_test_message': message,
                        'last_test_date': fields.Datetime.now()})
            _logger.info('comm.provider %s (%s): connection test failed (%s)', self.id, self.code,
                         getattr(exc, 'code', None))
            return self._notify(_('Connection failed'), message, 'danger')
        message = self._redact_identifiers(_('Connected to %(name)s.', name=info.name))
        self.write({'state': 'connected', 'last_test_message': message,
                    'last_test_date': fields.Datetime.now()})
        return self._notify(_('Connection works'), message, 'success')

    def _describe_connection_error(self, exc):
        if isinstance(exc, UserError):
            return str(exc.args[0])
        if exc.code == 'credentials':
            # refused before any call: the account lacks something, the provider said nothing
            return _('%(provider)s was not called: %(detail)s Fill it in on the Credentials tab.',
                     provider=self._code_label(), detail=exc.message)
        if exc.code in ('timeout', 'network'):
            return _('%(provider)s cannot be reached: network unreachable or timed out. Check the '
                     'server\'s internet access and the API base URL.', provider=self._code_label())
        if exc.failure_type == 'sms_acc' or exc.http_status in (401, 403):
            return _('Wrong credentials: %(provider)s refused them (%(detail)s).',
                     provider=self._code_label(), detail=exc.message)
        return _('%(provider)s answered with an error: %(detail)s', provider=self._code_label(),
                 detail=exc.message)

    def _redact_identifiers(self, text):
        """``text`` without the values of the account's group-restricted fields (account SID, auth
        id, API key, application and phone number ids…): the answer and ``last_test_message`` are
        read by users who may not read those fields."""
        provider = self.sudo()
        for fname, field in self._fields.items():
            if (field.type == 'char' and field.groups and not isinstance(field, Secret)
                    and fname != 'webhook_token' and len(provider[fname] or '') >= 4):
                text = text.replace(provider[fname], f'[{field.string}]')
        return text

    def _code_label(self):
        return dict(self._fields['code']._description_selection(self.env)).get(self.code, self.code)

    def _notify(self, title, message, kind):
        return {
            'type': 'ir.actions.client', 'tag': 'display_notification',
            'params': {'title': title, 'message': message, 'type': kind, 'sticky': kind == 'danger',
                       'next': {'type': 'ir.actions.act_window_close'}},
        }

    def action_regenerate_webhook_token(self):
        self._check_manager()
        if not self.env.is_system():     # the token is a system administrator's field
            raise AccessError(_('Only system administrators can regenerate the webhook URLs.'))
        for provider in self:
            provider.sudo().webhook_token = secrets.token_urlsafe(24)

    @api.model
    def action_rotate_secrets(self):
        """Re-encrypt every stored secret with the newest configured key."""
        if not self.env.is_system():
            raise AccessError(_('Only administrators can rotate the encryption of secrets.'))
        fnames = self._secret_fields()
        self.flush_model(fnames)
        self.env.cr.execute(SQL('SELECT id, %s FROM comm_provider',
                                SQL(', ').join(SQL.identifier(f) for f in fnames)))
        rotated = 0
        for row in self.env.cr.fetchall():
            updates = {f: crypto.rotate(value) for f, value in zip(fnames, row[1:]) if value}
            if updates:
                self.env.cr.execute(SQL('UPDATE comm_provider SET %s WHERE id = %s', SQL(', ').join(
                    SQL('%s = %s', SQL.identifier(f), v) for f, v in updates.items()), row[0]))
                rotated += len(updates)
        self.invalidate_model(fnames)
        _logger.info('comm.provider: re-encrypted %s secrets with the newest key', rotated)
        return rotated

    # ------------------------------------------------------------------------------------------
    # Dispatch helpers
    # ------------------------------------------------------------------------------------------

    def _sandbox_after_send(self, message):
        """What a real provider would do next, through the same webhook queue: statuses, a reply."""
        self.ensure_one()
        adapter = self._get_adapter()
        Event = self.env['comm.webhook.event']
        for request in adapter.simulate_statuses(self._webhook_url('status'), message.provider_message_id,
                                                 message.to_number):
            Event._receive(self, 'status', request)
        if self.sandbox_auto_reply and not message.to_number.endswith('99'):
            Event._receive(self, 'inbound', adapter.simulate_inbound(
                self._webhook_url('inbound'), message.to_number, message.from_number or self.sms_from or '',
                _('Thanks, got it! (simulated reply)'), channel=message.channel))

    def _meta_accounts_by_number(self, phone_number_ids):
        """``{phone number id: account}``: this account and the other active Meta accounts of its
        app (the same app secret, which signed the request) among ``phone_number_ids``."""
        self.ensure_one()
        own = self.sudo().meta_phone_number_id
        accounts = {own: self} if own else {}
        others = set(phone_number_ids) - set(accounts)
        secret = others and self._get_secret('meta_app_secret')
        if not secret:
            return accounts
        for account in self.sudo().search([('code', '=', 'meta'), ('id', '!=', self.id),
                                           ('meta_phone_number_id', 'in', list(others))]):
            if consteq(account._get_secret('meta_app_secret'), secret):
                accounts.setdefault(account.meta_phone_number_id, account)
        return accounts

    @api.model
    def _find_by_webhook_token(self, token):
        """The active account a webhook URL token names (empty when none), without a query."""
        provider_id, code, company_id = self._webhook_tokens().get(token, (False, False, None))
        provider = self.sudo().browse(provider_id)
        if provider:
            # a webhook reads nothing else of the row: keep the ORM from fetching it (code, company)
            self.env.cache.set(provider, self._fields['code'], code)
            self.env.cache.set(provider, self._fields['company_id'], company_id)
        return provider

    @api.model
    @ormcache()
    def _webhook_tokens(self):
        """``{webhook token: (account id, provider code, company id)}`` of the active accounts
        (cleared on any change of these fields: ``ADAPTER_FIELDS``)."""
        self.flush_model(['webhook_token', 'active', 'code', 'company_id'])
        self.env.cr.execute(SQL("SELECT webhook_token, id, code, company_id FROM comm_provider "
                                "WHERE active AND webhook_token IS NOT NULL"))
        return {token: (provider_id, code, company_id or None)
                for token, provider_id, code, company_id in self.env.cr.fetchall()}
