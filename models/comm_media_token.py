"""Short-lived, unguessable URLs through which a provider fetches one attachment of a message.

Attachments are never made public: a random token (256 bits) with an expiry opens one attachment
to whoever holds the URL — the provider, once, while it sends. Tokens are issued when the message
is queued (so they are committed before any provider call) and extended at each send attempt;
the expired ones are garbage-collected.
"""
import secrets
from datetime import timedelta
from urllib.parse import quote

from odoo import api, fields, models

from ..providers.base import Media

TOKEN_TTL = timedelta(hours=1)
ROUTE = '/comm/media'


class CommMediaToken(models.Model):
    _name = 'comm.media.token'
    _description = 'Media access token for a provider'
    _order = 'id'

    token = fields.Char(required=True, readonly=True, copy=False, default=lambda self: secrets.token_urlsafe(32))
    attachment_id = fields.Many2one('ir.attachment', required=True, readonly=True, ondelete='cascade')
    message_id = fields.Many2one('comm.message', required=True, readonly=True, ondelete='cascade', index=True)
    expires_at = fields.Datetime(required=True, readonly=True)

    _sql_constraints = [('token_unique', 'unique(token)', 'A media token is unique.')]

    @api.model
    def _issue(self, messages):
        """One token per attachment of each of ``messages``."""
        expires_at = fields.Datetime.now() + TOKEN_TTL
        return self.sudo().create([
            {'message_id': message.id, 'attachment_id': attachment.id, 'expires_at': expires_at}
            for message in messages for attachment in message.attachment_ids])

    @api.model
    def _media_of(self, message):
        """``Media`` with a fetchable URL for each attachment of ``message``; extends the tokens.

        Tokens are normally issued when the message is queued (committed before any send); one
        is issued here only for an attachment that has none.
        """
        tokens = self.sudo().search([('message_id', '=', message.id)])
        tokens.write({'expires_at': fields.Datetime.now() + TOKEN_TTL})
        missing = message.attachment_ids - tokens.attachment_id
        if missing:
            tokens |= self.sudo().create([{'message_id': message.id, 'attachment_id': attachment.id,
                                           'expires_at': fields.Datetime.now() + TOKEN_TTL}
                                          for attachment in missing])
        base = message.provider_id._public_base_url()
        return [Media(url=f'{base}{ROUTE}/{token.token}/{quote(token.attachment_id.name or "file")}',
                      content_type=token.attachment_id.mimetype or '', filename=token.attachment_id.name or '')
                for token in tokens]

    @api.model
    def _resolve(self, token):
        """The attachment ``token`` opens, or an empty recordset (unknown or expired)."""
        if not token or len(token) > 64:
            return self.env['ir.attachment']
        found = self.sudo().search([('token', '=', token), ('expires_at', '>', fields.Datetime.now())], limit=1)
        return found.attachment_id.sudo()

    @api.autovacuum
    def _gc_expired(self):
        self.sudo().search([('expires_at', '<', fields.Datetime.now() - timedelta(days=1))]).unlink()
