from odoo import _, api, models
from odoo.exceptions import ValidationError

from .comm_whatsapp_template import PLACEHOLDER, TEMPLATE_NAME

# Meta's limits on a template's definition (PROTOCOLS 4.6)
MAX_BODY, MAX_HEADER, MAX_FOOTER = 1024, 60, 60
SUBMITTED_HERE = ('meta', 'sandbox')    # the accounts a draft is submitted to from Odoo


class CommWhatsappTemplate(models.Model):
    """Drafting a template: the variable rows follow the placeholders in the form, before saving
    (``_sync_variables`` does the same on save, for every other way a template changes), and a
    draft is saved only as Meta would accept it (the samples of its variables are required by the
    form; ``action_submit`` checks them again)."""
    _inherit = 'comm.whatsapp.template'

    # what the user edits (not the status, which Meta's webhooks move)
    @api.constrains('name', 'header_format', 'header_text', 'body', 'footer', 'provider_id')
    def _check_meta_rules(self):
        drafts = self.filtered(lambda t: t.status in ('draft', 'rejected') and t.provider_code in SUBMITTED_HERE)
        for template in drafts:
            if problems := template._meta_rule_problems():
                raise ValidationError(_('The WhatsApp template cannot be saved as Meta would refuse it:\n%(problems)s',
                                        problems='\n'.join(f'• {problem}' for problem in problems)))

    def _meta_rule_problems(self):
        """What Meta refuses in this draft's definition, each in a sentence."""
        self.ensure_one()
        problems = []
        if not TEMPLATE_NAME.match(self.name or ''):
            problems.append(_('The name “%(name)s” may only hold lower case letters, digits and underscores '
                              '(e.g. order_ready).', name=self.name))
        if not (self.body or '').strip():
            problems.append(_('The body is required.'))
        elif len(self.body) > MAX_BODY:
            problems.append(_('The body has %(length)s characters: at most %(max)s.', length=len(self.body),
                              max=MAX_BODY))
        if self.header_format == 'text':
            header = self.header_text or ''
            if not header.strip():
                problems.append(_('A text header needs its text.'))
            elif len(header) > MAX_HEADER:
                problems.append(_('The header has %(length)s characters: at most %(max)s.', length=len(header),
                                  max=MAX_HEADER))
            if len(set(PLACEHOLDER.findall(header))) > 1:
                problems.append(_('The header may hold one variable only.'))
        if self.footer and len(self.footer) > MAX_FOOTER:
            problems.append(_('The footer has %(length)s characters: at most %(max)s.', length=len(self.footer),
                              max=MAX_FOOTER))
        return problems

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
