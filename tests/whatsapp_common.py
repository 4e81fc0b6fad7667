"""Shared setup of the WhatsApp tests: accounts on the fake provider, a contact, the window."""
from datetime import timedelta

from odoo import fields
from odoo.tests.common import TransactionCase

from .common import FakeProviderMixin

PUBLIC_URL = 'https://odoo.example.com'
NUMBER = '+4915123456780'
PHONE_NUMBER_ID = '106540352242922'
WABA_ID = '102290129340398'
TWILIO_SID = 'AC' + '1' * 32
META_SENT = {'messaging_product': 'whatsapp', 'contacts': [{'input': NUMBER, 'wa_id': '4915123456780'}],
             'messages': [{'id': 'wamid.HBgMNDQ3', 'message_status': 'accepted'}]}
META_MESSAGES = rf'/v21\.0/{PHONE_NUMBER_ID}/messages'
TWILIO_MESSAGES = rf'/2010-04-01/Accounts/{TWILIO_SID}/Messages.json'
LOGGERS = ('odoo.addons.comm_gateway.models.comm_message', 'odoo.addons.comm_gateway.models.comm_webhook_event',
           'odoo.addons.comm_gateway.models.comm_provider', 'odoo.addons.comm_gateway.models.comm_whatsapp_template')


class WhatsappMixin:

    def setup_whatsapp(self):
        self.env['ir.config_parameter'].sudo().set_param('comm_gateway.public_base_url', PUBLIC_URL)
        self.partner = self.env['res.partner'].create({
            'name': 'Ann Example', 'mobile': '0151 23456780', 'country_id': self.env.ref('base.de').id})

    def account(self, code, **values):
        base = {'name': code.title(), 'code': code, 'channel_whatsapp': True, 'timeout': 5}
        if code == 'meta':
            base.update(meta_access_token='EAAGtoken123', meta_phone_number_id=PHONE_NUMBER_ID,
                        meta_business_account_id=WABA_ID, whatsapp_from='+15550001111',
                        api_base_url=self.fake.base_url)
        elif code == 'twilio':
            base.update(twilio_account_sid=TWILIO_SID, twilio_auth_token='twilio-auth-token',
                        whatsapp_from='+14155238886', api_base_url=self.fake.base_url)
        else:
            base.update(whatsapp_from='+14155238886', sms_from='+15005550006')
        return self.env['comm.provider'].create({**base, **values})

    def open_window(self, provider, number=NUMBER, hours_ago=1.0, channel='whatsapp'):
        """An inbound message from ``number``, ``hours_ago`` hours ago."""
        return self.env['comm.message'].sudo().create({
            'direction': 'in', 'channel': channel, 'provider_id': provider.id, 'from_number': number,
            'state': 'received', 'body': 'Hello',
            'received_at': fields.Datetime.now() - timedelta(hours=hours_ago)})

    def make_template(self, provider, body, name='order_update', bindings=(), **values):
        """An approved template on res.partner; ``bindings``: [(key, {variable values})]."""
        template = self.env['comm.whatsapp.template'].create({
            'name': name, 'provider_id': provider.id, 'body': body, **values})
        template.write({'status': 'approved', 'provider_ref': values.get('provider_ref') or f'ref-{name}'})
        for key, binding in bindings:
            template.variable_ids.filtered(lambda v: v.key == key).write(binding)
        return template

    def composer(self, record=None, **values):
        record = record or self.partner
        return self.env['comm.whatsapp.composer'].with_context(
            default_res_model=record._name, default_res_id=record.id).create(values)

    def dispatch(self):
        self.env['comm.message']._cron_dispatch()

    def outbound(self, record=None):
        record = record or self.partner
        return self.env['comm.message'].search([('direction', '=', 'out'), ('res_model', '=', record._name),
                                                ('res_id', '=', record.id)], order='id')


class WhatsappCase(WhatsappMixin, FakeProviderMixin, TransactionCase):

    def setUp(self):
        super().setUp()
        self.setup_whatsapp()
