"""Spending and rate guard per account, and what libphonenumber says about each message's number.

The guard is applied where messages are claimed (``comm.message._claim_outbound``), in the claim
query itself (:func:`guarded_claim`): per account a daily cap (UTC day) on claimed messages, and
destinations refused — a premium-rate number, or a country outside the account's allowed list when
it has one — unless their country is allowed. Beyond the cap a message waits for the next day with
``guard_state = 'daily_cap'``; a refused one fails with ``guard_state = 'destination'``. Both are
what the alerts read.
"""
import logging
from datetime import datetime, time, timedelta

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
    beyond the cap wait for the next UTC day, the refused ones are claimed marked ``destination``
    (the caller fails them). Each account's count of the day is kept in ``comm_provider_usage``,
    whose row is locked for the statement (a concurrent claim is a serialization failure, and the
    claim is made again): two workers never pass the cap together.

    :returns: the SQL, whose rows are the ids claimed (refused ones included)
    """
    today = now.date()
    tomorrow = datetime.combine(today + timedelta(days=1), time.min)
    return SQL(
        """WITH locked AS (SELECT m.id, m.provider_id, m.number_type, m.number_country_id
                             FROM comm_message m WHERE m.id IN (%(candidates)s)),
                usage AS (SELECT u.provider_id, u.sent FROM comm_provider_usage u
                           WHERE u.day = %(today)s AND u.provider_id IN (SELECT provider_id FROM locked)
                             FOR UPDATE),
                checked AS (
                    SELECT l.id, l.provider_id,
                           l.number_country_id IS NOT NULL
                           AND NOT EXISTS (SELECT 1 FROM comm_provider_allowed_country_rel a
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
                    SELECT provider_id, %(today)s, count(*) FROM ranked WHERE verdict = 'send' GROUP BY provider_id
                    ON CONFLICT (provider_id, day) DO UPDATE SET sent = u.sent + EXCLUDED.sent
                    RETURNING u.provider_id),
                claimed AS (
                    UPDATE comm_message m
                       SET dispatch_state = CASE WHEN r.verdict = 'daily_cap' THEN 'todo' ELSE 'attempt' END,
                           attempt_at = CASE WHEN r.verdict = 'daily_cap' THEN m.attempt_at ELSE %(now)s END,
                           attempts = COALESCE(m.attempts, 0) + CASE WHEN r.verdict = 'daily_cap' THEN 0 ELSE 1 END,
                           attempt_unstarted = CASE WHEN r.verdict = 'daily_cap' THEN m.attempt_unstarted ELSE TRUE END,
                           next_try_at = CASE WHEN r.verdict = 'daily_cap' THEN %(tomorrow)s ELSE m.next_try_at END,
                           guard_state = CASE WHEN r.verdict = 'send' THEN NULL ELSE r.verdict END
                      FROM ranked r WHERE m.id = r.id
                 RETURNING m.id, r.verdict)
           SELECT id FROM claimed WHERE verdict != 'daily_cap'""",
        candidates=candidates, today=today, tomorrow=tomorrow, now=fields.Datetime.to_string(now)[:19])


class CommProviderUsage(models.Model):
    """How many messages an account's dispatch claimed on a UTC day (its daily cap)."""
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
        help='At most this many messages leave this account per day (UTC); the others wait for the next '
             'day, saying so. 0: no cap.')
    allowed_country_ids = fields.Many2many(
        'res.country', 'comm_provider_allowed_country_rel', 'provider_id', 'country_id', 'Allowed destinations',
        help='When set, messages to other countries are refused. Premium-rate numbers are refused unless '
             'their country is listed here.')
    sent_today = fields.Integer('Claimed today', compute='_compute_sent_today')

    def _compute_sent_today(self):
        usage = dict(self.env['comm.provider.usage'].sudo()._read_group(
            [('provider_id', 'in', self.ids), ('day', '=', fields.Date.today())], ['provider_id'], ['sent:sum']))
        for provider in self:
            provider.sent_today = usage.get(provider, 0)

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
    # the other party's number (the recipient of an outbound message, the sender of an inbound one)
    number_type = fields.Selection(NUMBER_TYPES, compute='_compute_number_info', store=True, readonly=True)
    number_country_id = fields.Many2one('res.country', 'Number country', compute='_compute_number_info',
                                        store=True, readonly=True)
    number_carrier = fields.Char('Carrier', compute='_compute_number_info', store=True, readonly=True,
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
                  number=message.to_number, country=message.number_country_id.name or '?',
                  kind=dict(NUMBER_TYPES).get(message.number_type, '?')),
                code='destination_refused', failure_type='sms_number_format'))
        if refused:
            _logger.info('comm.message %s: destination refused by the account guard', refused.ids)
        return self - refused
