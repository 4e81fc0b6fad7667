from odoo import fields, models


class MailNotification(models.Model):
    _inherit = 'mail.notification'

    # the chatter's delivery icon of a WhatsApp message or an MMS, kept up to date by comm.message
    notification_type = fields.Selection(selection_add=[('whatsapp', 'WhatsApp'), ('mms', 'MMS')],
                                         ondelete={'whatsapp': 'cascade', 'mms': 'cascade'})

    def _to_store(self, store, /):
        """The web client also gets the provider's reason of a failed SMS, WhatsApp message or MMS,
        shown in the status popover and the messaging menu."""
        super()._to_store(store)
        for notif in self:
            if notif.notification_type != 'email' and notif.failure_reason:
                store.add(notif, {'failure_reason': notif.failure_reason})
