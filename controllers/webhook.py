"""Provider webhooks: verify the signature, store the raw request in the queue, answer at once.

No business logic here: ``comm.webhook.event._receive`` verifies, dedupes and enqueues; the cron
processes. Forged requests get an empty 403 (and store nothing but a per-day counter). A signed
request is stored whatever its content says; only a body that is not well-formed JSON or form, of
another content type or too large is refused (4xx).
"""
import logging

from werkzeug.exceptions import NotFound

from odoo import http
from odoo.http import request

from ..models.comm_provider import WEBHOOK_PURPOSES
from ..providers import get_adapter_class
from ..providers.base import CALL_CONTROL_PURPOSES, WebhookRequest
from ..tools.redact import install_access_log_filter

_logger = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024       # 1 MB: far above any provider's webhook, far below a memory problem
FORM = 'application/x-www-form-urlencoded'
JSON = 'application/json'
# Providers that may be configured to call with GET (parameters in the query string).
GET_ALLOWED = {'twilio', 'plivo', 'vonage'}

install_access_log_filter()


def _plain(status, body='', content_type='text/plain'):
    return request.make_response(body, headers=[('Content-Type', content_type)], status=status)


class CommWebhookController(http.Controller):

    @http.route('/comm/webhook/<string:token>/<string:purpose>', type='http', auth='public',
                methods=['GET', 'POST'], csrf=False, save_session=False, readonly=False,
                max_content_length=MAX_BODY)
    def comm_webhook(self, token, purpose, **_params):
        # provider.env is the superuser's: the public user may neither read accounts nor write the queue
        provider = request.env['comm.provider'].sudo()._find_by_webhook_token(token)
        if not provider or purpose not in WEBHOOK_PURPOSES.get(provider.code, ()):
            raise NotFound()
        httprequest = request.httprequest
        method = httprequest.method
        if method == 'GET' and provider.code == 'meta':
            challenge = provider._get_adapter().verify_handshake(httprequest.args.to_dict())
            return _plain(200, challenge) if challenge is not None else _plain(403)
        if method == 'GET' and provider.code not in GET_ALLOWED:
            return _plain(405)
        if (httprequest.content_length or 0) > MAX_BODY:
            return _plain(413)

        mimetype = httprequest.mimetype
        form, body = [], b''
        if method == 'POST':
            if mimetype == FORM:
                # Odoo already parsed the form: keep every field as received (repeated keys too);
                # request.params would merge the query string in and drop repeats.
                form = list(httprequest.form.items(multi=True))
            elif mimetype == JSON or mimetype.endswith('+json'):
                body = httprequest.get_data()
                try:
                    body.decode('utf-8')
                except UnicodeDecodeError:
                    return _plain(400)
            elif mimetype or httprequest.content_length:
                return _plain(415)
        webhook_request = WebhookRequest(
            method=method, url=provider._public_url(httprequest.path, httprequest.query_string),
            headers=dict(httprequest.headers), form=form, body=body,
            remote_addr=httprequest.remote_addr or '')
        try:
            outcome = provider.env['comm.webhook.event']._receive(provider, purpose, webhook_request)
        except ValueError:
            _logger.info('comm.provider %s: malformed %s webhook from %s rejected', provider.id, purpose,
                         webhook_request.remote_addr)
            return _plain(400)
        if outcome == 'forged':
            return _plain(403)
        if purpose in CALL_CONTROL_PURPOSES:      # the provider waits for call-control (TwiML, XML, NCCO)
            body, content_type = provider.env['comm.call']._answer_call_control(
                provider, purpose, webhook_request)
        else:
            # the ack needs no credentials: no second adapter (secrets, SDK client) per request
            body, content_type = get_adapter_class(provider.code).webhook_ack(purpose)
        return _plain(200, body, content_type)
