from odoo import models


class SmsTwilioAccountManage(models.TransientModel):
    _inherit = 'sms.twilio.account.manage'

    def action_send_test(self):
        """A company whose SMS go through one of our accounts does not use these Twilio settings:
        the test SMS is queued on that account, and the answer says so instead of "sent"."""
        account_id = self.env['res.company']._comm_sms_accounts().get(self.company_id.id)
        if not account_id:
            return super().action_send_test()
        composer = self.env['sms.composer'].with_company(self.company_id).create({
            'body': self.env._('This is a test SMS from Odoo'), 'composition_mode': 'numbers',
            'numbers': self.test_number,
        })
        sms_sudo = composer._action_send_sms()[0]
        account = self.env['comm.provider'].sudo().browse(account_id)
        if sms_sudo.state == 'process':
            return self._display_notification('warning', self.env._(
                "This company's SMS go through the account %(account)s, not through these Twilio "
                "settings: the test SMS is queued there (Communications > Messages shows its status).",
                account=account.display_name))
        failure_types = dict(sms_sudo._fields['failure_type']._description_selection(self.env))
        return self._display_notification('danger', self.env._(
            'The test SMS was not queued on %(account)s: %(reason)s', account=account.display_name,
            reason=failure_types.get(sms_sudo.failure_type, sms_sudo.failure_type)))
