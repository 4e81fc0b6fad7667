from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError


class IrActionsServer(models.Model):
    """"Send WhatsApp": an approved template to the record's number (automated actions)."""
    _inherit = 'ir.actions.server'

    state = fields.Selection(selection_add=[('comm_whatsapp', 'Send WhatsApp')],
                             ondelete={'comm_whatsapp': 'cascade'})
    comm_whatsapp_template_id = fields.Many2one(
        'comm.whatsapp.template', 'WhatsApp template', ondelete='restrict',
        domain="[('model_id', '=', model_id), ('status', '=', 'approved')]")
    comm_whatsapp_recipient_field_id = fields.Many2one(
        'ir.model.fields', 'Recipient field', ondelete='set null',
        domain="[('model_id', '=', model_id), '|', ('ttype', '=', 'char'), "
               "'&', ('ttype', '=', 'many2one'), ('relation', '=', 'res.partner')]",
        help='A phone field of the record, or its contact. Empty: the record\'s phone fields, then its customer.')

    @api.depends('state')
    def _compute_available_model_ids(self):
        whatsapp = self.filtered(lambda action: action.state == 'comm_whatsapp')
        if whatsapp:
            whatsapp.available_model_ids = self.env['ir.model'].search(
                [('is_mail_thread', '=', True), ('transient', '=', False)]).ids
        super(IrActionsServer, self - whatsapp)._compute_available_model_ids()

    @api.constrains('state', 'model_id', 'comm_whatsapp_template_id')
    def _check_comm_whatsapp(self):
        for action in self.filtered(lambda a: a.state == 'comm_whatsapp'):
            if not action.model_id.is_mail_thread:
                raise ValidationError(_('WhatsApp messages are sent about records that have a chatter.'))
            if action.comm_whatsapp_template_id and action.comm_whatsapp_template_id.model_id != action.model_id:
                raise ValidationError(_('The WhatsApp template of “%(action)s” applies to another model.',
                                        action=action.name))

    def _run_action_comm_whatsapp_multi(self, eval_context=None):
        """Queue the template for each record; a record without a usable number gets a note.

        A variable without value (and no fallback) stops the action with an error: never a
        half-filled message.
        """
        template = self.comm_whatsapp_template_id
        records = eval_context.get('records') or eval_context.get('record')
        if not template or not records or self._is_recompute():
            return False
        Message = self.env['comm.message']
        for record in records:
            partner, number = record._comm_whatsapp_recipient(self.comm_whatsapp_recipient_field_id.name)
            values = template._render_values(record)
            try:
                Message._queue_whatsapp(template.provider_id, record, partner, number, template=template,
                                        values=values)
            except UserError as exc:
                record._message_log(body=_('WhatsApp “%(template)s” not sent: %(reason)s',
                                           template=template.name, reason=exc.args[0]))
        return False
