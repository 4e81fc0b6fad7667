import json

from odoo import _, api, fields, models
from odoo.exceptions import UserError


class CommWhatsappComposer(models.TransientModel):
    """The composer in mass mode: records selected in a list → Action → Send WhatsApp, an approved
    template for each (``comm.message._queue_whatsapp_mass``). Free text needs each customer's
    open 24-hour window, so only a template is sent to many."""
    _inherit = 'comm.whatsapp.composer'

    composition_mode = fields.Selection([('comment', 'One record'), ('mass', 'Selected records')],
                                        default='comment', required=True)
    res_ids = fields.Text('Documents', help='The ids of the selected records, as JSON.')
    mass_count = fields.Integer('Recipients', compute='_compute_mass_count')

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        context = self.env.context
        if values.get('composition_mode') == 'mass' or context.get('default_composition_mode') == 'mass':
            ids = context.get('active_ids') or []
            values.update(composition_mode='mass', res_model=context.get('active_model') or values.get('res_model'),
                          res_ids=json.dumps(ids), res_id=ids[0] if ids else 0)
        return values

    @api.depends('res_ids')
    def _compute_mass_count(self):
        for composer in self:
            composer.mass_count = len(composer._mass_ids())

    def _mass_ids(self):
        try:
            ids = json.loads(self.res_ids or '[]')
        except ValueError:
            return []
        return [int(i) for i in ids if isinstance(i, int)]

    def action_send(self):
        if self.composition_mode != 'mass':
            return super().action_send()
        self.ensure_one()
        records = self._mass_records()
        if not self.template_id:
            raise UserError(_('Choose an approved template: WhatsApp only accepts free text from a customer who '
                              'wrote in the last 24 hours, so messages to many are sent as a template.'))
        if self.template_id.provider_id != self.provider_id:
            raise UserError(_('The template belongs to another account.'))
        summary = self.env['comm.message']._queue_whatsapp_mass(self.template_id, records,
                                                                  idempotency_key=self.idempotency_key)
        summary['params']['next'] = {'type': 'ir.actions.act_window_close'}
        return summary

    def _mass_records(self):
        """The selected records that still exist, once the caller may post on each (before any sudo)."""
        if self.res_model not in self.env or not isinstance(self.env[self.res_model], self.env.registry['mail.thread']):
            raise UserError(_('WhatsApp messages are sent about records that have a chatter.'))
        records = self.env[self.res_model].browse(self._mass_ids()).exists()
        if not records:
            raise UserError(_('The selected records were deleted.'))
        records.check_access(getattr(records, '_mail_post_access', 'write'))
        return records
