from odoo import api, models


class CommWhatsappTemplate(models.Model):
    """Drafting a template: the variable rows follow the placeholders in the form, before saving
    (``_sync_variables`` does the same on save, for every other way a template changes)."""
    _inherit = 'comm.whatsapp.template'

    @api.onchange('header_format', 'header_text', 'body')
    def _onchange_placeholders(self):
        Variable = self.env['comm.whatsapp.template.variable']
        for template in self:
            wanted = template._placeholders()
            existing = {(v.component, v.button_index, v.position): v for v in template.variable_ids}
            kept = Variable.concat(*(existing[key] for key in wanted if key in existing))
            new = Variable.concat(*(Variable.new({'template_id': template.id, 'component': component,
                                                  'button_index': index, 'position': position})
                                    for component, index, position in wanted
                                    if (component, index, position) not in existing))
            template.variable_ids = kept | new
