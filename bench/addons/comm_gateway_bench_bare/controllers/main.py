"""The least a signed webhook route can do in Odoo: verify the Twilio signature with the SDK,
insert one row, answer. bench/webhooks.py measures it beside /web/health and the real route."""
import os

from twilio.request_validator import RequestValidator

from odoo import http
from odoo.http import request


class BareWebhook(http.Controller):

    @http.route('/comm_bench/bare', type='http', auth='public', methods=['POST'], csrf=False,
                save_session=False, readonly=False)
    def bare(self, **_params):
        httprequest = request.httprequest
        form = list(httprequest.form.items(multi=True))
        url = os.environ.get('COMM_BENCH_BASE_URL', '') + httprequest.path
        token = os.environ.get('COMM_BENCH_AUTH_TOKEN', '')
        if not RequestValidator(token).validate(url, dict(form), httprequest.headers.get('X-Twilio-Signature', '')):
            return request.make_response('', status=403)
        request.env.cr.execute('INSERT INTO comm_bench_bare_event (key) VALUES (%s)',
                               [httprequest.form.get('MessageSid')])
        return request.make_response('<Response/>', headers=[('Content-Type', 'text/xml')])
