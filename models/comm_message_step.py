"""The lifecycle of a message, step by step: queued, each send attempt, each webhook, each status
change, each retry (models/comm_message_lifecycle.py writes them)."""
from odoo import fields, models

from .comm_message import STATES

STEP_KINDS = [('queued', 'Queued'), ('attempt', 'Send attempt'), ('retry', 'Retry'), ('webhook', 'Webhook'),
              ('poll', 'Status asked'), ('status', 'Status change')]


class CommMessageStep(models.Model):
    _name = 'comm.message.step'
    _description = 'Step in the lifecycle of a message'
    _order = 'message_id, id'
    _log_access = False

    message_id = fields.Many2one('comm.message', 'Message', required=True, ondelete='cascade', index=True)
    company_id = fields.Many2one('res.company', index=True)
    at = fields.Datetime('When', required=True)
    kind = fields.Selection(STEP_KINDS, required=True)
    state = fields.Selection(STATES, help='The state it moved to, or the one the provider reported')
    provider_status = fields.Char(help="The provider's own word for the status")
    error_code = fields.Char()
    detail = fields.Char()
    duration = fields.Float('Duration (s)', digits=(16, 3), help='How long the provider took to answer')
    # indexed: deleting done events (the daily clean-up, retention) sets this to null by its index
    event_id = fields.Many2one('comm.webhook.event', 'Webhook event', ondelete='set null', index='btree_not_null',
                               help='The raw request the provider sent')
    user_id = fields.Many2one('res.users', 'By', ondelete='set null')
