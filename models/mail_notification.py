from odoo import fields, models


class MailNotification(models.Model):
    _inherit = 'mail.notification'

    # the chatter's delivery icon of a WhatsApp message or an MMS, kept up to date by comm.message
    notification_type = fields.Selection(selection_add=[('whatsapp', 'WhatsApp'), ('mms', 'MMS')],
                                         ondelete={'whatsapp': 'cascade', 'mms': 'cascade'})
