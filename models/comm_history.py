from odoo import api, fields, models, tools
from odoo.tools import SQL

from .comm_call import STATES as CALL_STATES, format_duration
from .comm_message import STATES as MESSAGE_STATES


class CommHistory(models.Model):
    """Messages and calls in one list, newest first: a database view over both tables.

    Ids are ``2 * message id`` and ``2 * call id + 1``; ``message_id`` / ``call_id`` name the row.
    """
    _name = 'comm.history'
    _description = 'Messages and calls'
    _auto = False
    _order = 'date desc, id desc'
    _rec_name = 'date'
    _depends = {
        'comm.message': ['create_date', 'direction', 'channel', 'state', 'from_number', 'to_number', 'body',
                         'partner_id', 'company_id', 'provider_id', 'res_model', 'res_id'],
        'comm.call': ['start_date', 'direction', 'state', 'duration', 'from_number', 'to_number', 'partner_id',
                      'company_id', 'provider_id', 'res_model', 'res_id'],
    }

    date = fields.Datetime(readonly=True)
    direction = fields.Selection([('in', 'Incoming'), ('out', 'Outgoing')], readonly=True)
    channel = fields.Selection([('sms', 'SMS'), ('mms', 'MMS'), ('whatsapp', 'WhatsApp'), ('voice', 'Call')],
                               readonly=True)
    state = fields.Selection(
        CALL_STATES + [item for item in MESSAGE_STATES if item[0] not in dict(CALL_STATES)],
        string='Status', readonly=True)
    duration = fields.Integer('Duration (s)', readonly=True)
    duration_display = fields.Char('Duration', compute='_compute_duration_display')
    number = fields.Char(readonly=True)
    summary = fields.Char(readonly=True)
    partner_id = fields.Many2one('res.partner', 'Contact', readonly=True)
    company_id = fields.Many2one('res.company', readonly=True)
    provider_id = fields.Many2one('comm.provider', 'Account', readonly=True)
    res_model = fields.Char('Related document model', readonly=True)
    res_id = fields.Many2oneReference('Related document', model_field='res_model', readonly=True)
    message_id = fields.Many2one('comm.message', readonly=True)
    call_id = fields.Many2one('comm.call', readonly=True)

    @api.depends('duration', 'state')
    def _compute_duration_display(self):
        for row in self:
            row.duration_display = format_duration(self.env, row.duration) if row.state == 'completed' else False

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL("""
            CREATE VIEW comm_history AS (
                SELECT m.id * 2 AS id, m.create_date AS date, m.direction, m.channel, m.state,
                       NULL::integer AS duration,
                       CASE WHEN m.direction = 'in' THEN m.from_number ELSE m.to_number END AS number,
                       LEFT(m.body, 200) AS summary, m.partner_id, m.company_id, m.provider_id,
                       m.res_model, m.res_id, m.id AS message_id, NULL::integer AS call_id
                  FROM comm_message m
                 UNION ALL
                SELECT c.id * 2 + 1, c.start_date, c.direction, 'voice', c.state, c.duration,
                       CASE WHEN c.direction = 'in' THEN c.from_number ELSE c.to_number END,
                       NULL, c.partner_id, c.company_id, c.provider_id, c.res_model, c.res_id, NULL, c.id
                  FROM comm_call c
            )"""))


class CommHistoryMixin(models.AbstractModel):
    """The "Communications" tab and the Messages / Calls smart buttons of a record's form.

    A record's messages and calls are those made from it (``res_model`` / ``res_id``). A model
    that names them by another field of ``comm.message`` and ``comm.call`` sets
    ``_comm_link_field`` and redefines ``comm_history_ids`` on it, as the partner does with
    ``partner_id`` (its messages and calls wherever they were made from).
    """
    _name = 'comm.history.mixin'
    _description = 'Communications tab and smart buttons'
    _comm_link_field = 'res_id'

    # One2many on a Many2oneReference: the ORM adds res_model = this model to its domain
    comm_history_ids = fields.One2many('comm.history', 'res_id', string='Messages and calls',
                                       groups='comm_gateway.group_comm_user')
    comm_message_count = fields.Integer('SMS and WhatsApp messages', compute='_compute_comm_counts',
                                        groups='comm_gateway.group_comm_user')
    comm_call_count = fields.Integer('Calls', compute='_compute_comm_counts', groups='comm_gateway.group_comm_user')

    def _comm_domain(self):
        """The ``comm.message`` / ``comm.call`` / ``comm.history`` rows of these records."""
        domain = [(self._comm_link_field, 'in', self._origin.ids)]
        if self._comm_link_field == 'res_id':
            domain = [('res_model', '=', self._name)] + domain
        return domain

    @api.depends_context('uid')
    def _compute_comm_counts(self):
        domain, field = self._comm_domain(), self._comm_link_field
        messages, calls = (
            {(key.id if isinstance(key, models.BaseModel) else key): count
             for key, count in self.env[model]._read_group(domain, [field], ['__count'])}
            for model in ('comm.message', 'comm.call'))
        for record in self:
            record.comm_message_count = messages.get(record._origin.id, 0)
            record.comm_call_count = calls.get(record._origin.id, 0)

    def action_view_comm_messages(self):
        return self._comm_action('comm_gateway.action_comm_message')

    def action_view_comm_calls(self):
        return self._comm_action('comm_gateway.action_comm_call')

    def _comm_action(self, xmlid):
        self.ensure_one()
        self.env['comm.history'].check_access('read')     # Communications users only
        self.check_access('read')
        action = self.env['ir.actions.act_window']._for_xml_id(xmlid)
        action['domain'] = self._comm_domain()
        return action
