"""Media a provider fetches while it sends a message: ``/comm/media/<token>/<filename>``.

The token (random, 256 bits, short-lived: ``comm.media.token``) is the only key; unknown or
expired tokens get a 404, like a path that never existed. Nothing is written here.
"""
from werkzeug.exceptions import NotFound

from odoo import http
from odoo.http import request


class CommMediaController(http.Controller):

    @http.route(['/comm/media/<string:token>', '/comm/media/<string:token>/<string:filename>'], type='http',
                auth='public', methods=['GET', 'HEAD'], csrf=False, save_session=False, readonly=True)
    def comm_media(self, token, filename=None):
        attachment = request.env['comm.media.token'].sudo()._resolve(token)
        if not attachment:
            raise NotFound()
        return request.env['ir.binary']._get_stream_from(attachment).get_response(as_attachment=False)
