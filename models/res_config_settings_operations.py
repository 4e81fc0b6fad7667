from odoo import fields, models

from ..models.comm_message_lifecycle import DEFAULT_STALE_MINUTES, STALE_PARAM
from ..tools import log

SYSTEM = 'base.group_system'
DEBUG_HELP = 'Log this part at DEBUG level, on every worker within a few seconds (no restart). Never secrets.'


def _debug_switch(label, component):
    return fields.Boolean(label, config_parameter=log.DEBUG_PARAM % component, help=DEBUG_HELP, groups=SYSTEM)


class ResConfigSettings(models.TransientModel):
    _inherit = 'res.config.settings'

    comm_stale_status_minutes = fields.Integer(
        'Ask for statuses after (minutes)', config_parameter=STALE_PARAM, default=DEFAULT_STALE_MINUTES, groups=SYSTEM,
        help='A message sent with no final status after this time is asked about at its provider '
             '(Twilio, Plivo). Meta and Vonage cannot be asked: their statuses only come by webhook.')
    comm_debug_webhooks = _debug_switch('Webhooks', 'webhooks')
    comm_debug_queue = _debug_switch('Queue', 'queue')
    comm_debug_dispatch = _debug_switch('Dispatch', 'dispatch')
    comm_debug_twilio = _debug_switch('Twilio', 'twilio')
    comm_debug_plivo = _debug_switch('Plivo', 'plivo')
    comm_debug_vonage = _debug_switch('Vonage', 'vonage')
    comm_debug_meta = _debug_switch('Meta', 'meta')
    comm_log_bodies = fields.Boolean(
        'Log message texts and payloads', config_parameter=log.BODIES_PARAM, groups=SYSTEM,
        help='With debug logging: also the texts of messages and the bodies of webhooks (personal data).')
