"""Alerts before users notice: rules checked by a cron, each with one query. A rule that fires
schedules one activity for the Communications Administrators (and an e-mail when the rule has
an address) and stays quiet until its condition ends; then it clears itself with a note."""
import logging
from datetime import timedelta

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL, html_escape

from .comm_dispatch import _testing
from .comm_overview import DELIVERED, UNDELIVERED
from .comm_whatsapp_template import STATUSES as TEMPLATE_STATUSES

_logger = logging.getLogger(__name__)

KINDS = [
    ('delivery_rate', 'Delivery rate of an account below a threshold'),
    ('queue_age', 'Queue older than a number of minutes'),
    ('dead_letters', 'Dead webhook events'),
    ('breaker_open', 'Sending paused after failures'),
    ('forged', 'Forged webhook requests per hour'),
    ('template', 'WhatsApp template paused or rejected'),
    ('credentials', "A provider refused the account's credentials"),
]


class CommAlertRule(models.Model):
    _name = 'comm.alert.rule'
    _description = 'Communications alert rule'
    _inherit = ['mail.thread', 'mail.activity.mixin']
    _order = 'sequence, id'

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    kind = fields.Selection(KINDS, required=True)
    company_id = fields.Many2one('res.company', help='Accounts of this company only; all companies when empty.')
    threshold = fields.Float(help='Delivery rate: the lowest rate (%). Forged requests: the most per hour. '
                                  'Dead letters: the most tolerated.')
    window = fields.Integer(help='Delivery rate: the last N messages with a final status. Queue age and '
                                 'credentials: minutes.')
    email_to = fields.Char('E-mail to', help='Also send an e-mail to these addresses (comma separated) when it fires.')
    user_id = fields.Many2one('res.users', 'Responsible', default=lambda self: self._default_user(),
                              domain=lambda self: [('groups_id', 'in', self.env.ref('comm_gateway.group_comm_manager').id)],
                              help='Gets the activity; the other Communications Administrators are notified.')
    state = fields.Selection([('ok', 'Clear'), ('firing', 'Firing')], default='ok', required=True, readonly=True,
                             copy=False, tracking=True)
    fired_at = fields.Datetime(readonly=True, copy=False)
    detail = fields.Text('What fired', readonly=True, copy=False)
    activity_id = fields.Many2one('mail.activity', readonly=True, copy=False, ondelete='set null')

    def _default_user(self):
        managers = self.env.ref('comm_gateway.group_comm_manager').users.filtered(lambda user: not user.share)
        return (managers.filtered(lambda user: user.id != self.env.ref('base.user_root').id) or managers)[:1]

    # ------------------------------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------------------------------

    def action_check_now(self):
        """Check these rules now (the cron does every few minutes)."""
        if not self.env.user.has_group('comm_gateway.group_comm_manager'):
            raise AccessError(_('Only Communications Administrators can check alert rules.'))
        self.check_access('write')
        self.sudo()._check()
        return True

    # ------------------------------------------------------------------------------------------
    # Checking
    # ------------------------------------------------------------------------------------------

    @api.model
    def _cron_check(self):
        rules = self.sudo().search([])
        for index, rule in enumerate(rules):
            try:
                with self.env.cr.savepoint():
                    rule._check()
            except Exception:
                _logger.exception('comm.alert.rule %s: check failed', rule.id)
            if not _testing():
                self.env.cr.commit()
            self.env['ir.cron']._notify_progress(done=index + 1, remaining=len(rules) - index - 1)

    def _check(self):
        """Fire the rules whose condition holds, clear those whose condition ended."""
        for rule in self:
            findings = rule._evaluate()
            if findings and rule.state == 'ok':
                rule._fire(findings)
            elif not findings and rule.state == 'firing':
                rule._clear()

    def _evaluate(self):
        """What holds for this rule, one line per account or record concerned (empty: clear)."""
        self.ensure_one()
        self.env.flush_all()
        companies = self.company_id.ids or self.env['res.company'].sudo().search([]).ids
        query, line = getattr(self, f'_query_{self.kind}')(companies)
        self.env.cr.execute(query)
        return [line(*row) for row in self.env.cr.fetchall()]

    def _query_delivery_rate(self, companies):
        """The last ``window`` outbound messages with a final status of each account, when it has
        that many (one index scan per account: ``comm_message_out_state_idx``)."""
        window = max(self.window, 1)
        return SQL(
            """SELECT p.name, round(100.0 * f.delivered / f.total, 1), f.total
                 FROM comm_provider p CROSS JOIN LATERAL (
                      SELECT count(*) AS total, count(*) FILTER (WHERE m.state IN %(delivered)s) AS delivered
                        FROM (SELECT state FROM comm_message m
                               WHERE m.provider_id = p.id AND m.direction = 'out' AND m.state IN %(final)s
                               ORDER BY m.id DESC LIMIT %(window)s) m) f
                WHERE p.active AND p.company_id = ANY(%(companies)s) AND f.total >= %(window)s
                  AND 100.0 * f.delivered / f.total < %(threshold)s
                ORDER BY p.id""",
            delivered=DELIVERED, final=DELIVERED + UNDELIVERED, window=window, companies=companies,
            threshold=self.threshold,
        ), lambda name, rate, total: self.env._('%(account)s: %(rate)s %% delivered over the last %(count)s messages',
                                       account=name, rate=rate, count=total)

    def _query_queue_age(self, companies):
        since = fields.Datetime.now() - timedelta(minutes=max(self.window, 1))
        labels = {'events': _('webhook events'), 'messages': _('messages to send')}
        return SQL(
            """SELECT p.name, q.what, q.oldest
                 FROM (SELECT provider_id, 'events' AS what, min(create_date) AS oldest FROM comm_webhook_event
                        WHERE state IN ('pending', 'processing') GROUP BY provider_id
                       UNION ALL
                       SELECT provider_id, 'messages', min(create_date) FROM comm_message
                        WHERE direction = 'out' AND dispatch_state IN ('todo', 'attempt') GROUP BY provider_id) q
                 JOIN comm_provider p ON p.id = q.provider_id
                WHERE q.oldest < %s AND p.company_id = ANY(%s)
                ORDER BY p.id, q.what""", since, companies,
        ), lambda name, what, oldest: self.env._('%(account)s: %(what)s waiting since %(since)s (UTC)', account=name,
                                        what=labels[what], since=fields.Datetime.to_string(oldest))

    def _query_dead_letters(self, companies):
        return SQL(
            """SELECT p.name, count(*) FROM comm_webhook_event e JOIN comm_provider p ON p.id = e.provider_id
                WHERE e.state = 'dead' AND p.company_id = ANY(%s)
                GROUP BY p.id, p.name HAVING count(*) > %s ORDER BY p.id""",
            companies, int(self.threshold),
        ), lambda name, count: self.env._('%(account)s: %(count)s dead webhook events', account=name, count=count)

    def _query_breaker_open(self, companies):
        return SQL(
            """SELECT p.name, b.failures FROM comm_provider p JOIN comm_provider_breaker b ON b.provider_id = p.id
                WHERE p.active AND b.state != 'closed' AND p.company_id = ANY(%s) ORDER BY p.id""", companies,
        ), lambda name, failures: self.env._('%(account)s: sending paused after %(count)s failures in a row',
                                    account=name, count=failures or 0)

    def _query_forged(self, companies):
        """Forged requests of the last 60 minutes (counted per minute), per account."""
        return SQL(
            """SELECT p.name, sum(r.count) FROM comm_webhook_rejection r JOIN comm_provider p ON p.id = r.provider_id
                WHERE r.minute >= date_trunc('minute', now() at time zone 'UTC') - interval '59 minutes'
                  AND p.company_id = ANY(%s)
                GROUP BY p.id, p.name HAVING sum(r.count) > %s
                ORDER BY p.id""", companies, self.threshold,
        ), lambda name, count: self.env._('%(account)s: %(count)s forged requests in the last hour',
                                    account=name, count=count)

    def _query_template(self, companies):
        statuses = dict(TEMPLATE_STATUSES)
        return SQL(
            """SELECT t.name, t.language, t.status, p.name
                 FROM comm_whatsapp_template t JOIN comm_provider p ON p.id = t.provider_id
                WHERE t.active AND t.status IN ('paused', 'rejected') AND p.company_id = ANY(%s)
                ORDER BY t.id""", companies,
        ), lambda name, language, status, account: self.env._('%(account)s: template %(template)s (%(language)s) %(status)s',
                                                     account=account, template=name, language=language,
                                                     status=statuses[status])

    def _query_credentials(self, companies):
        """Accounts whose connection test failed, or whose provider refused a message for the
        account's credentials (failure type ``sms_acc``) in the last ``window`` minutes."""
        since = fields.Datetime.now() - timedelta(minutes=max(self.window, 1))
        return SQL(
            """SELECT p.name FROM comm_provider p
                WHERE p.active AND p.company_id = ANY(%s)
                  AND (p.state = 'error' OR EXISTS (
                       SELECT 1 FROM comm_message m WHERE m.failed_at >= %s AND m.provider_id = p.id
                          AND m.failure_type = 'sms_acc'))
                ORDER BY p.id""", companies, since,
        ), lambda name: self.env._('%(account)s: the provider refuses the credentials', account=name)

    # ------------------------------------------------------------------------------------------
    # Firing and clearing
    # ------------------------------------------------------------------------------------------

    def _fire(self, findings):
        detail = '\n'.join(findings)
        body = Markup('<p>%s</p><ul>%s</ul>') % (
            _('Alert: %(rule)s', rule=self.name), Markup('').join(Markup('<li>%s</li>') % line for line in findings))
        managers = self.env.ref('comm_gateway.group_comm_manager').users.filtered(lambda user: not user.share)
        user = self.user_id or managers[:1]
        activity = self.activity_schedule(
            'mail.mail_activity_data_warning', summary=_('Alert: %(rule)s', rule=self.name),
            note=body, user_id=user.id) if user else self.env['mail.activity']
        self.message_post(body=body, partner_ids=(managers - user).partner_id.ids,
                          subtype_xmlid='mail.mt_note')
        if self.email_to:
            self.env['mail.mail'].sudo().create({
                'subject': _('Communications alert: %(rule)s', rule=self.name),
                'body_html': body, 'email_to': self.email_to, 'auto_delete': True,
            })
        self.write({'state': 'firing', 'fired_at': fields.Datetime.now(), 'detail': detail,
                    'activity_id': activity.id})
        _logger.warning('comm.alert.rule %s (%s) fired: %s finding(s)', self.id, self.kind, len(findings))

    def _clear(self):
        note = _('Cleared: the condition ended (it held since %(since)s UTC).',
                 since=fields.Datetime.to_string(self.fired_at))
        if self.activity_id:
            self.activity_id.action_feedback(feedback=note)
        else:
            self.message_post(body=html_escape(note), subtype_xmlid='mail.mt_note')
        self.write({'state': 'ok', 'detail': False, 'activity_id': False})
        _logger.info('comm.alert.rule %s (%s) cleared', self.id, self.kind)
