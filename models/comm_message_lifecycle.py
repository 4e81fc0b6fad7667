"""Every step a message goes through (``comm.message.step``), its correlation id in the log lines
about it, and the stale statuses asked from the providers.

Steps are noted in memory as they happen and written together, one insert, when the transaction
reaches its next savepoint or commit (a precommit hook): a batch of answers or statuses costs one
insert whatever its size, and a step noted inside a savepoint that is rolled back goes with it.
"""
import json
import logging
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.tools import SQL

from ..providers import ProviderError
from ..tools import log
from ..tools.dispatch import cron_budget
from ..tools.redact import redact_token

_logger = logging.getLogger(__name__)

STEPS_KEY = 'comm_gateway.message_steps'
STALE_PARAM = 'comm_gateway.stale_status_minutes'
DEFAULT_STALE_MINUTES = 60
STALE_MAX_AGE = timedelta(days=7)       # older ones are not asked about any more
POLL_BATCH = 50


class CommMessage(models.Model):
    _inherit = 'comm.message'

    step_ids = fields.One2many('comm.message.step', 'message_id', 'Lifecycle',
                               groups='comm_gateway.group_comm_manager')
    status_checked_at = fields.Datetime(
        'Status asked at', copy=False, help='When the provider was last asked for the status (no final status came)')

    def _register_hook(self):
        super()._register_hook()
        log.install_filter()
        log.refresh(self.env, force=True)

    # ------------------------------------------------------------------------------------------
    # Steps
    # ------------------------------------------------------------------------------------------

    def _comm_step(self, kind, **values):
        """Note a step of each of these messages (written at the next savepoint or commit).

        The webhook event being processed (context ``comm_webhook_event_id``) is linked to it.
        """
        if not self or self.env.context.get('comm_steps_noted'):
            return
        data = self.env.cr.precommit.data
        if STEPS_KEY not in data:
            data[STEPS_KEY] = []
            self.env.cr.precommit.add(self._comm_write_steps)
        at = fields.Datetime.now()
        event_id = self.env.context.get('comm_webhook_event_id') or False
        data[STEPS_KEY].extend({
            'message_id': message.id, 'company_id': message.company_id.id, 'at': at, 'kind': kind,
            'event_id': event_id, **values} for message in self)

    def _comm_write_steps(self):
        rows = self.env.cr.precommit.data.pop(STEPS_KEY, [])
        if not rows:
            return
        # one INSERT for the lot, typed by the table itself, whatever the kinds of steps (an ORM
        # create cost half a millisecond per step); a message deleted since (in this transaction)
        # takes its steps with it
        columns = SQL(', ').join(SQL.identifier(column) for column in dict.fromkeys(key for row in rows for key in row))
        self.env.cr.execute(SQL(
            """INSERT INTO comm_message_step (%(columns)s)
               SELECT %(columns)s FROM jsonb_populate_recordset(NULL::comm_message_step, %(rows)s) AS step
                WHERE EXISTS (SELECT 1 FROM comm_message m WHERE m.id = step.message_id)""",
            columns=columns, rows=json.dumps([{key: None if value is False else value for key, value in row.items()}
                                              for row in rows], default=str)))
        self.env['comm.message.step'].invalidate_model()
        self.env['comm.message'].invalidate_model(['step_ids'])

    @api.model_create_multi
    def create(self, vals_list):
        messages = super().create(vals_list)
        messages.filtered(lambda m: m.direction == 'out')._comm_step('queued', state='queued')
        # inbound messages processed together come from several events: each is linked to its own
        events = self.env.context.get('comm_webhook_events_by_message') or {}
        for message in messages.filtered(lambda m: m.direction == 'in'):
            event_id = events.get((message.provider_id.id, message.provider_message_id))
            message.with_context(**({'comm_webhook_event_id': event_id} if event_id else {}))._comm_step(
                'webhook', state='received')
        return messages

    @api.model
    def _record_answers(self, answers):
        """The steps of the answers (attempt, status change, retry) noted after they are recorded,
        in order: one insert for the group."""
        # what noting them reads, for the group only (after a commit the cache is empty, and the
        # messages' prefetch set is a whole claim)
        self.browse([message.id for message, _result in answers]).fetch(['state', 'company_id', 'attempts', 'provider_id'])
        before = {message.id: message.state for message, _result in answers}
        super()._record_answers([(message.with_context(comm_steps_noted=True), result) for message, result in answers])
        for message, result in answers:
            message._comm_note_answer(result, before[message.id])

    def _comm_note_answer(self, result, state_before):
        # env._, not _: one answer per message sent, and _ searches the stack for the language each time
        if isinstance(result, ProviderError):
            self._comm_step('attempt', error_code=result.code or False, duration=result.elapsed, detail=self.env._(
                'Attempt %(number)s: %(error)s', number=self.attempts, error=result.message))
        else:
            self._comm_step('attempt', provider_status=result.raw.get('status') or False, duration=result.elapsed,
                            detail=self.env._('Attempt %(number)s: accepted as %(id)s', number=self.attempts,
                                              id=result.provider_id))
        if self.state != state_before:
            self._comm_step('status', state=self.state, error_code=self.error_code or False,
                            detail=self.error_message or False)
        if isinstance(result, ProviderError) and self.dispatch_state == 'todo':
            self._comm_step('retry', error_code=result.code or False, detail=self.env._(
                'Next try at %(at)s (UTC): %(why)s', at=self.next_try_at, why=result.message))

    def _record_answer(self, result):
        with log.correlation(self.client_ref):
            return super()._record_answer(result)

    def _reconcile_attempt(self):
        with log.correlation(self.client_ref):
            return super()._reconcile_attempt()

    @api.model
    def _receive_status(self, provider, status):
        report = (status.status, status.provider_status or '', status.error_code or '')
        return super(CommMessage, self.with_context(comm_status_report=report))._receive_status(provider, status)

    @api.model
    def _apply_statuses(self, statuses, event_ids=None):
        """A batch's statuses: one step per status as reported (linked to its webhook event) and
        one per change it made, all noted together (one insert with the batch's commit)."""
        applied = super()._apply_statuses(statuses, event_ids=event_ids)
        moved = {id(status) for _message, status in applied}
        for (message, status), event_id in zip(statuses, event_ids or [False] * len(statuses)):
            message.with_context(comm_webhook_event_id=event_id)._comm_step(
                'webhook' if event_id else 'poll', state=status.status,
                provider_status=status.provider_status or False, error_code=status.error_code or False)
            if id(status) in moved:
                message._comm_step('status', state=status.status, error_code=status.error_code or False,
                                   detail=status.error_message or False)
        return applied

    def _apply_state(self, state, error_code='', error_message='', failure_type='', when=None):
        report = self.env.context.get('comm_status_report')
        if report:      # the status as the provider reported it, before what it changed
            reported, provider_status, code = report
            self._comm_step('webhook' if self.env.context.get('comm_webhook_event_id') else 'poll',
                            state=reported, provider_status=provider_status or False, error_code=code or False)
        with log.correlation(self.client_ref):
            changed = super(CommMessage, self.with_context(comm_status_report=False))._apply_state(
                state, error_code=error_code, error_message=error_message, failure_type=failure_type, when=when)
        if changed:
            self._comm_step('status', state=state, error_code=error_code or False, detail=error_message or False)
        elif report:
            _logger.debug('comm.message %s: %s reported, not a step forward from %s', self.id, state, self.state)
        return changed

    # ------------------------------------------------------------------------------------------
    # Stale statuses: ask the provider (cron)
    # ------------------------------------------------------------------------------------------

    @api.model
    def _stale_status_domain(self):
        """Sent, no final status after the configured time, at a provider that can be asked, and
        not asked since that time."""
        minutes = int(self.env['ir.config_parameter'].sudo().get_param(STALE_PARAM, DEFAULT_STALE_MINUTES))
        now = fields.Datetime.now()
        cutoff = now - timedelta(minutes=max(minutes, 1))
        return [('direction', '=', 'out'), ('dispatch_state', '=', 'done'), ('state', 'in', ('queued', 'sent')),
                ('provider_message_id', '!=', False),
                ('provider_id', 'any', self.env['comm.provider']._able_domain('status_lookup')),
                ('attempt_at', '<', cutoff), ('attempt_at', '>', now - STALE_MAX_AGE),
                '|', ('status_checked_at', '=', False), ('status_checked_at', '<', cutoff)]

    @api.model
    def _cron_poll_statuses(self, batch_size=POLL_BATCH, budget=None):
        """Ask the providers about the messages whose status is stale, oldest question first, in
        a bounded batch within the run's time budget; one savepoint and one commit each. What they
        answer goes through the same path as a status webhook.

        :returns: how many were asked
        """
        budget = budget or cron_budget(self.env)
        messages = self.sudo().search(self._stale_status_domain(), order='status_checked_at NULLS FIRST, id',
                                      limit=batch_size)
        done = 0
        for message in messages:
            if budget.spent(message.provider_id._send_reserve()):
                break
            message._poll_status()
            done += 1
            self._commit()
        remaining = self.sudo().search_count(self._stale_status_domain()) if done else 0
        self.env['ir.cron']._notify_progress(done=done, remaining=remaining)
        if done:
            _logger.info('comm.message: asked the providers about %s stale statuses, %s remaining', done, remaining)
        return done

    def _poll_status(self):
        """Ask the provider for this message's status and apply it as a webhook's would be."""
        self.ensure_one()
        provider = self.provider_id
        with log.correlation(self.client_ref):
            try:
                with self.env.cr.savepoint():
                    status = provider._get_adapter().fetch_status(self.provider_message_id)
                    if getattr(status, 'kind', None) == 'status':
                        self._receive_status(provider, status)
                    else:
                        self._comm_step('poll', detail=getattr(status, 'reason', None) or _(
                            '%(provider)s cannot tell the status', provider=provider.name))
            except ProviderError as exc:
                _logger.warning('comm.message %s: the status could not be asked (%s)', self.id, exc.code)
                self._comm_step('poll', error_code=exc.code or False, detail=exc.message)
            except Exception:  # noqa: BLE001  one bad message never stops the others
                _logger.exception('comm.message %s: the status could not be asked', self.id)
            self.status_checked_at = fields.Datetime.now()


class CommWebhookEvent(models.Model):
    _inherit = 'comm.webhook.event'

    def _process(self, normalized=None):
        self.ensure_one()
        _logger.debug('comm.webhook.event %s: processing a %s request of %s', self.id, self.purpose,
                      self.provider_id.code)
        if log.bodies_logged():
            _logger.debug('comm.webhook.event %s: body %s', self.id,
                          redact_token(self.body or repr(self.form_data)))
        return super(CommWebhookEvent, self.with_context(comm_webhook_event_id=self.id))._process(normalized)

    @api.model
    def _process_together(self, events, parsed):
        """The "received" step of each message processed together links the event it came in."""
        by_message = {(provider.id, item.provider_id): event.id
                      for event in events for provider, item in event._route(parsed[event.id])}
        return super(CommWebhookEvent, self.with_context(comm_webhook_events_by_message=by_message)
                     )._process_together(events, parsed)


class IrCron(models.Model):
    _inherit = 'ir.cron'

    def _callback(self, cron_name, server_action_id):
        log.refresh(self.env)       # the debug switches of Settings, without a restart
        return super()._callback(cron_name, server_action_id)


class IrHttp(models.AbstractModel):
    _inherit = 'ir.http'

    @classmethod
    def _pre_dispatch(cls, rule, args):
        super()._pre_dispatch(rule, args)
        from odoo.http import request  # noqa: PLC0415
        if request.db:
            log.refresh(request.env)
