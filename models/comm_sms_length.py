from odoo import _, api, fields, models

from ..tools.sms_text import sms_segments


class CommProvider(models.Model):
    _inherit = 'comm.provider'

    def _sms_too_long(self, body):
        """Why this account refuses ``body`` as an SMS (its length and SMS count beyond the
        provider's limit), or '' when it takes it."""
        account = self.sudo()[:1]
        limit = account.active and account._get_adapter().max_sms_chars
        if not limit or len(body or '') <= limit:
            return ''
        return _('This SMS has %(length)s characters (%(segments)s SMS): %(provider)s accepts at most %(limit)s. '
                 'Shorten it or split it in several messages.',
                 length=len(body), segments=sms_segments(body), provider=account.display_name, limit=limit)


class CommMessage(models.Model):
    _inherit = 'comm.message'

    @api.model
    def _queue_sms(self, provider, sms_records, unlink_sent=True, unlink_failed=False):
        """SMS longer than the account takes ("Send SMS" server actions, SMS templates, mass SMS,
        "Put in queue") are not queued: they fail at once with the reason — length and SMS count —
        on their notification and in their document's chatter, instead of at the provider."""
        too_long = sms_records.filtered(lambda sms: provider._sms_too_long(sms.body))
        for sms in too_long:
            reason = provider._sms_too_long(sms.body)
            sms.sms_tracker_id._action_update_from_sms_state('error', failure_type='sms_server', failure_reason=reason)
            sms.write({'state': 'error', 'failure_type': 'sms_server', 'to_delete': unlink_failed})
            self._log_on_document(sms.mail_message_id, _('SMS to %(number)s not sent: %(reason)s',
                                                         number=sms.number, reason=reason))
        return super()._queue_sms(provider, sms_records - too_long, unlink_sent=unlink_sent,
                                  unlink_failed=unlink_failed)


class SmsTemplate(models.Model):
    _inherit = 'sms.template'

    comm_length_warning = fields.Char('Too long', compute='_compute_comm_length_warning',
                                      help='The company\'s SMS account refuses a text this long.')

    @api.depends('body')
    def _compute_comm_length_warning(self):
        provider = self.env.company.sudo().comm_sms_provider_id
        for template in self:
            template.comm_length_warning = provider._sms_too_long(template.body) if provider else False
