"""The composers warn before texting a number that cannot receive texts (a fixed line, toll-free,
premium rate), from libphonenumber's own data (tools/number_info.py)."""
from odoo import api, fields, models

from ..tools.number_info import NOT_TEXTABLE, NUMBER_TYPES, number_info


def not_textable_warning(env, number):
    """A warning when ``number`` (E.164) is of a type that does not receive texts, else False."""
    kind = (number_info(number) or (None,))[0]
    if kind not in NOT_TEXTABLE:
        return False
    return env._('%(number)s is a %(kind)s number: it most likely cannot receive SMS or WhatsApp messages.',
             number=number, kind=dict(NUMBER_TYPES)[kind].lower())


class CommWhatsappComposer(models.TransientModel):
    _inherit = 'comm.whatsapp.composer'

    number_warning = fields.Char(compute='_compute_number_warning')

    @api.depends('to_number')
    def _compute_number_warning(self):
        for composer in self:
            composer.number_warning = not_textable_warning(self.env, composer._number())


class SmsComposer(models.TransientModel):
    _inherit = 'sms.composer'

    comm_number_warning = fields.Char(compute='_compute_comm_number_warning')

    @api.depends('recipient_single_number_itf', 'comment_single_recipient')
    def _compute_comm_number_warning(self):
        for composer in self:
            number = composer.comment_single_recipient and composer.recipient_single_number_itf
            records = composer._get_records() if number else None
            e164 = number and (records or self.env['res.partner'])[:1]._phone_format(number=number)
            composer.comm_number_warning = not_textable_warning(self.env, e164 or False)
