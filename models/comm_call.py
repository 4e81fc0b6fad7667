"""Call logs: one ``comm.call`` per call, click-to-call, and the answer to inbound calls.

A call's progress only ever comes from the provider's call events, through the webhook queue
(``comm.webhook.event`` → :meth:`CommCall._receive_event`), real providers and the Sandbox alike.
The answer webhook of the voice URL is the one synchronous exception: the provider waits for
call-control (TwiML, Plivo XML, NCCO), which :meth:`CommCall._answer_call_control` builds through the
adapter; that request is queued too, and the queue creates the call log.
"""
import logging
from urllib.parse import urlencode

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import LazyTranslate, create_index, clean_context

from ..providers import ProviderError
from ..providers.base import CALL_FINAL_STATES, CallRequest, to_e164
from .comm_message import _to_datetime
from .comm_webhook_event import RetryLater

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)

STATES = [('initiated', 'Initiated'), ('ringing', 'Ringing'), ('in_progress', 'In progress'),
          ('completed', 'Completed'), ('busy', 'Busy'), ('no_answer', 'No answer'), ('failed', 'Failed'),
          ('canceled', 'Canceled')]
# A call only moves forward in this order; all final states share the last rank: the first one wins.
STATE_RANK = {'initiated': 0, 'ringing': 1, 'in_progress': 2, **dict.fromkeys(CALL_FINAL_STATES, 3)}
RING_TIMEOUT = 30               # seconds a phone rings before the provider gives up
# Query parameter of our voice answer URL (Plivo signs the URL with its query): click-to-call,
# the agent picked up, dial this number (Plivo's answer_url). How a dial of ours ended comes to
# its own URL ('voice_dialed'): nothing rides on a query string of a Vonage JWT route, which
# signs the body only.
BRIDGE_PARAM = 'comm_to'
NOBODY_MESSAGE = _lt('Sorry, nobody can take your call right now. Please try again later.')


def format_duration(env, seconds):
    """'3 min 12 s' / '42 s'."""
    minutes, seconds = divmod(int(seconds or 0), 60)
    if minutes:
        return env._('%(minutes)s min %(seconds)s s', minutes=minutes, seconds=seconds)
    return env._('%(seconds)s s', seconds=seconds)


class CommCall(models.Model):
    _name = 'comm.call'
    _description = 'Phone call'
    _order = 'start_date desc, id desc'

    direction = fields.Selection([('in', 'Incoming'), ('out', 'Outgoing')], required=True, index=True)
    provider_id = fields.Many2one('comm.provider', 'Account', required=True, ondelete='restrict', index=True)
    company_id = fields.Many2one(related='provider_id.company_id', store=True, index=True)
    from_number = fields.Char('From', index='btree_not_null')
    to_number = fields.Char('To', index='btree_not_null')
    partner_id = fields.Many2one('res.partner', 'Contact', index='btree_not_null', ondelete='set null')
    user_id = fields.Many2one('res.users', 'Agent', index='btree_not_null', ondelete='set null',
                              help='Who placed the call, or took it when it was forwarded to them.')
    res_model = fields.Char('Related document model')
    res_id = fields.Many2oneReference('Related document', model_field='res_model')
    provider_call_id = fields.Char('Provider call id', copy=False)
    provider_parent_id = fields.Char(
        'Provider conversation id', copy=False, index='btree_not_null',
        help='Another id the provider\'s later events of this call may name (Vonage conversation).')
    state = fields.Selection(STATES, required=True, default='initiated', index=True)
    start_date = fields.Datetime('Started', required=True, default=fields.Datetime.now, index=True)
    answer_date = fields.Datetime('Answered')
    end_date = fields.Datetime('Ended')
    duration = fields.Integer('Duration (s)')
    duration_display = fields.Char('Duration', compute='_compute_duration_display')
    recording_url = fields.Char('Recording')
    hangup_cause = fields.Char()
    error_message = fields.Char()

    _sql_constraints = [
        ('provider_call_unique', 'unique(provider_id, provider_call_id)',
         'A provider call is recorded once per account.'),
    ]

    def init(self):
        create_index(self.env.cr, 'comm_call_res_idx', self._table, ['res_model', 'res_id'],
                     where='res_model IS NOT NULL')

    @api.depends('duration', 'state')
    def _compute_duration_display(self):
        for call in self:
            call.duration_display = format_duration(self.env, call.duration) if call.state == 'completed' else False

    @api.depends('direction', 'partner_id.name', 'from_number', 'to_number')
    def _compute_display_name(self):
        for call in self:
            who = call._correspondent()
            call.display_name = _('Call from %(who)s', who=who) if call.direction == 'in' else _(
                'Call to %(who)s', who=who)

    def _correspondent(self):
        number = self.from_number if self.direction == 'in' else self.to_number
        return self.partner_id.name or number or _('an unknown number')

    # ------------------------------------------------------------------------------------------
    # Click-to-call
    # ------------------------------------------------------------------------------------------

    @api.model
    def action_click_to_call(self, number, res_model=False, res_id=False):
        """Ring the current user's phone, then bridge to ``number``; called from phone fields.

        The call log is created at once and follows the provider's events. A provider's refusal
        (invalid number, no funds, bad credentials) is kept on the log and shown as a notification.

        :param number: the number as shown on the record
        :param res_model: model of the record the call is made from (its chatter gets the summary)
        :param res_id: id of that record
        :returns: a notification client action, or the dialog asking the agent's phone when it is not set
        :raises UserError: no voice account, or not a dialable number
        """
        if not self.env.user.has_group('comm_gateway.group_comm_user'):
            raise AccessError(_('Only Communications users can place calls.'))
        record = self._origin_record(res_model, res_id)
        provider = self.env.company.comm_voice_provider_id
        if not provider.channel_voice:
            raise UserError(_('No voice account: choose one in Settings → Communications.'))
        agent = self.env.user._comm_agent_number()
        if not agent:   # asked where it is needed, then the call goes on (wizard/comm_agent_phone.py)
            return self.env['comm.agent.phone']._ask(number, res_model, res_id)
        partner = self._record_partner(record)
        to = self.env['res.partner']._phone_format(
            number=number, country=partner.country_id or self.env.company.country_id, force_format='E164')
        if not to:
            raise UserError(_('%(number)s is not a phone number that can be called.', number=number))
        if not partner:
            partner = self.env['res.partner']._comm_find_by_number(to, provider.company_id)
        call = self.sudo().with_context(clean_context(self.env.context)).create({
            'direction': 'out', 'provider_id': provider.id, 'from_number': to_e164(provider.voice_from) or False,
            'to_number': to, 'partner_id': partner.id, 'user_id': self.env.uid,
            'res_model': record._name if record else False, 'res_id': record.id,
        })
        return call._start(agent)

    @api.model
    def _origin_record(self, res_model, res_id):
        """The record a call is made from, when the user may read it (else an error)."""
        if not res_model or not res_id or res_model not in self.env:
            return self.env['res.partner']
        record = self.env[res_model].browse(int(res_id)).exists()
        record.check_access('read')
        return record

    @api.model
    def _record_partner(self, record):
        if record._name == 'res.partner':
            return record
        field = record._fields.get('partner_id')
        return record.partner_id if field and field.comodel_name == 'res.partner' else self.env['res.partner']

    def _start(self, agent):
        self.ensure_one()
        provider = self.provider_id
        request = CallRequest(
            to=self.to_number, agent=agent, sender=self.from_number or '', timeout=RING_TIMEOUT,
            answer_url=_voice_url(provider, **{BRIDGE_PARAM: self.to_number}),
            action_url=provider._webhook_url('voice_dialed') or '',
            status_callback=provider._webhook_url('voice_status') or '')
        try:
            result = provider._get_adapter().start_call(request)
        except ProviderError as exc:
            _logger.info('comm.call %s (%s): call refused by the provider (code %s)', self.id, provider.code,
                         exc.code)
            self.write({'state': 'failed', 'end_date': fields.Datetime.now(), 'error_message': exc.message,
                        'hangup_cause': exc.code})
            return provider._notify(_('The call failed'), exc.message, 'danger')
        self.write({'provider_call_id': result.provider_id, 'provider_parent_id': result.parent_id or False})
        _logger.info('comm.call %s (%s): started, provider call %s', self.id, provider.code, result.provider_id)
        if provider.code == 'sandbox':
            self._sandbox_simulate(agent)
        return provider._notify(_('Calling'), _(
            'Your phone (%(agent)s) rings first: pick up to be connected to %(who)s.',
            agent=agent, who=self._correspondent()), 'info')

    def _sandbox_simulate(self, agent):
        """What a real provider would do next, through the same webhook queue: ring, answer, hang up."""
        provider = self.provider_id
        adapter = provider._get_adapter()
        for request in adapter.simulate_call(provider._webhook_url('voice_status'), self.provider_call_id, agent,
                                             self.to_number):
            self.env['comm.webhook.event']._receive(provider, 'voice_status', request)

    # ------------------------------------------------------------------------------------------
    # Inbound calls: the synchronous answer
    # ------------------------------------------------------------------------------------------

    @api.model
    def _answer_call_control(self, provider, purpose, request):
        """Call-control answering a verified request to a call-control URL: ``(body, content_type)``.

        * ``voice_dialed``: how a dial of ours ended: hang up after a conversation, else say that
          nobody can answer;
        * ``voice`` with :data:`BRIDGE_PARAM` in the query: the agent of a click-to-call picked up
          (Plivo asks its answer URL): dial the customer;
        * otherwise a call comes in: forward it to the caller's salesperson, else to the account's
          forward number, else say that nobody can answer.

        Reads only: the request is in the queue, which logs the call. The document carries the
        number dialed and nothing else of ours.
        """
        adapter = provider._get_adapter()
        event = next((e for e in adapter.parse_webhook(request, purpose) if e.kind == 'call'), None)
        if purpose == 'voice_dialed':
            if event and event.status in CALL_FINAL_STATES and event.status != 'completed':
                return adapter.answer_call(message=str(NOBODY_MESSAGE))
            return adapter.answer_call()
        query = dict(request.query)
        caller_id = to_e164(provider.voice_from)
        dialed_url = provider._webhook_url('voice_dialed') or ''
        if query.get(BRIDGE_PARAM):
            return adapter.answer_call(to_e164(query[BRIDGE_PARAM]), caller_id, timeout=RING_TIMEOUT,
                                       action_url=dialed_url)
        _partner, _agent, forward_to = self._inbound_route(provider, event.sender if event else '')
        if not forward_to:
            return adapter.answer_call(message=str(NOBODY_MESSAGE))
        return adapter.answer_call(forward_to, caller_id or (event and event.recipient) or '',
                                   timeout=RING_TIMEOUT, action_url=dialed_url)

    @api.model
    def _inbound_route(self, provider, caller):
        """Who takes a call from ``caller``: ``(partner, agent, E.164 number)``.

        The salesperson of the matched contact when they have a phone for calls, else the
        account's forward number (no agent); the number is '' when there is neither.
        """
        partner = self.env['res.partner']._comm_find_by_number(caller, provider.company_id)
        salesperson = (partner.user_id or partner.commercial_partner_id.user_id).sudo()
        if number := salesperson._comm_agent_number():
            return partner, salesperson, number
        return partner, self.env['res.users'], to_e164(provider.voice_forward_number)

    # ------------------------------------------------------------------------------------------
    # Call events (queue)
    # ------------------------------------------------------------------------------------------

    @api.model
    def _receive_event(self, provider, event):
        """Apply one normalized :class:`CallEvent`; the first event of an inbound call logs it.

        An event for an outgoing call not known yet (its click may not be committed) is retried.
        """
        call = self._find_for_event(provider, event)
        if not call:
            if event.direction != 'inbound':
                raise RetryLater(_('No call %(id)s yet: it may not be committed yet.',
                                   id=event.provider_id))
            call = self._create_inbound(provider, event)
        call._apply_event(event)
        return call

    @api.model
    def _find_for_event(self, provider, event):
        # Plivo names the call we started by its request id (parent_id); Vonage's other legs and
        # recordings name the conversation.
        ids = [key for key in (event.provider_id, event.parent_id) if key]
        return self.sudo().search([
            ('provider_id', '=', provider.id),
            '|', ('provider_call_id', 'in', ids), ('provider_parent_id', 'in', ids)], order='id', limit=1)

    @api.model
    def _create_inbound(self, provider, event):
        partner, agent, _number = self._inbound_route(provider, event.sender)
        return self.sudo().with_context(clean_context(self.env.context)).create({
            'direction': 'in', 'provider_id': provider.id, 'from_number': event.sender or False,
            'to_number': event.recipient or False, 'partner_id': partner.id, 'user_id': agent.id,
            'res_model': partner._name if partner else False, 'res_id': partner.id,
            'provider_call_id': event.provider_id, 'provider_parent_id': event.parent_id or False,
            'start_date': _to_datetime(event.timestamp) or fields.Datetime.now(),
        })

    def _apply_event(self, event):
        """Move forward only; a final state is never left; a recording may come after the end."""
        self.ensure_one()
        values = {}
        if event.recording_url and event.recording_url != self.recording_url:
            values['recording_url'] = event.recording_url
        status = event.status
        if self.state not in CALL_FINAL_STATES and STATE_RANK.get(status, -1) > STATE_RANK[self.state]:
            when = _to_datetime(event.timestamp) or fields.Datetime.now()
            values['state'] = status
            if status == 'in_progress':
                values['answer_date'] = when
            elif status in CALL_FINAL_STATES:
                answered = self.answer_date if status == 'completed' else False
                elapsed = int((when - answered).total_seconds()) if answered and when > answered else 0
                values.update(end_date=when, hangup_cause=event.hangup_cause or False,
                              duration=event.duration if event.duration is not None else elapsed)
        if not values:
            return False
        self.write(values)
        if values.get('state') in CALL_FINAL_STATES:
            self._log_summary()
        return True

    def _log_summary(self):
        """'Outgoing call with X — 3 min 12 s, answered' / 'Missed call from X' in the chatter."""
        self.ensure_one()
        record = self._chatter_record()
        if record:
            record._message_log(body=self._summary())
            record._comm_live_refresh()

    def _chatter_record(self):
        if self.res_model and self.res_id and self.res_model in self.env:
            record = self.env[self.res_model].sudo().browse(self.res_id).exists()
            if record and hasattr(record, '_message_log'):
                return record
        return self.partner_id.sudo()

    def _summary(self):
        who = self._correspondent()
        if self.state == 'completed':
            if self.direction == 'in':
                return _('Incoming call from %(who)s — %(duration)s, answered', who=who,
                         duration=format_duration(self.env, self.duration))
            return _('Outgoing call with %(who)s — %(duration)s, answered', who=who,
                     duration=format_duration(self.env, self.duration))
        if self.direction == 'in':
            return _('Missed call from %(who)s', who=who)
        outcome = dict(self._fields['state']._description_selection(self.env))[self.state]
        return _('Outgoing call to %(who)s — %(outcome)s', who=who, outcome=outcome.lower())


def _voice_url(provider, **query):
    """The account's voice answer URL with ``query`` ('' when the account has no voice URL)."""
    url = provider._webhook_url('voice')
    return f'{url}?{urlencode(query)}' if url else ''
