from odoo import models
from odoo.exceptions import UserError


class SmsComposer(models.TransientModel):
    _inherit = 'sms.composer'

    def _prepare_mass_sms_values(self, records):
        """Each SMS of a mass send remembers the company of its record: without a logged message
        (mass SMS without log, SMS Marketing) nothing else tells which account must send it when
        Odoo's SMS cron sends it later, in the cron user's company."""
        results = super()._prepare_mass_sms_values(records)
        if hasattr(records, '_mail_get_companies'):
            companies = records._mail_get_companies(default=self.env.company)
        else:
            companies = {record.id: record.company_id if 'company_id' in record._fields else self.env.company
                         for record in records}
        for record in records:
            results[record.id].setdefault('record_company_id', (companies[record.id] or self.env.company).id)
        return results

    def _action_send_sms(self):
        """Refuse, before anything is queued, a text longer than the company's SMS account takes."""
        if reason := self.env.company.sudo().comm_sms_provider_id._sms_too_long(self.body):
            raise UserError(reason)
        return super()._action_send_sms()
