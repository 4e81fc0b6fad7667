from odoo import _, api, models
from odoo.exceptions import UserError


class CommMessage(models.Model):
    _inherit = 'comm.message'

    @api.model
    def _queue_whatsapp_mass(self, template, records, field_name=False, idempotency_key=None):
        """Queue ``template`` for each record: the one path of every WhatsApp sent to many (the
        composer in mass mode, the "Send WhatsApp" server action). A record without a usable
        number or an opted-out number gets a note in its chatter and is counted; the others are
        queued, each its own message. A variable without value (and no fallback) stops the whole
        send with an error naming the record: nothing is queued.

        :param field_name: the recipient field (a phone field or a contact); empty: the record's
            phone fields, then its customer
        :param idempotency_key: a key used before queues nothing more for the same record
        :returns: a notification action with the summary ("12 queued, 2 without a number")
        """
        queued = no_number = refused = 0
        for record in records:
            partner, number = record._comm_whatsapp_recipient(field_name)
            values = template._render_values(record)     # a missing value stops all: no half-filled message
            try:
                self._queue_whatsapp(template.provider_id, record, partner, number, template=template, values=values,
                                     idempotency_key=idempotency_key and f'{idempotency_key}:{record.id}')
                queued += 1
            except UserError as exc:
                no_number += not number
                refused += bool(number)
                record._message_log(body=_('WhatsApp “%(template)s” not sent: %(reason)s',
                                           template=template.name, reason=exc.args[0]))
        summary = [_('%(count)s queued', count=queued)]
        if no_number:
            summary.append(_('%(count)s without a number', count=no_number))
        if refused:
            summary.append(_('%(count)s refused (the reason is in their chatter)', count=refused))
        return {'type': 'ir.actions.client', 'tag': 'display_notification', 'params': {
            'title': _('WhatsApp “%(template)s”', template=template.name), 'message': ', '.join(summary),
            'type': 'success' if queued == len(records) else 'warning'}}
