"""Spending and rate guard per account, and what libphonenumber says about each message's number.

The guard is applied where messages are claimed (``comm.message._claim_outbound``), in the claim
query itself (:func:`guarded_claim`): per account a daily cap on claimed messages, counted on the
day of the account's company's timezone (``cap_tz``), and destinations refused — a premium-rate
number, or, when the account has an allowed list, a number of another country or of no known
country — unless their country is allowed. Beyond the cap a message waits for the next day with
``guard_state = 'daily_cap'``; a refused one fails with ``guard_state = 'destination'``. Both are
what the alerts read.
"""
import logging
from datetime import datetime

import pytz

from odoo import _, api, fields, models
from odoo.tools import SQL

from ..providers import ProviderError
from ..tools.number_info import NUMBER_TYPES, number_info

_logger = logging.getLogger(__name__)

GUARD_STATES = [('daily_cap', 'Daily cap reached'), ('destination', 'Destination refused')]


def guarded_claim(now, candidates):
    """The claim of the dispatch, guarded, in one statement: ``candidates`` selects and locks the
    due rows (``SELECT m.id … LIMIT … FOR NO KEY UPDATE OF m SKIP LOCKED``); of those, the ones
    within their account's cap and to an allowed destination are claimed (``'attempt'``), the ones
    beyond the cap wait for the account's next day (midnight in its ``cap_tz``), the refused ones
    are claimed marked ``destination`` (the caller fails them). A number of no known country is
    refused when the account has allowed destinations: it cannot be shown to be one of them.
    Each account's count of its day is kept in ``comm_provider_usage``,
    whose row is locked for the statement (a concurrent claim is a serialization failure, and the
    claim is made again): two workers never pass the cap together.

    :returns: the SQL, whose rows are the ids claimed (refused ones included)
    """
    return SQL(
        """WITH locked AS (SELECT m.id, m.provider_id, m.number_type, m.number_country_id
                             FROM comm_message m WHERE m.id IN (%(candidates)s)),
                days AS (SELECT p.id AS provider_id, COALESCE(p.cap_tz, 'UTC') AS tz,
                                timezone(COALESCE(p.cap_tz, 'UTC'), timezone('UTC', %(now)s::timestamp))::date AS day
                           FROM comm_provider p WHERE p.id IN (SELECT provider_id FROM locked)),
                usage AS (SELECT u.provider_id, u.sent FROM comm_provider_usage u
                            JOIN days d ON d.provider_id = u.provider_id AND d.day = u.day
                             FOR UPDATE OF u),
                checked AS (
                    SELECT l.id, l.provider_id,
                           NOT EXISTS (SELECT 1 FROM comm_provider_allowed_country_rel a
                                            WHERE a.provider_id = l.provider_id AND a.country_id = l.number_country_id)
                           AND (l.number_type = 'premium_rate'
                                OR EXISTS (SELECT 1 FROM comm_provider_allowed_country_rel a
                                            WHERE a.provider_id = l.provider_id)) AS refused
                      FROM locked l),
                ranked AS (
                    SELECT c.id, c.provider_id,
                           CASE WHEN c.refused THEN 'destination'
                                WHEN p.daily_cap > 0 AND row_number() OVER (PARTITION BY c.provider_id, c.refused
                                                                            ORDER BY c.id)
                                     > GREATEST(p.daily_cap - COALESCE(u.sent, 0), 0) THEN 'daily_cap'
                                ELSE 'send' END AS verdict
                      FROM checked c JOIN comm_provider p ON p.id = c.provider_id
                      LEFT JOIN usage u ON u.provider_id = c.provider_id),
                counted AS (
                    INSERT INTO comm_provider_usage AS u (provider_id, day, sent)
                    SELECT r.provider_id, d.day, count(*) FROM ranked r JOIN days d ON d.provider_id = r.provider_id
                     WHERE r.verdict = 'send' GROUP BY r.provider_id, d.day
                    ON CONFLICT (provider_id, day) DO UPDATE SET sent = u.sent + EXCLUDED.sent
                    RETURNING u.provider_id),
                claimed AS (
                    UPDATE comm_message m
                       SET dispatch_state = CASE WHEN r.verdict = 'daily_cap' THEN 'todo' ELSE 'attempt' END,
                           attempt_at = CASE WHEN r.verdict = 'daily_cap' THEN m.attempt_at ELSE %(now)s END,
                           attempts = COALESCE(m.attempts, 0) + CASE WHEN r.verdict = 'daily_cap' THEN 0 ELSE 1 END,
                           attempt_unstarted = CASE WHEN r.verdict = 'daily_cap' THEN m.attempt_unstarted ELSE TRUE END,
                           next_try_at = CASE WHEN r.verdict = 'daily_cap'
                                              THEN timezone('UTC', timezone(d.tz, (d.day + 1)::timestamp))
                                              ELSE m.next_try_at END,
                           guard_state = CASE WHEN r.verdict = 'send' THEN NULL ELSE r.verdict END
                      FROM ranked r JOIN days d ON d.provider_id = r.provider_id
                     WHERE m.id = r.id
                 RETURNING m.id, r.verdict)
           SELECT id FROM claimed WHERE verdict != 'daily_cap'""",
        candidates=candidates, now=fields.Datetime.to_string(now)[:19])


class CommProviderUsage(models.Model):
    """How many messages an account's dispatch claimed on a day of its ``cap_tz`` (its daily cap)."""
    _name = 'comm.provider.usage'
    _description = 'Messages claimed per account and day'
    _log_access = False

    provider_id = fields.Many2one('comm.provider', required=True, ondelete='cascade')
    day = fields.Date(required=True)
    sent = fields.Integer()

    _sql_constraints = [('provider_day_unique', 'unique(provider_id, day)', 'One count per account and day.')]


class CommProvider(models.Model):
    _inherit = 'comm.provider'

    daily_cap = fields.Integer(
        'Daily cap', default=0,
        help="At most this many messages leave this account per day — the day of the company's timezone "
             "(its contact's Timezone; UTC when it has none), from midnight to midnight there; the others "
             "wait for the next day, saying so. 0: no cap.")
    cap_tz = fields.Char(
        'Daily cap timezone', compute='_compute_cap_tz', store=True,
        help="The company's timezone, when PostgreSQL knows it (else UTC): the daily cap's day.")
    allowed_country_ids = fields.Many2many(
        'res.country', 'comm_provider_allowed_country_rel', 'provider_id', 'country_id', 'Allowed destinations',
        help='When set, messages to other countries are refused, and so are numbers whose country is not '
             'known (libphonenumber cannot place them). Premium-rate numbers are refused unless their '
             'country is listed here.')
    sent_today = fields.Integer('Claimed today', compute='_compute_sent_today')

    @api.depends('company_id.partner_id.tz')
    def _compute_cap_tz(self):
        # the claim statement computes the day with PostgreSQL's timezones: a name it does not
        # know would stop every claim, so only known names are kept
        names = {provider.company_id.partner_id.tz for provider in self} - {False}
        known = set()
        if names:
            self.env.cr.execute(SQL("SELECT name FROM pg_timezone_names WHERE name IN %s", tuple(names)))
            known = {name for name, in self.env.cr.fetchall()}
        for provider in self:
            tz = provider.company_id.partner_id.tz
            provider.cap_tz = tz if tz in known else 'UTC'

    def _cap_day(self):
        """Today, in the account's ``cap_tz``."""
        self.ensure_one()
        return datetime.now(pytz.timezone(self.cap_tz or 'UTC')).date()

    def _compute_sent_today(self):
        usage = {(provider.id, day): sent for provider, day, sent in self.env['comm.provider.usage'].sudo()._read_group(
            [('provider_id', 'in', self.ids), ('day', 'in', list({provider._cap_day() for provider in self}))],
            ['provider_id', 'day:day'], ['sent:sum'])}
        for provider in self:
            provider.sent_today = usage.get((provider.id, provider._cap_day()), 0)

    def write(self, vals):
        result = super().write(vals)
        if {'daily_cap', 'allowed_country_ids'} & set(vals):
            # a raised cap lets the waiting messages go now (the next claim applies the new cap)
            waiting = self.env['comm.message'].sudo().search(
                [('provider_id', 'in', self.ids), ('guard_state', '=', 'daily_cap'), ('dispatch_state', '=', 'todo')])
            if waiting:
                waiting.write({'next_try_at': fields.Datetime.now()})
                self.env['comm.message']._trigger_dispatch()
        return result


class CommMessage(models.Model):
    _inherit = 'comm.message'

    guard_state = fields.Selection(
        GUARD_STATES, 'Held by the guard', readonly=True, copy=False, index='btree_not_null',
        help="Daily cap reached: waits for the next day. Destination refused: the account does not send there.")
    # the other party's number (the recipient of an outbound message, the sender of an inbound one);
    # computed before the insert (precompute: no UPDATE of the new rows after it)
    number_type = fields.Selection(NUMBER_TYPES, compute='_compute_number_info', store=True, readonly=True,
                                   precompute=True)
    number_country_id = fields.Many2one('res.country', 'Number country', compute='_compute_number_info',
                                        store=True, readonly=True, precompute=True)
    number_carrier = fields.Char('Carrier', compute='_compute_number_info', store=True, readonly=True,
                                 precompute=True,
                                 help="The number's original carrier, by libphonenumber (a ported number moved).")

    @api.depends('direction', 'to_number', 'from_number')
    def _compute_number_info(self):
        infos = {message.id: number_info(message.to_number if message.direction == 'out' else message.from_number)
                 for message in self}
        codes = {info[1] for info in infos.values() if info and info[1]}
        countries = {country.code: country for country in self.env['res.country'].search([('code', 'in', list(codes))])}
        for message in self:
            kind, region, carrier = infos[message.id] or (False, '', '')
            message.number_type = kind
            message.number_country_id = countries.get(region, False)
            message.number_carrier = carrier or False

    def _guard_refused(self):
        """Fail the claimed messages the guard refused; :returns: the others."""
        refused = self.filtered(lambda m: m.guard_state == 'destination')
        for message in refused:
            message._fail(ProviderError(
                _('%(account)s does not send to %(number)s (%(kind)s, %(country)s): add the country to the '
                  "account's allowed destinations to send there.", account=message.provider_id.display_name,
                  number=message.to_number, country=message.number_country_id.name,
                  kind=dict(NUMBER_TYPES).get(message.number_type, '?'))
                if message.number_country_id else
                _("%(account)s sends only to its allowed destinations, and the country of %(number)s is not "
                  "known: it cannot be one of them.", account=message.provider_id.display_name,
                  number=message.to_number),
                code='destination_refused', failure_type='sms_number_format'))
        if refused:
            _logger.info('comm.message %s: destination refused by the account guard', refused.ids)
        return self - refused
