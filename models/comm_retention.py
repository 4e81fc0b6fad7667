"""Retention: how long message bodies, media, call recordings' links and raw webhook payloads are
kept, per company (bodies per channel), and the daily purge.

The purge keeps every row and its metadata (dates, states, numbers, counts: statistics and the
overview do not change): bodies become "[removed after N days]" on the message and on the chatter
message we posted, media attachments are deleted, recording links emptied. Raw webhook events are
the queue's: its own garbage collector (``comm.webhook.event._gc_done_events``) deletes processed
events after the company's payload retention. The purge runs in bounded batches, each committed,
within the cron's time budget; the preview (``comm.retention.preview``) counts the same queries.
"""
import logging
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools import SQL, create_index

from ..tools.dispatch import SMALL_SHARE, cron_budget
from .comm_dispatch import _testing

_logger = logging.getLogger(__name__)

BATCH = 500
# kind: (company field, channels); bodies are kept per channel
BODY_RULES = {'sms': ('comm_keep_sms_days', ('sms', 'mms')), 'whatsapp': ('comm_keep_whatsapp_days', ('whatsapp',))}
# an outbound message not sent yet keeps its body and media whatever its age
NOT_SENT = SQL("COALESCE(m.dispatch_state, 'done') NOT IN ('todo', 'attempt')")
# the texts still there: the rows the body purge and its preview look at (see the index below)
TEXT_KEPT = "body_removed IS NOT TRUE AND (body IS NOT NULL OR content IS NOT NULL)"


class ResCompany(models.Model):
    _inherit = 'res.company'

    comm_keep_sms_days = fields.Integer('Keep SMS and MMS texts (days)', default=0,
                                        help='0: kept as long as the message.')
    comm_keep_whatsapp_days = fields.Integer('Keep WhatsApp texts (days)', default=0,
                                             help='0: kept as long as the message.')
    comm_keep_media_days = fields.Integer('Keep media (days)', default=0, help='0: kept as long as the message.')
    comm_keep_recording_days = fields.Integer('Keep call recording links (days)', default=0,
                                              help='0: kept as long as the call.')
    comm_keep_payload_days = fields.Integer(
        'Keep raw webhook payloads (days)', default=30,
        help='Processed webhook events (what the provider sent, numbers and texts included) are deleted '
             'after this many days; at least 1.')

    _sql_constraints = [('comm_keep_payload_days_positive', 'CHECK(comm_keep_payload_days >= 1)',
                         'Raw webhook payloads are kept at least one day.')]


class CommMessage(models.Model):
    _inherit = 'comm.message'

    body_removed = fields.Boolean('Text removed', readonly=True, copy=False,
                                  help='The text was removed by the retention rules of the company.')

    def init(self):
        super().init()
        # the body purge (oldest first) and its preview: the texts still there, by company and
        # age; a purged row leaves the index, so a batch reads only what is due, however many
        # were purged before (docs/BENCHMARKS.md, bench/run.sh retention)
        create_index(self.env.cr, 'comm_message_retention_text_idx', self._table, ['company_id', 'create_date'],
                     where=TEXT_KEPT)


class CommRetention(models.AbstractModel):
    _name = 'comm.retention'
    _description = 'Retention of communications'

    # ------------------------------------------------------------------------------------------
    # What is due
    # ------------------------------------------------------------------------------------------

    @api.model
    def _due(self, company, now=None):
        """``[(kind, days, query of the ids due)]`` for ``company``; kinds: ``body_sms``,
        ``body_whatsapp``, ``media``, ``recording`` (``payload``: see ``_payload_due``). Each
        query selects the id and the date the rule counts from: the purge takes the oldest first."""
        now = now or fields.Datetime.now()
        due = []
        for channel, (fname, channels) in BODY_RULES.items():
            if days := company[fname]:
                due.append((f'body_{channel}', days, SQL(
                    """SELECT m.id, m.create_date FROM comm_message m WHERE m.company_id = %s AND m.channel IN %s AND %s
                          AND m.create_date < %s AND %s""",
                    company.id, channels, SQL(TEXT_KEPT), now - timedelta(days=days), NOT_SENT)))
        if days := company.comm_keep_media_days:
            due.append(('media', days, SQL(
                """SELECT m.id, m.create_date FROM comm_message m WHERE m.company_id = %s AND m.create_date < %s AND %s
                      AND (EXISTS(SELECT 1 FROM comm_message_ir_attachment_rel r WHERE r.comm_message_id = m.id)
                           OR EXISTS(SELECT 1 FROM comm_message_media d
                                      WHERE d.message_id = m.id AND d.attachment_id IS NOT NULL))""",
                company.id, now - timedelta(days=days), NOT_SENT)))
        if days := company.comm_keep_recording_days:
            due.append(('recording', days, SQL(
                "SELECT c.id, c.start_date FROM comm_call c WHERE c.company_id = %s AND c.recording_url IS NOT NULL"
                " AND c.start_date < %s", company.id, now - timedelta(days=days))))
        return due

    @api.model
    def _preview(self, company):
        """``{kind: count}`` of what the next run removes for ``company``, raw events included."""
        self.env.flush_all()
        counts = dict.fromkeys(('body_sms', 'body_whatsapp', 'media', 'recording'), 0)
        for kind, _days, query in self._due(company):
            self.env.cr.execute(SQL("SELECT count(*) FROM (%s) due", query))
            counts[kind] = self.env.cr.fetchone()[0]
        counts['payload'] = self.env['comm.webhook.event']._gc_count(company)
        return counts

    # ------------------------------------------------------------------------------------------
    # Purge (daily cron)
    # ------------------------------------------------------------------------------------------

    @api.model
    def _cron_purge(self, batch_size=BATCH, budget=None):
        """Apply every company's retention, a batch at a time (each committed) within the budget;
        then the queue's own clean-up of raw events. When the budget is spent first, the cron is
        triggered again to go on in a run of its own."""
        budget = budget or cron_budget(self.env, SMALL_SHARE)
        done, left = 0, False
        for company in self.env['res.company'].sudo().search([]):
            for kind, days, query in self._due(company):
                while not (left := budget.spent(5.0)):
                    # oldest first: the index of the texts still there gives them in that order
                    self.env.cr.execute(SQL("%s ORDER BY 2, 1 LIMIT %s", query, batch_size))
                    ids = [row[0] for row in self.env.cr.fetchall()]
                    if ids:
                        self._purge(kind, days, ids)
                        done += len(ids)
                        self._commit()
                    if len(ids) < batch_size:
                        break
                if left:
                    break
            if left:
                break
        if left:
            # the runner's further calls share this budget: a new run goes on, as the queue does
            self.env.ref('comm_gateway.ir_cron_comm_retention')._trigger()
        else:
            done += self.env['comm.webhook.event']._gc_done_events(budget)
        self.env['ir.cron']._notify_progress(done=done, remaining=0)
        if done:
            _logger.info('comm.retention: %s items purged%s', done, ', more to come' if left else '')
        return done

    @api.model
    def _purge(self, kind, days, ids):
        marker = self.env._('[removed after %(days)s days]', days=days)
        if kind.startswith('body_'):
            messages = self.env['comm.message'].sudo().browse(ids)
            posts = messages.mail_message_id
            messages.flush_recordset()
            self.env.cr.execute(SQL(
                """UPDATE comm_message SET body = CASE WHEN body IS NULL THEN NULL ELSE %s END, content = NULL,
                          template_values = NULL, body_removed = true WHERE id IN %s""", marker, tuple(ids)))
            messages.invalidate_recordset(['body', 'content', 'template_values', 'body_removed'])
            posts.write({'body': Markup('<p>%s</p>') % marker})
        elif kind == 'media':
            messages = self.env['comm.message'].sudo().browse(ids)
            (messages.attachment_ids | messages.media_ids.attachment_id).sudo().unlink()
        elif kind == 'recording':
            self.env['comm.call'].sudo().browse(ids).write({'recording_url': False})

    def _commit(self):
        if not _testing():
            self.env.cr.commit()


class CommRetentionPreview(models.TransientModel):
    """What the next purge removes, counted per kind for the current company (Settings button)."""
    _name = 'comm.retention.preview'
    _description = 'Preview of the next retention purge'

    company_id = fields.Many2one('res.company', required=True, readonly=True, default=lambda self: self.env.company)
    body_sms = fields.Integer('SMS / MMS texts', readonly=True)
    body_whatsapp = fields.Integer('WhatsApp texts', readonly=True)
    media = fields.Integer('Messages with media', readonly=True)
    recording = fields.Integer('Call recording links', readonly=True)
    payload = fields.Integer('Raw webhook events', readonly=True)

    @api.model
    def default_get(self, fields_list):
        """The counts, when the preview opens (for the current company)."""
        values = super().default_get(fields_list)
        company = self.env['res.company'].browse(values.get('company_id') or self.env.company.id)
        counts = self.env['comm.retention']._preview(company.sudo())
        return {**values, **{fname: count for fname, count in counts.items() if fname in fields_list}}
