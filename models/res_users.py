from odoo import fields, models


class ResUsers(models.Model):
    _inherit = 'res.users'

    comm_agent_phone = fields.Char(
        'Phone for calls', help='Click-to-call rings this phone first, then connects you to the customer; '
        'calls from your customers are forwarded to it.')

    @property
    def SELF_READABLE_FIELDS(self):
        return super().SELF_READABLE_FIELDS + ['comm_agent_phone']

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return super().SELF_WRITEABLE_FIELDS + ['comm_agent_phone']

    def _comm_agent_number(self):
        """The phone for calls in E.164; '' when unset or not a number."""
        user = self[:1]
        if not user.comm_agent_phone:
            return ''
        country = user.country_id or user.company_id.country_id
        return user.partner_id._phone_format(number=user.comm_agent_phone, country=country) or ''
