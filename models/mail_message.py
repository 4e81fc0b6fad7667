from odoo import models
from odoo.addons.mail.tools.discuss import Store


class MailMessage(models.Model):
    _inherit = 'mail.message'

    def _extras_to_store(self, store: Store, format_reply):
        """An inbound reply to one of our messages shows, in the chatter, the message it answers
        (Discuss does so in channels only)."""
        super()._extras_to_store(store, format_reply=format_reply)
        if not format_reply:
            return
        candidates = self.filtered(lambda message: message.parent_id and message.model != 'discuss.channel')
        if not candidates:
            return
        # sudo: comm.message - only which posts are replies is read, and their parent is readable
        replies = self.env['comm.message'].sudo().search_fetch(
            [('mail_message_id', 'in', candidates.ids), ('reply_to_id', '!=', False)],
            ['mail_message_id', 'reply_to_id'])
        for reply in replies:
            message = reply.mail_message_id
            if message.parent_id and message.parent_id == reply.reply_to_id.mail_message_id:
                store.add(message, {'parentMessage': Store.one(message.parent_id, format_reply=False)})

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
