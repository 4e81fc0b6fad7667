from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


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
        domain="[('id', 'in', comm_whatsapp_recipient_field_ids)]",
        help='A phone field of the record, or its contact. Empty: the record\'s phone fields, then its customer.')
    comm_whatsapp_recipient_field_ids = fields.Many2many(
        'ir.model.fields', compute='_compute_comm_whatsapp_recipient_field_ids',
        help='What a recipient field can be: the phone fields of the model and its links to a contact.')

    @api.depends('model_id')
    def _compute_comm_whatsapp_recipient_field_ids(self):
        for action in self:
            model = action.model_id.model
            if not model or model not in self.env:
                action.comm_whatsapp_recipient_field_ids = False
                continue
            phones = self.env[model]._phone_get_number_fields()
            action.comm_whatsapp_recipient_field_ids = self.env['ir.model.fields'].search([
                ('model_id', '=', action.model_id.id), '|', ('name', 'in', phones),
                '&', ('ttype', '=', 'many2one'), ('relation', '=', 'res.partner')])

    @api.depends('state')
    def _compute_available_model_ids(self):
        whatsapp = self.filtered(lambda action: action.state == 'comm_whatsapp')
        if whatsapp:
            whatsapp.available_model_ids = self.env['ir.model'].search(
                [('is_mail_thread', '=', True), ('transient', '=', False)]).ids
        super(IrActionsServer, self - whatsapp)._compute_available_model_ids()

    @api.constrains('state', 'model_id', 'comm_whatsapp_template_id', 'comm_whatsapp_recipient_field_id')
    def _check_comm_whatsapp(self):
        for action in self.filtered(lambda a: a.state == 'comm_whatsapp'):
            if not action.model_id.is_mail_thread:
                raise ValidationError(_('WhatsApp messages are sent about records that have a chatter.'))
            if action.comm_whatsapp_template_id and action.comm_whatsapp_template_id.model_id != action.model_id:
                raise ValidationError(_('The WhatsApp template of “%(action)s” applies to another model.',
                                        action=action.name))
            field = action.comm_whatsapp_recipient_field_id
            if field and field not in action.comm_whatsapp_recipient_field_ids:
                raise ValidationError(_('%(field)s is neither a phone field nor a contact: it cannot say whom '
                                        '“%(action)s” writes to.', field=field.field_description, action=action.name))

    def _run_action_comm_whatsapp_multi(self, eval_context=None):
        """Queue the template for each record; a record without a usable number gets a note.

        A variable without value (and no fallback) stops the action with an error: never a
        half-filled message.
        """
        template = self.comm_whatsapp_template_id
        records = eval_context.get('records') or eval_context.get('record')
        if not template or not records or self._is_recompute():
            return False
        return self.env['comm.message']._queue_whatsapp_mass(
            template, records, self.comm_whatsapp_recipient_field_id.name)
