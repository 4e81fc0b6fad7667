"""Plivo: SMS, MMS and WhatsApp through the Message API, click-to-call through the Call API.

REST calls go through the official SDK (``plivo``) with a small client subclass that pins the
base URL per instance and sends on our session with our timeout; signatures are checked with the
SDK's V3 / V2 helpers. Facts and field names: PROTOCOLS.md section 2.
"""
import functools
import hashlib
import json
from datetime import timedelta
import re
import threading

import plivo
import requests
from plivo import exceptions as plivo_errors
from plivo import plivoxml
from plivo.utils.signature_v3 import validate_v3_signature
from plivo.utils.template import Template as PlivoTemplate

from . import register
from .base import (CALL_CONTROL_PURPOSES, CALL_PURPOSES, AccountInfo, CallEvent, CallResult, InboundMessage,
                   ListedMessage, Media, ProviderAdapter, ProviderError, SendResult, digits, error_from_http,
                   interactive_reply, parse_retry_after, parse_timestamp, provider_number, sender_number,
                   short_key, status_update)

SIGNATURE_V3_HEADER = 'X-Plivo-Signature-V3'
SIGNATURE_V3_HEADERS = (SIGNATURE_V3_HEADER, 'X-Plivo-Signature-Ma-V3')   # account, then main account
MEDIA_FIELD = re.compile(r'Media(\d+)')     # Media1, Media2… (Media0 seen too)

# Plivo message status -> normalized state (PROTOCOLS 2.4, 5.1).
# List all messages: its largest page; and how far Plivo's clock may be behind ours.
LIST_PAGE = 20
CLOCK_SKEW = timedelta(minutes=1)

PLIVO_MESSAGE_STATES = {
    'queued': 'queued',
    'sent': 'sent',
    'delivered': 'delivered',
    'read': 'read',
    'failed': 'failed',
    'undelivered': 'undelivered',
    'rejected': 'undelivered',
    'received': 'received',
}

# Plivo CallStatus -> normalized call state (PROTOCOLS 2.7).
PLIVO_CALL_STATES = {
    'ringing': 'ringing',
    'in-progress': 'in_progress',
    'completed': 'completed',
    'busy': 'busy',
    'failed': 'failed',
    'timeout': 'no_answer',
    'no-answer': 'no_answer',
    'cancel': 'canceled',
}

# Plivo message ErrorCode -> (sms.sms failure type, retryable) (PROTOCOLS 2.8, 5.1).
PLIVO_ERRORS = {
    '10': ('unknown', False),                       # invalid message
    '20': ('sms_server', True),                     # network error
    '30': ('unknown', False),                       # spam detected
    '40': ('sms_registration_needed', False),       # invalid source number
    '50': ('sms_number_format', False),             # invalid destination number
    '60': ('unknown', False),                       # loop detected
    '70': ('unknown', False),                       # destination permanently unavailable
    '80': ('unknown', True),                        # destination temporarily unavailable
    '90': ('unknown', False),                       # missing route
    '100': ('unknown', False),                      # prohibited by carrier
    '110': ('unknown', False),                      # message too long
    '200': ('sms_optout', False),                   # recipient opted out
    '201': ('sms_country_not_supported', False),    # US toll-free to Canada blocked
    '300': ('sms_server', True),                    # failed to dispatch
    '420': ('unknown', True),                       # message expired
    '450': ('sms_country_not_supported', False),    # destination country disabled
    '900': ('sms_credit', False),                   # insufficient credit
    '910': ('sms_acc', False),                      # account disabled
    '1000': ('unknown', False),                     # unknown error
}

# SDK exceptions whose meaning is finer than their HTTP status (the rest map by status).
PLIVO_EXCEPTION_FAILURES = {
    plivo_errors.GeoPermissionError: 'sms_country_not_supported',
}

# MessageIntent -> InboundMessage.optout
PLIVO_OPTOUT = {'optout': 'stop', 'optin': 'start', 'help': 'help'}


def _snake(name):
    """'ButtonReply' / 'MessageUUID' / 'button_reply' -> 'button_reply' / 'message_uuid' / 'button_reply'."""
    return re.sub(r'([a-z0-9])([A-Z])', r'\1_\2', str(name)).lower()


def _json_field(params, name):
    """A WhatsApp detail Plivo posts as a JSON object in form field ``name``, its keys in Meta's
    snake_case (``{'ButtonReply': {'Id': …}}`` -> ``{'button_reply': {'id': …}}``); {} when absent
    or not an object."""
    try:
        value = json.loads(params.get(name) or '{}')
    except ValueError:
        return {}

    def snake_keys(item):
        if isinstance(item, dict):
            return {_snake(key): snake_keys(val) for key, val in item.items()}
        return [snake_keys(val) for val in item] if isinstance(item, list) else item
    return snake_keys(value) if isinstance(value, dict) else {}


class _PlivoClient(plivo.RestClient):
    """``plivo.RestClient`` pinned to one API root and sending on a given session.

    The SDK re-assigns ``base_uri`` from module constants before every request (and switches to
    its voice fallback hosts on 5xx), so ``base_uri`` is a read-only property here; requests are
    still prepared by the SDK's own sessions (auth, JSON headers) but sent on ``transport``.
    """

    base_uri = property(lambda self: self._api_root, lambda self, _value: None)
    # per thread: one client serves every send of the dispatch pool at once
    last_response = property(lambda self: getattr(self._last, 'response', None),
                             lambda self, value: setattr(self._last, 'response', value))

    def __init__(self, auth_id, auth_token, *, api_root, transport, timeout):
        self._api_root = api_root
        self._transport = transport
        self._last = threading.local()
        super().__init__(auth_id, auth_token, timeout=timeout)

    def request(self, method, path=None, data=None, response_type=None, objects_type=None, files=None,
                **kwargs):
        # the voice path retries 5xx twice on "fallback" hosts and print()s: our queue retries
        kwargs.pop('is_voice_request', None)
        return super().request(method, path, data, response_type, objects_type, files, **kwargs)

    def send_request(self, request, **kwargs):
        kwargs.pop('session', None)
        self.last_response = self._transport.send(request, proxies=self.proxies, timeout=self.timeout,
                                                  **kwargs)
        return self.last_response


@register
class PlivoAdapter(ProviderAdapter):
    code = 'plivo'
    name = 'Plivo'
    max_sms_chars = 1600
    default_base_url = 'https://api.plivo.com'
    credential_hosts = ('api.plivo.com', 'media.plivo.com')
    channels = ('sms', 'mms', 'whatsapp', 'voice')

    # -- SDK ------------------------------------------------------------------------------------

    @functools.cached_property
    def client(self):
        """The SDK client, on our session, timeout and base URL."""
        auth_id, auth_token = self.credentials.get('auth_id'), self.credentials.get('auth_token')
        if not (auth_id and auth_token):
            # the SDK would fall back to PLIVO_AUTH_ID / PLIVO_AUTH_TOKEN from the environment
            raise ProviderError('Plivo needs an Auth ID and an Auth Token.', code='credentials',
                                failure_type='sms_acc')
        try:
            return _PlivoClient(auth_id, auth_token, api_root=f'{self.base_url}/v1/Account',
                                transport=self.session, timeout=self.timeout)
        except plivo_errors.AuthenticationError:
            raise ProviderError('The Plivo Auth ID is malformed (expected MA… or SA… and 18 more '
                                'characters).', code='credentials', failure_type='sms_acc') from None

    def _call(self, operation, *args, **kwargs):
        """Run one SDK operation; every failure becomes a :class:`ProviderError`."""
        client = self.client
        client.last_response = None
        try:
            return operation(*args, **kwargs)
        except (plivo_errors.PlivoRestError, requests.Timeout, requests.ConnectionError) as exc:
            raise self._error(exc, client.last_response) from exc

    def _error(self, exc, response):
        """Map an SDK exception; ``response`` is the HTTP answer behind it, None when the SDK
        refused the call before sending (argument validation)."""
        transport = self._transport_error(self.name, exc)
        if transport:
            return transport
        if response is None:
            return ProviderError(f'Plivo refused the request: {exc}', code=type(exc).__name__)
        # 429 / 502 / 503 come as a bare PlivoRestError naming the status only in its text: the
        # response we sent through our transport has it, and the Retry-After header too
        status = response.status_code
        return error_from_http(status, f'Plivo error (HTTP {status}): {exc}',
                               retry_after=parse_retry_after(response.headers.get('Retry-After')),
                               failure_type=PLIVO_EXCEPTION_FAILURES.get(type(exc)))

    # -- outbound -------------------------------------------------------------------------------

    def send_message(self, outbound):
        whatsapp = outbound.channel == 'whatsapp'
        sender = outbound.sender or self.options.get('whatsapp_from' if whatsapp else 'sms_from')
        if not sender:
            raise ProviderError('No Plivo sender: set a sender number.', code='no_sender')
        params = {'src': digits(sender), 'dst': digits(outbound.to), 'type_': self._message_type(outbound)}
        if outbound.body:
            params['text'] = outbound.body
        if outbound.media:
            params['media_urls'] = [media.url for media in outbound.media]
        if outbound.template:
            params['template'] = self._template(outbound.template)
        if outbound.status_callback:
            params.update(url=outbound.status_callback, method='POST')
        response = self._call(self.client.messages.create, **params)
        uuids = list(getattr(response, 'message_uuid', None) or ())
        if not uuids:
            raise ProviderError('Plivo answered without a message id.', code='no_message_uuid')
        return SendResult(provider_id=uuids[0], status='queued', extra_ids=tuple(uuids[1:]),
                          raw={'api_id': getattr(response, 'api_id', ''),
                               'message': getattr(response, 'message', '')})

    @staticmethod
    def _message_type(outbound):
        if outbound.channel == 'whatsapp':
            return 'whatsapp'
        return 'mms' if outbound.media or outbound.channel == 'mms' else 'sms'

    @staticmethod
    def _template(template):
        """Plivo's WhatsApp template: name, language and Meta-style components (text parameters,
        or ``variables`` as the body's parameters in key order)."""
        if not template.name:
            raise ProviderError('Plivo sends WhatsApp templates by name; this template has none.',
                                code='unsupported')
        components = template.components
        if not components and template.variables:
            ordered = sorted(template.variables.items(), key=lambda item: (len(item[0]), item[0]))
            components = [{'type': 'body',
                           'parameters': [{'type': 'text', 'text': str(value)} for _key, value in ordered]}]
        try:
            return PlivoTemplate(name=template.name, language=template.language, components=components)
        except plivo_errors.ValidationError as exc:
            raise ProviderError(f'This WhatsApp template cannot be sent through Plivo: {exc}',
                                code='unsupported') from None

    def start_call(self, call):
        """Ring the agent; Plivo then asks ``call.answer_url`` for the XML that dials the customer
        (see :meth:`dial_response`). The id returned is the ``request_uuid``; call events carry it
        as ``ALegRequestUUID`` (:attr:`CallEvent.parent_id`)."""
        sender = call.sender or self.options.get('voice_from') or self.options.get('sms_from')
        if not sender:
            raise ProviderError('No Plivo caller id: set a caller id number.', code='no_sender')
        if not call.answer_url:
            raise ProviderError('Plivo needs an answer URL to bridge the call.', code='no_answer_url')
        params = {'from_': digits(sender), 'to_': digits(call.agent), 'answer_url': call.answer_url,
                  'answer_method': 'POST', 'ring_timeout': int(call.timeout)}
        if call.status_callback:
            params.update(hangup_url=call.status_callback, hangup_method='POST',
                          ring_url=call.status_callback, ring_method='POST')
        response = self._call(self.client.calls.create, **params)
        request_uuid = getattr(response, 'request_uuid', None)
        if not request_uuid:
            raise ProviderError('Plivo answered without a request id.', code='no_request_uuid')
        return CallResult(provider_id=request_uuid, status='initiated',
                          raw={'message': getattr(response, 'message', '')})

    def dial_response(self, to, caller_id, timeout=None):
        """``(Plivo XML, content type)`` for the answer URL: bridge the answered call to ``to``."""
        return self.answer_call(to, caller_id, timeout=timeout)

    def answer_call(self, forward_to='', caller_id='', message='', timeout=30, action_url=''):
        # with an action URL, Plivo asks it what next once <Dial> ends (redirect, the default)
        response = plivoxml.ResponseElement()
        if forward_to:
            dial = plivoxml.DialElement(caller_id=digits(caller_id) or None, timeout=timeout,
                                        action=action_url or None, method='POST' if action_url else None)
            response.add(dial.add(plivoxml.NumberElement(digits(forward_to))))
        if message:
            response.add(plivoxml.SpeakElement(message))
        response.add(plivoxml.HangupElement())
        return response.to_string(), 'application/xml'

    status_lookup = True
    message_list = True

    def fetch_status(self, provider_id):
        message = self._call(self.client.messages.get, str(provider_id))
        return status_update(PLIVO_MESSAGE_STATES, PLIVO_ERRORS, provider_id,
                             getattr(message, 'message_state', None), getattr(message, 'error_code', None),
                             recipient=provider_number(getattr(message, 'to_number', '')))

    def find_sent(self, outbound, since, exclude=()):
        """Look the interrupted send up in the account's message records (List all messages).

        Plivo keeps no text in its records and takes no client reference, so the send is known by
        what they hold: outbound, to the same number, of the same type, initiated since the attempt
        (``message_time`` is when Plivo accepted it, so a message still queued is listed), and not
        already the id of another of our messages (``exclude``). One such record: its result.
        None: ``False`` — Plivo lists a message from the moment it accepts it, and reconciliation
        asks minutes after the attempt. Several, or more than a page: ``None`` (which one is ours
        cannot be told).
        """
        to_number = digits(outbound.to)
        page = self._call(self.client.messages.list, message_direction='outbound', to_number=to_number,
                          message_type=self._message_type(outbound), limit=LIST_PAGE,
                          message_time__gte=(since - CLOCK_SKEW).strftime('%Y-%m-%d %H:%M:%S'))
        if getattr(getattr(page, 'meta', None), 'next', None):
            return None
        candidates = [record for record in page
                      if getattr(record, 'message_uuid', None) not in exclude
                      and getattr(record, 'message_direction', 'outbound') == 'outbound'
                      and digits(getattr(record, 'to_number', to_number)) == to_number]
        if len(candidates) != 1:
            return None if candidates else False
        [record] = candidates
        return SendResult(provider_id=record.message_uuid,
                          status=PLIVO_MESSAGE_STATES.get(getattr(record, 'message_state', ''), 'queued'),
                          raw={'message_time': getattr(record, 'message_time', '')})

    def list_messages(self, since, until, limit=1000):
        """List all messages (``GET …/Message/``) by ``message_time``, page after page
        (:data:`LIST_PAGE` each). Plivo keeps no text: the bodies are empty."""
        listed, offset = [], 0
        while True:
            page = self._call(self.client.messages.list, limit=LIST_PAGE, offset=offset,
                              message_time__gte=since.strftime('%Y-%m-%d %H:%M:%S'),
                              message_time__lte=until.strftime('%Y-%m-%d %H:%M:%S'))
            records = list(page)
            listed += [self._listed(record) for record in records]
            more = bool(getattr(getattr(page, 'meta', None), 'next', None)) and records
            if not more or len(listed) >= limit:
                return listed[:limit], not more and len(listed) <= limit
            offset += len(records)

    @staticmethod
    def _listed(record):
        inbound = getattr(record, 'message_direction', '') == 'inbound'
        state = getattr(record, 'message_state', '') or ''
        kind = getattr(record, 'message_type', 'sms') or 'sms'
        sender, recipient = getattr(record, 'from_number', ''), getattr(record, 'to_number', '')
        return ListedMessage(
            provider_id=record.message_uuid, direction='in' if inbound else 'out',
            status='received' if inbound else PLIVO_MESSAGE_STATES.get(state, 'queued'), provider_status=state,
            sender=provider_number(sender), recipient=provider_number(recipient),
            channel=kind if kind in ('mms', 'whatsapp') else 'sms',
            timestamp=parse_timestamp(getattr(record, 'message_time', None)),
            error_code=str(getattr(record, 'error_code', '') or ''))

    def check_credentials(self):
        account = self._call(self.client.account.get)
        return AccountInfo(name=getattr(account, 'name', '') or self.credentials['auth_id'],
                           raw={'account_type': getattr(account, 'account_type', ''),
                                'cash_credits': getattr(account, 'cash_credits', '')})

    def _media_auth(self):
        return self.credentials.get('auth_id'), self.credentials.get('auth_token')

    # -- webhooks -------------------------------------------------------------------------------

    def verify_webhook(self, request):
        """V3 signatures only (``X-Plivo-Signature-V3`` / ``-Ma-V3``): they cover the URL, the body
        parameters and the nonce. V2 covers the URL and nonce only, so one captured request would
        let anyone post any parameters: a V2-only request is refused."""
        token = self.credentials.get('auth_token')
        signature, nonce = self._v3_signature(request)
        if not (token and nonce and signature):
            return False
        try:
            return validate_v3_signature(request.method.upper(), request.url, nonce, token,
                                         signature, params=self._form_params(request))
        except (plivo_errors.PlivoRestError, ValueError, TypeError):
            return False

    @staticmethod
    def _v3_signature(request):
        """``(signature, nonce)`` of the account's V3 header, else of the main account's (-Ma-V3)."""
        for header in SIGNATURE_V3_HEADERS:
            if request.header(header):
                return request.header(header), request.header(f'{header}-Nonce')
        return '', ''

    def replay_guard(self, request):
        """The V3 nonce: Plivo retries a delivery with the same nonce and parameters (a duplicate);
        the same nonce with other parameters is a forgery."""
        _signature, nonce = self._v3_signature(request)
        if not nonce:
            return None
        signed = repr((request.method.upper(), request.url, sorted(request.form)))
        return f'plivo:{nonce}', hashlib.sha256(signed.encode()).hexdigest(), True

    @staticmethod
    def _form_params(request):
        """Body fields as the V3 helper wants them: one value, or a list for repeated names."""
        values = {}
        for key, value in request.form:
            values.setdefault(key, []).append(value)
        return {key: vals[0] if len(vals) == 1 else vals for key, vals in values.items()}

    def parse_webhook(self, request, purpose):
        params = request.params()
        if purpose == 'inbound':
            return [self._parse_inbound(params)]
        if purpose == 'status':
            if not (params.get('MessageUUID') and params.get('Status')):
                raise ValueError('Plivo status callback without MessageUUID / Status')
            return [status_update(PLIVO_MESSAGE_STATES, PLIVO_ERRORS, params['MessageUUID'], params['Status'],
                                  params.get('ErrorCode'), recipient=provider_number(params.get('To')),
                                  raw=params)]
        if purpose in CALL_PURPOSES:
            return [self._parse_call(params, purpose)]
        raise ValueError(f'unknown Plivo webhook purpose {purpose!r}')

    def event_key(self, request, purpose):
        key = super().event_key(request, purpose)
        if purpose == 'status':     # Plivo numbers its callbacks for one message
            key = short_key(key, request.params().get('Sequence'))
        return key

    def _parse_inbound(self, params):
        uuid, sender = params.get('MessageUUID'), params.get('From')
        if not (uuid and sender):
            raise ValueError('Plivo inbound message without MessageUUID / From')
        numbered = sorted((int(match[1]), value) for key, value in params.items()
                          if (match := MEDIA_FIELD.fullmatch(key)) and value)
        media = [Media(url=url, content_type=params.get(f'MediaContentType{index}') or '')
                 for index, url in numbered]
        if len(media) == 1 and not media[0].content_type and params.get('MimeType'):
            media = [Media(url=media[0].url, content_type=params['MimeType'])]     # WhatsApp media
        channel = (params.get('Type') or 'sms').lower()
        body = params.get('Text') or params.get('Body') or ''
        message_type, content, reply_to = (params.get('ContentType') or ('media' if media else 'text')).lower(), {}, ''
        if channel == 'whatsapp':
            message_type, body, content, reply_to = self._whatsapp_content(params, message_type, body)
        return InboundMessage(
            provider_id=uuid, sender=sender_number(sender, params.get('To')),
            recipient=provider_number(params.get('To')), body=body,
            channel=channel if channel in ('mms', 'whatsapp') else 'sms', message_type=message_type,
            media=media, optout=PLIVO_OPTOUT.get((params.get('MessageIntent') or '').lower(), ''),
            reply_to=reply_to, content=content, raw=params)

    @staticmethod
    def _whatsapp_content(params, message_type, body):
        """``(message type, text, structured content, id of the message answered)`` of a WhatsApp
        message, in the content the Meta adapter produces (see ``InboundMessage.content``).

        What Plivo documents ("Handling incoming SMS/MMS/WhatsApp",
        https://plivo.com/docs/messaging/api/message/handling-incoming, PROTOCOLS 2.3): ``Type=whatsapp``,
        ``ContentType`` one of ``text``, ``media``, ``button``, ``unknown``; ``Body`` any text of the
        message (for ``button``: the text of the button the customer tapped); ``MimeType`` the type of
        a media; ``ErrorCode`` why an inbound failed. The page names no field for a button's payload,
        the message answered, a list reply or a location: such messages come as ``button`` (its text)
        or ``unknown`` and are shown so, never as nothing.

        Tolerated, not documented (read only when present, never required): JSON objects in form
        fields ``Button {Text, Payload}``, ``Interactive {Type, ButtonReply|ListReply|NfmReply}``,
        ``Location {Latitude, Longitude, Name, Address}``, ``Context {MessageUUID}`` with Meta's
        content in CamelCase keys, in case Plivo forwards Meta's details.
        """
        button, interactive = _json_field(params, 'Button'), _json_field(params, 'Interactive')
        location, context = _json_field(params, 'Location'), _json_field(params, 'Context')
        reply_to = next((str(context[key]) for key in ('message_uuid', 'message_id', 'id') if context.get(key)), '')
        if message_type == 'button' or button:
            # a template's quick-reply button: the text the customer chose (Body), its payload if told
            text = button.get('text') or body
            return 'button', text, {'reply': {'title': text, 'payload': button.get('payload') or ''}}, reply_to
        if interactive.get('type'):
            text, content = interactive_reply({**interactive, 'type': _snake(interactive['type'])})
            return 'interactive', text or body, content, reply_to
        if location.get('latitude') not in (None, ''):
            place = {key: location[key] for key in ('latitude', 'longitude', 'name', 'address', 'url')
                     if location.get(key) not in (None, '')}
            return 'location', '' if body in (place.get('name'), place.get('address')) else body, \
                {'location': place}, reply_to
        if message_type in ('text', 'media'):
            return message_type, body, {}, reply_to
        reason = f'Plivo error code {params["ErrorCode"]}' if params.get('ErrorCode') else ''
        return message_type, body, {'unsupported': {'type': message_type, 'reason': reason}}, reply_to

    def _parse_call(self, params, purpose):
        # RequestUUID: what start_call returned; answer/hangup requests name it ALegRequestUUID
        request_uuid = params.get('ALegRequestUUID') or params.get('RequestUUID', '')
        call_uuid = params.get('CallUUID') or request_uuid
        # a <Dial action> request: the call is still up, DialStatus says how the bridge ended. A bridge
        # nobody took ends the call; an answered one ends with the hangup callback (and its Duration).
        dial_status = params.get('DialStatus') if params.get('DialStatus') != 'completed' else ''
        status = dial_status or params.get('CallStatus') or ('ringing' if purpose in CALL_CONTROL_PURPOSES else '')
        if not call_uuid or status not in PLIVO_CALL_STATES:
            raise ValueError(f'Plivo call event without CallUUID or with unknown CallStatus {status!r}')
        return CallEvent(
            provider_id=call_uuid, status=PLIVO_CALL_STATES[status], provider_status=status,
            sender=provider_number(params.get('From')), recipient=provider_number(params.get('To')),
            direction=params.get('Direction') or ('inbound' if purpose in CALL_CONTROL_PURPOSES else ''),
            duration=int(params['Duration']) if params.get('Duration') else None,
            hangup_cause=params.get('DialHangupCause') or params.get('HangupCause', ''),
            recording_url=params.get('RecordUrl', ''), parent_id=request_uuid, raw=params)
