"""Meta WhatsApp Cloud API adapter (Graph API, no SDK: the base ``_request`` wrapper).

Errors are classified by Meta's ``error.code`` (:data:`META_ERRORS`), never by HTTP status or
text. Webhooks are signed with ``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body with the app
secret); one POST may carry several messages and statuses. There is no API to look a message's
status up: statuses only come from webhooks.
"""
import dataclasses
import hashlib
import hmac
import logging
import mimetypes

from . import register
from .base import (
    AccountInfo, InboundMessage, Media, ProviderAdapter, ProviderError, SendResult, StatusUpdate,
    TemplateInfo, TemplateUpdate, Unparsed, digits, error_from_http, hmac_equal, interactive_reply,
    order_content, parse_retry_after, parse_timestamp, to_e164,
)

_logger = logging.getLogger(__name__)

DEFAULT_API_VERSION = 'v21.0'
SIGNATURE_HEADER = 'X-Hub-Signature-256'
SIGNATURE_PREFIX = 'sha256='
CALLBACK_DATA_MAX = 512        # biz_opaque_callback_data

# Meta error code -> (sms.sms failure_type, retryable). Codes 200-299 are permissions (config).
META_ERRORS = {
    0: ('sms_acc', False), 190: ('sms_acc', False),                 # auth failed / token expired
    3: ('sms_acc', False), 10: ('sms_acc', False),                  # missing capability / permission
    4: ('sms_server', True), 80007: ('sms_server', True),           # app / WABA rate limit
    130429: ('sms_server', True),                                   # throughput exceeded
    131048: ('sms_server', True),                                   # spam rate limit: much later
    131056: ('sms_server', True),                                   # pair rate limit
    131057: ('sms_server', True),                                   # account maintenance
    1: ('sms_server', True), 2: ('sms_server', True),               # unknown / service
    131000: ('sms_server', True), 131016: ('sms_server', True),     # something went wrong / unavailable
    100: ('unknown', False), 131008: ('unknown', False), 131009: ('unknown', False),  # bad parameter
    131021: ('unknown', False),                                     # recipient = sender
    131026: ('sms_number_format', False),                           # undeliverable (no WhatsApp…)
    131030: ('sms_acc', False),                                     # not in the test allowed list
    131031: ('sms_acc', False),                                     # account locked
    131042: ('sms_credit', False),                                  # payment problem
    131047: ('unknown', False),                                     # 24 h window over: send a template
    131049: ('unknown', False),                                     # not delivered (per-user cap)
    131050: ('sms_optout', False),                                  # user stopped marketing messages
    131051: ('unknown', False),                                     # unsupported message type
    131052: ('unknown', True), 131053: ('unknown', True),           # media download / upload: retry once
    132000: ('unknown', False), 132001: ('unknown', False), 132005: ('unknown', False),
    132007: ('unknown', False), 132012: ('unknown', False),         # template parameters
    132015: ('unknown', False), 132016: ('unknown', False),         # template paused / disabled
    133010: ('sms_acc', False),                                     # number not registered
    368: ('sms_acc', False),                                        # blocked for policy violations
}
# Limits that concern one recipient only: retry that message later, keep sending to the others.
PER_RECIPIENT_CODES = frozenset({131056})
PERMISSION_ERROR = ('sms_acc', False)

# Webhook status -> normalized state. 'played' (a voice message listened to) comes after 'read';
# 'deleted' (the customer deleted a message) and 'warning' (catalog item issues) move nothing
# and are noted; others are parked.
META_STATES = {'sent': 'sent', 'delivered': 'delivered', 'read': 'read', 'played': 'read', 'failed': 'failed',
               'deleted': '', 'warning': ''}

# Template status (PROTOCOLS 4.6) -> normalized template status.
META_TEMPLATE_STATES = {'APPROVED': 'approved', 'PENDING': 'pending', 'IN_APPEAL': 'pending',
                        'REJECTED': 'rejected', 'PAUSED': 'paused', 'LIMIT_EXCEEDED': 'paused',
                        'DISABLED': 'disabled', 'PENDING_DELETION': 'disabled'}
TEMPLATE_FIELDS = 'name,language,status,category,components,rejected_reason'
# message_template_status_update events that set a status beyond the list's statuses; FLAGGED,
# LOCKED, UNLOCKED, UNARCHIVED… set none (the template keeps its status, the event is noted)
META_TEMPLATE_EVENTS = {**META_TEMPLATE_STATES, 'REINSTATED': 'approved', 'ARCHIVED': 'disabled',
                        'DELETED': 'disabled'}
# The webhook fields (changes[].field) about templates, and what they change.
TEMPLATE_WEBHOOK_FIELDS = {'message_template_status_update': 'status', 'template_category_update': 'category',
                           'message_template_quality_update': 'quality'}

# Outbound media kind by MIME major type; anything else is a document.
MEDIA_KINDS = {'image': 'image', 'video': 'video', 'audio': 'audio'}
INBOUND_MEDIA_TYPES = ('image', 'video', 'audio', 'document', 'sticker')


def _error_class(code):
    """``(failure_type, retryable)`` of a Meta error code, None when unknown."""
    try:
        code = int(code)
    except (TypeError, ValueError):
        return None
    return META_ERRORS.get(code) or (PERMISSION_ERROR if 200 <= code < 300 else None)


def _contact(contact):
    """A shared contact card as ``{name, phones: [{phone, wa_id}], emails}``."""
    name = contact.get('name') or {}
    full = name.get('formatted_name') or ' '.join(
        filter(None, (name.get('first_name'), name.get('last_name')))) or ''
    return {'name': full,
            'phones': [{'phone': phone.get('phone') or '', 'wa_id': phone.get('wa_id') or ''}
                       for phone in contact.get('phones') or [] if phone.get('phone') or phone.get('wa_id')],
            'emails': [email['email'] for email in contact.get('emails') or [] if email.get('email')]}


def _error_text(error):
    """A readable line from a Meta ``errors[]`` item."""
    details = (error.get('error_data') or {}).get('details') or ''
    text = error.get('title') or error.get('message') or ''
    return ' — '.join(filter(None, [f'({error["code"]}) {text}' if error.get('code') else text, details]))


@register
class MetaAdapter(ProviderAdapter):
    code = 'meta'
    name = 'Meta WhatsApp'
    default_base_url = 'https://graph.facebook.com'
    # the Graph API gives a lookaside URL fetched with the same Bearer token
    credential_hosts = ('graph.facebook.com', 'lookaside.fbsbx.com')
    channels = ('whatsapp',)

    # -- HTTP -----------------------------------------------------------------------------------

    @property
    def _version(self):
        return self.options.get('api_version') or DEFAULT_API_VERSION

    @property
    def _auth_headers(self):
        return {'Authorization': f'Bearer {self.credentials.get("access_token") or ""}'}

    def _graph(self, method, path, **kwargs):
        """A Graph API call: ``{base}/{version}/{path}`` with the Bearer token; the decoded JSON."""
        response = self._request(method, f'{self._version}/{path}', headers=self._auth_headers, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ProviderError(f'{self.name} answered something that is not JSON.', code='invalid_response',
                                retryable=True, http_status=response.status_code,
                                failure_type='sms_server') from None

    def _error_from_response(self, response):
        try:
            error = response.json()['error']
            code, text = error.get('code'), error.get('message') or ''
            details = (error.get('error_data') or {}).get('details') or ''
        except (ValueError, KeyError, TypeError, AttributeError):
            code, text, details = None, '', ''
        message = f'{self.name} answered HTTP {response.status_code}'
        if code is not None:
            message = f'{self.name} error {code}: {text}' + (f' ({details})' if details else '')
        known = _error_class(code)
        provider_error = error_from_http(
            response.status_code, message[:400], code=code, failure_type=known and known[0],
            retry_after=parse_retry_after(response.headers.get('Retry-After')))
        if known:
            provider_error.retryable = known[1]
        provider_error.per_recipient = code in PER_RECIPIENT_CODES
        return provider_error

    def _phone_number_id(self):
        phone_number_id = self.credentials.get('phone_number_id')
        if not phone_number_id:
            raise ProviderError(f'{self.name} needs the phone number id of the sender.', code='credentials',
                                failure_type='sms_acc')
        return phone_number_id

    # -- outbound -------------------------------------------------------------------------------

    def send_message(self, outbound):
        if outbound.channel != 'whatsapp':
            raise ProviderError(f'{self.name} only sends WhatsApp messages, not {outbound.channel}.',
                                code='unsupported')
        payload = {'messaging_product': 'whatsapp', 'recipient_type': 'individual',
                   'to': digits(outbound.to), **self._content(outbound)}
        if outbound.client_ref and len(outbound.client_ref) <= CALLBACK_DATA_MAX:
            payload['biz_opaque_callback_data'] = outbound.client_ref
        data = self._graph('POST', f'{self._phone_number_id()}/messages', json=payload)
        try:
            provider_id = data['messages'][0]['id']
        except (KeyError, IndexError, TypeError):
            raise ProviderError(f'{self.name} accepted the message but returned no id.',
                                code='invalid_response') from None
        contact = (data.get('contacts') or [{}])[0]
        return SendResult(provider_id=provider_id, recipient_id=contact.get('wa_id') or '', raw=data)

    def _content(self, outbound):
        """The ``type`` and its object: template, one media by link (or id), or text."""
        if outbound.template:
            template = {'name': outbound.template.name, 'language': {'code': outbound.template.language}}
            if outbound.template.components:
                template['components'] = outbound.template.components
            return {'type': 'template', 'template': template}
        if len(outbound.media) > 1:
            raise ProviderError(f'{self.name} sends one media per message.', code='unsupported')
        if outbound.media:
            media = outbound.media[0]
            content_type = media.content_type or mimetypes.guess_type(media.url)[0] or ''
            kind = MEDIA_KINDS.get(content_type.split('/')[0], 'document')
            item = {'id': media.media_id} if media.media_id else {'link': media.url}
            caption = media.caption or outbound.body
            if caption and kind != 'audio':           # audio takes no caption
                item['caption'] = caption
            if kind == 'document' and media.filename:
                item['filename'] = media.filename
            return {'type': kind, kind: item}
        if not outbound.body:
            raise ProviderError('A WhatsApp message needs a body, a media or a template.', code='empty_message')
        return {'type': 'text', 'text': {'body': outbound.body, 'preview_url': False}}

    def find_sent(self, outbound, since, exclude=()):
        """``None``: the Cloud API cannot tell whether an interrupted send reached it.

        It has no list of sent messages and no lookup of a message by wamid or by
        ``biz_opaque_callback_data`` (PROTOCOLS 4.8): a message's state only ever comes by
        webhook. So the message fails with a note, never resent.
        """
        return None

    def check_credentials(self):
        data = self._graph('GET', self._phone_number_id(),
                           params={'fields': 'display_phone_number,verified_name,quality_rating'})
        return AccountInfo(
            name=f'{data.get("verified_name") or self.name} ({data.get("display_phone_number") or "?"})',
            status='active', raw=data)

    # -- templates ------------------------------------------------------------------------------

    def _business_account_id(self):
        waba_id = self.credentials.get('business_account_id')
        if not waba_id:
            raise ProviderError(f'{self.name} needs the WhatsApp Business Account ID for templates.',
                                code='credentials', failure_type='sms_acc')
        return waba_id

    def list_templates(self):
        """Every template of the business account, following the ``after`` cursor."""
        path = f'{self._business_account_id()}/message_templates'
        params = {'fields': TEMPLATE_FIELDS, 'limit': 100}
        templates = []
        while True:
            data = self._graph('GET', path, params=params)
            templates += [TemplateInfo(
                provider_ref=str(item.get('id') or ''), name=item['name'], language=item.get('language') or '',
                status=META_TEMPLATE_STATES.get(item.get('status'), 'pending'),
                category=(item.get('category') or '').lower(), components=item.get('components') or [],
                reason=item.get('rejected_reason') if item.get('rejected_reason') not in (None, 'NONE') else '',
                raw=item) for item in data.get('data') or []]
            paging = data.get('paging') or {}
            after = (paging.get('cursors') or {}).get('after')
            if not (after and paging.get('next')):
                return templates
            params = {**params, 'after': after}

    def submit_template(self, template):
        data = self._graph('POST', f'{self._business_account_id()}/message_templates', json={
            'name': template.name, 'language': template.language, 'category': template.category.upper(),
            'components': template.components})
        return dataclasses.replace(template, provider_ref=str(data.get('id') or ''),
                                   status=META_TEMPLATE_STATES.get(data.get('status'), 'pending'), raw=data)

    def download_media(self, media):
        """Two steps: the media id gives a short-lived URL, fetched with the same Bearer token."""
        url = self._graph('GET', media.media_id).get('url') if media.media_id else media.url
        if not url:
            raise ProviderError(f'{self.name} gave no URL for media {media.media_id}.', code='invalid_response')
        return self._fetch_media(url, media, headers=self._auth_headers)

    # -- webhooks -------------------------------------------------------------------------------

    def verify_handshake(self, params):
        """The subscription handshake (GET): ``hub.challenge`` when the verify token matches, else None."""
        if params.get('hub.mode') != 'subscribe' or params.get('hub.challenge') is None:
            return None
        if not hmac_equal(self.credentials.get('verify_token'), params.get('hub.verify_token')):
            return None
        return params['hub.challenge']

    def verify_webhook(self, request):
        secret = self.credentials.get('app_secret') or ''
        header = request.header(SIGNATURE_HEADER)
        if not secret or not header.startswith(SIGNATURE_PREFIX):
            return False
        expected = hmac.new(secret.encode(), request.body or b'', hashlib.sha256).hexdigest()
        return hmac_equal(expected, header[len(SIGNATURE_PREFIX):].lower())

    def parse_webhook(self, request, purpose):
        data = request.json()
        events = []
        try:
            for entry in data['entry']:
                for change in entry.get('changes') or []:
                    if change.get('field') == 'messages':
                        events += self._parse_value(change['value'])
                    elif change.get('field') in TEMPLATE_WEBHOOK_FIELDS:
                        events.append(self._template_update(change['field'], change['value'], entry.get('time')))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f'malformed {self.name} webhook: {type(exc).__name__} {exc}') from None
        return events

    @staticmethod
    def _template_update(field, value, time):
        """One template webhook (``message_template_status_update``, ``template_category_update``,
        ``message_template_quality_update``) as a :class:`TemplateUpdate`."""
        change = TEMPLATE_WEBHOOK_FIELDS[field]
        update = TemplateUpdate(
            provider_ref=str(value['message_template_id']), change=change,
            name=value.get('message_template_name') or '', language=value.get('message_template_language') or '',
            timestamp=float(time) if time else None, raw=value)
        if change == 'status':
            update.event = value['event']
            update.status = META_TEMPLATE_EVENTS.get(update.event, '')
            details = [value.get('reason') if value.get('reason') not in (None, 'NONE') else '']
            for key in ('rejection_info', 'other_info'):
                details += (value.get(key) or {}).values()
            update.reason = ' — '.join(str(detail) for detail in details if detail)
        elif change == 'category':
            # a completed change names previous_category; an announced one correct_category
            update.event = value['new_category']
            if value.get('correct_category'):
                update.reason = f'Meta will recategorize it as {value["correct_category"]}'
            else:
                update.category = update.event.lower()
        else:
            update.event = value['new_quality_score']
            update.quality = update.event.lower()
        return update

    def _parse_value(self, value):
        """Every message and every status of one ``changes[].value``; a part that cannot be read
        (and an ``errors`` array Meta sends instead of events) is an :class:`Unparsed`, so the
        others are processed all the same."""
        names = {}
        for contact in value.get('contacts') or []:
            name = (contact.get('profile') or {}).get('name') or ''
            for key in ('wa_id', 'user_id'):
                if contact.get(key):
                    names[contact[key]] = name
        business = to_e164((value.get('metadata') or {}).get('display_phone_number'))
        events = []
        for message in value.get('messages') or []:
            events.append(self._part(self._inbound, message, names, business))
        for status in value.get('statuses') or []:
            events.append(self._part(self._status, status))
        for error in value.get('errors') or []:
            events.append(Unparsed(f'{self.name} reported an error: {_error_text(error)}', raw=error))
        events = [event for event in events if event]
        for event in events:        # one callback URL serves every number of the app
            event.account_ref = str((value.get('metadata') or {}).get('phone_number_id') or '')
        return events

    def _part(self, parse, item, *args):
        try:
            return parse(item, *args)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            kind = 'message' if parse == self._inbound else 'status'
            ident = item.get('id') if isinstance(item, dict) else None
            return Unparsed(f'{self.name} {kind} {ident or "without id"} not readable: {type(exc).__name__} {exc}',
                            raw=item if isinstance(item, dict) else {'item': item})

    def _inbound(self, message, names, business):
        message_type = message.get('type') or 'unknown'
        content = message.get(message_type)
        content = content if isinstance(content, (dict, list)) else {}
        media = []
        if message_type in INBOUND_MEDIA_TYPES:
            kind = message_type
            if message_type == 'audio' and content.get('voice'):
                kind = 'voice'
            media = [Media(media_id=content['id'], content_type=content.get('mime_type') or '',
                           caption=content.get('caption') or '', filename=content.get('filename') or '',
                           kind=kind)]
        reply_to = (message.get('context') or {}).get('id') or ''
        if message_type == 'reaction':
            reply_to = content.get('message_id') or reply_to
        # business-scoped user ids: a user with a username may come without a phone number
        sender_id = message.get('from') or message.get('from_user_id') or message.get('user_id')
        if not sender_id:
            raise ValueError('no sender (neither from nor from_user_id)')
        body, structured = self._readable(message_type, content, message)
        return InboundMessage(
            provider_id=message['id'], sender=to_e164(message.get('from')) or sender_id, recipient=business,
            body=body, channel='whatsapp', message_type=message_type, media=media,
            profile_name=names.get(sender_id) or names.get(message.get('from_user_id')) or (
                next(iter(names.values()), '') if len(names) == 1 else ''),
            timestamp=parse_timestamp(message.get('timestamp')), reply_to=reply_to, content=structured,
            raw=message)

    @staticmethod
    def _readable(message_type, content, message):
        """``(text, structured content)`` of every type: the text is what the customer wrote or
        chose, exactly; what the chatter renders apart (location, contacts, order…) is in the
        structured content."""
        if message_type == 'text':
            return content['body'], {}
        if message_type in INBOUND_MEDIA_TYPES:
            return content.get('caption') or '', {}
        if message_type == 'location':
            return '', {'location': {key: content.get(key) for key in
                                     ('latitude', 'longitude', 'name', 'address', 'url') if content.get(key)}}
        if message_type == 'contacts':
            return '', {'contacts': [_contact(contact) for contact in content or []]}
        if message_type == 'interactive':       # a button, list or WhatsApp Flow answer
            return interactive_reply(content)
        if message_type == 'button':            # a template's quick-reply button
            return content.get('text') or '', {'reply': {'payload': content.get('payload') or '',
                                                         'title': content.get('text') or ''}}
        if message_type == 'reaction':
            return '', {'reaction': {'emoji': content.get('emoji') or ''}}
        if message_type == 'order':
            return content.get('text') or '', {'order': order_content(content)}
        if message_type == 'system':
            return content.get('body') or '', {}
        reason = '; '.join(_error_text(error) for error in message.get('errors') or [])
        return '', {'unsupported': {'type': message_type, 'reason': reason}}

    def _status(self, status):
        provider_status = status['status']
        state = META_STATES.get(provider_status)
        if state is None:
            return Unparsed(f'{self.name} status {provider_status!r} for message {status.get("id")} is not one we know',
                            raw=status)
        error = (status.get('errors') or [{}])[0]
        failure_type = ''
        if state == 'failed':
            failure_type = (_error_class(error.get('code')) or ('unknown', False))[0]
        details = (error.get('error_data') or {}).get('details') or ''
        recipient = status.get('recipient_id') or status.get('recipient_user_id') or ''
        return StatusUpdate(
            provider_id=status['id'], status=state, provider_status=provider_status,
            error_code=str(error.get('code') or ''),
            error_message=' — '.join(filter(None, [error.get('title') or error.get('message') or '', details])),
            failure_type=failure_type, timestamp=parse_timestamp(status.get('timestamp')),
            recipient=to_e164(recipient) or recipient, client_ref=status.get('biz_opaque_callback_data') or '',
            raw=status)
