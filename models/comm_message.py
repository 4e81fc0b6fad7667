import logging
import mimetypes
from datetime import datetime, timezone

from markupsafe import Markup

from odoo import _, api, fields, models

from ..providers.base import STATE_RANK
from .comm_webhook_event import RetryLater

_logger = logging.getLogger(__name__)

STATES = [('queued', 'Queued'), ('sent', 'Sent'), ('delivered', 'Delivered'), ('read', 'Read'),
          ('failed', 'Failed'), ('undelivered', 'Undelivered'), ('canceled', 'Canceled'),
          ('received', 'Received')]
FINAL_FAILURES = ('failed', 'undelivered', 'canceled')
# Odoo's sms.sms state for each normalized state (PROTOCOLS 5.1).
STATE_TO_SMS_STATE = {'queued': 'process', 'sent': 'pending', 'delivered': 'sent', 'read': 'sent',
                      'failed': 'error', 'undelivered': 'error', 'canceled': 'canceled'}
STATE_DATE_FIELD = {'queued': 'queued_at', 'sent': 'sent_at', 'delivered': 'delivered_at', 'read': 'read_at',
                    'failed': 'failed_at', 'undelivered': 'failed_at', 'canceled': 'failed_at'}
OPT_OUT_WORDS = frozenset({'STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT'})
OPT_IN_WORDS = frozenset({'START', 'UNSTOP'})
MAX_MEDIA_BYTES = 16 * 1024 * 1024
ALLOWED_MEDIA_PREFIXES = ('image/', 'audio/', 'video/', 'text/', 'application/pdf', 'application/vnd',
                          'application/msword', 'application/zip', 'text/vcard')


class CommMessage(models.Model):
    _name = 'comm.message'
    _description = 'SMS / WhatsApp message'
    _order = 'id desc'

    direction = fields.Selection([('in', 'Inbound'), ('out', 'Outbound')], required=True, index=True)
    channel = fields.Selection([('sms', 'SMS'), ('mms', 'MMS'), ('whatsapp', 'WhatsApp')],
                               required=True, default='sms')
    provider_id = fields.Many2one('comm.provider', 'Account', required=True, ondelete='restrict', index=True)
    company_id = fields.Many2one(related='provider_id.company_id', store=True, index=True)
    from_number = fields.Char('From', index='btree_not_null')
    to_number = fields.Char('To', index='btree_not_null')
    body = fields.Text()
    message_type = fields.Char(default='text', help='text, image, location, reaction… as the provider said')
    partner_id = fields.Many2one('res.partner', 'Contact', index='btree_not_null', ondelete='set null')
    profile_name = fields.Char()
    res_model = fields.Char('Related document model', index=True)
    res_id = fields.Many2oneReference('Related document', model_field='res_model')
    mail_message_id = fields.Many2one('mail.message', 'Chatter message', ondelete='set null')
    attachment_ids = fields.Many2many('ir.attachment', string='Media')
    state = fields.Selection(STATES, required=True, default='queued', index=True)
    provider_message_id = fields.Char('Provider message id', index='btree_not_null', copy=False)
    error_code = fields.Char()
    error_message = fields.Char()
    failure_type = fields.Char()
    sms_uuid = fields.Char('SMS UUID', index='btree_not_null', copy=False,
                           help='Links to Odoo\'s sms.sms / sms.tracker, which are deleted once sent.')
    received_at = fields.Datetime()
    queued_at = fields.Datetime()
    sent_at = fields.Datetime()
    delivered_at = fields.Datetime()
    read_at = fields.Datetime()
    failed_at = fields.Datetime()

    _sql_constraints = [
        ('provider_message_unique', 'unique(provider_id, provider_message_id)',
         'A provider message is recorded once per account.'),
    ]

    @api.depends('direction', 'from_number', 'to_number', 'channel')
    def _compute_display_name(self):
        channels = dict(self._fields['channel']._description_selection(self.env))
        for message in self:
            number = message.from_number if message.direction == 'in' else message.to_number
            arrow = _('from') if message.direction == 'in' else _('to')
            message.display_name = f'{channels.get(message.channel, "")} {arrow} {number or "?"}'

    # ------------------------------------------------------------------------------------------
    # Inbound
    # ------------------------------------------------------------------------------------------

    @api.model
    def _receive_inbound(self, provider, inbound, adapter):
        """Record one normalized inbound message and post it where its conversation lives.

        Idempotent: a message already recorded (same account and provider id) changes nothing.
        Everything (attachments, contact, chatter post) happens in the caller's savepoint, so a
        failed media download leaves nothing behind and the event is retried.
        """
        if self.search_count([('provider_id', '=', provider.id),
                              ('provider_message_id', '=', inbound.provider_id)], limit=1):
            return self.browse()
        sender = inbound.sender or ''
        partner = self.env['res.partner']._comm_find_by_number(sender, provider.company_id)
        if not partner and sender and provider.company_id.comm_unknown_sender == 'create':
            partner = self.env['res.partner'].sudo().create({
                'name': inbound.profile_name or sender, 'mobile': sender,
                'company_id': False,
            })
        record = self._conversation_record(sender, partner)
        attachments = self._download_media(provider, inbound, adapter)
        message = self.sudo().create({
            'direction': 'in', 'channel': inbound.channel or 'sms', 'provider_id': provider.id,
            'from_number': sender, 'to_number': inbound.recipient, 'body': inbound.body,
            'message_type': inbound.message_type, 'partner_id': partner.id,
            'profile_name': inbound.profile_name, 'provider_message_id': inbound.provider_id,
            'state': 'received', 'received_at': _to_datetime(inbound.timestamp) or fields.Datetime.now(),
            'res_model': record._name if record else False, 'res_id': record.id if record else False,
            'attachment_ids': [(6, 0, attachments.ids)],
        })
        if record:
            message._post_inbound(record, partner, attachments)
        message._apply_opt_out_keyword(record)
        return message

    @api.model
    def _conversation_record(self, number, partner):
        """The record of the last outbound message to ``number``, else the partner."""
        if number:
            last = self.sudo().search([('direction', '=', 'out'), ('to_number', '=', number),
                                       ('res_model', '!=', False)], order='id desc', limit=1)
            if last and last.res_model in self.env and last.res_id:
                record = self.env[last.res_model].sudo().browse(last.res_id).exists()
                if record and hasattr(record, 'message_post'):
                    return record
        return partner.sudo() if partner else None

    def _post_inbound(self, record, partner, attachments):
        self.ensure_one()
        channel = dict(self._fields['channel']._description_selection(self.env))[self.channel]
        # A str body is escaped by message_post: nothing from outside ever renders as HTML.
        body = self.body or ''
        post = record.with_context(mail_create_nosubscribe=True).message_post(
            body=body, author_id=partner.id if partner else False, message_type='comment',
            subtype_xmlid='mail.mt_comment', attachment_ids=attachments.ids,
            email_from=False if partner else self.from_number,
        )
        # Say where it came from, under the body, without giving HTML a way in.
        post.sudo().write({'body': post.body + Markup('<p class="text-muted small">%s</p>') % _(
            '%(channel)s from %(number)s', channel=channel, number=self.from_number)})
        attachments.sudo().write({'res_model': record._name, 'res_id': record.id})
        self.mail_message_id = post

    def _download_media(self, provider, inbound, adapter):
        attachments = self.env['ir.attachment']
        for index, media in enumerate(inbound.media or []):
            content, content_type = adapter.download_media(media)
            content_type = (content_type or media.content_type or 'application/octet-stream').split(';')[0].strip()
            if len(content) > MAX_MEDIA_BYTES:
                raise ValueError(f'media {index} is larger than {MAX_MEDIA_BYTES} bytes')
            if not content_type.startswith(ALLOWED_MEDIA_PREFIXES):
                raise ValueError(f'media {index} has a refused content type {content_type!r}')
            name = media.filename or f'{inbound.provider_id}-{index}{mimetypes.guess_extension(content_type) or ""}'
            attachments |= attachments.sudo().create({
                'name': name, 'raw': content, 'mimetype': content_type,
                'res_model': 'comm.message', 'res_id': 0,
            })
        return attachments

    def _apply_opt_out_keyword(self, record):
        self.ensure_one()
        word = (self.body or '').strip().upper()
        if word not in OPT_OUT_WORDS | OPT_IN_WORDS or not self.from_number:
            return
        blacklist = self.env['phone.blacklist'].sudo()
        if word in OPT_OUT_WORDS:
            blacklist._add([self.from_number], message=_('Opted out by replying %(word)s', word=word))
            note = _('%(number)s replied %(word)s: no more SMS or WhatsApp messages will be sent to it.',
                     number=self.from_number, word=word)
        else:
            blacklist._remove([self.from_number], message=_('Opted in again by replying %(word)s', word=word))
            note = _('%(number)s replied %(word)s: messages can be sent to it again.',
                     number=self.from_number, word=word)
        if record:
            record._message_log(body=note)

    # ------------------------------------------------------------------------------------------
    # Statuses
    # ------------------------------------------------------------------------------------------

    @api.model
    def _receive_status(self, provider, status):
        """Apply a normalized status; never backwards; unknown message -> retry later."""
        message = self.sudo().search([('provider_id', '=', provider.id),
                                      ('provider_message_id', '=', status.provider_id)], limit=1)
        if not message:
            raise RetryLater(_('No message %(id)s yet: it may not be committed yet; will retry.',
                               id=status.provider_id))
        message._apply_state(status.status, error_code=status.error_code, error_message=status.error_message,
                             failure_type=status.failure_type, when=_to_datetime(status.timestamp))
        return message

    def _apply_state(self, state, error_code='', error_message='', failure_type='', when=None):
        """Move to ``state`` if it is forward; failures are terminal unless a later delivery wins."""
        self.ensure_one()
        current = self.state
        if state == current or state not in STATE_TO_SMS_STATE:
            return False
        if state in STATE_RANK:
            if current in STATE_RANK and STATE_RANK[state] <= STATE_RANK[current]:
                return False
            if current in FINAL_FAILURES and state not in ('delivered', 'read'):
                return False
            if current in FINAL_FAILURES:
                _logger.info('comm.message %s: %s after %s (reordered webhooks)', self.id, state, current)
        elif current in FINAL_FAILURES or current == 'received':
            return False
        values = {'state': state, STATE_DATE_FIELD[state]: when or fields.Datetime.now()}
        if state in FINAL_FAILURES:
            values.update(error_code=error_code or False, error_message=error_message or False,
                          failure_type=failure_type or 'unknown')
        self.write(values)
        self._sync_sms_tracker(state, failure_type, error_message)
        return True

    def _sync_sms_tracker(self, state, failure_type, error_message):
        """Mirror the state on Odoo's own SMS tracking, so the chatter's SMS icon shows the truth."""
        if not self.sms_uuid:
            return
        sms_state = STATE_TO_SMS_STATE[state]
        sms = self.env['sms.sms'].sudo().search([('uuid', '=', self.sms_uuid)])
        sms_failure = failure_type if failure_type in dict(sms._fields['failure_type'].selection) else 'unknown'
        if sms:
            sms.write({'state': sms_state, 'failure_type': sms_failure if sms_state == 'error' else False})
        tracker = self.env['sms.tracker'].sudo().search([('sms_uuid', '=', self.sms_uuid)])
        if tracker:
            tracker._action_update_from_sms_state(
                sms_state, failure_type=sms_failure if sms_state == 'error' else False,
                failure_reason=error_message or False)


def _to_datetime(timestamp):
    if not timestamp:
        return False
    try:
        return datetime.fromtimestamp(float(timestamp), tz=timezone.utc).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError):
        return False
