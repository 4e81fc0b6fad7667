"""Twilio: SMS, MMS and WhatsApp through the Messages API, click-to-call through the Calls API.

Everything goes through the official SDK (``twilio``): REST calls with our session, timeout and
base URL, webhook signatures with its ``RequestValidator``, TwiML with its builders.
Facts and field names: PROTOCOLS.md section 1.
"""
import asyncio
import contextlib
import contextvars
import functools
import json
import logging
import re
import warnings
from urllib.parse import urlencode

import aiohttp
import requests
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, RequestValidator, get_signature_algorithm
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.datastructures import MultiDict

from . import register
from .base import (CALL_CONTROL_PURPOSES, CALL_PURPOSES, AccountInfo, CallEvent, CallResult, InboundMessage,
                   ListedMessage, Media, ProviderAdapter, ProviderError, SendResult, TemplateInfo,
                   error_from_http, parse_retry_after, provider_number, sender_number, short_key,
                   status_update)

_logger = logging.getLogger(__name__)

SIGNATURE_HEADER = 'X-Twilio-Signature'
MEDIA_FIELD = re.compile(r'MediaUrl(\d+)')
WHATSAPP_PREFIX = 'whatsapp:'
CALL_STATUS_EVENTS = ['initiated', 'ringing', 'answered', 'completed']

# Twilio message status -> normalized state (PROTOCOLS 1.4, 5.1).
TWILIO_MESSAGE_STATES = {
    'accepted': 'queued',
    'scheduled': 'queued',
    'queued': 'queued',
    'sending': 'queued',
    'sent': 'sent',
    'delivered': 'delivered',
    'partially_delivered': 'delivered',
    'read': 'read',
    'failed': 'failed',
    'undelivered': 'undelivered',
    'canceled': 'canceled',
    'receiving': 'received',
    'received': 'received',
}

# Twilio CallStatus -> normalized call state (PROTOCOLS 1.7).
TWILIO_CALL_STATES = {
    'queued': 'initiated',
    'initiated': 'initiated',
    'ringing': 'ringing',
    'in-progress': 'in_progress',
    'answered': 'in_progress',
    'completed': 'completed',
    'busy': 'busy',
    'no-answer': 'no_answer',
    'failed': 'failed',
    'canceled': 'canceled',
}

# Twilio error code -> (sms.sms failure type, retryable) (PROTOCOLS 1.9, 5.1). Codes not listed
# are classified by HTTP status (sync) or as 'unknown' (status callbacks).
TWILIO_ERRORS = {
    '20003': ('sms_acc', False),                    # authentication failed
    '20429': ('sms_server', True),                  # too many requests
    '21211': ('sms_number_format', False),          # invalid 'To'
    '21408': ('sms_country_not_supported', False),  # region not enabled
    '21610': ('sms_optout', False),                 # recipient replied STOP
    '21611': ('sms_server', True),                  # sender queue full
    '21614': ('sms_number_format', False),          # 'To' is not a mobile number
    '30001': ('sms_server', True),                  # queue overflow
    '30002': ('sms_acc', False),                    # account suspended
    '30003': ('unknown', True),                     # unreachable handset
    '30004': ('unknown', False),                    # message blocked
    '30005': ('sms_number_format', False),          # unknown handset
    '30006': ('unknown', False),                    # landline or unreachable carrier
    '30007': ('unknown', False),                    # carrier filtering
    '30008': ('unknown', True),                     # unknown error
    '30032': ('sms_registration_needed', False),    # toll-free number not verified
    '30034': ('sms_registration_needed', False),    # 10DLC campaign not registered
    '30036': ('unknown', True),                     # validity period expired
    '63016': ('unknown', False),                    # WhatsApp: outside the 24 h window
    '63018': ('sms_server', True),                  # WhatsApp: rate limit
}

# WhatsApp approval status of a Content template (PROTOCOLS 1.8) -> normalized template status.
TWILIO_TEMPLATE_STATES = {'approved': 'approved', 'pending': 'pending', 'received': 'pending',
                          'rejected': 'rejected', 'paused': 'paused', 'disabled': 'disabled',
                          'unsubmitted': 'draft'}

# OptOutType (Advanced Opt-Out) -> InboundMessage.optout
TWILIO_OPTOUT = {'STOP': 'stop', 'START': 'start', 'HELP': 'help'}


class _DebugLogger(logging.LoggerAdapter):
    """The SDK logs every request's URL and headers at INFO: keep that chatter at DEBUG."""

    def info(self, msg, *args, **kwargs):
        self.debug(msg, *args, **kwargs)


_SDK_LOGGER = _DebugLogger(logging.getLogger(f'{__name__}.sdk'), {})


def _optional_int(value):
    return int(value) if value not in (None, '') else None


EMPTY_TWIML = str(MessagingResponse())
# Retry-After of the last answer (TwilioRestException carries no headers): per thread, and per
# task on the dispatch's event loop
_retry_after = contextvars.ContextVar('twilio_retry_after', default=None)


# the SDK's async client authenticates with aiohttp's BasicAuth, deprecated by aiohttp 3.14: not ours to change
warnings.filterwarnings('ignore', category=DeprecationWarning, message=r".*(BasicAuth is deprecated|The 'auth' parameter)")


class _QuietLog:
    """The SDK formats each request's URL and headers for its logger: only when it logs them."""

    def log_request(self, kwargs):
        if self.logger.isEnabledFor(logging.DEBUG):
            super().log_request(kwargs)

    def log_response(self, status_code, response):
        if self.logger.isEnabledFor(logging.DEBUG):
            super().log_response(status_code, response)


class _HttpClient(_QuietLog, TwilioHttpClient):
    """The SDK's blocking HTTP client (requests)."""


class _AsyncHttpClient(_QuietLog, AsyncTwilioHttpClient):
    """The SDK's non-blocking HTTP client (aiohttp) with the blocking one's timeout (the SDK
    passes none) for the whole call, keeping Retry-After as the blocking one does (per task).
    The form is encoded as aiohttp would (the SDK sends its Content-Type), without the multipart
    writer aiohttp builds for every form."""

    async def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                      allow_redirects=False):
        if isinstance(data, dict):
            data = urlencode(data, doseq=True).encode()
        response = await super().request(method, url, params=params, data=data, headers=headers, auth=auth,
                                         timeout=timeout or self.timeout, allow_redirects=allow_redirects)
        _retry_after.set(parse_retry_after((response.headers or {}).get('Retry-After')))
        return response


@register
class TwilioAdapter(ProviderAdapter):
    code = 'twilio'
    name = 'Twilio'
    max_sms_chars = 1600
    default_base_url = 'https://api.twilio.com'
    credential_hosts = ('api.twilio.com',)
    # MediaUrl answers with a redirect to a short-lived pre-signed URL on Twilio's storage
    media_hosts = ('twiliocdn.com', 'twilio.com', 's3-external-1.amazonaws.com', 's3.amazonaws.com')
    channels = ('sms', 'mms', 'whatsapp', 'voice')
    sends_async = True

    # -- SDK ------------------------------------------------------------------------------------

    @functools.cached_property
    def client(self):
        """The SDK client, on our session, timeout and base URL."""
        # pool_connections=False: no session of its own, it sends on ours (pooled, keep-alive)
        http_client = _HttpClient(pool_connections=False, timeout=self.timeout, logger=_SDK_LOGGER,
                                       request_hooks={'response': [self._remember_retry_after]})
        http_client.session = self.session
        return self._sdk_client(http_client)

    def _sdk_client(self, http_client):
        account_sid = self.credentials.get('account_sid')
        auth_token = self.credentials.get('auth_token')
        if not (account_sid and auth_token):
            # the SDK would fall back to TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN from the environment
            raise ProviderError('Twilio needs an Account SID and an Auth Token.', code='credentials',
                                failure_type='sms_acc')
        client = Client(account_sid, auth_token, http_client=http_client)
        # TWILIO_EDGE / TWILIO_REGION in the environment would rewrite every host, base URL included
        client.edge = client.region = None
        if self.base_url != self.default_base_url:
            client.api.base_url = self.base_url
            client.content.base_url = self.base_url
        return client

    @contextlib.asynccontextmanager
    async def async_client(self):
        """The SDK client on its non-blocking HTTP client (one aiohttp session, made on the running loop)."""
        http_client = _AsyncHttpClient(timeout=self.timeout, logger=_SDK_LOGGER)
        try:
            yield self._sdk_client(http_client)
        finally:
            await http_client.close()

    @staticmethod
    def _remember_retry_after(response, **_kwargs):
        _retry_after.set(parse_retry_after(response.headers.get('Retry-After')))
        return response

    def _call(self, operation, *args, **kwargs):
        """Run one SDK operation; every failure becomes a :class:`ProviderError`."""
        _retry_after.set(None)
        try:
            return operation(*args, **kwargs)
        except (TwilioException, requests.Timeout, requests.ConnectionError) as exc:
            raise self._error(exc) from exc

    def _error(self, exc):
        transport = self._transport_error(self.name, exc)
        if transport:
            return transport
        # TwilioRestException (.msg) or the RFC 9457 TwilioServiceException (.title/.detail)
        status = getattr(exc, 'status', None)
        code = str(getattr(exc, 'code', None) or status or 'error')
        detail = getattr(exc, 'msg', None) or getattr(exc, 'detail', None) or getattr(exc, 'title', None)
        message = f'Twilio error {code}: {detail or "no details"}'
        if code not in TWILIO_ERRORS:
            if not status:
                return ProviderError(message, code=code)
            return error_from_http(status, message, code=code, retry_after=_retry_after.get())
        failure_type, retryable = TWILIO_ERRORS[code]
        return ProviderError(message, code=code, retryable=retryable, http_status=status,
                             retry_after=_retry_after.get() if retryable else None,
                             failure_type=failure_type)

    # -- outbound -------------------------------------------------------------------------------

    def send_message(self, outbound):
        return self._sent(self._call(self.client.messages.create, **self._message_params(outbound)))

    async def send_message_async(self, outbound, client):
        params = self._message_params(outbound)
        _retry_after.set(None)
        try:
            message = await client.messages.create_async(**params)
        except (TwilioException, asyncio.TimeoutError, aiohttp.ClientError) as exc:
            raise self._error(exc) from exc
        return self._sent(message)

    def _message_params(self, outbound):
        whatsapp = outbound.channel == 'whatsapp'
        prefix = WHATSAPP_PREFIX if whatsapp else ''
        params = {'to': prefix + outbound.to}
        sender = outbound.sender or self.options.get('whatsapp_from' if whatsapp else 'sms_from')
        if sender:
            params['from_'] = prefix + sender
        if self.credentials.get('messaging_service_sid'):
            params['messaging_service_sid'] = self.credentials['messaging_service_sid']
        elif not sender:
            raise ProviderError('No Twilio sender: set a sender number or a Messaging Service SID.',
                                code='no_sender')
        if outbound.template:
            if not outbound.template.content_sid:
                raise ProviderError('Twilio sends templates by Content SID (HX…); this template has none.',
                                    code='unsupported')
            params['content_sid'] = outbound.template.content_sid
            if outbound.template.variables:
                params['content_variables'] = json.dumps(outbound.template.variables)
        elif outbound.body:
            params['body'] = outbound.body
        if outbound.media:
            params['media_url'] = [media.url for media in outbound.media]
        if outbound.status_callback:
            params['status_callback'] = outbound.status_callback
        return params

    @staticmethod
    def _sent(message):
        return SendResult(
            provider_id=message.sid, status=TWILIO_MESSAGE_STATES.get(message.status, 'queued'),
            parts=int(message.num_segments or 1),
            raw={'status': message.status, 'num_segments': message.num_segments})

    def start_call(self, call):
        """Ring the agent; when they answer, the inline TwiML dials the customer."""
        sender = call.sender or self.options.get('voice_from') or self.options.get('sms_from')
        if not sender:
            raise ProviderError('No Twilio caller id: set a caller id number.', code='no_sender')
        twiml, _content_type = self.answer_call(call.to, sender, timeout=call.timeout, action_url=call.action_url)
        params = {'to': call.agent, 'from_': sender, 'twiml': twiml, 'timeout': call.timeout}
        if call.status_callback:
            params.update(status_callback=call.status_callback, status_callback_method='POST',
                          status_callback_event=CALL_STATUS_EVENTS)
        created = self._call(self.client.calls.create, **params)
        return CallResult(provider_id=created.sid,
                          status=TWILIO_CALL_STATES.get(created.status, 'initiated'),
                          raw={'status': created.status})

    def dial_response(self, to, caller_id, timeout=None):
        """``(TwiML, content type)`` that bridges the current call to ``to``."""
        return self.answer_call(to, caller_id, timeout=timeout)

    def answer_call(self, forward_to='', caller_id='', message='', timeout=30, action_url=''):
        # with an action URL, Twilio asks it what next once <Dial> ends: the verbs after it never run
        response = VoiceResponse()
        if forward_to:
            response.dial(caller_id=caller_id or None, timeout=timeout, action=action_url or None,
                          method='POST' if action_url else None).number(forward_to)
        if message:
            response.say(message)
        response.hangup()
        return str(response), 'text/xml'

    status_lookup = True
    message_list = True

    def fetch_status(self, provider_id):
        message = self._call(self.client.messages(provider_id).fetch)
        return status_update(TWILIO_MESSAGE_STATES, TWILIO_ERRORS, message.sid, message.status,
                             message.error_code, error_message=message.error_message or '',
                             recipient=provider_number(message.to))

    def find_sent(self, outbound, since, exclude=()):
        """Look the interrupted send up in the account's recent messages to the same number.

        Found (same recipient and body, sent since the attempt): its result. Not found: ``None``
        — a message still queued at Twilio has no send date yet, so absence proves nothing.
        """
        prefix = WHATSAPP_PREFIX if outbound.channel == 'whatsapp' else ''
        recent = self._call(self.client.messages.list, to=prefix + outbound.to,
                            date_sent_after=since, limit=50)
        for message in recent:
            if ((message.body or '') == (outbound.body or '') and message.direction != 'inbound'
                    and message.sid not in exclude):
                return SendResult(provider_id=message.sid,
                                  status=TWILIO_MESSAGE_STATES.get(message.status, 'queued'))
        return None

    def list_messages(self, since, until, limit=1000):
        """``GET …/Messages.json?DateSent>=…&DateSent<=…`` through the SDK, which follows the pages.
        A message still queued at Twilio has no send date yet: it is not listed."""
        listed = self._call(self.client.messages.list, date_sent_after=since, date_sent_before=until,
                            limit=limit + 1)
        return [self._listed(message) for message in listed[:limit]], len(listed) <= limit

    @staticmethod
    def _listed(message):
        inbound = message.direction == 'inbound'
        sender, recipient = message.from_ or '', message.to or ''
        channel = 'whatsapp' if sender.startswith(WHATSAPP_PREFIX) else (
            'mms' if int(message.num_media or 0) else 'sms')
        sent = message.date_sent or message.date_created
        return ListedMessage(
            provider_id=message.sid, direction='in' if inbound else 'out',
            status='received' if inbound else TWILIO_MESSAGE_STATES.get(message.status, 'queued'),
            provider_status=message.status or '', sender=provider_number(sender),
            recipient=provider_number(recipient), channel=channel, body=message.body or '',
            timestamp=sent.timestamp() if sent else None, error_code=str(message.error_code or ''))

    def check_credentials(self):
        account = self._call(self.client.api.account.fetch)
        return AccountInfo(name=account.friendly_name or account.sid, status=account.status or '',
                           raw={'sid': account.sid, 'type': account.type})

    def _media_auth(self):
        return self.credentials.get('account_sid'), self.credentials.get('auth_token')

    def list_templates(self):
        """Content API templates with their WhatsApp approval (``GET /v1/ContentAndApprovals``)."""
        return [self._template_info(item)
                for item in self._call(self.client.content.v1.content_and_approvals.list, page_size=100)]

    @staticmethod
    def _template_info(item):
        approval = item.approval_requests or {}
        approval = approval.get('whatsapp') or approval     # nested per channel or flat (unverified)
        content = next(iter((item.types or {}).values()), None) or {}
        body = content.get('body') or ''
        return TemplateInfo(
            provider_ref=item.sid, name=approval.get('name') or item.friendly_name or item.sid,
            language=item.language or '',
            status=TWILIO_TEMPLATE_STATES.get((approval.get('status') or 'unsubmitted').lower(), 'pending'),
            category=(approval.get('category') or '').lower(),
            components=[{'type': 'BODY', 'text': body}] if body else [],
            reason=approval.get('rejection_reason') or '',
            raw={'sid': item.sid, 'types': list(item.types or {}), 'variables': item.variables or {}})

    # -- webhooks -------------------------------------------------------------------------------

    def verify_webhook(self, request):
        """``X-Twilio-Signature`` with the Auth Token (HMAC-SHA1), or, when the request says it is
        signed with a Webhook Shared Key (``X-Twilio-Webhooks-Signature-Settings``), with the
        account's configured shared key and the algorithm the header names; refused when no
        shared key is configured (never checked against the Auth Token)."""
        signature = request.header(SIGNATURE_HEADER)
        settings = request.header(SIGNATURE_SETTINGS_HEADER)
        if settings:
            key = self.credentials.get('webhook_shared_key')
            if not key:
                _logger.warning('twilio: a webhook signed with a Webhook Shared Key was refused: no shared '
                                'key is configured on the account (Twilio tab, "Webhook shared key")')
                return False
        else:
            key = self.credentials.get('auth_token')
        if not signature or not key:
            return False
        algorithm = get_signature_algorithm(settings)
        try:
            # JSON bodies: the URL carries bodySHA256 and the validator checks the raw body against it
            params = request.body.decode('utf-8') if request.body else MultiDict(request.form)
            return RequestValidator(key).validate(request.url, params, signature, algorithm=algorithm)
        except (ValueError, TypeError):     # undecodable body, unparsable URL, unknown algorithm
            return False

    def parse_webhook(self, request, purpose):
        params = request.params()
        if purpose == 'inbound':
            return [self._parse_inbound(params)]
        if purpose == 'status':
            sid = params.get('MessageSid') or params.get('SmsSid')
            status = params.get('MessageStatus') or params.get('SmsStatus')
            if not (sid and status):
                raise ValueError('Twilio status callback without MessageSid / MessageStatus')
            return [status_update(TWILIO_MESSAGE_STATES, TWILIO_ERRORS, sid, status, params.get('ErrorCode'),
                                  error_message=params.get('ErrorMessage', ''),
                                  recipient=provider_number(params.get('To')), raw=params)]
        if purpose in CALL_PURPOSES:
            return [self._parse_call(params, purpose)]
        raise ValueError(f'unknown Twilio webhook purpose {purpose!r}')

    def event_key(self, request, purpose):
        """The base class's key for messages and statuses, read from the ids alone: on the request
        path, without parsing the numbers of the whole event."""
        params = request.params()
        if purpose == 'inbound' and params.get('From'):
            if sid := params.get('MessageSid') or params.get('SmsMessageSid'):
                return short_key(f'm:{sid}')
        if purpose == 'status':
            sid = params.get('MessageSid') or params.get('SmsSid')
            status = params.get('MessageStatus') or params.get('SmsStatus')
            if sid and status in TWILIO_MESSAGE_STATES:
                return short_key(f's:{sid}:{status}')
        return super().event_key(request, purpose)

    @classmethod
    def webhook_ack(cls, purpose):
        if purpose == 'inbound':
            return EMPTY_TWIML, 'text/xml'     # no automatic reply
        return '', 'text/plain'

    def _parse_inbound(self, params):
        sid = params.get('MessageSid') or params.get('SmsMessageSid')
        sender = params.get('From')
        if not (sid and sender):
            raise ValueError('Twilio inbound message without MessageSid / From')
        # MediaUrl0…: counted from the fields themselves (NumMedia is only a hint)
        numbered = sorted(int(match[1]) for key in params if (match := MEDIA_FIELD.fullmatch(key)))
        media = [Media(url=params[f'MediaUrl{n}'], content_type=params.get(f'MediaContentType{n}', ''))
                 for n in numbered if params.get(f'MediaUrl{n}')]
        if sender.startswith(WHATSAPP_PREFIX):
            channel = 'whatsapp'
        else:
            channel = 'mms' if media else 'sms'
        message_type = (params.get('MessageType') or (
            'location' if params.get('Latitude') else 'media' if media else 'text')).lower()
        body, content = params.get('Body') or '', {}
        if params.get('Latitude'):
            content = {'location': {key: value for key, value in (
                ('latitude', params.get('Latitude')), ('longitude', params.get('Longitude')),
                ('name', params.get('Label')), ('address', params.get('Address'))) if value}}
            body = '' if body in (params.get('Label'), params.get('Address')) else body
        elif params.get('ListId') or params.get('ListTitle'):
            # a twilio/list-picker choice: the item's title (also in Body), and its id
            body = params.get('ListTitle') or body
            content = {'reply': {'id': params.get('ListId', ''), 'title': body}}
        elif params.get('ButtonText') or params.get('ButtonPayload'):
            # a quick-reply button of a template (MessageType=button) or of a session message
            # (MessageType=interactive, twilio/quick-reply): the text chosen, and its payload —
            # for a session message the button's id
            body = params.get('ButtonText') or body
            content = {'reply': {'title': body, 'payload': params.get('ButtonPayload', '')}}
            if message_type == 'interactive':
                content['reply']['id'] = params.get('ButtonPayload', '')
        return InboundMessage(
            provider_id=sid, sender=sender_number(sender, params.get('To')),
            recipient=provider_number(params.get('To')), body=body, channel=channel,
            message_type=message_type, media=media, profile_name=params.get('ProfileName', ''),
            reply_to=params.get('OriginalRepliedMessageSid', ''), content=content,
            optout=TWILIO_OPTOUT.get(params.get('OptOutType', '').upper(), ''), raw=params)

    def _parse_call(self, params, purpose):
        sid = params.get('CallSid')
        # a <Dial action> request: the call is still up, DialCallStatus says how the bridge ended. A
        # bridge nobody took ends the call; an answered one ends with the call's own status callback.
        dial_status = params.get('DialCallStatus')
        dial_status = '' if dial_status in ('completed', 'answered') else dial_status
        # the voice URL is asked when a call comes in: it is ringing, inbound
        status = dial_status or params.get('CallStatus') or ('ringing' if purpose in CALL_CONTROL_PURPOSES else '')
        if not sid or status not in TWILIO_CALL_STATES:
            raise ValueError(f'Twilio call event without CallSid or with unknown CallStatus {status!r}')
        direction = params.get('Direction') or ('inbound' if purpose in CALL_CONTROL_PURPOSES else '')
        return CallEvent(
            provider_id=sid, status=TWILIO_CALL_STATES[status], provider_status=status,
            sender=provider_number(params.get('From')), recipient=provider_number(params.get('To')),
            direction=direction.split('-')[0],      # inbound | outbound-api | outbound-dial
            duration=_optional_int(params.get('DialCallDuration' if dial_status else 'CallDuration')),
            recording_url=params.get('RecordingUrl', ''),
            sequence=_optional_int(params.get('SequenceNumber')),
            parent_id=params.get('ParentCallSid', ''), raw=params)
