from odoo import api, models
from odoo.addons.mail.tools.discuss import Store

LIVE_CHANNEL_PREFIX = 'comm_gateway.thread_'


class MailThread(models.AbstractModel):
    _inherit = 'mail.thread'

    def _comm_whatsapp_recipient(self, field_name=False):
        """``(partner, E.164 number)`` to write to on WhatsApp about this record.

        :param field_name: a phone field of the record, or a many2one to a contact; when empty,
            the record's phone fields, then its customer's (as Odoo's SMS does)
        :returns: the number is False when none is valid
        """
        self.ensure_one()
        field = self._fields.get(field_name) if field_name else None
        if field is not None and field.type == 'many2one' and field.comodel_name == 'res.partner':
            return self[field_name]._comm_whatsapp_recipient() if self[field_name] else (self[field_name], False)
        info = self._sms_get_recipients_info(force_field=field_name or False)[self.id]
        if not info:
            return self.env['res.partner'], False
        return info['partner'], info['sanitized'] or False

    def _thread_to_store(self, store, /, *, request_list=None, **kwargs):
        """The chatter shows its WhatsApp button when the record has a number, and its MMS button
        when the record's company also has an account that sends MMS."""
        super()._thread_to_store(store, request_list=request_list, **kwargs)
        if request_list and self.env.user.has_group('comm_gateway.group_comm_user'):
            for thread in self:
                number = thread._comm_whatsapp_recipient()[1]
                company = thread.company_id if 'company_id' in thread._fields and thread.company_id \
                    else self.env.company
                mms = bool(number) and bool(self.env['comm.provider']._mms_account(company))
                store.add(thread, {'commWhatsappNumber': number, 'commMms': mms}, as_thread=True)

    def _comm_first_messages(self):
        """``{record id: its first message id}`` in flat threads: the parent ``message_post``
        gives a new message, found here for a whole batch of records in one query."""
        if not self._mail_flat_thread or not self:
            return {}
        return dict(self.env['mail.message'].sudo()._read_group(
            [('model', '=', self._name), ('res_id', 'in', self.ids), ('message_type', '!=', 'user_notification')],
            ['res_id'], ['id:min']))

    # ------------------------------------------------------------------------------------------
    # Live chatter: what the queue posts reaches the chatters open on the record
    # ------------------------------------------------------------------------------------------

    def _comm_live_refresh(self, messages=None):
        """Tell the chatters open on these records that the queue posted in them, and, with
        ``messages`` (``mail.message``), that the delivery statuses of those messages moved.

        Odoo's chatter has no live sync for messages it did not post itself: a chatter subscribes
        to :func:`comm_live_channel` of its record (``ir.websocket`` lets in only the users who may
        read the record) and fetches what is new when told. Sent once per record per transaction,
        at commit, whatever the number of posts.
        """
        data = self.env.cr.precommit.data
        if 'comm_gateway.live' not in data:
            data['comm_gateway.live'] = pending = {'threads': set(), 'messages': set()}
            env = self.env

            @self.env.cr.precommit.add
            def send():
                env['mail.thread']._comm_live_send(data.pop('comm_gateway.live', pending))
        pending = data['comm_gateway.live']
        pending['threads'].update((record._name, record.id) for record in self)
        if messages:
            pending['messages'].update(messages.ids)

    @api.model
    def _comm_live_send(self, pending):
        bus = self.env['bus.bus'].sudo()
        messages = self.env['mail.message'].sudo().browse(pending['messages']).exists()
        for (model, res_id), posts in messages.grouped(lambda m: (m.model, m.res_id)).items():
            if model and res_id:
                # the statuses only: who was notified and how it stands, not the message itself
                store = Store(posts.notification_ids._filtered_for_web_client())
                bus._sendone(comm_live_channel(model, res_id), 'mail.record/insert', store.get_result())
        for model, res_id in pending['threads']:
            bus._sendone(comm_live_channel(model, res_id), 'comm_gateway.thread/refresh',
                         {'model': model, 'id': res_id})


def comm_live_channel(model, res_id):
    """The bus channel of the chatters open on a record (see ``ir.websocket``)."""
    return f'{LIVE_CHANNEL_PREFIX}{model}_{res_id}'
