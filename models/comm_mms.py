"""MMS from a record's chatter: text and pictures in one message, through an account whose
provider sends MMS (Twilio, Plivo, Vonage in the US and Canada; the Sandbox)."""
from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..providers import ADAPTERS

# What Twilio and Plivo accept for one MMS, media and text together (PROTOCOLS 1.2, 2.6).
MAX_MMS_BYTES = 5 * 1024 * 1024


def mms_codes():
    """Provider codes whose adapter sends MMS."""
    return [code for code, adapter in ADAPTERS.items() if 'mms' in adapter.channels]


class CommProvider(models.Model):
    _inherit = 'comm.provider'

    channel_mms = fields.Boolean('MMS', compute='_compute_channel_mms', search='_search_channel_mms',
                                 help='Serves SMS through a provider that also sends MMS.')

    @api.depends('code', 'channel_sms')
    def _compute_channel_mms(self):
        codes = mms_codes()
        for provider in self:
            provider.channel_mms = provider.channel_sms and provider.code in codes

    def _search_channel_mms(self, operator, value):
        if operator not in ('=', '!=') or not isinstance(value, bool):
            raise UserError(_('Unsupported search on MMS accounts.'))
        domain = [('channel_sms', '=', True), ('code', 'in', mms_codes())]
        return domain if (operator == '=') == value else ['!', '&', *domain]

    @api.model
    def _mms_account(self, company):
        """The account an MMS about a record of ``company`` goes through: its default SMS account
        when that one sends MMS, else its first MMS account."""
        default = company.comm_sms_provider_id
        if default.active and default.channel_mms:
            return default
        return self.search([('channel_mms', '=', True), ('company_id', '=', company.id)], limit=1)


class CommMessage(models.Model):
    _inherit = 'comm.message'

    @api.model
    def _queue_mms(self, provider, record, partner, to_number, body='', attachments=None, idempotency_key=None):
        """Queue an MMS about ``record`` and post it in the record's chatter.

        Text and attachments go in one message, up to the provider's media limit per message
        (further attachments go in messages of their own), through the dispatch cron.

        :param to_number: E.164
        :param idempotency_key: a key used before queues nothing more (double submit, retried request)
        :returns: the queued ``comm.message`` records
        :raises UserError: no number, nothing to send, an account that does not send MMS, media
            over the provider's size limit, an opted-out number
        """
        attachments = attachments or self.env['ir.attachment']
        if not to_number:
            raise UserError(_('%(record)s has no valid number for an MMS.', record=record.display_name))
        if not provider.channel_mms:
            raise UserError(_('The account %(account)s does not send MMS.', account=provider.display_name))
        if not (body or attachments):
            raise UserError(_('Write a message or attach a file.'))
        per_message = ADAPTERS[provider.code].max_media.get('mms', 1)
        chunks = [attachments[index:index + per_message] for index in range(0, len(attachments), per_message)]
        for chunk in chunks:
            if sum(chunk.sudo().mapped('file_size')) > MAX_MMS_BYTES:
                raise UserError(_('An MMS carries at most 5 MB of media: %(files)s are too large together.',
                                  files=', '.join(chunk.mapped('name'))))
        return self._queue_from_chatter('mms', provider, record, partner, to_number, body,
                                        chunks or [attachments], idempotency_key=idempotency_key)
