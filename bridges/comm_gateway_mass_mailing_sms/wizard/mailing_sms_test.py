from markupsafe import Markup

from odoo import models

from odoo.addons.comm_gateway.tools.sms_api import CommSmsApi


class MailingSmsTest(models.TransientModel):
    _inherit = 'mailing.sms.test'

    def action_send_sms(self):
        """A test SMS of a company that sends through one of our accounts is queued on it, like
        the campaign's SMS; the mailing's chatter says so (Odoo's own test calls IAP directly)."""
        self.ensure_one()
        company = self.env.company
        if company.id not in self.env['res.company']._comm_sms_accounts():
            return self._comm_drop_erased() and super().action_send_sms()
        numbers = [number.strip() for number in self.numbers.splitlines() if number.strip()]
        sanitized = {number: self.env.user._phone_format(number=number) for number in numbers}
        model = self.mailing_id.mailing_model_real
        body = self.mailing_id.body_plaintext
        if record := self.env[model].search([], limit=1):
            body = self.env['mail.render.mixin']._render_template(body, model, record.ids)[record.id]
        sms_sudo = self.env['sms.sms'].sudo().create([
            {'body': body, 'number': number, 'record_company_id': company.id}
            for number in dict.fromkeys(sanitized.values()) if number])
        api = CommSmsApi(self.env)
        api._queue(sms_sudo, unlink_sent=False)
        failure_types = dict(sms_sudo._fields['failure_type']._description_selection(self.env))
        lines = [self.env._('Test SMS to %(number)s queued on %(account)s.', number=sms.number,
                            account=api.provider.display_name) if sms.state == 'process' else
                 self.env._('Test SMS could not be sent to %(number)s: %(reason)s', number=sms.number,
                            reason=failure_types.get(sms.failure_type, sms.failure_type))
                 for sms in sms_sudo]
        if invalid := [number for number, number_e164 in sanitized.items() if not number_e164]:
            lines.insert(0, self.env._('The following numbers are not correctly encoded: %s', ', '.join(invalid)))
        if lines:
            self.mailing_id._message_log(body=Markup('<ul>%s</ul>') % Markup().join(
                Markup('<li>%s</li>') % line for line in lines))
        return True

    def _comm_drop_erased(self):
        """Odoo's test SMS calls the SMS API directly, past ``sms.sms._send``: the numbers opted out
        then erased (only their hash is kept) are taken out first, said on the mailing without
        the number (the point of the erasure is not to keep it). True when some numbers are left."""
        lines = [line for line in self.numbers.splitlines() if line.strip()]
        numbers = [self.env.user._phone_format(number=line.strip()) for line in lines]
        erased = self.env['comm.blacklist.hash'].sudo()._listed(numbers)
        if not erased:
            return True
        self.mailing_id._message_log(body=self.env._(
            'Test SMS not sent to %(count)s number(s): opted out, their contact erased.',
            count=sum(number in erased for number in numbers)))
        left = [line for line, number in zip(lines, numbers) if number not in erased]
        if left:
            self.numbers = '\n'.join(left)
        return bool(left)
