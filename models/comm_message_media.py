"""Inbound media, fetched after their message is posted: a media never holds a message hostage.

An inbound message is stored and posted at once, with "1 image" in the chatter; each of its
media is a ``comm.message.media`` row fetched by its own cron with its own retries, one
savepoint (and commit) per media. A fetched media becomes an attachment of the same chatter
message; a media that cannot be fetched for good leaves a short note saying why.
"""
import logging
import mimetypes
import random
from datetime import timedelta

from odoo import Command, api, fields, models
from odoo.addons.mail.tools.discuss import Store
from odoo.tools import SQL

from ..providers import ProviderError
from ..providers.base import Media
from ..providers.media import MAX_MEDIA_BYTES, MediaRefused, media_type_allowed
from .comm_message_inbound import MEDIA_LABELS
from .comm_webhook_event import _utcnow, claim_ids
from .mail_thread import comm_live_channel

_logger = logging.getLogger(__name__)

MAX_FETCH_ATTEMPTS = 6             # about half an hour of retries (1, 2, 4, 8, 16 minutes between them)
FETCH_LEASE = timedelta(minutes=10)  # a claimed row whose worker died is taken again after this
MEDIA_CRON = 'comm_gateway.ir_cron_comm_message_media'


class CommMessageMedia(models.Model):
    _name = 'comm.message.media'
    _description = 'Inbound media to fetch'
    _order = 'message_id, sequence, id'

    message_id = fields.Many2one('comm.message', required=True, readonly=True, ondelete='cascade', index=True)
    provider_id = fields.Many2one(related='message_id.provider_id')
    company_id = fields.Many2one(related='message_id.company_id', store=True, index='btree_not_null')
    sequence = fields.Integer(readonly=True)
    kind = fields.Char(readonly=True, help='image, video, audio, voice, sticker, document or file')
    url = fields.Char(readonly=True)
    media_ref = fields.Char('Provider media id', readonly=True)
    content_type = fields.Char(readonly=True, help='As the webhook announced it')
    filename = fields.Char(readonly=True)
    state = fields.Selection([('pending', 'To fetch'), ('done', 'Fetched'), ('failed', 'Not fetched')],
                             default='pending', required=True, readonly=True)
    attempts = fields.Integer(readonly=True, default=0)
    next_try_at = fields.Datetime(readonly=True, default=fields.Datetime.now)
    error = fields.Char(readonly=True)
    attachment_id = fields.Many2one('ir.attachment', readonly=True, ondelete='set null')

    def init(self):
        self.env.cr.execute(SQL(
            "CREATE INDEX IF NOT EXISTS comm_message_media_todo_idx ON comm_message_media (next_try_at, id)"
            " WHERE state = 'pending'"))

    @api.autovacuum
    def _gc_fetched(self):
        """Fetched media rows are kept 30 days (what was fetched, when), then deleted."""
        self.env.cr.execute(SQL(
            "DELETE FROM comm_message_media WHERE id IN (SELECT id FROM comm_message_media"
            " WHERE state = 'done' AND write_date < %s LIMIT 10000)", fields.Datetime.now() - timedelta(days=30)))

    @api.model
    def _trigger_fetch(self, media):
        if media:
            self.env.ref(MEDIA_CRON)._trigger()

    # ------------------------------------------------------------------------------------------
    # Cron
    # ------------------------------------------------------------------------------------------

    @api.model
    def _cron_fetch(self, batch_size=20):
        """Claim due media (SKIP LOCKED), fetch each in its own savepoint, commit after each."""
        self.env.flush_all()
        ids = claim_ids(self.env, SQL(
            """UPDATE comm_message_media SET attempts = COALESCE(attempts, 0) + 1, next_try_at = %s
                WHERE id IN (SELECT id FROM comm_message_media
                              WHERE state = 'pending' AND next_try_at <= %s
                              ORDER BY next_try_at, id LIMIT %s FOR NO KEY UPDATE SKIP LOCKED)
            RETURNING id""", _utcnow() + FETCH_LEASE, _utcnow(), batch_size))
        self.invalidate_model()
        for media in self.browse(ids):
            try:
                with self.env.cr.savepoint():
                    media._fetch()
            except Exception as exc:  # noqa: BLE001  one bad media never stops the others
                media._fetch_failed(exc)
            self.env['comm.webhook.event']._commit()
        self.env.cr.execute(SQL("SELECT count(*) FROM comm_message_media WHERE state = 'pending' AND next_try_at <= %s",
                                _utcnow()))
        remaining = self.env.cr.fetchone()[0]
        self.env['ir.cron']._notify_progress(done=len(ids), remaining=remaining)
        if ids:
            _logger.info('comm.message.media: fetched %s media, %s remaining', len(ids), remaining)

    def _fetch(self):
        """Download this media with the provider's authentication and attach it to its message's
        chatter post (or to the message, when it was not posted)."""
        self.ensure_one()
        message = self.message_id
        adapter = message.provider_id._get_adapter()
        content, content_type = adapter.download_media(Media(
            url=self.url or '', media_id=self.media_ref or '', content_type=self.content_type or '',
            filename=self.filename or '', kind=self.kind or ''))
        content_type = (content_type or self.content_type or 'application/octet-stream').split(';')[0].strip().lower()
        if len(content) > MAX_MEDIA_BYTES:
            raise MediaRefused(self.env._('it is larger than %(size)s MB', size=MAX_MEDIA_BYTES // (1024 * 1024)))
        if not media_type_allowed(content_type):
            raise MediaRefused(self.env._('its type %(type)s is not accepted', type=content_type))
        post = message.mail_message_id.sudo()
        name = self.filename or '%s-%s%s' % (message.provider_message_id, self.sequence,
                                             mimetypes.guess_extension(content_type) or '')
        attachment = self.env['ir.attachment'].sudo().create({
            'name': name, 'raw': content, 'mimetype': content_type,
            'res_model': post.model if post else 'comm.message', 'res_id': post.res_id if post else message.id,
        })
        message.sudo().attachment_ids = [Command.link(attachment.id)]
        if post:
            post.attachment_ids = [Command.link(attachment.id)]
            if post.model and post.res_id:
                # the chatters open on the record show it at once (mail.message's own bus channel
                # is the current user's: the cron's, nobody's screen)
                self.env['bus.bus'].sudo()._sendone(
                    comm_live_channel(post.model, post.res_id), 'mail.record/insert',
                    Store(post, {'attachment_ids': Store.many(post.attachment_ids.sorted('id'))}).get_result())
        self.write({'state': 'done', 'attachment_id': attachment.id, 'error': False, 'next_try_at': False})

    def _fetch_failed(self, exc):
        self.ensure_one()
        reason = self._describe(exc)
        retryable = not isinstance(exc, MediaRefused) and (not isinstance(exc, ProviderError) or exc.retryable)
        if retryable and self.attempts < MAX_FETCH_ATTEMPTS:
            delay = 60 * 2 ** (self.attempts - 1)
            delay = max(delay, getattr(exc, 'retry_after', None) or 0) * random.uniform(0.8, 1.2)
            at = fields.Datetime.now() + timedelta(seconds=delay)
            self.write({'error': reason, 'next_try_at': at})
            self.env.ref(MEDIA_CRON)._trigger(at)
            _logger.info('comm.message.media %s (message %s): attempt %s failed, retry at %s: %s',
                         self.id, self.message_id.id, self.attempts, at, reason)
            return
        _logger.warning('comm.message.media %s (message %s): not fetched after %s attempts: %s',
                        self.id, self.message_id.id, self.attempts, reason)
        self.write({'state': 'failed', 'error': reason, 'next_try_at': False})
        self._note_failure(reason)

    def _note_failure(self, reason):
        """A short note on the message's document: which media could not be fetched, and why."""
        message = self.message_id
        record = message._comm_document()
        if not record:
            return
        channels = dict(message._fields['channel']._description_selection(self.env))
        record._message_log(body=self.env._(
            'The %(kind)s of the %(channel)s message from %(number)s could not be downloaded: %(reason)s',
            kind=MEDIA_LABELS.get(self.kind, MEDIA_LABELS['file'])[0](self.env), channel=channels[message.channel],
            number=message.from_number, reason=reason))

    def _describe(self, exc):
        if isinstance(exc, ProviderError):   # MediaRefused included
            return exc.message
        return f'{type(exc).__name__}: {exc}'
