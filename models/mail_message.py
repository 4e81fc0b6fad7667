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
