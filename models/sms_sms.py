import logging

from odoo import models

_logger = logging.getLogger(__name__)


class SmsSms(models.Model):
    _inherit = 'sms.sms'

    def _send(self, unlink_failed=False, unlink_sent=True, raise_exception=False):
        """SMS of companies that use one of our accounts go through it; the rest stays Odoo's.

        Nothing is sent here: each SMS becomes a queued ``comm.message`` (linked by the SMS uuid,
        so Odoo's trackers, notifications and chatter icons follow its statuses) and the dispatch
        cron is triggered. The request that created the SMS returns at once.
        """
        ours = self.env['sms.sms']
        by_provider = {}
        for sms in self:
            provider = sms._comm_provider()
            if provider:
                by_provider.setdefault(provider, self.env['sms.sms'])
                by_provider[provider] |= sms
                ours |= sms
        rest = self - ours
        if rest:
            super(SmsSms, rest)._send(unlink_failed=unlink_failed, unlink_sent=unlink_sent,
                                      raise_exception=raise_exception)
        for provider, sms_records in by_provider.items():
            self.env['comm.message']._queue_sms(provider, sms_records, unlink_sent=unlink_sent,
                                                unlink_failed=unlink_failed)

    def _comm_provider(self):
        """The company default SMS account for this SMS, if any (the company of its document)."""
        self.ensure_one()
        company = self.env.company
        message = self.mail_message_id
        if message.model and message.res_id and message.model in self.env:
            record = self.env[message.model].sudo().browse(message.res_id).exists()
            if record and 'company_id' in record._fields and record.company_id:
                company = record.company_id
        provider = company.sudo().comm_sms_provider_id
        return provider if provider and provider.active else None
