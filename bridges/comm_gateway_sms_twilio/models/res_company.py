from odoo import models

from odoo.addons.comm_gateway.tools.sms_api import CommSmsApi


class ResCompany(models.Model):
    _inherit = 'res.company'

    def _get_sms_api_class(self):
        """Ours first, whatever the load order of comm_gateway and sms_twilio (see sms_sms.py)."""
        self.ensure_one()
        return CommSmsApi if self.id in self._comm_sms_accounts() else super()._get_sms_api_class()
