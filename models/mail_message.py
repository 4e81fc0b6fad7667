from odoo import models


class MailMessage(models.Model):
    _inherit = 'mail.message'

    def _to_store(self, store, /, **kwargs):
        """Inbound SMS / WhatsApp / MMS show their channel ("Received via SMS") in the chatter,
        not the e-mail notifications of the followers they were sent to."""
        super()._to_store(store, **kwargs)
        if not self.ids:
            return
        # sudo: comm.message - only the channel of messages the user already reads is given
        inbound = self.env['comm.message'].sudo().search_read(
            [('mail_message_id', 'in', self.ids), ('direction', '=', 'in')], ['mail_message_id', 'channel'])
        for row in inbound:
            store.add(self.browse(row['mail_message_id'][0]), {'commInboundChannel': row['channel']})
