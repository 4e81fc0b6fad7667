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
                         'partner_id', 'company_id', 'provider_id'],
        'comm.call': ['start_date', 'direction', 'state', 'duration', 'from_number', 'to_number', 'partner_id',
                      'company_id', 'provider_id'],
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
                       m.id AS message_id, NULL::integer AS call_id
                  FROM comm_message m
                 UNION ALL
                SELECT c.id * 2 + 1, c.start_date, c.direction, 'voice', c.state, c.duration,
                       CASE WHEN c.direction = 'in' THEN c.from_number ELSE c.to_number END,
                       NULL, c.partner_id, c.company_id, c.provider_id, NULL, c.id
                  FROM comm_call c
            )"""))
