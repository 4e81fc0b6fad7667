"""The Communications app's landing page: every figure of the overview (static/src/overview),
served by one method, each with the list action that shows the records behind it.

Volumes and delivery come from the daily counts PostgreSQL keeps (models/comm_stat.py); the
rest are SQL ``GROUP BY`` over small indexed sets (see the ``init`` of the inherited models
below). ``bench/run.sh overview`` times them on 1,000,000 messages (docs/BENCHMARKS.md).
"""
from datetime import datetime, time, timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL, create_index

from .comm_call import STATES as CALL_STATES
from .comm_message import STATES as MESSAGE_STATES
from .comm_whatsapp_template import QUALITIES, STATUSES as TEMPLATE_STATUSES

CHANNELS = [('sms', 'SMS'), ('mms', 'MMS'), ('whatsapp', 'WhatsApp'), ('voice', 'Calls')]
DELIVERED = ('delivered', 'read')
UNDELIVERED = ('failed', 'undelivered')
MAX_PERIOD = 366                # days
TOP_FAILURES = 10
MISSED_CALL_STATES = ('busy', 'no_answer', 'failed', 'canceled')


class CommMessage(models.Model):
    _inherit = 'comm.message'

    def init(self):
        super().init()
        # the last N outbound messages of an account and their status (alert rule): index only
        create_index(self.env.cr, 'comm_message_out_state_idx', self._table, ['provider_id', 'id', 'state'],
                     where="direction = 'out'")
        create_index(self.env.cr, 'comm_message_failed_at_idx', self._table, ['failed_at'],
                     where='failed_at IS NOT NULL')
        # the latest failure with an error code (the provider's own words for it)
        create_index(self.env.cr, 'comm_message_error_code_idx', self._table, ['error_code', 'create_date'],
                     where="direction = 'out' AND state IN ('failed', 'undelivered')")
        # WhatsApp conversations open: customers who wrote in the last 24 hours, index only
        create_index(self.env.cr, 'comm_message_whatsapp_in_idx', self._table,
                     ['create_date', 'provider_id', 'from_number'], where="direction = 'in' AND channel = 'whatsapp'")


class CommCall(models.Model):
    _inherit = 'comm.call'

    def init(self):
        super().init()
        create_index(self.env.cr, 'comm_call_overview_idx', self._table,
                     ['start_date', 'provider_id', 'direction', 'state', 'answer_date', 'duration'])


class CommOverview(models.AbstractModel):
    _name = 'comm.overview'
    _description = 'Communications overview'

    @api.model
    def get_overview(self, period=30, account_ids=None):
        """Every figure of the overview, for Communications Users and Administrators.

        Users see the counts of the accounts they may read (their allowed companies'), as counts
        only: no queue health (``queue`` is ``None``), no provider's words for an error (they come
        from messages whose documents they may not read). Each figure's list keeps the record rules.

        :param period: number of days, today included (the user's time zone)
        :param account_ids: ``comm.provider`` ids to show; all of the allowed companies when empty
        :returns: ``{'accounts', 'period', 'volumes', 'accounts_table', 'delivery', 'failures',
            'queue', 'whatsapp', 'calls', 'is_admin'}``; every figure carries the ``action`` listing
            its records
        """
        if not self.env.user.has_group('comm_gateway.group_comm_user'):
            raise AccessError(_('Only Communications Users can see the Communications overview.'))
        is_admin = self.env.user.has_group('comm_gateway.group_comm_manager')
        period = min(max(int(period or 30), 1), MAX_PERIOD)
        accounts = self._accounts(account_ids)
        window = self._window(period)
        self.env.flush_all()
        result = {
            'period': period, 'is_admin': is_admin,
            'accounts': [{'id': account.id, 'name': account.name} for account in self._accounts(None)],
            'selected_account_ids': accounts.ids if account_ids else [],
            'days': [str(window['first_day'] + timedelta(days=index)) for index in range(period)],
        }
        if not accounts:
            accounts = self.env['comm.provider']
        result.update(self._message_figures(accounts, window))
        result['failures'] = self._failures(accounts, window, words=is_admin)
        result['calls'] = self._calls(accounts, window, result)
        result['queue'] = self._queue(accounts, window) if is_admin else None
        result['whatsapp'] = self._whatsapp(accounts)
        return result

    # ------------------------------------------------------------------------------------------
    # Scope
    # ------------------------------------------------------------------------------------------

    @api.model
    def _accounts(self, account_ids):
        """The accounts the user may read in their allowed companies (archived ones too: their
        history counts); the search applies comm.provider's record rules."""
        domain = [('company_id', 'in', self.env.companies.ids)]
        if account_ids:
            domain.append(('id', 'in', [int(account_id) for account_id in account_ids]))
        return self.env['comm.provider'].with_context(active_test=False).search(domain, order='sequence, id')

    @api.model
    def _window(self, period):
        """The last ``period`` days (UTC days, as the daily counts are kept)."""
        first_day = fields.Date.today() - timedelta(days=period - 1)
        return {'first_day': first_day, 'start': datetime.combine(first_day, time.min), 'now': fields.Datetime.now()}

    @staticmethod
    def _action(name, res_model, domain):
        return {'name': name, 'res_model': res_model, 'domain': domain}

    # ------------------------------------------------------------------------------------------
    # Figures
    # ------------------------------------------------------------------------------------------

    @api.model
    def _message_figures(self, accounts, window):
        """Volumes per day, channel and direction, totals per account, delivery per account and
        channel: from the daily counts (models/comm_stat.py)."""
        self.env.cr.execute(SQL(
            """SELECT day, provider_id, channel, direction, state, sum(count) FROM comm_stat
                WHERE provider_id = ANY(%s) AND day >= %s
                GROUP BY 1, 2, 3, 4, 5 HAVING sum(count) != 0""", accounts.ids, window['first_day']))
        rows = self.env.cr.fetchall()
        names = {account.id: account.name for account in accounts}
        start = fields.Datetime.to_string(window['start'])
        volumes, table, delivery = {}, {}, {}
        for day, account_id, channel, direction, state, count in rows:
            key = (channel, direction)
            volumes.setdefault(key, {}).setdefault(str(day), 0)
            volumes[key][str(day)] += count
            totals = table.setdefault(account_id, {})
            totals[key] = totals.get(key, 0) + count
            if channel != 'voice' and direction == 'out':
                figure = delivery.setdefault((account_id, channel), {'delivered': 0, 'undelivered': 0, 'sent': 0})
                if state in DELIVERED:
                    figure['delivered'] += count
                elif state in UNDELIVERED:
                    figure['undelivered'] += count
                elif state == 'sent':
                    figure['sent'] += count
        channel_names = dict(CHANNELS)
        direction_names = {'in': _('in'), 'out': _('out')}
        return {
            'volumes': [{
                'channel': channel, 'direction': direction,
                'label': f'{channel_names[channel]} {direction_names[direction]}',
                'counts': by_day,
                'action': self._volume_action(channel, direction, accounts, start),
            } for (channel, direction), by_day in sorted(volumes.items())],
            'accounts_table': [{
                'account_id': account_id, 'account': names[account_id],
                'cells': [{
                    'channel': channel, 'direction': direction, 'count': totals.get((channel, direction), 0),
                    'action': self._volume_action(channel, direction, accounts.browse(account_id), start),
                } for channel, _label in CHANNELS for direction in ('in', 'out')],
            } for account_id, totals in sorted(table.items())],
            'delivery': [{
                'account_id': account_id, 'account': names[account_id], 'channel': channel,
                'channel_label': channel_names[channel], **figure,
                'rate': round(100.0 * figure['delivered'] / (figure['delivered'] + figure['undelivered']), 1)
                if figure['delivered'] + figure['undelivered'] else None,
                'action': self._action(
                    _('%(account)s: delivered %(channel)s', account=names[account_id], channel=channel_names[channel]),
                    'comm.message', [('provider_id', '=', account_id), ('channel', '=', channel),
                                     ('direction', '=', 'out'), ('state', 'in', list(DELIVERED)),
                                     ('create_date', '>=', start)]),
                'failed_action': self._action(
                    _('%(account)s: undelivered %(channel)s', account=names[account_id],
                      channel=channel_names[channel]),
                    'comm.message', [('provider_id', '=', account_id), ('channel', '=', channel),
                                     ('direction', '=', 'out'), ('state', 'in', list(UNDELIVERED)),
                                     ('create_date', '>=', start)]),
            } for (account_id, channel), figure in sorted(delivery.items())],
        }

    def _volume_action(self, channel, direction, accounts, start):
        if channel == 'voice':
            return self._action(_('Calls'), 'comm.call', [
                ('provider_id', 'in', accounts.ids), ('direction', '=', direction), ('start_date', '>=', start)])
        return self._action(_('Messages'), 'comm.message', [
            ('provider_id', 'in', accounts.ids), ('channel', '=', channel), ('direction', '=', direction),
            ('create_date', '>=', start)])

    @api.model
    def _failures(self, accounts, window, words=True):
        """The most frequent provider error codes of the period, with what they mean: Odoo's
        failure type the adapter mapped the code to, and (``words``) the provider's own words."""
        self.env.cr.execute(SQL(
            """SELECT p.code, s.error_code, s.failure_type, sum(s.count)
                 FROM comm_stat s JOIN comm_provider p ON p.id = s.provider_id
                WHERE s.provider_id = ANY(%(accounts)s) AND s.day >= %(day)s AND s.direction = 'out'
                  AND s.state IN %(failed)s
                GROUP BY 1, 2, 3 HAVING sum(s.count) > 0 ORDER BY 4 DESC, 2 LIMIT %(limit)s""",
            accounts=accounts.ids, day=window['first_day'], failed=UNDELIVERED, limit=TOP_FAILURES))
        top = self.env.cr.fetchall()
        # the provider's words for each code: its latest failure with that code (one index descent each)
        self.env.cr.execute(SQL(
            """SELECT code, (SELECT error_message FROM comm_message
                              WHERE error_code = code AND direction = 'out' AND state IN %(failed)s
                                AND create_date >= %(start)s AND provider_id = ANY(%(accounts)s)
                                AND error_message IS NOT NULL
                              ORDER BY create_date DESC LIMIT 1)
                 FROM unnest(%(codes)s::varchar[]) AS code""",
            failed=UNDELIVERED, start=window['start'], accounts=accounts.ids,
            codes=[error_code for _code, error_code, _type, _count in top if error_code and words]))
        words = dict(self.env.cr.fetchall())
        failure_types = dict(self.env['sms.sms']._fields['failure_type']._description_selection(self.env))
        codes = dict(self.env['comm.provider']._fields['code']._description_selection(self.env))
        start = fields.Datetime.to_string(window['start'])
        return [{
            'provider': codes.get(code, code), 'error_code': error_code or '', 'count': count,
            'meaning': failure_types.get(failure_type) or failure_type or _('Not given'),
            'provider_words': words.get(error_code) or '',
            'action': self._action(_('Undelivered: %(code)s', code=error_code or _('no code')), 'comm.message', [
                ('provider_id', 'in', accounts.filtered(lambda account, code=code: account.code == code).ids),
                ('direction', '=', 'out'), ('state', 'in', list(UNDELIVERED)), ('create_date', '>=', start),
                ('error_code', 'in', [error_code, False] if not error_code else [error_code]),
                ('failure_type', 'in', [failure_type, False] if not failure_type else [failure_type])]),
        } for code, error_code, failure_type, count in top]

    @api.model
    def _calls(self, accounts, window, figures):
        self.env.cr.execute(SQL(
            """SELECT count(*) FILTER (WHERE answer_date IS NOT NULL),
                      count(*) FILTER (WHERE answer_date IS NULL AND direction = 'in' AND state IN %(missed)s),
                      avg(duration) FILTER (WHERE answer_date IS NOT NULL)
                 FROM comm_call WHERE provider_id = ANY(%(accounts)s) AND start_date >= %(start)s""",
            missed=MISSED_CALL_STATES, accounts=accounts.ids, start=window['start']))
        answered, missed, average = self.env.cr.fetchone()
        base = [('provider_id', 'in', accounts.ids), ('start_date', '>=', fields.Datetime.to_string(window['start']))]
        return {
            'answered': answered, 'missed': missed, 'average_duration': round(float(average or 0)),
            'answered_action': self._action(_('Answered calls'), 'comm.call', base + [('answer_date', '!=', False)]),
            'missed_action': self._action(_('Missed calls'), 'comm.call', base + [
                ('answer_date', '=', False), ('direction', '=', 'in'), ('state', 'in', list(MISSED_CALL_STATES))]),
        }

    @api.model
    def _queue(self, accounts, window):
        """Webhook events waiting or dead, the send backlog, each account's breaker and pace, and
        the forged requests per day and in the last 60 minutes (administrators only)."""
        now = window['now']
        self.env.cr.execute(SQL(
            """SELECT state, count(*), min(create_date) FROM comm_webhook_event
                WHERE provider_id = ANY(%s) AND state IN ('pending', 'processing', 'dead') GROUP BY state""",
            accounts.ids))
        events = {state: (count, oldest) for state, count, oldest in self.env.cr.fetchall()}
        state_names = dict(self.env['comm.webhook.event']._fields['state']._description_selection(self.env))
        self.env.cr.execute(SQL(
            """SELECT provider_id, count(*), count(*) FILTER (WHERE attempts > 0) FROM comm_message
                WHERE provider_id = ANY(%s) AND direction = 'out' AND dispatch_state IN ('todo', 'attempt')
                GROUP BY provider_id""", accounts.ids))
        backlog = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        self.env.cr.execute(SQL(
            """SELECT day, sum(count) FROM comm_webhook_rejection
                WHERE provider_id = ANY(%s) AND day >= %s GROUP BY day ORDER BY day""",
            accounts.ids, window['start'].date()))
        forged = self.env.cr.fetchall()
        self.env.cr.execute(SQL(
            "SELECT provider_id, next_slot_at FROM comm_provider_pace WHERE provider_id = ANY(%s)", accounts.ids))
        paced = {account_id: max((slot - now).total_seconds(), 0.0) for account_id, slot in self.env.cr.fetchall() if slot}
        breaker_names = dict(self.env['comm.provider']._fields['breaker_state']._description_selection(self.env))
        todo = [('provider_id', 'in', accounts.ids), ('direction', '=', 'out'), ('dispatch_state', 'in', ['todo', 'attempt'])]
        return {
            'events': [{
                'state': state, 'label': state_names[state], 'count': events.get(state, (0, None))[0],
                'oldest_age': int((now - events[state][1]).total_seconds()) if state in events else None,
                'action': self._action(_('Webhook events: %(state)s', state=state_names[state]), 'comm.webhook.event',
                                       [('provider_id', 'in', accounts.ids), ('state', '=', state)]),
            } for state in ('pending', 'processing', 'dead')],
            'backlog': sum(row[0] for row in backlog.values()),
            'backlog_action': self._action(_('Waiting to be sent'), 'comm.message', todo),
            'retrying': sum(row[1] for row in backlog.values()),
            'retrying_action': self._action(_('Waiting for a retry'), 'comm.message', todo + [('attempts', '>', 0)]),
            'accounts': [{
                'account_id': account.id, 'account': account.name, 'breaker_state': account.breaker_state,
                'breaker_label': breaker_names[account.breaker_state], 'rate_limit': account.rate_limit,
                'paced_seconds': round(paced.get(account.id, 0.0), 1),
                'backlog': backlog.get(account.id, (0, 0))[0],
                'action': self._action(_('Waiting to be sent'), 'comm.message', [
                    ('provider_id', '=', account.id), ('direction', '=', 'out'),
                    ('dispatch_state', 'in', ['todo', 'attempt'])]),
            } for account in accounts],
            'forged': [{'day': str(day), 'count': count} for day, count in forged],
            'forged_last_hour': sum(self.env['comm.webhook.rejection']._last_hour(accounts).values()),
        }

    @api.model
    def _whatsapp(self, accounts):
        self.env.cr.execute(SQL(
            """SELECT status, COALESCE(quality, 'unknown'), count(*) FROM comm_whatsapp_template
                WHERE provider_id = ANY(%s) AND active GROUP BY 1, 2 ORDER BY 1, 2""", accounts.ids))
        statuses, qualities = dict(TEMPLATE_STATUSES), dict(QUALITIES)
        templates = [{
            'status': status, 'quality': quality, 'count': count,
            'label': f'{statuses.get(status, status)} · {qualities.get(quality, quality)}',
            'action': self._action(_('WhatsApp templates'), 'comm.whatsapp.template', [
                ('provider_id', 'in', accounts.ids), ('status', '=', status),
                ('quality', '=', quality) if quality != 'unknown' else ('quality', 'in', [False, 'unknown'])]),
        } for status, quality, count in self.env.cr.fetchall()]
        since = fields.Datetime.now() - timedelta(hours=24)
        self.env.cr.execute(SQL(
            """SELECT count(DISTINCT (provider_id, from_number)) FROM comm_message
                WHERE provider_id = ANY(%s) AND direction = 'in' AND channel = 'whatsapp' AND create_date >= %s""",
            accounts.ids, since))
        return {
            'templates': templates,
            'open_conversations': self.env.cr.fetchone()[0],
            'open_action': self._action(_('WhatsApp: customers who wrote in the last 24 hours'), 'comm.message', [
                ('provider_id', 'in', accounts.ids), ('direction', '=', 'in'), ('channel', '=', 'whatsapp'),
                ('create_date', '>=', fields.Datetime.to_string(since))]),
        }
