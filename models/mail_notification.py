from odoo import fields, models


class MailNotification(models.Model):
    _inherit = 'mail.notification'

    # the chatter's delivery icon of a WhatsApp message or an MMS, kept up to date by comm.message
    notification_type = fields.Selection(selection_add=[('whatsapp', 'WhatsApp'), ('mms', 'MMS')],
                                         ondelete={'whatsapp': 'cascade', 'mms': 'cascade'})
    # an SMS refused for an opted-out number (ours, or Odoo's for an erased number: sms.sms._send)
    # says so on its chatter notification; sms.sms has the key, mail.notification had not
    failure_type = fields.Selection(selection_add=[('sms_blacklist', 'Blacklisted')])

    def _to_store(self, store, /):
        """The web client also gets the provider's reason of a failed SMS, WhatsApp message or MMS,
        shown in the status popover and the messaging menu."""
        super()._to_store(store)
        for notif in self:
            if notif.notification_type != 'email' and notif.failure_reason:
                store.add(notif, {'failure_reason': notif.failure_reason})
