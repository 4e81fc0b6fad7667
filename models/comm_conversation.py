import re
import uuid

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, format_datetime

CONVERSATIONS_LIMIT = 40     # conversations listed at once (newest first); more on request
MESSAGES_LIMIT = 200         # messages of a conversation shown at once (the newest); older on request
NUMBER_SEARCH = re.compile(r'\+?[\d\s().-]+')   # a search that looks like (part of) a phone number
# bus notifications: the systray counters and open conversation views fetch again (unread moved);
# the open conversation views only (a message or a status moved)
INBOX_REFRESH = 'comm_gateway.inbox/refresh'
CONVERSATION_REFRESH = 'comm_gateway.conversation/refresh'


class CommMessage(models.Model):
    """The conversation with a number: every message in and out with it, whatever its channel,
    account or record, newest at the bottom, and a reply box (``static/src/conversation``).

    Unread is the team's, as in a shared inbox: an inbound message is unread until someone who
    may read it opens its conversation. What a Communications User sees follows the record rules
    of ``comm.message`` (``models/comm_access.py``): the list, the counter and the thread are
    read with the user's own rights.
    """
    _inherit = 'comm.message'

    peer_number = fields.Char('Number', compute='_compute_peer_number', store=True, precompute=True,
                              index='btree_not_null',
                              help='The customer\'s number: the sender of an inbound message, the recipient of '
                                   'an outbound one.')
    conversation_unread = fields.Boolean('Unread', copy=False, help='Inbound, and nobody opened its conversation yet.')

    def init(self):
        self.env.cr.execute(SQL('CREATE INDEX IF NOT EXISTS comm_message_conversation_unread_idx '
                                'ON comm_message (peer_number) WHERE conversation_unread'))

    @api.depends('direction', 'from_number', 'to_number')
    def _compute_peer_number(self):
        for message in self:
            message.peer_number = message.from_number if message.direction == 'in' else message.to_number

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get('direction') == 'in' and vals.get('message_type', 'text') != 'reaction':
                vals.setdefault('conversation_unread', True)
        messages = super().create(vals_list)
        messages._comm_inbox_refresh(INBOX_REFRESH if messages.filtered('conversation_unread') else None)
        return messages

    def write(self, vals):
        result = super().write(vals)
        if 'conversation_unread' in vals:
            self._comm_inbox_refresh(INBOX_REFRESH)
        elif 'state' in vals:
            self._comm_inbox_refresh()
        return result

    def _comm_inbox_refresh(self, kind=None):
        """Tell the open conversation views (``CONVERSATION_REFRESH``: a message or a status moved)
        and, for ``INBOX_REFRESH`` (unread messages came or were read), the systray counters of
        Communications users to fetch again, with their own rights: the notification says nothing
        of the messages. Each kind once per transaction, at commit."""
        if not self:
            return
        data = self.env.cr.precommit.data
        if 'comm_gateway.inbox' not in data:
            data['comm_gateway.inbox'] = kinds = set()
            group = self.env.ref('comm_gateway.group_comm_user').sudo()

            @self.env.cr.precommit.add
            def send():
                for kind in sorted(data.pop('comm_gateway.inbox', kinds)):
                    self.env['bus.bus'].sudo()._sendone(group, kind, {})
        data['comm_gateway.inbox'].update({CONVERSATION_REFRESH, kind} - {None})

    # ------------------------------------------------------------------------------------------
    # Conversations (called by the conversation view and the systray)
    # ------------------------------------------------------------------------------------------

    @api.model
    def _check_conversation_user(self):
        if not self.env.user.has_group('comm_gateway.group_comm_user'):
            raise AccessError(_('Only Communications users see conversations.'))

    @api.model
    def comm_conversation_list(self, unread_only=False, limit=CONVERSATIONS_LIMIT, search='', offset=0):
        """The conversations the user may read, the newest first, a page at a time.

        :param unread_only: only those with unread inbound messages
        :param search: only those with a message matching it: the number (spaces and dashes
            ignored), the contact's or WhatsApp profile's name, or the text
        :param offset: how many conversations to skip (the pages already shown)
        :returns: ``{'conversations': [{number, name, channel, body, date, unread}], 'unread': total,
            'has_more': more conversations after these}``; a conversation found by ``search``
            shows its last matching message
        """
        self._check_conversation_user()
        limit = min(int(limit or CONVERSATIONS_LIMIT), CONVERSATIONS_LIMIT)
        unread = dict(self._read_group([('conversation_unread', '=', True), ('peer_number', '!=', False)],
                                       ['peer_number'], ['__count']))
        domain = [('peer_number', 'in', list(unread))] if unread_only else [('peer_number', '!=', False)]
        if search := (search or '').strip():
            domain += self._conversation_search_domain(search)
        last_ids = [last_id for _number, last_id in self._read_group(     # one more: is there a next page?
            domain, ['peer_number'], ['id:max'], order='id:max desc', limit=limit + 1,
            offset=max(int(offset or 0), 0))]
        conversations = []
        for message in self.browse(last_ids[:limit]):
            conversations.append({
                'number': message.peer_number, 'name': message._conversation_name(), 'channel': message.channel,
                'body': (message.body or '')[:120], 'date': fields.Datetime.to_string(message.create_date),
                'unread': unread.get(message.peer_number, 0),
            })
        return {'conversations': conversations, 'unread': sum(unread.values()), 'has_more': len(last_ids) > limit}

    @api.model
    def _conversation_search_domain(self, search):
        """The messages matching ``search``: its number, contact or profile name, or text."""
        domain = ['|', '|', ('partner_id.name', 'ilike', search), ('profile_name', 'ilike', search),
                  ('body', 'ilike', search)]
        if NUMBER_SEARCH.fullmatch(search) and (digits := re.sub(r'[^\d+]', '', search)):
            domain = ['|', ('peer_number', 'ilike', digits)] + domain
        return domain

    @api.model
    def comm_conversation_open(self, number, before_id=None):
        """The messages with ``number`` the user may read (the newest ``MESSAGES_LIMIT``, oldest
        first), how a reply would go, and the inbound ones marked read.

        :param before_id: only the messages older than this one (*Load older messages*)
        :returns: ``{number, name, messages: [...], has_older, reply: {...}}``
        """
        self._check_conversation_user()
        domain = [('peer_number', '=', number)]
        if before_id:
            domain.append(('id', '<', int(before_id)))
        found = self.search(domain, order='id desc', limit=MESSAGES_LIMIT + 1)
        messages = found[:MESSAGES_LIMIT]
        if not messages:    # none yet, or none the user may read: the same answer
            return {'number': number, 'name': number, 'messages': [], 'has_older': False, 'reply': {
                'channel': False, 'account': '', 'record': '', 'window_open': False, 'template_action': False,
                'notice': _('No message with %(number)s yet: write from the chatter of its contact or document.',
                            number=number)}}
        unread = messages.filtered('conversation_unread')
        if unread:
            unread.sudo().conversation_unread = False
        states = dict(self._fields['state']._description_selection(self.env))
        channels = dict(self._fields['channel']._description_selection(self.env))
        return {
            'number': number,
            'name': messages[0]._conversation_name(),
            'messages': [{
                'id': message.id, 'direction': message.direction, 'channel': message.channel,
                'channel_label': channels[message.channel], 'body': message.body or '',
                'media': len(message.attachment_ids) + len(message.sudo().media_ids),
                'date': format_datetime(self.env, message.create_date),
                'state': message.state, 'state_label': states[message.state],
                'error': message.error_message or '', 'account': message.provider_id.sudo().display_name,
                'record': message._conversation_record_name(),
            } for message in reversed(messages)],
            'has_older': len(found) > MESSAGES_LIMIT,
            # an older page leaves the reply box as it is
            'reply': False if before_id else self._conversation_reply_context(messages),
        }

    @api.model
    def comm_conversation_reply(self, number, body, idempotency_key=None):
        """Answer ``number`` with a text, on the channel and account of the conversation, posted in
        the chatter of its record (the composer's rules: WhatsApp free text only inside the
        24-hour window, no message to an opted-out number, no SMS over the account's limit).
        A number with neither contact nor document gets its reply all the same, kept in the
        conversation only.

        :returns: the new reply context (``comm_conversation_open``'s ``reply``)
        """
        self._check_conversation_user()
        body = (body or '').strip()
        if not body:
            raise UserError(_('Write a message.'))
        messages = self.search([('peer_number', '=', number)], order='id desc', limit=MESSAGES_LIMIT)
        if not messages:
            raise AccessError(_('No conversation with %(number)s that you may read.', number=number))
        reply = messages._conversation_reply_target()
        record, provider, channel = reply['record'], reply['provider'], reply['channel']
        if record:
            # as posting in its chatter would: the right to post on the document, before any sudo()
            record.check_access(getattr(record, '_mail_post_access', 'write'))
        if self.env['phone.blacklist']._comm_opted_out([number]):
            raise UserError(_('%(number)s opted out: no more messages are sent to it.', number=number))
        partner = messages.partner_id[:1]
        if channel == 'whatsapp':
            if not self._whatsapp_window_end(number, provider):
                how = _('Send a template') if record else _('a template needs a contact or a document: create '
                                                            'the contact first')
                raise UserError(_('%(number)s has not written on WhatsApp in the last 24 hours: only an approved '
                                  'template can be sent (%(how)s).', number=number, how=how))
            self._queue_whatsapp(provider.sudo(), record, partner, number, body=body,
                                 idempotency_key=idempotency_key or uuid.uuid4().hex)
        else:
            if reason := provider._sms_too_long(body):
                raise UserError(reason)
            self._conversation_send_sms(provider.sudo(), record, partner, number, body)
        return self._conversation_reply_context(messages)

    def action_open_conversation(self):
        """The conversation of this message's number."""
        self.ensure_one()
        self._check_conversation_user()
        self.check_access('read')
        return self._conversation_action(self.peer_number)

    @api.model
    def _conversation_action(self, number):
        return {'type': 'ir.actions.client', 'tag': 'comm_gateway.conversation', 'name': _('Conversations'),
                'params': {'number': number}}

    # ------------------------------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------------------------------

    def _conversation_name(self):
        self.ensure_one()
        return self.partner_id.sudo().display_name or self.profile_name or self.peer_number

    def _conversation_document(self):
        """The record the message was made from or posted on (None when none is left), as the user."""
        self.ensure_one()
        if not (self.res_model and self.res_id and self.res_model in self.env):
            return None
        record = self.env[self.res_model].browse(self.res_id)
        if not hasattr(record, 'message_post') or not record.sudo().exists():
            return None
        return record

    def _conversation_record_name(self):
        record = self._conversation_document()
        return record.sudo().display_name if record else ''

    def _conversation_reply_target(self):
        """How a reply to these messages (one conversation, newest first) goes: the channel of the
        customer's last message (else of ours) and its account; posted on the record of the last
        message that has one, else on the contact. MMS are answered by SMS."""
        last = (self.filtered(lambda m: m.direction == 'in') or self)[:1]
        channel = 'sms' if last.channel == 'mms' else last.channel
        provider = last.provider_id
        if channel == 'sms' and not provider.sudo().channel_sms:
            provider = provider.company_id.sudo().comm_sms_provider_id
        record = next((record for message in self if (record := message._conversation_document())), None)
        if record is None and self.partner_id:
            record = self.partner_id[:1].with_env(self.env)
        return {'channel': channel, 'provider': provider, 'record': record}

    def _conversation_reply_context(self, messages):
        target = messages._conversation_reply_target()
        channel, provider, record = target['channel'], target['provider'], target['record']
        context = {
            'channel': channel, 'account': provider.sudo().display_name, 'record': record.display_name if record else '',
            'window_open': True, 'notice': '', 'template_action': False,
        }
        number = messages[:1].peer_number
        if channel != 'whatsapp':
            if not record:
                context['notice'] = _('No contact and no document: the reply goes to the number and stays in this '
                                      'conversation.')
            return context
        end = self._whatsapp_window_end(number, provider)
        context['window_open'] = bool(end)
        if end:
            context['notice'] = _('Free text until %(end)s (the customer wrote in the last 24 hours).',
                                  end=format_datetime(self.env, end))
            if not record:
                context['notice'] += ' ' + _('No contact and no document: the reply stays in this conversation.')
        elif not record:
            # a template's variables are rendered from a document: the composer needs one
            context['notice'] = _('The 24-hour window is closed: WhatsApp only accepts an approved template, and a '
                                  'template needs a contact or a document: create the contact first.')
        else:
            context['notice'] = _('The 24-hour window is closed: WhatsApp only accepts an approved template.')
        if record:
            context['template_action'] = {
                'type': 'ir.actions.act_window', 'res_model': 'comm.whatsapp.composer', 'view_mode': 'form',
                'views': [[False, 'form']], 'target': 'new', 'name': _('Send WhatsApp'),
                'context': {'default_res_model': record._name, 'default_res_id': record.id,
                            'default_to_number': number, 'default_provider_id': provider.id},
            }
        return context

    @api.model
    def _conversation_send_sms(self, provider, record, partner, number, body):
        """Post the SMS in the record's chatter as Odoo's SMS composer does (SMS icon, tracker) and
        queue it on ``provider``, the conversation's account, whatever the company's default.

        A number with neither contact nor document gets its SMS all the same: it is kept in the
        conversation (its messages are those with the number), not in a chatter."""
        if not record:
            sms = self.env['sms.sms'].sudo().create({'number': number, 'body': body, 'state': 'outgoing'})
            return self.sudo()._queue_sms(provider, sms)
        if partner:
            post = record._message_sms(body, partner_ids=partner.ids, sms_pid_to_number={partner.id: number},
                                       put_in_queue=True)
        else:
            post = record._message_sms(body, sms_numbers=[number], put_in_queue=True)
        sms = self.env['sms.sms'].sudo().search([('mail_message_id', '=', post.id), ('state', '=', 'outgoing')])
        return self.sudo()._queue_sms(provider, sms)   # the caller may post on the record (checked)


class ResPartner(models.Model):
    _inherit = 'res.partner'

    def action_comm_conversation(self):
        """The conversation with this contact: the number of its last message, else its own."""
        self.ensure_one()
        self.env['comm.message']._check_conversation_user()
        self.check_access('read')
        last = self.env['comm.message'].search([('partner_id', '=', self.id), ('peer_number', '!=', False)],
                                               order='id desc', limit=1)
        number = last.peer_number or self.phone_sanitized
        if not number:
            raise UserError(_('%(contact)s has no phone number.', contact=self.display_name))
        return self.env['comm.message']._conversation_action(number)
