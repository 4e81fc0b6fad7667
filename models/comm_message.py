import dataclasses
import json
import logging
import random
import re
import threading
import uuid
from datetime import datetime, timedelta, timezone

import psycopg2.errors
from markupsafe import Markup

from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, clean_context, plaintext2html

from ..providers import ProviderError
from ..providers.base import STATE_RANK, InboundMessage, Outbound
from .comm_webhook_event import RetryLater

# cr.precommit.data key: the dispatch cron was woken for now in this transaction
DISPATCH_WOKEN_KEY = 'comm_gateway.dispatch_woken'

_logger = logging.getLogger(__name__)

STATES = [('queued', 'Queued'), ('sent', 'Sent'), ('delivered', 'Delivered'), ('read', 'Read'),
          ('failed', 'Failed'), ('undelivered', 'Undelivered'), ('canceled', 'Canceled'),
          ('received', 'Received')]
FINAL_FAILURES = ('failed', 'undelivered', 'canceled')
# outbound channels posted in the chatter with a delivery icon of their own (SMS use Odoo's)
CHATTER_CHANNELS = ('whatsapp', 'mms')
# Odoo's sms.sms state for each normalized state (PROTOCOLS 5.1).
STATE_TO_SMS_STATE = {'queued': 'process', 'sent': 'pending', 'delivered': 'sent', 'read': 'sent',
                      'failed': 'error', 'undelivered': 'error', 'canceled': 'canceled'}
# Odoo's delivery error (sms.tracker) for an undelivered SMS, by our failure type
UNDELIVERED_TO_DELIVERY_ERROR = {'sms_number_format': 'invalid_destination', 'sms_optout': 'not_allowed'}
STATE_DATE_FIELD = {'queued': 'queued_at', 'sent': 'sent_at', 'delivered': 'delivered_at', 'read': 'read_at',
                    'failed': 'failed_at', 'undelivered': 'failed_at', 'canceled': 'failed_at'}
OPT_OUT_WORDS = frozenset({'STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT'})
OPT_IN_WORDS = frozenset({'START', 'UNSTOP'})
MAX_SEND_ATTEMPTS = 6
E164_SHAPE = re.compile(r'\+[1-9]\d{6,14}')     # a number written in E.164 (nothing to parse)
STALE_ATTEMPT = timedelta(minutes=10)   # an attempt older than this lost its worker mid-call
ORPHAN_GROUPS = 50                      # orphan multipart messages posted per run
WHATSAPP_WINDOW = timedelta(hours=24)   # customer-service window opened by the customer's last message
# what recording an accepted send writes
ACCEPTED_FIELDS = ['provider_message_id', 'dispatch_state', 'error_code', 'error_message', 'next_try_at']


class CommMessage(models.Model):
    _name = 'comm.message'
    _description = 'SMS / WhatsApp message'
    _order = 'id desc'

    direction = fields.Selection([('in', 'Inbound'), ('out', 'Outbound')], required=True, index=True)
    channel = fields.Selection([('sms', 'SMS'), ('mms', 'MMS'), ('whatsapp', 'WhatsApp')],
                               required=True, default='sms')
    provider_id = fields.Many2one('comm.provider', 'Account', required=True, ondelete='restrict', index=True)
    company_id = fields.Many2one(related='provider_id.company_id', store=True, index=True, precompute=True)
    from_number = fields.Char('From', index='btree_not_null')
    to_number = fields.Char('To', index='btree_not_null')
    body = fields.Text()
    message_type = fields.Char(default='text', help='text, image, location, reaction… as the provider said')
    partner_id = fields.Many2one('res.partner', 'Contact', index='btree_not_null', ondelete='set null')
    profile_name = fields.Char()
    res_model = fields.Char('Related document model', index=True)
    res_id = fields.Many2oneReference('Related document', model_field='res_model')
    mail_message_id = fields.Many2one('mail.message', 'Chatter message', ondelete='set null', index='btree_not_null')
    attachment_ids = fields.Many2many('ir.attachment', string='Media')
    state = fields.Selection(STATES, required=True, default='queued', index=True)
    provider_message_id = fields.Char('Provider message id', index='btree_not_null', copy=False)
    error_code = fields.Char()
    error_message = fields.Char()
    failure_type = fields.Char()
    sms_uuid = fields.Char('SMS UUID', index='btree_not_null', copy=False,
                           help='Links to Odoo\'s sms.sms / sms.tracker, which are deleted once sent.')
    dispatch_state = fields.Selection(
        [('todo', 'To send'), ('attempt', 'Sending'), ('done', 'Accepted by provider'), ('failed', 'Not sent')],
        index=True, copy=False, help='Outbound only: where the send stands on our side.')
    attempts = fields.Integer(copy=False, default=0)
    next_try_at = fields.Datetime(copy=False)
    attempt_at = fields.Datetime(copy=False)
    client_ref = fields.Char(copy=False, index='btree_not_null', default=lambda self: uuid.uuid4().hex,
                             help='Our reference, passed to providers that echo one.')
    received_at = fields.Datetime()
    queued_at = fields.Datetime()
    sent_at = fields.Datetime()
    delivered_at = fields.Datetime()
    read_at = fields.Datetime()
    failed_at = fields.Datetime()
    # WhatsApp (comm.whatsapp.composer, "Send WhatsApp" server actions)
    template_id = fields.Many2one('comm.whatsapp.template', 'WhatsApp template', ondelete='restrict')
    template_values = fields.Json(help='The template variables as sent: {"body.1": "Ann", …}')
    wa_idempotency_key = fields.Char(copy=False, help='One message per composer submission.')

    _sql_constraints = [
        ('provider_message_unique', 'unique(provider_id, provider_message_id)',
         'A provider message is recorded once per account.'),
        ('wa_idempotency_key_unique', 'unique(wa_idempotency_key)', 'This message was already queued.'),
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
    def _receive_inbound(self, provider, inbounds, adapter):
        """Record normalized inbound messages and post each where its conversation lives.

        Made for batches: one query per step for the whole list (known ids, contacts,
        conversations) and one chatter post per document model. Idempotent: a message already
        recorded (same account and provider id) changes nothing. Media are never downloaded
        here: the message is posted at once with what it says ("1 image"), and each media is
        fetched afterwards with its own retries (``comm.message.media``), joining the same
        chatter message. A reply is posted where the message it answers lives, as a reply to it;
        a reaction is put on the message it reacts to (models/comm_message_inbound.py).

        :param inbounds: :class:`InboundMessage` list
        :returns: the new ``comm.message`` records
        """
        known = set(self.sudo().search_fetch(
            [('provider_id', '=', provider.id), ('provider_message_id', 'in', [i.provider_id for i in inbounds])],
            ['provider_message_id']).mapped('provider_message_id'))
        fresh = []
        for inbound in inbounds:
            if inbound.provider_id in known:
                continue
            known.add(inbound.provider_id)
            if inbound.concat_ref and inbound.concat_total > 1:
                inbound = self.env['comm.message.part']._collect(provider, inbound)
                if inbound is None:      # more parts to come
                    continue
            fresh.append(inbound)
        if not fresh:
            return self.browse()
        senders = [inbound.sender for inbound in fresh if inbound.sender]
        partners = self._comm_sender_partners(senders, provider.company_id)
        # the company's rule for unknown senders (models/comm_contact_review.py)
        partners, leads = self._comm_unknown_senders(provider, fresh, partners)
        records = self._conversation_records(senders, partners, provider.company_id)
        records.update(leads)
        answered = self._comm_answered(provider, [inbound.reply_to for inbound in fresh])
        values, targets = [], []
        for inbound in fresh:
            sender = inbound.sender or ''
            replied = answered.get(inbound.reply_to, self.browse())
            record = replied._comm_document() or records.get(inbound.sender)
            targets.append(record)
            values.append({
                'direction': 'in', 'provider_id': provider.id,
                'channel': inbound.channel if inbound.channel in ('sms', 'mms', 'whatsapp') else 'sms',
                'from_number': sender, 'to_number': inbound.recipient, 'body': inbound.body,
                'message_type': inbound.message_type, 'partner_id': partners.get(sender, self.env['res.partner']).id,
                'profile_name': inbound.profile_name, 'provider_message_id': inbound.provider_id,
                'state': 'received', 'received_at': _to_datetime(inbound.timestamp) or fields.Datetime.now(),
                'res_model': record._name if record else False, 'res_id': record.id if record else False,
                'content': inbound.content or False, 'reply_to_id': replied.id,
                'media_ids': [Command.create({
                    'sequence': index, 'kind': media.kind, 'url': media.url or False,
                    'media_ref': media.media_id or False, 'content_type': media.content_type or False,
                    'filename': media.filename or False,
                }) for index, media in enumerate(inbound.media or [])],
            })
        messages = self.sudo().with_context(clean_context(self.env.context)).create(values)
        messages._comm_apply_field_mappings(provider, fresh)     # models/comm_field_mapping.py
        targets = dict(zip(messages.ids, targets))
        reacted = messages._comm_apply_reactions()
        (messages - reacted)._post_inbound(targets)
        self.env['comm.message.media']._trigger_fetch(messages.media_ids)
        for message in messages:
            message._apply_opt_out_keyword(targets[message.id])
        return messages

    @api.model
    def _create_senders(self, inbounds, company):
        """Contacts for unknown senders (the Settings rule creates them), named from the WhatsApp profile,
        in the account's company (a number that wrote to one company is none of the others');
        a sender that is no phone number (a WhatsApp business-scoped user id) gets no mobile."""
        names = {}
        for inbound in inbounds:
            names.setdefault(inbound.sender, inbound.profile_name or inbound.sender)
        partners = self.env['res.partner']._comm_create_for_senders(
            [{'name': name, 'mobile': number if number.startswith('+') else False, 'company_id': company.id,
              'comm_sender_number': number if number.startswith('+') else False}
             for number, name in names.items()])
        return dict(zip(names, partners))

    @api.model
    def _conversation_records(self, numbers, partners, company):
        """``{number: record}``: the record of the last outbound message to the number from an
        account of ``company``, else its contact; numbers with neither are left out."""
        numbers = list(set(numbers))
        records = {number: partner.sudo() for number, partner in partners.items()}
        if not numbers:
            return records
        self.flush_model(['direction', 'to_number', 'res_model', 'res_id', 'company_id'])
        self.env.cr.execute(SQL(
            """SELECT DISTINCT ON (to_number) to_number, res_model, res_id FROM comm_message
                WHERE direction = 'out' AND to_number IN %s AND res_model IS NOT NULL AND company_id = %s
                ORDER BY to_number, id DESC""", tuple(numbers), company.id))
        by_model = {}
        for number, model, res_id in self.env.cr.fetchall():
            if model in self.env and res_id and hasattr(self.env[model], 'message_post'):
                by_model.setdefault(model, {})[number] = res_id
        for model, ids in by_model.items():
            existing = set(self.env[model].sudo().browse(set(ids.values())).exists().ids)
            records.update({number: self.env[model].sudo().browse(res_id)
                            for number, res_id in ids.items() if res_id in existing})
        return records

    def _post_inbound(self, records):
        """Post these inbound messages in their conversations' chatters, as ``message_post`` would
        but one ``mail.message`` create per document model, with the lookups done per batch.

        :param records: ``{comm.message id: record}`` where each is posted (none: not posted)
        """
        channels = dict(self._fields['channel']._description_selection(self.env))
        subtype_id = self.env['ir.model.data']._xmlid_to_res_id('mail.mt_comment')
        by_model = {}
        for message in self:
            if record := records.get(message.id):
                by_model.setdefault(record._name, []).append((message, record))
        for model, pairs in by_model.items():
            threads = self.env[model].sudo().browse({record.id for _message, record in pairs}).with_context(
                mail_create_nosubscribe=True)._fallback_lang()
            company = self.env.company
            alias_domains = threads._mail_get_alias_domains(default_company=company)
            companies = threads._mail_get_companies(default=company)
            reply_tos = threads._notify_get_reply_to(default=None)
            parents = threads._comm_first_messages()
            names = {thread.id: thread.display_name for thread in threads}
            values_list = []
            for message, record in pairs:
                partner = message.partner_id
                email_from = False if partner else message.from_number
                # _inbound_html escapes the text (keeping line breaks) and Markup's % escapes the
                # rest: nothing from outside ever renders as HTML.
                body = Markup('%s<p class="text-muted small">%s</p>') % (
                    message._inbound_html(),
                    _('%(channel)s from %(number)s', channel=channels[message.channel],
                      number=message._sender_label()))
                answered = message.reply_to_id.mail_message_id
                if answered and (answered.model, answered.res_id) != (model, record.id):
                    answered = False
                values_list.append({
                    'author_id': partner.id or False, 'author_guest_id': False, 'email_from': email_from,
                    'model': model, 'res_id': record.id, 'record_name': names[record.id],
                    'body': body, 'message_type': 'comment', 'subtype_id': subtype_id, 'subject': False,
                    'parent_id': answered.id if answered else parents.get(record.id, False), 'partner_ids': [],
                    'email_add_signature': True,
                    'record_alias_domain_id': alias_domains[record.id].id,
                    'record_company_id': companies[record.id].id,
                    'reply_to': reply_tos.get(record.id) or email_from,
                    'attachment_ids': [],
                })
            posts = threads._message_create(values_list)
            for (message, record), post, msg_values in zip(pairs, posts, values_list):
                message.mail_message_id = post
                thread = threads.browse(record.id)
                thread._message_post_after_hook(post, msg_values)
                thread._notify_thread(post, msg_values)
            threads._comm_live_refresh()

    def _apply_opt_out_keyword(self, record):
        self.ensure_one()
        word = (self.body or '').strip().upper()
        if word not in OPT_OUT_WORDS | OPT_IN_WORDS or not self.from_number:
            return
        # the consent trail (models/comm_consent_event.py) records this message as the cause
        blacklist = self.env['phone.blacklist'].sudo().with_context(comm_consent_message_id=self.id)
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
            record._comm_live_refresh()

    # ------------------------------------------------------------------------------------------
    # Statuses
    # ------------------------------------------------------------------------------------------

    @api.model
    def _receive_status(self, provider, status):
        """Apply a normalized status; never backwards; unknown message -> retry later."""
        message = self.sudo().search([('provider_id', '=', provider.id),
                                      ('provider_message_id', '=', status.provider_id)], limit=1)
        if not message:
            message = self.env['comm.message.ref']._find(provider, status)      # models/comm_message_ref.py
        if not message:
            raise RetryLater(_('No message %(id)s yet: it may not be committed yet.',
                               id=status.provider_id))
        message._apply_state(status.status, error_code=status.error_code, error_message=status.error_message,
                             failure_type=status.failure_type, when=_to_datetime(status.timestamp))
        return message

    def _apply_state(self, state, error_code='', error_message='', failure_type='', when=None):
        """Move to ``state`` if it is forward; failures are terminal unless a later delivery wins."""
        self.ensure_one()
        values = self._state_values(self.state, state, error_code, error_message, failure_type, when)
        if not values:
            return False
        self.write(values)
        self._sync_sms_tracker(state, failure_type, error_message)
        if self.channel in CHATTER_CHANNELS and self.direction == 'out':
            self._sync_chatter_notification()
        return True

    def _state_values(self, current, state, error_code='', error_message='', failure_type='', when=None):
        """The status ladder: the values that move this message from ``current`` to ``state``,
        or None when that is no move forward (failures are terminal unless a later delivery wins)."""
        if state == current or state not in STATE_TO_SMS_STATE:
            return None
        if state in STATE_RANK:
            if current in STATE_RANK and STATE_RANK[state] <= STATE_RANK[current]:
                return None
            if current in FINAL_FAILURES and state not in ('delivered', 'read'):
                return None
            if current in FINAL_FAILURES:
                _logger.info('comm.message %s: %s after %s (reordered webhooks)', self.id, state, current)
        elif current in FINAL_FAILURES or current == 'received':
            return None
        values = {'state': state, STATE_DATE_FIELD[state]: when or fields.Datetime.now()}
        if state in FINAL_FAILURES:
            values.update(error_code=error_code or False, error_message=error_message or False,
                          failure_type=failure_type or 'unknown')
        return values

    def _sync_sms_tracker(self, state, failure_type, error_message):
        """Mirror the state on Odoo's own SMS tracking, so the chatter's SMS icon shows the truth."""
        self.ensure_one()
        self._sync_sms_trackers({self: (state, failure_type, error_message)})

    # ------------------------------------------------------------------------------------------
    # Outbound: queue
    # ------------------------------------------------------------------------------------------

    @api.model
    def _queue_sms(self, provider, sms_records, unlink_sent=True, unlink_failed=False):
        """Queue Odoo ``sms.sms`` records on ``provider``; the dispatch cron sends them."""
        country = provider.company_id.country_id
        numbers = {sms.id: self._sms_e164(sms, country) for sms in sms_records}
        blacklisted = self.env['phone.blacklist']._comm_opted_out(list(numbers.values()))
        values, queued_ids = [], []
        for sms in sms_records:
            number = numbers[sms.id]
            failure = not number and 'sms_number_format' or number in blacklisted and 'sms_blacklist'
            if failure:
                sms.sms_tracker_id._action_update_from_sms_state('error', failure_type=failure)
                sms.write({'state': 'error', 'failure_type': failure, 'to_delete': unlink_failed})
                if failure == 'sms_blacklist':
                    self._log_on_document(sms.mail_message_id, _(
                        'SMS to %(number)s not sent: the number is blacklisted (opted out).', number=number))
                continue
            message = sms.mail_message_id
            values.append({
                'direction': 'out', 'channel': 'sms', 'provider_id': provider.id, 'state': 'queued',
                'dispatch_state': 'todo', 'next_try_at': fields.Datetime.now(), 'queued_at': fields.Datetime.now(),
                'from_number': provider.sms_from or False, 'to_number': number, 'body': sms.body,
                'partner_id': sms.partner_id.id, 'sms_uuid': sms.uuid, 'mail_message_id': message.id,
                'res_model': message.model or False, 'res_id': message.res_id or False,
            })
            queued_ids.append(sms.id)
        queued_sms = sms_records.browse(queued_ids)
        if queued_sms:
            queued_sms.sms_tracker_id._action_update_from_sms_state('process')
            queued_sms.write({'state': 'process', 'failure_type': False, 'to_delete': unlink_sent})
        messages = self.sudo().with_context(clean_context(self.env.context)).create(values)
        if messages:
            self._trigger_dispatch()
        _logger.info('comm.provider %s: queued %s SMS (%s refused before sending)',
                     provider.id, len(messages), len(sms_records) - len(messages))
        return messages

    @api.model
    def _sms_e164(self, sms, country):
        """The number of ``sms`` in E.164 ('' when it has none): Odoo's composers store the number
        they sanitized, which is not parsed again."""
        if E164_SHAPE.fullmatch(sms.number or ''):
            return sms.number
        return self.env['res.partner']._phone_format(
            number=sms.number, country=sms.partner_id.country_id or country, force_format='E164')

    @api.model
    def _whatsapp_window_end(self, number, provider):
        """When the 24-hour customer-service window of account ``provider`` with ``number``
        closes; None when it is closed.

        Each inbound WhatsApp message from the number to that account opens it again (PROTOCOLS
        1.8, 4.6): a message to another account (another company's business number) does not.
        """
        if not number or not provider:
            return None
        last = self.sudo().search([('direction', '=', 'in'), ('channel', '=', 'whatsapp'), ('from_number', '=', number),
                                   ('provider_id', '=', provider.id),
                                   ('received_at', '>', fields.Datetime.now() - WHATSAPP_WINDOW)],
                                  order='received_at desc', limit=1)
        return last.received_at + WHATSAPP_WINDOW if last else None

    @api.model
    def _queue_whatsapp(self, provider, record, partner, to_number, body='', attachments=None, template=None,
                        values=None, idempotency_key=None):
        """Queue a WhatsApp message about ``record`` and post it in the record's chatter.

        Without a record (a conversation's number with neither contact nor document) the message
        goes to the number all the same and stays in its conversation, as an SMS does: no chatter.

        Free text and media only inside the 24-hour window; an approved template at any time.
        WhatsApp carries one media per message: each further attachment goes in its own message.

        :param to_number: E.164
        :param values: the template's variables, rendered and validated (``template._render_values``)
        :param idempotency_key: a key used before queues nothing more (double submit, retried request)
        :returns: the queued ``comm.message`` records (those queued earlier, for a known key)
        :raises UserError: no number, an opted-out number, free text outside the window, a template
            that is not approved
        """
        attachments = attachments or self.env['ir.attachment']
        if not to_number:
            raise UserError(_('%(record)s has no valid WhatsApp number.', record=record.display_name))
        if template:
            template._check_sendable(attachments)
            body = template._render_text(values or {})
        elif not self._whatsapp_window_end(to_number, provider):
            raise UserError(_('%(number)s has not written in the last 24 hours: until they do, WhatsApp only '
                              'accepts an approved template.', number=to_number))
        elif not (body or attachments):
            raise UserError(_('Write a message or attach a file.'))
        chunks = [attachments[:1]] + ([] if template else list(attachments[1:]))
        return self._queue_from_chatter('whatsapp', provider, record, partner, to_number, body, chunks,
                                        template=template, values=values, idempotency_key=idempotency_key)

    @api.model
    def _queue_from_chatter(self, channel, provider, record, partner, to_number, body, chunks, template=None,
                            values=None, idempotency_key=None):
        """Queue one message per chunk of attachments (the body goes with the first), post them once
        in ``record``'s chatter with a delivery icon (none without a record), issue their media
        tokens and wake the cron.

        :param chunks: ``ir.attachment`` recordsets, one per message (the provider's media limit)
        :param idempotency_key: a key used before queues nothing more (double submit, retried request)
        :returns: the queued ``comm.message`` records (those queued earlier, for a known key)
        :raises UserError: the number opted out
        """
        if self.env['phone.blacklist']._comm_opted_out([to_number]):
            raise UserError(_('%(number)s opted out: no more messages are sent to it.', number=to_number))
        keys = [idempotency_key and (idempotency_key if index == 0 else f'{idempotency_key}:{index}')
                for index in range(len(chunks))]
        now = fields.Datetime.now()
        if idempotency_key and (done := self.sudo().search([('wa_idempotency_key', 'in', keys)])):
            _logger.info('comm.provider %s: %s submission already queued, not again', provider.id, channel)
            return done
        sender = provider.whatsapp_from if channel == 'whatsapp' else provider.sms_from
        try:
            # the unique key still guards against two truly simultaneous submissions
            with self.env.cr.savepoint():
                messages = self.sudo().with_context(clean_context(self.env.context)).create([{
                    'direction': 'out', 'channel': channel, 'provider_id': provider.id, 'state': 'queued',
                    'dispatch_state': 'todo', 'next_try_at': now, 'queued_at': now,
                    'from_number': sender or False, 'to_number': to_number,
                    'body': body if index == 0 else False, 'attachment_ids': [(6, 0, chunk.ids)],
                    'partner_id': partner.id or False,
                    'res_model': record._name if record else False, 'res_id': record.id if record else False,
                    'template_id': template.id if template else False, 'template_values': values or False,
                    'wa_idempotency_key': key,
                } for index, (chunk, key) in enumerate(zip(chunks, keys))])
        except psycopg2.errors.UniqueViolation:
            _logger.info('comm.provider %s: %s submission already queued, not again', provider.id, channel)
            return self.sudo().search([('wa_idempotency_key', 'in', keys)])
        if record:
            attachments = self.env['ir.attachment'].union(*chunks)
            post = self._post_outbound(channel, record, partner, body, attachments, template)
            messages.write({'mail_message_id': post.id})
        self.env['comm.media.token']._issue(messages)
        self._trigger_dispatch()
        _logger.info('comm.provider %s: queued %s %s message(s) %s', provider.id, len(messages), channel, messages.ids)
        return messages

    @api.model
    def _post_outbound(self, channel, record, partner, body, attachments, template=None):
        """The chatter message of an outbound WhatsApp / MMS, with the notification its statuses update."""
        attachments.filtered(lambda a: not a.res_id or a.res_model == 'comm.whatsapp.composer').sudo().write(
            {'res_model': record._name, 'res_id': record.id})
        html = plaintext2html(body) if body else Markup()
        if template:
            html += Markup('<p class="text-muted small">%s</p>') % _('WhatsApp template %(name)s', name=template.name)
        post = record.with_context(mail_create_nosubscribe=True).message_post(
            body=html, message_type='comment', subtype_xmlid='mail.mt_note', attachment_ids=attachments.ids)
        self.env['mail.notification'].sudo().create({
            'mail_message_id': post.id, 'res_partner_id': partner.id or False, 'notification_type': channel,
            'notification_status': 'process', 'is_read': True, 'author_id': post.author_id.id})
        return post

    def _sync_chatter_notification(self):
        """The chatter shows the least advanced state of a post's messages; a failure wins."""
        self.ensure_one()
        post = self.mail_message_id.sudo()
        notifications = post.notification_ids.filtered(lambda n: n.notification_type == self.channel)
        if not notifications:
            return
        parts = self.sudo().search([('mail_message_id', '=', post.id), ('direction', '=', 'out')])
        failed = parts.filtered(lambda m: m.state in FINAL_FAILURES)[:1]
        if failed:
            failure_types = dict(notifications._fields['failure_type'].selection)
            values = {'notification_status': 'canceled' if failed.state == 'canceled' else 'exception',
                      'failure_type': failed.failure_type if failed.failure_type in failure_types else 'unknown',
                      'failure_reason': failed.error_message or False}
        else:
            state = min(parts.mapped('state'), key=lambda s: STATE_RANK.get(s, 0))
            values = {'notification_status': STATE_TO_SMS_STATE[state], 'failure_type': False,
                      'failure_reason': False}
        notifications.write(values)
        post._notify_message_notification_update()
        self._comm_live_statuses(post)

    @api.model
    def _log_on_document(self, mail_message, note):
        if mail_message.model and mail_message.res_id and mail_message.model in self.env:
            record = self.env[mail_message.model].sudo().browse(mail_message.res_id).exists()
            if record and hasattr(record, '_message_log'):
                record._message_log(body=note)
                record._comm_live_refresh()

    @api.model
    def _comm_live_statuses(self, posts):
        """The chatters open on the posts' records show their new delivery statuses."""
        for post in posts.filtered(lambda p: p.model and p.res_id and p.model in self.env):
            self.env[post.model].browse(post.res_id)._comm_live_refresh(post)

    def _trigger_dispatch(self, at=None):
        """Wake the dispatch cron at ``at`` (now by default); a later one not when a wake-up is
        already planned by then (past ones may be the current run's, which Odoo deletes at its end).
        Now: once per transaction (a chatter composer queues its SMS record by record); the mark
        goes with the cursor's precommit data, which a commit, a rollback or a savepoint clears."""
        now = fields.Datetime.now()
        due_now = not at or at <= now
        if due_now and self.env.cr.precommit.data.get(DISPATCH_WOKEN_KEY):
            return
        cron = self.env.ref('comm_gateway.ir_cron_comm_message_dispatch')
        if not due_now and self.env['ir.cron.trigger'].sudo().search_count(
                [('cron_id', '=', cron.id), ('call_at', '>', now), ('call_at', '<=', at)], limit=1):
            return
        if due_now:
            self.env.cr.precommit.data[DISPATCH_WOKEN_KEY] = True
        cron._trigger(at)

    # ------------------------------------------------------------------------------------------
    # Outbound: dispatch (cron)
    # ------------------------------------------------------------------------------------------

    @api.model
    def _record_answers(self, answers):
        """Record the provider's answers ``[(message, SendResult or ProviderError)]`` that came in
        together: in one savepoint (one flush), else — when one of them fails — one savepoint each."""
        try:
            with self.env.cr.savepoint():
                self._record_answer_group(answers)
            return
        except Exception:  # noqa: BLE001  one by one below: only the culprit fails
            if len(answers) == 1:
                _logger.exception('comm.message %s: the provider answer could not be recorded', answers[0][0].id)
                return
        for message, result in answers:
            try:
                with self.env.cr.savepoint():
                    self._record_answer_group([(message, result)])
            except Exception:  # noqa: BLE001  the attempt stays recorded: reconciliation decides, no blind resend
                _logger.exception('comm.message %s: the provider answer could not be recorded', message.id)

    @api.model
    def _record_answer_group(self, answers):
        """Record answers (one UPDATE for the accepted ones); the Sandbox posts what follows them."""
        accepted = [(message, result) for message, result in answers if not isinstance(result, ProviderError)]
        self._record_accepted(accepted)
        for message, result in answers:
            if isinstance(result, ProviderError):
                message._handle_send_error(result)
            elif result.status != 'queued':
                message._apply_state(result.status)
        self.browse([message.id for message, _result in accepted])._after_accepted()

    def _to_outbound(self, status_callback=None):
        """What the adapter sends; ``status_callback``: the account's status URL, when the caller has it."""
        self.ensure_one()
        if status_callback is None:
            status_callback = self.provider_id._webhook_url('status') or ''
        outbound = Outbound(to=self.to_number, body=self.body or '', channel=self.channel,
                            sender=self.from_number or '', status_callback=status_callback,
                            client_ref=self.client_ref or '')
        if self.attachment_ids:
            outbound.media = self.env['comm.media.token']._media_of(self)
        if self.template_id:     # the template carries the media of its header, if any
            outbound.template = self.template_id._to_template(self.template_values or {}, outbound.media)
            outbound.media = []
        return outbound

    def _apply_send_result(self, result):
        self._record_send_result(result)
        self._after_accepted()

    def _record_send_result(self, result):
        self.ensure_one()
        self._record_accepted([(self, result)])
        if result.status != 'queued':
            self._apply_state(result.status)

    @api.model
    def _record_accepted(self, answers):
        """The provider accepted these sends ``[(message, SendResult)]``: its ids, done, in one UPDATE
        for the lot (a dispatch records tens of answers at a time); the further ids of split SMS kept."""
        if not answers:
            return
        messages = self.browse([message.id for message, _result in answers])
        messages.flush_recordset(ACCEPTED_FIELDS)
        self.env.cr.execute(SQL(
            """UPDATE comm_message m SET provider_message_id = a.provider_id, dispatch_state = 'done',
                      error_code = NULL, error_message = NULL, next_try_at = NULL, write_uid = %s,
                      write_date = now() at time zone 'UTC'
                 FROM unnest(%s::int[], %s::varchar[]) AS a(id, provider_id) WHERE m.id = a.id""",
            self.env.uid, messages.ids, [result.provider_id for _message, result in answers]))
        messages.invalidate_recordset([*ACCEPTED_FIELDS, 'write_uid', 'write_date'])
        for message, result in answers:
            if result.extra_ids:
                self.env['comm.message.ref']._remember(message, result.extra_ids)

    def _after_accepted(self):
        """Messages the provider accepted. Odoo's SMS tracking says so already: 'process' since they
        were queued (``_queue_sms``) or sent again (``action_retry_now``), and a provider's answer
        other than queued moved it (``_apply_state``); nothing to write per message here."""
        # the accounts' code from their adapters (cached per process): no query after a dispatch's
        # commit, one lookup per account
        sandboxes = self.provider_id.filtered(lambda provider: provider._get_adapter().code == 'sandbox')
        for message in self.filtered(lambda m: m.provider_id in sandboxes) if sandboxes else ():
            message.provider_id._sandbox_after_send(message)

    def _handle_send_error(self, error):
        self.ensure_one()
        if error.retryable and self.attempts < MAX_SEND_ATTEMPTS:
            # a per-recipient limit (WhatsApp pair rate, ~1 message / 6 s) wants 4^n seconds
            backoff = 4 ** self.attempts if error.per_recipient else 15 * 2 ** (self.attempts - 1)
            delay = max(backoff, error.retry_after or 0) * random.uniform(0.8, 1.2)
            self.write({'dispatch_state': 'todo', 'error_code': error.code, 'error_message': error.message,
                        'next_try_at': fields.Datetime.now() + timedelta(seconds=delay)})
            return      # the run's end wakes the cron for the earliest retry (one trigger, not one each)
        self._fail(error)

    def _fail(self, error):
        self.ensure_one()
        self.write({'dispatch_state': 'failed', 'next_try_at': False})
        self._apply_state('failed', error_code=error.code, error_message=error.message,
                          failure_type=error.failure_type or 'unknown')
        channel = dict(self._fields['channel']._description_selection(self.env))[self.channel]
        self._log_on_document(self.mail_message_id, _(
            '%(channel)s to %(number)s failed: %(reason)s', channel=channel, number=self.to_number,
            reason=error.message))

    def _commit(self):
        if not getattr(threading.current_thread(), 'testing', False):
            self.env.cr.commit()

    # ------------------------------------------------------------------------------------------
    # Actions: a person retries or cancels
    # ------------------------------------------------------------------------------------------

    def _check_agent_access(self):
        """Retry and cancel: Communications Users, on the messages they may read (before any sudo)."""
        if not self.env.user.has_group('comm_gateway.group_comm_user'):
            raise AccessError(_('Only Communications users may retry or cancel a message.'))
        self.check_access('read')

    def action_retry_now(self):
        """Send again at once the outbound messages waiting for a retry or not sent (never one the
        provider accepted: that would be a second message)."""
        self._check_agent_access()
        messages = self.sudo().filtered(lambda m: m.direction == 'out' and m.dispatch_state in ('todo', 'failed'))
        messages.write({'state': 'queued', 'dispatch_state': 'todo', 'next_try_at': fields.Datetime.now(),
                        'attempts': 0, 'error_code': False, 'error_message': False, 'failure_type': False,
                        'failed_at': False})
        messages._comm_step('retry', user_id=self.env.uid, detail=_('Sent again by %(user)s', user=self.env.user.name))
        for message in messages:
            message._sync_sms_tracker('queued', '', '')
            if message.channel in CHATTER_CHANNELS:
                message._sync_chatter_notification()
        if messages:
            self._trigger_dispatch()
        return self._action_feedback(_('%(count)s message(s) sent again within seconds.', count=len(messages)),
                                     len(self) - len(messages))

    def action_cancel(self):
        """Cancel the outbound messages still waiting to be sent; one being sent right now goes on."""
        self._check_agent_access()
        self = self.sudo()
        self.flush_recordset()
        # in SQL: a row the dispatch claimed meanwhile is not 'todo' any more (a concurrent claim is a
        # serialization failure, and the request is run again)
        self.env.cr.execute(SQL(
            "UPDATE comm_message SET dispatch_state = 'failed', next_try_at = NULL "
            "WHERE id IN %s AND direction = 'out' AND dispatch_state = 'todo' RETURNING id", tuple(self.ids) or (0,)))
        ids = [row[0] for row in self.env.cr.fetchall()]
        self.invalidate_recordset()
        canceled = self.browse(ids)
        for message in canceled:
            message._apply_state('canceled', error_message=_('Canceled by %(user)s', user=self.env.user.name),
                                 failure_type='unknown')
        return self._action_feedback(_('%(count)s message(s) canceled.', count=len(canceled)),
                                     len(self) - len(canceled))

    def _action_feedback(self, message, skipped):
        if skipped:
            message += ' ' + _('%(count)s left as they were (already sent or being sent).', count=skipped)
        return {'type': 'ir.actions.client', 'tag': 'display_notification', 'params': {
            'title': _('Messages'), 'message': message, 'type': 'warning' if skipped else 'success',
            'next': {'type': 'ir.actions.client', 'tag': 'soft_reload'}}}


class CommMessagePart(models.Model):
    """Parts of a long SMS delivered separately (Vonage's SMS API), until all are in."""
    _name = 'comm.message.part'
    _description = 'Part of a multipart inbound SMS'
    _order = 'part'

    provider_id = fields.Many2one('comm.provider', required=True, ondelete='cascade')
    sender = fields.Char(required=True)
    concat_ref = fields.Char(required=True)
    total = fields.Integer(required=True)
    part = fields.Integer(required=True)
    provider_message_id = fields.Char(required=True)
    payload = fields.Json(required=True)

    _sql_constraints = [('part_unique', 'unique(provider_id, sender, concat_ref, part)', 'One row per part.')]

    def init(self):
        self.env.cr.execute(SQL('CREATE INDEX IF NOT EXISTS comm_message_part_group_idx '
                                'ON comm_message_part (provider_id, sender, concat_ref)'))

    @api.model
    def _collect(self, provider, inbound):
        """Store a part; return the whole message once every part is in (else None)."""
        self.env.cr.execute(SQL(
            """INSERT INTO comm_message_part (provider_id, sender, concat_ref, total, part, provider_message_id,
                                                payload, create_date)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
            provider.id, inbound.sender, inbound.concat_ref, inbound.concat_total, inbound.concat_part,
            inbound.provider_id, json.dumps({'body': inbound.body, 'recipient': inbound.recipient,
                                             'timestamp': inbound.timestamp, 'channel': inbound.channel,
                                             'raw': inbound.raw}, default=str),
            fields.Datetime.now()))
        parts = self.search([('provider_id', '=', provider.id), ('sender', '=', inbound.sender),
                             ('concat_ref', '=', inbound.concat_ref)])
        if len(parts) < inbound.concat_total:
            return None
        body = ''.join(part.payload['body'] for part in parts)
        whole = dataclasses.replace(inbound, body=body, provider_id=parts[0].provider_message_id, concat_part=0,
                                    raw=parts._raw(body))
        parts.unlink()
        return whole

    def _raw(self, body):
        """The payload of the whole message, for what reads it (the field mappings): the
        parameters of every part, the first part's winning (they share all but the text and the
        ids), and ``text`` the whole text."""
        raw = {}
        for part in reversed(self):
            raw.update(part.payload.get('raw') or {})
        return {**raw, 'text': body} if raw else {}

    @api.model
    def _flush_orphans(self, older_than=timedelta(minutes=30), limit=ORPHAN_GROUPS):
        """Parts whose siblings never came are posted on their own, with a note: never dropped.

        Bounded (``limit`` messages per run, oldest first), one savepoint each: a group that
        cannot be posted is logged and moved to the back, to be tried again later.

        :returns: how many parts were posted
        """
        self.flush_model()
        self.env.cr.execute(SQL(
            """SELECT provider_id, sender, concat_ref FROM comm_message_part WHERE create_date < %s
                GROUP BY provider_id, sender, concat_ref ORDER BY min(create_date) LIMIT %s""",
            fields.Datetime.now() - older_than, limit))
        posted = 0
        for provider_id, sender, ref in self.env.cr.fetchall():
            parts = self.search([('provider_id', '=', provider_id), ('sender', '=', sender), ('concat_ref', '=', ref)])
            try:
                with self.env.cr.savepoint():
                    parts._post_alone()
                posted += len(parts)
            except Exception:  # noqa: BLE001  one bad group never stops the others, nor the queue
                _logger.exception('comm.message.part %s: the parts could not be posted; will try again', parts.ids)
                self.env.cr.execute(SQL('UPDATE comm_message_part SET create_date = %s WHERE id IN %s',
                                        fields.Datetime.now(), tuple(parts.ids)))
        return posted

    def _post_alone(self):
        """Post these parts of one message (the others never came) as one message, with a note."""
        first = self[0]
        note = _('[Parts %(parts)s of %(total)s; the others never arrived]',
                 parts=', '.join(str(p) for p in self.mapped('part')), total=first.total)
        text = ' … '.join(p.payload['body'] for p in self)
        inbound = InboundMessage(
            provider_id=first.provider_message_id, sender=first.sender, recipient=first.payload.get('recipient', ''),
            body=f'{text}\n{note}', timestamp=first.payload.get('timestamp'),
            channel=first.payload.get('channel') or 'sms', raw=self._raw(text))
        provider = first.provider_id
        self.unlink()
        self.env['comm.message']._receive_inbound(provider, [inbound], provider._get_adapter())


def _to_datetime(timestamp):
    if not timestamp:
        return False
    try:
        return datetime.fromtimestamp(float(timestamp), tz=timezone.utc).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError):
        return False
