"""The built-in Sandbox: behaves like a real provider without leaving the machine.

It accepts sends and returns provider ids, reports statuses and simulates inbound replies and
call progress — as signed webhook requests (:class:`WebhookRequest`) that Odoo feeds through the
very same verify → enqueue → process path as real providers' webhooks.

Rules (documented in the README):

* a recipient that is not a valid phone number is refused (permanent error, like Twilio 21211);
* a valid number ending in ``99`` is accepted, then reported ``undelivered`` (unreachable handset);
  a call to it fails;
* with ``options['mode'] == 'outage'`` every call raises a retryable error (HTTP 503).
"""
import dataclasses
import hashlib
import hmac
import json
import time
import uuid

import phonenumbers

from . import register
from .base import (AccountInfo, CallEvent, CallResult, InboundMessage, Media, ProviderAdapter,
                   ProviderError, SendResult, StatusUpdate, TemplateInfo, WebhookRequest, hmac_equal,
                   parse_timestamp, to_e164)

SIGNATURE_HEADER = 'X-Sandbox-Signature'
UNREACHABLE_SUFFIX = '99'
# The approved WhatsApp templates the Sandbox "holds": (name, category, body).
TEMPLATES = (
    ('order_confirmation', 'utility', 'Hi {{1}}, your order {{2}} is confirmed. Thank you!'),
    ('appointment_reminder', 'utility', 'Hi {{1}}, this is a reminder of your appointment on {{2}}.'),
    ('new_lead_welcome', 'marketing', 'Hello {{1}}, thanks for your interest! Reply here to chat with us.'),
)


@register
class SandboxAdapter(ProviderAdapter):
    code = 'sandbox'
    name = 'Sandbox'
    max_sms_chars = 1600   # as Twilio
    default_base_url = 'sandbox://local'
    channels = ('sms', 'mms', 'whatsapp', 'voice')

    # -- outbound -------------------------------------------------------------------------------

    def _check_up(self):
        if self.options.get('mode') == 'outage':
            raise ProviderError('Sandbox is simulating an outage (HTTP 503).', code='503', retryable=True,
                                http_status=503, failure_type='sms_server')

    def _valid_recipient(self, number):
        e164 = to_e164(number)
        try:
            valid = bool(e164) and phonenumbers.is_valid_number(phonenumbers.parse(e164))
        except phonenumbers.NumberParseException:
            valid = False
        if not valid:
            raise ProviderError(f'The number {number!r} is not a valid phone number.',
                                code='invalid_number', failure_type='sms_number_format')
        return e164

    def send_message(self, outbound):
        self._check_up()
        self._valid_recipient(outbound.to)
        if not outbound.body and not outbound.media and not outbound.template:
            raise ProviderError('A message needs a body, media or a template.', code='empty_message')
        return SendResult(provider_id=f'SB{uuid.uuid4().hex}', status='queued',
                          raw={'channel': outbound.channel})

    def start_call(self, call):
        self._check_up()
        self._valid_recipient(call.agent)
        self._valid_recipient(call.to)
        return CallResult(provider_id=f'SC{uuid.uuid4().hex}', status='initiated')

    def fetch_status(self, provider_id):
        # The Sandbox keeps no state between processes: what it reports is derived from the
        # recipient, so a lookup can only say the message was accepted.
        return StatusUpdate(provider_id=provider_id, status='sent', provider_status='sent')

    def check_credentials(self):
        self._check_up()
        return AccountInfo(name='Sandbox (built-in, no provider account needed)')

    def list_templates(self):
        self._check_up()
        return [TemplateInfo(provider_ref=f'sandbox-{name}', name=name, language='en_US', status='approved',
                             category=category, components=[{'type': 'BODY', 'text': body}])
                for name, category, body in TEMPLATES]

    def submit_template(self, template):
        """Approved at once (simulated): a real provider answers pending, then approves later."""
        self._check_up()
        return dataclasses.replace(template, provider_ref=f'sandbox-{template.name}', status='approved')

    def download_media(self, media):
        # Sandbox media are data: URLs' worth of bytes carried in the payload itself.
        return bytes.fromhex(media.media_id), media.content_type or 'application/octet-stream'

    # -- simulated webhooks ---------------------------------------------------------------------

    def _signed(self, url, payload):
        body = json.dumps(payload, sort_keys=True).encode()
        return WebhookRequest(method='POST', url=url, body=body, remote_addr='127.0.0.1', headers={
            'Content-Type': 'application/json', SIGNATURE_HEADER: 'sha256=' + self._sign(body)})

    def _sign(self, body):
        return hmac.new(self.credentials.get('secret', '').encode(), body, hashlib.sha256).hexdigest()

    def simulate_statuses(self, url, provider_id, recipient):
        """The status webhooks a real provider would post after accepting a message."""
        statuses = ['sent', 'delivered']
        if to_e164(recipient).endswith(UNREACHABLE_SUFFIX):
            statuses = ['sent', 'undelivered']
        return [self._signed(url, {
            'type': 'status', 'id': provider_id, 'status': status, 'to': recipient,
            'timestamp': time.time() + index,
            **({'error_code': '30003', 'error_message': 'Unreachable handset (simulated)'}
               if status == 'undelivered' else {}),
        }) for index, status in enumerate(statuses)]

    def simulate_inbound(self, url, sender, recipient, body, channel='sms', profile_name='',
                         media=None):
        """An inbound message webhook, as if ``sender`` had written to ``recipient``.

        :param media: optional list of ``(bytes, content_type, filename)``
        """
        return self._signed(url, {
            'type': 'message', 'id': f'SM{uuid.uuid4().hex}', 'from': sender, 'to': recipient,
            'body': body, 'channel': channel, 'profile_name': profile_name, 'timestamp': time.time(),
            'media': [{'data': content.hex(), 'content_type': ctype, 'filename': name}
                      for content, ctype, name in (media or [])],
        })

    def simulate_call(self, url, provider_id, agent, customer):
        """The call events of a click-to-call: rings, answers and completes — or fails."""
        # (status, seconds after the click, duration): the times agree with the duration shown
        if to_e164(customer).endswith(UNREACHABLE_SUFFIX):
            steps = [('ringing', 1, None), ('failed', 6, None)]
        else:
            steps = [('ringing', 1, None), ('in_progress', 3, None), ('completed', 3 + 42, 42)]
        start = time.time()
        return [self._signed(url, {
            'type': 'call', 'id': provider_id, 'status': status, 'from': agent, 'to': customer,
            'direction': 'outbound', 'duration': duration, 'sequence': index,
            'timestamp': start + offset,
        }) for index, (status, offset, duration) in enumerate(steps)]

    # -- webhooks -------------------------------------------------------------------------------

    def verify_webhook(self, request):
        header = request.header(SIGNATURE_HEADER)
        if not header.startswith('sha256=') or not self.credentials.get('secret'):
            return False
        return hmac_equal(self._sign(request.body), header[len('sha256='):])

    def parse_webhook(self, request, purpose):
        try:
            data = request.json()
            kind, provider_id = data['type'], data['id']
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f'malformed Sandbox payload: {exc}') from None
        if kind == 'message':
            return [InboundMessage(
                provider_id=provider_id, sender=to_e164(data.get('from')), recipient=to_e164(data.get('to')),
                body=data.get('body') or '', channel=data.get('channel') or 'sms',
                message_type='media' if data.get('media') else 'text',
                profile_name=data.get('profile_name') or '', timestamp=parse_timestamp(data.get('timestamp')),
                media=[Media(media_id=item['data'], content_type=item.get('content_type', ''),
                             filename=item.get('filename', '')) for item in data.get('media') or []],
                raw=data)]
        if kind == 'status':
            failed = data['status'] in ('failed', 'undelivered')
            return [StatusUpdate(
                provider_id=provider_id, status=data['status'], provider_status=data['status'],
                error_code=data.get('error_code', ''), error_message=data.get('error_message', ''),
                failure_type='unknown' if failed else '', timestamp=data.get('timestamp'),
                recipient=to_e164(data.get('to')), raw=data)]
        if kind == 'call':
            return [CallEvent(
                provider_id=provider_id, status=data['status'], provider_status=data['status'],
                sender=to_e164(data.get('from')), recipient=to_e164(data.get('to')),
                direction=data.get('direction', ''), duration=data.get('duration'),
                sequence=data.get('sequence'), timestamp=data.get('timestamp'), raw=data)]
        raise ValueError(f'unknown Sandbox event type {kind!r}')
