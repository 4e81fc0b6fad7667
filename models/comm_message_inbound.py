"""What an inbound message says beyond its text: the message it answers, the reaction it is,
its location, shared contacts or order, a type we do not render — and how the chatter shows it.

The adapters put the structured part in ``InboundMessage.content`` (providers/base.py); it is
kept on ``comm.message.content`` and rendered here, escaped.
"""
import logging
from urllib.parse import quote

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.tools import SQL, plaintext2html

from ..providers.base import to_e164

_logger = logging.getLogger(__name__)

# "1 image" / "2 images": the chatter's placeholder while media are fetched (and after).
MEDIA_LABELS = {
    'image': (lambda env: env._('image'), lambda env: env._('images')),
    'video': (lambda env: env._('video'), lambda env: env._('videos')),
    'audio': (lambda env: env._('audio file'), lambda env: env._('audio files')),
    'voice': (lambda env: env._('voice message'), lambda env: env._('voice messages')),
    'sticker': (lambda env: env._('sticker'), lambda env: env._('stickers')),
    'document': (lambda env: env._('document'), lambda env: env._('documents')),
    'file': (lambda env: env._('file'), lambda env: env._('files')),
}


def _coordinate(value, bound):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if -bound <= value <= bound else None


class CommMessage(models.Model):
    _inherit = 'comm.message'

    content = fields.Json(
        'Structured content', readonly=True,
        help='What the message carries beyond its text: the button or list choice (id, payload), '
             'the reaction, the location, the shared contacts, the order, the unsupported type.')
    reply_to_id = fields.Many2one('comm.message', 'In reply to', index='btree_not_null', ondelete='set null',
                                  readonly=True, help='The message this one answers or reacts to.')
    media_ids = fields.One2many('comm.message.media', 'message_id', 'Media to fetch', readonly=True)

    # ------------------------------------------------------------------------------------------
    # Who wrote, what it answers
    # ------------------------------------------------------------------------------------------

    @api.model
    def _comm_sender_partners(self, senders, company):
        """``{sender: contact}``: numbers by the contacts' sanitized numbers; senders that are no
        phone number (WhatsApp business-scoped user ids) by the contact of their last message."""
        partners = self.env['res.partner']._comm_find_by_numbers(
            [sender for sender in senders if sender.startswith('+')], company)
        others = list({sender for sender in senders if sender and not sender.startswith('+')})
        if others:
            self.flush_model(['from_number', 'partner_id', 'direction'])
            self.env.cr.execute(SQL(
                """SELECT DISTINCT ON (from_number) from_number, partner_id FROM comm_message
                    WHERE direction = 'in' AND from_number IN %s AND partner_id IS NOT NULL
                    ORDER BY from_number, id DESC""", tuple(others)))
            found = dict(self.env.cr.fetchall())
            contacts = self.env['res.partner'].sudo().browse(set(found.values())).exists()
            partners.update({sender: contacts.browse(partner_id) for sender, partner_id in found.items()
                             if partner_id in contacts.ids})
        return partners

    @api.model
    def _comm_answered(self, provider, provider_ids):
        """``{provider id: comm.message}`` of the messages of ``provider`` these ids name (the
        message a reply answers or a reaction reacts to), in one query."""
        provider_ids = [pid for pid in set(provider_ids) if pid]
        if not provider_ids:
            return {}
        messages = self.sudo().search([('provider_id', '=', provider.id),
                                       ('provider_message_id', 'in', provider_ids)])
        return {message.provider_message_id: message for message in messages}

    def _comm_document(self):
        """The record this message's chatter post lives on (None when it has none)."""
        post = self.mail_message_id
        if not post or not post.model or post.model not in self.env or not post.res_id:
            return None
        record = self.env[post.model].sudo().browse(post.res_id).exists()
        return record if record and hasattr(record, '_message_log') else None

    # ------------------------------------------------------------------------------------------
    # Reactions
    # ------------------------------------------------------------------------------------------

    def _comm_apply_reactions(self):
        """Reactions of these messages shown on the message they react to, as Discuss shows
        them (a removed reaction removed; one reaction per person and message, as WhatsApp
        does). :returns: the reactions so applied (they are not posted as messages of their own)"""
        applied = self.browse()
        for message in self.filtered(lambda m: 'reaction' in (m.content or {})):
            post = message.reply_to_id.mail_message_id.sudo()
            partner = message.partner_id
            if not (post and partner):
                continue         # posted instead, as "Reacted 👍 to a message"
            emoji = message.content['reaction'].get('emoji') or ''
            existing = self.env['mail.message.reaction'].sudo().search(
                [('message_id', '=', post.id), ('partner_id', '=', partner.id)])
            for content in set(existing.mapped('content')) - {emoji}:
                post._message_reaction(content, 'remove', partner, self.env['mail.guest'])
            if emoji:
                post._message_reaction(emoji, 'add', partner, self.env['mail.guest'])
            applied |= message
        return applied

    # ------------------------------------------------------------------------------------------
    # Chatter rendering
    # ------------------------------------------------------------------------------------------

    def _sender_label(self):
        """The sender as the chatter names it, saying so when it is no phone number."""
        number = self.from_number or '?'
        if number.startswith('+'):
            return number
        if self.channel == 'whatsapp':
            return _('%(id)s (a WhatsApp user id: the customer shares no phone number)', id=number)
        if number.lower().startswith('sip:'):
            return _('%(uri)s (a SIP address)', uri=number)
        if number.isdigit() and len(number) <= 8:
            return _('%(code)s (a short code)', code=number)
        return _('%(name)s (a sender name, not a phone number: it cannot be replied to)', name=number)

    def _media_summary(self):
        """'1 image', '2 images, 1 voice message'… of this message's media ('' when none)."""
        counts = {}
        for media in self.media_ids.sorted('sequence'):
            kind = media.kind if media.kind in MEDIA_LABELS else 'file'
            counts[kind] = counts.get(kind, 0) + 1
        return ', '.join(f'{count} {MEDIA_LABELS[kind][count > 1](self.env)}' for kind, count in counts.items())

    def _inbound_html(self):
        """The chatter body of an inbound message: its text, then what it carries, all escaped."""
        self.ensure_one()
        content = self.content or {}
        html = plaintext2html(self.body) if self.body else Markup()
        if location := content.get('location'):
            html += self._location_html(location)
        for contact in content.get('contacts') or []:
            phones = ', '.join(phone.get('phone') or ('+' + phone['wa_id']) for phone in contact.get('phones') or [])
            html += Markup('<p>👤 <b>%s</b>%s</p>') % (
                contact.get('name') or _('Contact'), f' — {phones}' if phones else '')
        if content.get('contacts'):
            html += Markup('<p><a href="/odoo/comm.message/%s">%s</a></p>') % (self.id, _('Create these contacts'))
        if order := content.get('order'):
            html += self._order_html(order)
        if flow := content.get('flow'):
            html += self._flow_html(flow)
        if 'reaction' in content:
            emoji = content['reaction'].get('emoji')
            html += Markup('<p>%s</p>') % (_('Reacted %(emoji)s to a message', emoji=emoji) if emoji
                                           else _('Removed a reaction from a message'))
        if unsupported := content.get('unsupported'):
            text = _('Unsupported message type: %(type)s', type=unsupported.get('type') or '?')
            if unsupported.get('reason'):
                text += f' ({unsupported["reason"]})'
            html += Markup('<p><em>%s</em></p>') % text
        if summary := self._media_summary():
            html += Markup('<p class="text-muted">📎 %s</p>') % summary
        return html

    def _location_html(self, location):
        latitude = _coordinate(location.get('latitude'), 90)
        longitude = _coordinate(location.get('longitude'), 180)
        lines = [Markup('<b>%s</b>') % location['name']] if location.get('name') else []
        if location.get('address'):
            lines.append(Markup('%s') % location['address'])
        if latitude is not None and longitude is not None:
            lines.append(Markup('<a href="%s" target="_blank" rel="noopener noreferrer">%s</a>') % (
                f'https://www.openstreetmap.org/?mlat={latitude}&mlon={longitude}#map=17/{latitude}/{longitude}',
                _('Map (%(latitude)s, %(longitude)s)', latitude=latitude, longitude=longitude)))
        url = location.get('url') or ''
        if url.startswith(('https://', 'http://')):
            lines.append(Markup('<a href="%s" target="_blank" rel="noopener noreferrer">%s</a>') % (
                quote(url, safe=':/?&=#%+@,;~'), url))
        return Markup('<p>📍 %s</p>') % Markup('<br/>').join(lines or [_('Location')])

    def _order_html(self, order):
        rows = Markup()
        for item in order.get('items') or []:
            price = item.get('price')
            rows += Markup('<li>%s × %s%s</li>') % (
                item.get('quantity') or 1, item.get('product') or '?',
                f' — {price} {item.get("currency") or ""}'.rstrip() if price not in (None, '') else '')
        title = _('Order')
        if order.get('catalog_id'):
            title = _('Order from catalog %(catalog)s', catalog=order['catalog_id'])
        return Markup('<p>🛒 <b>%s</b></p><ul>%s</ul>') % (title, rows)

    def _flow_html(self, flow):
        """A WhatsApp Flow's answers: each answered field and its value (the JSON is on the message)."""
        name = flow.get('name') or ''
        title = _('Form "%(name)s" answered', name=name) if name and name != 'flow' else _('Form answered')
        rows = Markup().join(Markup('<li><b>%s</b>: %s</li>') % (field, value) for field, value in flow.get('fields') or [])
        return Markup('<p>📋 <b>%s</b></p>') % title + (Markup('<ul>%s</ul>') % rows if rows else Markup())

    def action_create_shared_contacts(self):
        """Contacts for the cards the customer shared (name, first number, e-mail); a card whose
        number already is a contact's opens that contact instead. Opens the contacts."""
        self.ensure_one()
        Partner = self.env['res.partner']
        country = self.partner_id.country_id or self.provider_id.company_id.country_id
        partners = Partner
        for card in (self.content or {}).get('contacts') or []:
            numbers = [to_e164(phone.get('phone') or '+' + (phone.get('wa_id') or ''), country.code)
                       for phone in card.get('phones') or []]
            numbers = [number for number in numbers if number]
            existing = Partner._comm_find_by_numbers(numbers, self.company_id)
            if existing:
                partners |= next(iter(existing.values()))
                continue
            partners |= Partner.create({
                'name': card.get('name') or (numbers[0] if numbers else _('Shared contact')),
                'mobile': numbers[0] if numbers else False, 'phone': numbers[1] if len(numbers) > 1 else False,
                'email': (card.get('emails') or [False])[0], 'country_id': country.id or False})
        return {'type': 'ir.actions.act_window', 'res_model': 'res.partner', 'name': _('Shared contacts'),
                'view_mode': 'list,form', 'domain': [('id', 'in', partners.ids)]}

    # ------------------------------------------------------------------------------------------
    # Statuses that move nothing
    # ------------------------------------------------------------------------------------------

    @api.model
    def _receive_status(self, provider, status):
        """Statuses outside the ladder (Meta's ``deleted``, ``warning``): noted on the message's
        document, never retried for a message we do not know."""
        if status.status:
            return super()._receive_status(provider, status)
        message = self.sudo().search([('provider_id', '=', provider.id),
                                      ('provider_message_id', '=', status.provider_id)], limit=1)
        record = message._comm_document() if message else None
        if record:
            channels = dict(self._fields['channel']._description_selection(self.env))
            record._message_log(body=_('%(channel)s message from %(number)s: the provider reports "%(status)s".',
                                       channel=channels[message.channel],
                                       number=message.from_number or message.to_number,
                                       status=status.provider_status))
        else:
            _logger.info('comm.provider %s: status %r for message %s noted only', provider.id,
                         status.provider_status, status.provider_id)
        return message
