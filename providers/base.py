"""The one interface every provider adapter implements, and what they share.

Nothing here imports the ORM: an adapter is built from plain credentials, an optional base URL
and an optional ``requests.Session``, so it can be exercised against a local fake provider.

Vocabulary
----------
* :class:`Outbound` / :class:`SendResult` — a message to send and what the provider answered.
* :class:`CallRequest` / :class:`CallResult` — a call to start (click-to-call bridges the agent
  to the customer) and what the provider answered.
* :class:`WebhookRequest` — an incoming HTTP request exactly as received (method, the public URL
  the provider signed, headers, form fields in order, raw body).
* :class:`InboundMessage`, :class:`StatusUpdate`, :class:`CallEvent` — the normalized events a
  webhook carries.
* :class:`ProviderError` — the one exception adapters raise, with the provider's code, a human
  message, whether retrying may help, and the Odoo ``sms.sms`` failure type it maps to.
"""
import asyncio
import dataclasses
import functools
import hashlib
import hmac
import json
import logging
import time
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import phonenumbers
import requests

_logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 15.0

# Normalized message states, ranked: a status never moves a message backwards in this order.
# failed / undelivered / canceled are terminal; a later genuine delivered/read may still win.
MESSAGE_STATES = ('queued', 'sent', 'delivered', 'read', 'failed', 'undelivered', 'canceled', 'received')
STATE_RANK = {'queued': 0, 'sent': 1, 'delivered': 2, 'read': 3}

# Normalized call states.
CALL_STATES = ('initiated', 'ringing', 'in_progress', 'completed', 'busy', 'no_answer', 'failed', 'canceled')
CALL_FINAL_STATES = frozenset({'completed', 'busy', 'no_answer', 'failed', 'canceled'})
# Our call URLs the provider waits on for call-control: the answer URL of an incoming call, and
# the URL told how a dial of ours ended (<Dial action>, Vonage's synchronous connect eventUrl).
CALL_CONTROL_PURPOSES = ('voice', 'voice_dialed')
CALL_PURPOSES = (*CALL_CONTROL_PURPOSES, 'voice_status')


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------

class ProviderError(Exception):
    """The one exception adapters raise.

    :param message: human message, safe to show to a user (never a secret)
    :param code: the provider's own error code as a string ('21211', '131047', 'timeout'…)
    :param retryable: whether trying again later may succeed (429, 5xx, timeouts, throttling)
    :param retry_after: seconds the provider asked us to wait (Retry-After), if any
    :param http_status: HTTP status of the provider's answer, if any
    :param failure_type: matching ``sms.sms.failure_type`` ('sms_number_format', 'sms_acc'…)
    :param per_recipient: the limit hit concerns this recipient only (Meta's pair rate limit,
        131056): retry this message later without slowing the account down
    """

    def __init__(self, message, code=None, retryable=False, retry_after=None, http_status=None,
                 failure_type='unknown', per_recipient=False):
        super().__init__(message)
        self.per_recipient = per_recipient
        self.message = message
        self.code = None if code is None else str(code)
        self.retryable = retryable
        self.retry_after = retry_after
        self.http_status = http_status
        self.failure_type = failure_type
        self.elapsed = None         # seconds the call took, set by the dispatch pool

    def __repr__(self):
        return (f'ProviderError({self.message!r}, code={self.code!r}, retryable={self.retryable}, '
                f'http_status={self.http_status}, failure_type={self.failure_type!r})')


RETRYABLE_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504})


def error_from_http(status, message, code=None, retry_after=None, failure_type=None):
    """Build a :class:`ProviderError` from an HTTP status when the provider gave no better class."""
    if failure_type is None:
        failure_type = {401: 'sms_acc', 403: 'sms_acc', 402: 'sms_credit'}.get(status)
        failure_type = failure_type or ('sms_server' if status in RETRYABLE_HTTP else 'unknown')
    return ProviderError(
        message, code=code if code is not None else status, retryable=status in RETRYABLE_HTTP,
        retry_after=retry_after, http_status=status, failure_type=failure_type)


def parse_retry_after(value):
    """Seconds from a Retry-After header (delta-seconds form; HTTP dates are rare here)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------------------------------------
# Value objects
# ------------------------------------------------------------------------------------------------

# What an inbound media is, for the chatter's placeholder ("1 image", "1 voice message"…);
# 'file' when the provider does not say (Plivo's MMS).
MEDIA_KINDS = ('image', 'video', 'audio', 'voice', 'sticker', 'document', 'file')


@dataclasses.dataclass
class Media:
    """A piece of media: an URL the provider can fetch (outbound) or must be fetched (inbound)."""
    url: str = ''
    content_type: str = ''
    filename: str = ''
    media_id: str = ''       # provider-side id (Meta media id)
    caption: str = ''
    kind: str = ''           # one of MEDIA_KINDS; from the content type when empty

    def __post_init__(self):
        if not self.kind:
            major = (self.content_type or '').split('/')[0]
            self.kind = major if major in ('image', 'video', 'audio') else 'document' if major else 'file'


@dataclasses.dataclass
class Template:
    """A WhatsApp template: Meta's name/language/components, or Twilio's Content SID + variables."""
    name: str = ''
    language: str = 'en_US'
    components: list = dataclasses.field(default_factory=list)    # Meta send format
    content_sid: str = ''                                          # Twilio Content API (HX…)
    variables: dict = dataclasses.field(default_factory=dict)      # {"1": "Ann", …}


@dataclasses.dataclass
class TemplateInfo:
    """A WhatsApp template as the provider holds it (sync, submission for approval).

    ``components`` use Meta's definition format whatever the provider
    (``[{'type': 'BODY', 'text': 'Hi {{1}}'}, …]``), so placeholders are found the same way.
    """
    provider_ref: str                     # Meta template id, Twilio Content SID (HX…)
    name: str
    language: str = 'en_US'
    status: str = 'pending'               # draft | pending | approved | rejected | paused | disabled
    category: str = ''                    # marketing | utility | authentication
    components: list = dataclasses.field(default_factory=list)
    reason: str = ''                      # why it was rejected or paused
    raw: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Outbound:
    """A message to send. Numbers are E.164 with '+'; adapters add the provider's own form."""
    to: str
    body: str = ''
    channel: str = 'sms'                  # sms | mms | whatsapp
    sender: str = ''                      # E.164 or alphanumeric; the account default when empty
    media: list = dataclasses.field(default_factory=list)   # [Media]
    template: Template = None
    status_callback: str = ''             # our webhook URL for statuses
    client_ref: str = ''                  # our reference, echoed by providers that support it


@dataclasses.dataclass
class SendResult:
    provider_id: str
    status: str = 'queued'                # normalized state
    parts: int = 1
    extra_ids: tuple = ()                 # further provider ids (Vonage splits long SMS)
    recipient_id: str = ''                # e.g. Meta's wa_id, which may differ from the input
    raw: dict = dataclasses.field(default_factory=dict)
    elapsed: float = None                 # seconds the call took, set by the dispatch pool


@dataclasses.dataclass
class ListedMessage:
    """A message as the provider's message list shows it (reconciliation report)."""
    provider_id: str
    direction: str                        # in | out
    status: str                           # normalized state ('received' for inbound)
    provider_status: str = ''
    sender: str = ''                      # E.164 when it is a number
    recipient: str = ''
    channel: str = 'sms'
    body: str = ''                        # Plivo keeps no text: ''
    timestamp: float = None
    error_code: str = ''


@dataclasses.dataclass
class CallRequest:
    """Click-to-call: ring ``agent`` first, then bridge to ``to``."""
    to: str                               # the customer, E.164
    agent: str                            # the agent's own phone, E.164
    sender: str = ''                      # caller id shown, E.164
    answer_url: str = ''                  # our webhook answering with call-control
    action_url: str = ''                  # our webhook told how the bridge to ``to`` ended
    status_callback: str = ''             # our webhook for call events
    timeout: int = 30


@dataclasses.dataclass
class CallResult:
    provider_id: str
    status: str = 'initiated'
    parent_id: str = ''                   # the conversation later events may name instead (Vonage)
    raw: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class AccountInfo:
    """What "Test connection" shows: the account's friendly name and status."""
    name: str
    status: str = 'active'
    raw: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class InboundMessage:
    kind = 'message'
    provider_id: str
    sender: str                           # E.164 when it is a number
    recipient: str
    body: str = ''
    channel: str = 'sms'                  # sms | mms | whatsapp
    message_type: str = 'text'            # text, image, location, reaction, unknown…
    media: list = dataclasses.field(default_factory=list)   # [Media]
    profile_name: str = ''
    timestamp: float = None
    concat_ref: str = ''                  # multipart SMS (Vonage): reference, total, part (1-based)
    concat_total: int = 0
    concat_part: int = 0
    reply_to: str = ''                    # provider id of the message this one replies to (or reacts to)
    optout: str = ''                      # 'stop' / 'start' when the provider classified it
    account_ref: str = ''                 # which of the app's numbers it came to (Meta phone_number_id)
    # structured content of rich types, rendered by the chatter (see comm_message_inbound.py):
    # reply {id, title, payload}, reaction {emoji} ('' = removed), location {latitude, longitude,
    # name, address, url}, contacts [{name, phones: [...]}], order {catalog_id, text, items:
    # [{product, quantity, price, currency}]}, flow {name, body, fields: [[name, value]],
    # response_json}, unsupported {type, reason}
    content: dict = dataclasses.field(default_factory=dict)
    raw: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Unparsed:
    """A part of a verified request that cannot be applied (an item of an unknown shape, an error
    the provider reports instead of an event). The rest of the request is processed; this part
    is parked with its readable ``reason`` (the event ends in the dead letters)."""
    kind = 'unparsed'
    reason: str
    raw: dict = dataclasses.field(default_factory=dict)

    @property
    def key(self):
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclasses.dataclass
class StatusUpdate:
    kind = 'status'
    provider_id: str
    status: str                           # normalized state
    provider_status: str = ''
    error_code: str = ''
    error_message: str = ''
    failure_type: str = ''                # sms.sms failure type when failed
    timestamp: float = None
    recipient: str = ''
    client_ref: str = ''
    account_ref: str = ''                 # which of the app's numbers sent it (Meta phone_number_id)
    raw: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class CallEvent:
    kind = 'call'
    provider_id: str
    status: str                           # normalized call state
    provider_status: str = ''
    sender: str = ''
    recipient: str = ''
    direction: str = ''                   # inbound | outbound
    duration: int = None                  # seconds
    recording_url: str = ''
    hangup_cause: str = ''
    sequence: int = None
    timestamp: float = None
    parent_id: str = ''
    raw: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class TemplateUpdate:
    """A change to a WhatsApp template the provider reports (Meta's template webhooks): its
    review status, its category or its quality rating. Fields the event does not change are empty.
    """
    kind = 'template'
    provider_ref: str                     # Meta template id
    change: str                           # status | category | quality
    event: str = ''                       # the provider's word: APPROVED, REJECTED, FLAGGED, GREEN…
    status: str = ''                      # normalized template status it sets, '' when it sets none
    category: str = ''                    # marketing | utility | authentication
    quality: str = ''                     # green | yellow | red | unknown
    reason: str = ''                      # why (rejection reason, Meta's explanation), readable
    name: str = ''
    language: str = ''
    timestamp: float = None
    raw: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class WebhookRequest:
    """An incoming webhook as received.

    :param url: the full URL the provider called, as the provider saw it (public base URL +
        path + query string), which is what providers sign
    :param form: the form fields in the order received, repeated keys kept: [(name, value)]
    :param body: the raw body (JSON / text bodies; empty for form posts)
    """
    method: str
    url: str
    headers: dict = dataclasses.field(default_factory=dict)
    form: list = dataclasses.field(default_factory=list)
    body: bytes = b''
    remote_addr: str = ''
    _decoded: object = dataclasses.field(default=None, init=False, repr=False, compare=False)

    def header(self, name, default=''):
        lname = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lname:
                return value
        return default

    @property
    def query(self):
        """Query-string parameters, in order: [(name, value)]."""
        _, _, query = self.url.partition('?')
        return parse_qsl(query.split('#', 1)[0], keep_blank_values=True)

    def params(self):
        """The payload as a flat dict: query + form for GET/form posts (first value wins)."""
        values = {}
        for key, value in (*self.query, *self.form):
            values.setdefault(key, value)
        return values

    def json(self):
        """The decoded JSON body (decoded once: the request path checks it, then reads its key);
        raises ValueError when it is not JSON."""
        if self._decoded is None:
            self._decoded = json.loads(self.body.decode('utf-8'))
        return self._decoded

    @property
    def is_json(self):
        return 'json' in self.header('Content-Type').lower()


# ------------------------------------------------------------------------------------------------
# Helpers shared by adapters
# ------------------------------------------------------------------------------------------------

def parse_timestamp(value):
    """Epoch seconds from what providers put in a timestamp: unix seconds (int, float or string;
    milliseconds when too large), ISO 8601 (``2025-01-01T12:00:00Z``, with or without offset) or
    ``YYYY-MM-DD HH:MM:SS`` (UTC); None when it reads as none of them."""
    if value in (None, ''):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        text = str(value).strip().replace('Z', '+00:00').replace('z', '+00:00')
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
    return seconds / 1000 if seconds > 1e11 else seconds


def to_e164(number, region=None, national=False):
    """Normalize a provider or user number to E.164 ('+…'); '' when it cannot be parsed.

    Strips the ``whatsapp:`` prefix (and a ``tel:`` scheme). Providers send international
    numbers without '+' (Plivo, Vonage, Meta's wa_id), people write national ones
    (``(415) 555-0100``, ``07700 900123``, ``0044 7700 900123``): a bare digit string is read as
    international first, a number written with a trunk or international prefix, spaces or
    brackets is read in ``region`` (the country of the number that received it) first.
    A number libphonenumber calls possible (not necessarily valid: test and new ranges) is kept.

    :param national: read a number without '+' in ``region`` first, bare digits too (numbers
        people typed, e.g. a contact's phone), rather than as international (provider numbers)
    """
    if not number:
        return ''
    return _to_e164(str(number).strip(), region or None, national)


@functools.lru_cache(maxsize=4096)
def _to_e164(number, region, national=False):
    # parsing is pure and costly; every webhook parses our own number and its sender again
    for prefix in ('whatsapp:', 'tel:'):
        if number.lower().startswith(prefix):
            number = number[len(prefix):]
    bare = number.isdigit() and not number.startswith('0')
    if number.startswith('+'):
        candidates = [(number, None)]
    elif bare and not national:
        # provider digits are international; read in the region only when that gives a valid
        # number (a short code such as 72345 is possible in some countries, and none of them)
        candidates = [('+' + number, None), (number, region)]
    else:
        candidates = [(number, region), ('+' + number, None)]
        if number.startswith('00'):         # the international prefix of most countries
            candidates.insert(1, ('+' + number[2:], None))
    possible = ''
    for candidate, candidate_region in candidates:
        if not (candidate.startswith('+') or candidate_region):
            continue
        try:
            parsed = phonenumbers.parse(candidate, candidate_region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if not possible and phonenumbers.is_possible_number(parsed) and not (
                bare and not national and candidate_region):
            possible = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return possible


def order_content(order):
    """A WhatsApp order (Meta's shape, which Vonage relays) as ``{catalog_id, items: [{product,
    quantity, price, currency}]}``."""
    return {'catalog_id': order.get('catalog_id') or '', 'items': [{
        'product': item.get('product_retailer_id') or '', 'quantity': item.get('quantity'),
        'price': item.get('item_price'), 'currency': item.get('currency') or '',
    } for item in order.get('product_items') or []]}


def interactive_reply(interactive):
    """``(text, structured content)`` of a WhatsApp interactive answer in Meta's shape
    (``{type: button_reply | list_reply | nfm_reply, <type>: {...}}``), which Plivo relays too.

    A button or list choice shows exactly its title and keeps its id (and description); a
    WhatsApp Flow's answers (``nfm_reply``) keep the flow's name, the text the chat shows and the
    JSON it returned, with the answered fields as ``[name, value]`` pairs (the ``flow_token``,
    ours, is kept in the JSON only).
    """
    kind = interactive.get('type') or ''
    reply = interactive.get(kind) or {}
    if kind == 'nfm_reply':
        answers = reply.get('response_json') or ''
        try:
            decoded = json.loads(answers) if isinstance(answers, str) else answers
        except ValueError:
            decoded = None
        fields = [[str(name), _answer_text(value)] for name, value in (decoded or {}).items()
                  if name != 'flow_token'] if isinstance(decoded, dict) else []
        raw = answers if isinstance(answers, str) else json.dumps(answers, ensure_ascii=False)
        return reply.get('body') or '', {'flow': {'name': reply.get('name') or '', 'body': reply.get('body') or '',
                                                 'fields': fields, 'response_json': raw}}
    return reply.get('title') or '', {'reply': {
        'id': reply.get('id') or '', 'title': reply.get('title') or '', 'description': reply.get('description') or ''}}


def _answer_text(value):
    """One answer of a Flow as text: lists joined, objects as JSON."""
    if isinstance(value, list):
        return ', '.join(_answer_text(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return '' if value is None else str(value)


def region_of(number):
    """The ISO country code of an E.164 number ('+14155550100' -> 'US'); None when unknown."""
    try:
        parsed = phonenumbers.parse(number, None)
    except (phonenumbers.NumberParseException, TypeError):
        return None
    # a number in a test range is valid nowhere: its country code's main region then
    region = phonenumbers.region_code_for_number(parsed) or phonenumbers.region_code_for_country_code(
        parsed.country_code)
    return region if region and region != phonenumbers.UNKNOWN_REGION else None


def digits(number):
    """'+447700900123' / 'whatsapp:+44…' -> '447700900123' (Plivo, Vonage, Meta)."""
    number = (number or '').strip()
    if number.lower().startswith('whatsapp:'):
        number = number[len('whatsapp:'):]
    return number.lstrip('+')


def provider_number(value, region=None):
    """E.164 for a provider's address ('whatsapp:+44…', '+1…', '4477…', or a national number
    read in ``region``); short codes, alphanumeric senders and SIP URIs as sent."""
    value = (value or '').strip()
    if value.lower().startswith('sip:') or '@' in value:
        return value
    return to_e164(value, region) or value.removeprefix('whatsapp:')


def sender_number(sender, recipient):
    """The sender's E.164 number, a national-format sender read in the country of the number
    that received it (``recipient``, ours); short codes, alphanumeric ids as sent."""
    return provider_number(sender, region_of(to_e164(recipient)))


def status_update(states, errors, provider_id, provider_status, error_code, **fields):
    """A :class:`StatusUpdate` through a provider's status and error-code tables; an
    :class:`Unparsed` (parked, readable) for a status missing from ``states``."""
    if provider_status not in states:
        return Unparsed(f'unknown message status {provider_status!r} for message {provider_id}',
                        raw=fields.get('raw') or {})
    status = states[provider_status]
    error_code = str(error_code or '')
    failure_type = ''
    if status in ('failed', 'undelivered'):
        failure_type = errors.get(error_code, ('unknown', False))[0]
    return StatusUpdate(provider_id=provider_id, status=status, provider_status=provider_status,
                        error_code=error_code, failure_type=failure_type, **fields)


def hmac_equal(expected, received):
    """Constant-time comparison of two strings (case-sensitive)."""
    if not expected or not received:
        return False
    return hmac.compare_digest(str(expected).encode(), str(received).encode())


def short_key(*parts):
    """A dedup key from parts; hashed when long, so it always fits an indexed column."""
    key = ':'.join(str(p) for p in parts if p not in (None, ''))
    if len(key) > 200:
        key = 'sha256:' + hashlib.sha256(key.encode()).hexdigest()
    return key


# ------------------------------------------------------------------------------------------------
# The interface
# ------------------------------------------------------------------------------------------------

class ProviderAdapter:
    """Base class of every provider adapter.

    Subclasses set :attr:`code` and :attr:`default_base_url`, and implement what they support;
    what is common (HTTP with timeouts and pooling, error mapping, acks) lives here once.

    :param credentials: plain dict of the account's credentials, keyed like the
        ``comm.provider`` fields without the code prefix (``account_sid``, ``auth_token``…)
    :param base_url: override of the provider's API root (regional endpoint, fake server)
    :param session: a ``requests.Session`` to reuse (keep-alive pooling); one is made otherwise
    :param timeout: seconds for every HTTP call
    :param options: non-secret settings (sender numbers, API version, region…)
    """

    code = None
    name = None
    default_base_url = ''
    channels = ('sms',)
    # media one message carries, per channel (Twilio and Plivo MMS: 10; WhatsApp: one)
    max_media = {'mms': 10, 'whatsapp': 1}
    # inbound media downloads (providers/media.py): hosts given our credentials (a name covers its
    # subdomains), and hosts fetched without them (CDNs the provider redirects to)
    credential_hosts = ()
    media_hosts = ()
    # characters one SMS body may have (the provider refuses longer ones); None: no limit known
    max_sms_chars = None

    def __init__(self, credentials=None, *, base_url=None, session=None, timeout=DEFAULT_TIMEOUT,
                 options=None):
        self.credentials = dict(credentials or {})
        self.base_url = (base_url or self.default_base_url).rstrip('/')
        self.options = dict(options or {})
        # one connection per concurrent send, so a bounded pool never discards connections
        self.session = session or self._make_session(max(16, int(self.options.get('pool_size') or 0)))
        self.timeout = timeout

    def __repr__(self):
        # never show credentials
        return f'<{type(self).__name__} {self.base_url}>'

    @staticmethod
    def _make_session(pool_size=16):
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        session.mount('http://', adapter)
        session.mount('https://', adapter)
        return session

    # -- outbound -------------------------------------------------------------------------------

    def send_message(self, outbound):
        """Send one message. :returns: :class:`SendResult`; :raises: :class:`ProviderError`."""
        raise NotImplementedError

    # Adapters whose SDK sends without blocking say so: the dispatch's pool then makes all the
    # sends of an account on one event loop (tools/dispatch.py), not with a thread each.
    sends_async = False

    def async_client(self):
        """An async context manager, entered on the pool's event loop, giving what
        :meth:`send_message_async` sends with (an SDK client on a non-blocking HTTP client)."""
        raise NotImplementedError

    async def send_message_async(self, outbound, client):
        """:meth:`send_message` without blocking, with ``client`` from :meth:`async_client`."""
        raise NotImplementedError

    def start_call(self, call):
        """Start a click-to-call. :returns: :class:`CallResult`; :raises: :class:`ProviderError`."""
        raise ProviderError(f'{self.name} does not place calls.', code='unsupported')

    def answer_call(self, forward_to='', caller_id='', message='', timeout=30, action_url=''):
        """The call-control document answering a voice webhook: ``(body, content_type)``.

        :param forward_to: E.164 number to bridge the current call to; none: only ``message``
        :param caller_id: E.164 number the forwarded-to phone shows
        :param message: spoken, then the call ends (after the bridge when there is no ``action_url``)
        :param action_url: our URL the provider calls when the bridge ends (unanswered, busy or
            hung up); its answer decides what happens next
        """
        raise ProviderError(f'{self.name} does not answer calls.', code='unsupported')

    # whether :meth:`fetch_status` asks the provider (the stale-status cron asks only those)
    status_lookup = False
    # whether :meth:`list_messages` lists the account's messages (the reconciliation report)
    message_list = False

    def fetch_status(self, provider_id):
        """Ask the provider for a message's current state (stale statuses, reconciliation).

        :returns: :class:`StatusUpdate` (or :class:`Unparsed` for a status we do not know), or
            None when the provider has no such lookup
        """
        return None

    def list_messages(self, since, until, limit=1000):
        """The account's messages, both directions, created between ``since`` and ``until``
        (naive UTC datetimes), newest first, at most ``limit``.

        :returns: ``(list of :class:`ListedMessage`, complete)`` — ``complete`` is False when
            more than ``limit`` exist
        :raises ProviderError: ``unsupported`` when the provider has no such list
        """
        raise ProviderError(f'{self.name} has no list of messages to compare with.', code='unsupported')

    def find_sent(self, outbound, since, exclude=()):
        """After an interrupted send: did the provider get ``outbound``?

        :param since: when the attempt started (naive UTC datetime)
        :param exclude: provider ids already recorded for our other messages, never a match
        :returns: a :class:`SendResult` when found, ``False`` when the provider confirms it has
            no such message (then it is sent again), ``None`` when it cannot tell (then we never
            resend automatically: the message fails with a note saying why)
        """
        return None

    def check_credentials(self):
        """Call the provider's account endpoint. :returns: :class:`AccountInfo`."""
        raise NotImplementedError

    def download_media(self, media):
        """Fetch inbound media with the provider's authentication, under :meth:`media_policy`.

        :returns: ``(content bytes, content_type)``
        :raises MediaRefused: the URL, an address, the size or the type is refused (permanent)
        """
        return self._fetch_media(media.url, media, auth=self._media_auth())

    def _fetch_media(self, url, media, auth=None, headers=None):
        from .media import fetch_media  # noqa: PLC0415  media.py builds on this module
        return fetch_media(self.session, url, self.media_policy(), auth=auth, headers=headers,
                           timeout=self.timeout, fallback_type=media.content_type, name=self.name)

    def media_policy(self):
        """The hosts a media download may reach: :attr:`credential_hosts`, :attr:`media_hosts`,
        and the host of a configured base URL (regional endpoint, test server) when it is not
        the provider's default."""
        from .media import MediaPolicy  # noqa: PLC0415
        default = (self.default_base_url or '').rstrip('/')
        local = {urlsplit(self.base_url).netloc.lower(): True} if self.base_url and self.base_url != default else {}
        return MediaPolicy(self.credential_hosts, self.media_hosts, local)

    def _media_auth(self):
        return None

    # -- WhatsApp templates ---------------------------------------------------------------------

    def list_templates(self):
        """The account's WhatsApp templates. :returns: list of :class:`TemplateInfo`"""
        raise ProviderError(f'{self.name} has no WhatsApp templates to sync.', code='unsupported')

    def submit_template(self, template):
        """Submit a drafted :class:`TemplateInfo` for approval. :returns: it with its id and status"""
        raise ProviderError(f'{self.name} does not take WhatsApp templates for approval.', code='unsupported')

    # -- webhooks -------------------------------------------------------------------------------

    def verify_webhook(self, request):
        """Whether ``request`` (a :class:`WebhookRequest`) carries a valid signature. Never raises."""
        raise NotImplementedError

    def replay_guard(self, request):
        """What makes a verified request single-use, for the queue to remember (in the database).

        :returns: ``None`` when the signature carries no such thing, else ``(key, digest,
            repeat_is_duplicate)``: the request's nonce or token id, a digest of what it signs, and
            whether the same key with the same digest is a harmless repeated delivery (Plivo's
            retries) rather than a replay to refuse (a JWT's ``jti``). The same key with another
            digest is always refused.
        """
        return None

    def parse_webhook(self, request, purpose):
        """Normalized events carried by a verified request.

        :param purpose: which of our URLs was called: ``inbound``, ``status``, ``voice``,
            ``voice_status``
        :returns: list of :class:`InboundMessage` / :class:`StatusUpdate` / :class:`CallEvent` /
            :class:`TemplateUpdate`
        :raises ValueError: on a malformed payload
        """
        raise NotImplementedError

    def event_key(self, request, purpose):
        """A key that is the same for every delivery of the same provider event (dedup)."""
        events = self.parse_webhook(request, purpose)
        parts = []
        for event in events:
            if event.kind == 'message':
                parts.append(f'm:{event.provider_id}')
            elif event.kind == 'status':
                parts.append(f's:{event.provider_id}:{event.provider_status or event.status}')
            elif event.kind == 'template':
                parts.append(f't:{event.provider_ref}:{event.change}:{event.event}:{event.timestamp or ""}')
            elif event.kind == 'unparsed':
                parts.append(f'u:{event.key}')
            else:
                parts.append(f'c:{event.provider_id}:{event.provider_status or event.status}:{event.sequence or ""}')
        if not parts:
            parts = ['body', hashlib.sha256(request.body or repr(request.form).encode()).hexdigest()]
        return short_key(*sorted(parts))

    @classmethod
    def webhook_ack(cls, purpose):
        """``(body, content_type)`` to answer a verified webhook with (needs no credentials)."""
        return '', 'text/plain'

    # -- HTTP -----------------------------------------------------------------------------------

    def _request(self, method, path, *, absolute=False, expected=(200, 201, 202, 204), **kwargs):
        """The one place adapters do raw HTTP (SDK-based adapters use the SDK instead).

        Adds the timeout, maps transport errors and non-2xx answers to :class:`ProviderError`,
        logs method, path and elapsed time (never params, bodies or credentials).
        """
        url = path if absolute else f'{self.base_url}/{path.lstrip("/")}'
        kwargs.setdefault('timeout', self.timeout)
        started = time.monotonic()
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.Timeout as exc:
            raise ProviderError(f'{self.name} did not answer in time.', code='timeout', retryable=True,
                                failure_type='sms_server') from exc
        except requests.ConnectionError as exc:
            raise ProviderError(f'{self.name} cannot be reached (network unreachable).', code='network',
                                retryable=True, failure_type='sms_server') from exc
        # on the provider's own logger: its debug switch in Settings shows these lines
        logging.getLogger(type(self).__module__).debug(
            '%s %s %s -> %s in %.3fs', self.code, method, url.split('?')[0], response.status_code,
            time.monotonic() - started)
        if response.status_code not in expected:
            raise self._error_from_response(response)
        return response

    def _error_from_response(self, response):
        """Map a non-2xx answer to :class:`ProviderError`; providers refine with their codes."""
        return error_from_http(
            response.status_code, f'{self.name} answered HTTP {response.status_code}.',
            retry_after=parse_retry_after(response.headers.get('Retry-After')))

    @staticmethod
    def _transport_error(name, exc):
        """Map a transport-level exception raised inside an SDK to :class:`ProviderError`."""
        if isinstance(exc, (requests.Timeout, asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
            return ProviderError(f'{name} did not answer in time.', code='timeout', retryable=True,
                                 failure_type='sms_server')
        if isinstance(exc, (requests.ConnectionError, aiohttp.ClientError)):
            return ProviderError(f'{name} cannot be reached (network unreachable).', code='network',
                                 retryable=True, failure_type='sms_server')
        return None
