"""WhatsApp templates: synced from the account (Meta, Twilio's Content API, the Sandbox) or drafted
here and submitted to Meta; their variables ``{{1}}``…``{{n}}`` bound to fields of the record the
message is about.

A variable is identified by its component and position (``body.2``, ``header.1``, ``button.0.1``
for the first URL button): Meta numbers the placeholders per component. Values are rendered and
validated all at once (:meth:`CommWhatsappTemplate._render_values`): a message is sent complete
or not at all.
"""
import logging
import re

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import format_amount, format_date, format_datetime, formatLang

from ..providers import ProviderError
from ..providers.base import Template, TemplateInfo

_logger = logging.getLogger(__name__)

PLACEHOLDER = re.compile(r'{{\s*(\d+)\s*}}')
TEMPLATE_NAME = re.compile(r'^[a-z0-9_]+$')
# What WhatsApp accepts in a text parameter (PROTOCOLS 4.6): 1024 characters, no newline or tab,
# no run of 4 spaces or more.
MAX_VARIABLE_LENGTH = 1024
REFUSED_IN_VARIABLE = re.compile(r'[\r\n\t]| {4,}')
STATUSES = [('draft', 'Draft'), ('pending', 'Pending approval'), ('approved', 'Approved'),
            ('rejected', 'Rejected'), ('paused', 'Paused'), ('disabled', 'Disabled')]
QUALITIES = [('green', 'High'), ('yellow', 'Medium'), ('red', 'Low'), ('unknown', 'Not rated yet')]
CATEGORIES = [('utility', 'Utility'), ('marketing', 'Marketing'), ('authentication', 'Authentication')]
HEADER_FORMATS = [('none', 'None'), ('text', 'Text'), ('image', 'Image'), ('video', 'Video'),
                  ('document', 'Document')]
COMPONENT_ORDER = {'header': 0, 'body': 1, 'button': 2}


def _positions(text):
    """The placeholder numbers of ``text``, in order, once each: 'Hi {{1}}, {{2}}' -> [1, 2]."""
    return list(dict.fromkeys(int(n) for n in PLACEHOLDER.findall(text or '')))


class CommWhatsappTemplate(models.Model):
    _name = 'comm.whatsapp.template'
    _inherit = ['mail.thread']
    _description = 'WhatsApp template'
    _order = 'name, language, id'

    name = fields.Char('Template name', required=True,
                       help='As the provider knows it (Meta: lower case letters, digits and underscores).')
    language = fields.Char(required=True, default='en_US')
    category = fields.Selection(CATEGORIES, required=True, default='utility', tracking=True)
    status = fields.Selection(STATUSES, required=True, default='draft', readonly=True, index=True, copy=False,
                              tracking=True)
    rejection_reason = fields.Char(readonly=True, copy=False, tracking=True)
    quality = fields.Selection(QUALITIES, 'Quality rating', readonly=True, copy=False, tracking=True,
                               help="Meta's rating of the template from its readers' feedback.")
    active = fields.Boolean(default=True)
    provider_id = fields.Many2one('comm.provider', 'Account', required=True, ondelete='cascade', index=True,
                                  domain="[('channel_whatsapp', '=', True)]", default=lambda self: self._default_provider())
    provider_code = fields.Selection(related='provider_id.code')
    company_id = fields.Many2one(related='provider_id.company_id', store=True)
    provider_ref = fields.Char('Provider id', readonly=True, copy=False, index='btree_not_null',
                               help='Meta template id, or the Twilio Content SID (HX…) it is sent by.')
    model_id = fields.Many2one(
        'ir.model', 'Applies to', required=True, ondelete='cascade',
        default=lambda self: self.env['ir.model']._get_id('res.partner'),
        domain=[('is_mail_thread', '=', True), ('transient', '=', False)],
        help='The kind of record the variables are read from.')
    model = fields.Char(related='model_id.model', store=True, index=True)
    header_format = fields.Selection(HEADER_FORMATS, 'Header', required=True, default='none')
    header_text = fields.Char(help='At most 60 characters and one variable.')
    body = fields.Text()
    footer = fields.Char()
    components = fields.Json(readonly=True, copy=False,
                             help='The components as the provider holds them, buttons included.')
    variable_ids = fields.One2many('comm.whatsapp.template.variable', 'template_id', 'Variables', copy=True)
    preview = fields.Text(compute='_compute_preview')

    _sql_constraints = [
        ('name_language_unique', 'unique(provider_id, name, language)',
         'A template exists once per account and language.'),
    ]

    @api.depends('name', 'language')
    def _compute_display_name(self):
        for template in self:
            template.display_name = f'{template.name} ({template.language})' if template.name else _(
                'New WhatsApp template')

    @api.depends('header_format', 'header_text', 'body', 'footer', 'variable_ids.sample',
                 'variable_ids.static_value', 'variable_ids.field_path', 'variable_ids.source')
    def _compute_preview(self):
        for template in self:
            template.preview = template._render_text({
                variable.key: variable._preview_value() for variable in template.variable_ids})

    @api.constrains('model_id')
    def _check_variable_paths(self):
        self.variable_ids._check_field_path()

    # ------------------------------------------------------------------------------------------
    # CRUD: variables follow the placeholders
    # ------------------------------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        templates = super().create(vals_list)
        templates._sync_variables()
        return templates

    def write(self, vals):
        result = super().write(vals)
        if {'header_format', 'header_text', 'body', 'components'} & set(vals):
            self._sync_variables()
        return result

    def _placeholders(self):
        """``(component, button_index, position)`` of every placeholder of the template."""
        self.ensure_one()
        found = []
        if self.header_format == 'text':
            found += [('header', 0, n) for n in _positions(self.header_text)]
        found += [('body', 0, n) for n in _positions(self.body)]
        for index, button in enumerate(self._buttons()):
            if button.get('type') == 'URL':
                found += [('button', index, n) for n in _positions(button.get('url'))]
        return found

    def _sync_variables(self):
        """One variable line per placeholder; the bindings of the kept ones stay."""
        Variable = self.env['comm.whatsapp.template.variable']
        for template in self:
            wanted = template._placeholders()
            existing = {(v.component, v.button_index, v.position): v for v in template.variable_ids}
            (template.variable_ids - Variable.concat(*(existing[k] for k in wanted if k in existing))).unlink()
            Variable.create([{'template_id': template.id, 'component': component, 'button_index': index,
                              'position': position}
                             for component, index, position in wanted
                             if (component, index, position) not in existing])

    def _buttons(self):
        self.ensure_one()
        for component in self.components or []:
            if component.get('type', '').upper() == 'BUTTONS':
                return component.get('buttons') or []
        return []

    # ------------------------------------------------------------------------------------------
    # Rendering
    # ------------------------------------------------------------------------------------------

    def _render_values(self, record):
        """Every variable's value for ``record`` (its fallback when empty), all validated.

        :returns: ``{'body.1': 'Ann', …}``
        :raises UserError: when a value is missing without fallback or is refused by WhatsApp;
            every problem is listed, and nothing is sent
        """
        self.ensure_one()
        values, problems = {}, []
        for variable in self.variable_ids:
            value = variable._value_for(record) or variable.fallback or ''
            problem = variable._check_value(value)
            if problem:
                problems.append(problem)
            values[variable.key] = value
        if problems:
            raise UserError(_('The WhatsApp template “%(template)s” cannot be sent for “%(record)s”:\n%(problems)s',
                              template=self.name, record=record.display_name,
                              problems='\n'.join(f'• {p}' for p in problems)))
        return values

    def _render_text(self, values):
        """The message as the customer reads it, placeholders filled from ``values``."""
        self.ensure_one()

        def fill(text, component):
            return PLACEHOLDER.sub(lambda m: values.get(f'{component}.{m.group(1)}') or m.group(0), text or '')

        parts = [fill(self.header_text, 'header') if self.header_format == 'text' else '',
                 fill(self.body, 'body'), self.footer or '']
        return '\n\n'.join(part for part in parts if part)

    def _to_template(self, values, media=()):
        """The provider-neutral :class:`Template` to send with ``values``.

        ``components`` in WhatsApp's send format (Meta, Vonage), ``variables`` flat for Twilio's
        Content API, ``content_sid`` the provider's id (only Twilio reads it). A media header
        takes the first of ``media`` (:class:`Media` with a fetchable URL).
        """
        self.ensure_one()
        components = []
        if self.header_format in ('image', 'video', 'document') and media:
            item = {'link': media[0].url}
            if self.header_format == 'document' and media[0].filename:
                item['filename'] = media[0].filename
            components.append({'type': 'header', 'parameters': [{'type': self.header_format,
                                                                 self.header_format: item}]})
        variables = self.variable_ids.sorted(lambda v: (COMPONENT_ORDER[v.component], v.button_index, v.position))
        for (component, index), group in variables.grouped(lambda v: (v.component, v.button_index)).items():
            parameters = [{'type': 'text', 'text': values.get(v.key, '')} for v in group]
            if component == 'button':
                components.append({'type': 'button', 'sub_type': 'url', 'index': str(index),
                                   'parameters': parameters})
            else:
                components.append({'type': component, 'parameters': parameters})
        return Template(name=self.name, language=self.language, components=components,
                        content_sid=self.provider_ref or '',
                        variables={str(v.position): values.get(v.key, '') for v in variables})

    def _check_sendable(self, attachments):
        """:raises UserError: unless approved and, for a media header, given its file"""
        self.ensure_one()
        if self.status != 'approved':
            raise UserError(_('The WhatsApp template “%(template)s” is not approved (%(status)s): it cannot be sent.',
                              template=self.name, status=dict(STATUSES)[self.status]))
        if self.header_format not in ('none', 'text') and not attachments:
            raise UserError(_('The WhatsApp template “%(template)s” shows a file in its header: attach one.',
                              template=self.name))

    # ------------------------------------------------------------------------------------------
    # Sync and submission
    # ------------------------------------------------------------------------------------------

    @api.model
    def _default_provider(self):
        """A draft goes to the only WhatsApp account when there is just one."""
        providers = self.env['comm.provider'].search(
            [('channel_whatsapp', '=', True), ('company_id', 'in', self.env.companies.ids + [False])], limit=2)
        return providers if len(providers) == 1 else False

    def action_sync(self):
        """Fetch the templates of every WhatsApp account that keeps some (list header button: called
        on the selection, or on nothing, which both mean every account)."""
        self.check_access('create')      # before any provider is asked
        providers = self.env['comm.provider'].search([('channel_whatsapp', '=', True)])
        count = sum(self._sync_from(provider) for provider in providers)
        return {'type': 'ir.actions.client', 'tag': 'display_notification', 'params': {
            'title': _('WhatsApp templates'), 'type': 'success',
            'message': _('%(count)s templates synced.', count=count),
            'next': {'type': 'ir.actions.client', 'tag': 'soft_reload'}}}

    @api.model
    def _sync_from(self, provider):
        """Create or update the templates ``provider`` holds. :returns: how many"""
        try:
            infos = provider._get_adapter().list_templates()
        except ProviderError as exc:
            if exc.code == 'unsupported':
                return 0
            raise UserError(_('Cannot fetch the WhatsApp templates of %(account)s: %(error)s',
                              account=provider.name, error=exc.message)) from None
        existing = {(t.name, t.language): t for t in self.with_context(active_test=False).search(
            [('provider_id', '=', provider.id)])}
        categories = dict(CATEGORIES)
        for info in infos:
            values = {'provider_ref': info.provider_ref, 'status': info.status,
                      'rejection_reason': info.reason or False, 'components': info.components,
                      **self._fields_from_components(info.components)}
            if info.category in categories:
                values['category'] = info.category
            template = existing.get((info.name, info.language))
            if template:
                template.write(values)
            else:
                self.create({'name': info.name, 'language': info.language, 'provider_id': provider.id, **values})
        _logger.info('comm.provider %s: %s WhatsApp templates synced', provider.id, len(infos))
        return len(infos)

    @api.model
    def _receive_update(self, provider, update):
        """Apply a template webhook (:class:`~..providers.base.TemplateUpdate`) to the templates
        with its provider id, with a note in their chatter. Idempotent: what is already so
        changes nothing and notes nothing.

        A template unknown here (made in WhatsApp Manager and never synced) is not an error: the
        event stays in the webhook queue, done, and a warning says *Sync from accounts* brings it.

        :returns: the templates changed
        """
        templates = self.sudo().with_context(active_test=False).search(
            [('provider_ref', '=', update.provider_ref), ('provider_code', '=', provider.code)])
        if not templates:
            _logger.warning('comm.provider %s: %s %s for WhatsApp template %s (%s, %s), unknown here; '
                            '"Sync from accounts" brings it', provider.id, update.change, update.event,
                            update.provider_ref, update.name, update.language)
            return templates
        changed = self.browse()
        for template in templates:
            values = {}
            if update.status and update.status != template.status:
                values['status'] = update.status
                values['rejection_reason'] = False if update.status == 'approved' else (update.reason or False)
            if update.category in dict(CATEGORIES) and update.category != template.category:
                values['category'] = update.category
            if update.quality in dict(QUALITIES) and update.quality != template.quality:
                values['quality'] = update.quality
            # events that set nothing (FLAGGED, LOCKED, an announced recategorization) are noted once
            if not values and (update.status or update.category or update.quality):
                continue
            template.write(values)
            template._message_log(body=_('Meta: %(event)s%(reason)s', event=update.event,
                                         reason=f' — {update.reason}' if update.reason else ''))
            changed |= template
        _logger.info('comm.provider %s: WhatsApp template %s %s -> %s (%s changed)', provider.id,
                     update.provider_ref, update.change, update.event, len(changed))
        return changed

    @api.model
    def _fields_from_components(self, components):
        values = {'header_format': 'none', 'header_text': False, 'body': '', 'footer': False}
        for component in components or []:
            kind = (component.get('type') or '').upper()
            if kind == 'HEADER':
                header_format = (component.get('format') or 'TEXT').lower()
                values['header_format'] = header_format if header_format in dict(HEADER_FORMATS) else 'none'
                values['header_text'] = component.get('text') or False
            elif kind == 'BODY':
                values['body'] = component.get('text') or ''
            elif kind == 'FOOTER':
                values['footer'] = component.get('text') or False
        return values

    def _definition_components(self):
        """Meta's definition of this draft, with the samples as the examples Meta reviews."""
        self.ensure_one()
        samples = {variable.key: variable.sample for variable in self.variable_ids}
        missing = [variable.display_name for variable in self.variable_ids
                   if variable.component != 'button' and not variable.sample]
        if missing:
            raise UserError(_('Meta reviews templates with examples: give a sample value to %(variables)s.',
                              variables=', '.join(missing)))
        components = []
        if self.header_format == 'text' and self.header_text:
            header = {'type': 'HEADER', 'format': 'TEXT', 'text': self.header_text}
            if _positions(self.header_text):
                header['example'] = {'header_text': [samples[f'header.{n}'] for n in _positions(self.header_text)]}
            components.append(header)
        elif self.header_format != 'none':
            raise UserError(_('Templates with a media header are submitted from WhatsApp Manager (Meta needs '
                              'an uploaded sample); sync them afterwards.'))
        body = {'type': 'BODY', 'text': self.body}
        if _positions(self.body):
            body['example'] = {'body_text': [[samples[f'body.{n}'] for n in _positions(self.body)]]}
        components.append(body)
        if self.footer:
            components.append({'type': 'FOOTER', 'text': self.footer})
        if self._buttons():
            components.append({'type': 'BUTTONS', 'buttons': self._buttons()})
        return components

    def action_submit(self):
        """Submit drafts (or rejected templates, corrected) for approval."""
        self.check_access('write')       # before any provider is asked
        for template in self:
            if template.status not in ('draft', 'rejected'):
                raise UserError(_('Only a draft or a rejected template can be submitted.'))
            if not TEMPLATE_NAME.match(template.name or ''):
                raise UserError(_('“%(name)s”: a template name has only lower case letters, digits and '
                                  'underscores.', name=template.name))
            info = TemplateInfo(provider_ref='', name=template.name, language=template.language,
                                category=template.category, components=template._definition_components())
            try:
                result = template.provider_id._get_adapter().submit_template(info)
            except ProviderError as exc:
                raise UserError(_('%(account)s refused the template: %(error)s',
                                  account=template.provider_id.name, error=exc.message)) from None
            template.write({'provider_ref': result.provider_ref, 'status': result.status,
                            'components': info.components, 'rejection_reason': False})
            _logger.info('comm.whatsapp.template %s submitted: %s', template.id, result.status)
        return True

    def action_reset_draft(self):
        self.check_access('write')
        self.filtered(lambda t: t.status == 'rejected').write({'status': 'draft'})


class CommWhatsappTemplateVariable(models.Model):
    _name = 'comm.whatsapp.template.variable'
    _description = 'WhatsApp template variable'
    _order = 'template_id, sequence, id'

    template_id = fields.Many2one('comm.whatsapp.template', required=True, ondelete='cascade', index=True)
    model = fields.Char(related='template_id.model')
    component = fields.Selection([('header', 'Header'), ('body', 'Body'), ('button', 'Button')],
                                 required=True, readonly=True)
    button_index = fields.Integer(readonly=True)
    position = fields.Integer(required=True, readonly=True)
    sequence = fields.Integer(compute='_compute_key', store=True)
    key = fields.Char(compute='_compute_key', store=True)
    source = fields.Selection([('field', 'Field of the record'), ('static', 'Fixed text')],
                              required=True, default='field')
    field_path = fields.Char('Field', help='Path from the record, e.g. partner_id.name')
    static_value = fields.Char('Text')
    fallback = fields.Char(help='Sent when the record gives no value; without one, the message is not sent.')
    sample = fields.Char(help='Example value: shown in the preview and sent to Meta for review.')

    @api.depends('component', 'button_index', 'position')
    def _compute_key(self):
        for variable in self:
            prefix = f'button.{variable.button_index}' if variable.component == 'button' else variable.component
            variable.key = f'{prefix}.{variable.position}'
            variable.sequence = COMPONENT_ORDER.get(variable.component, 0) * 1000 + variable.button_index * 100 \
                + variable.position

    @api.depends('component', 'button_index', 'position')
    def _compute_display_name(self):
        labels = dict(self._fields['component']._description_selection(self.env))
        for variable in self:
            label = labels.get(variable.component, '')
            if variable.component == 'button':
                label = f'{label} {variable.button_index + 1}'
            variable.display_name = f'{label} {{{{{variable.position}}}}}'

    @api.constrains('field_path', 'source', 'template_id')
    def _check_field_path(self):
        for variable in self.filtered(lambda v: v.source == 'field' and v.field_path):
            model = self.env[variable.template_id.model]
            for name in variable.field_path.split('.'):
                field = model._fields.get(name)
                if field is None:
                    raise ValidationError(_('%(variable)s: “%(path)s” is not a field path of %(model)s.',
                                            variable=variable.display_name, path=variable.field_path,
                                            model=variable.template_id.model_id.name))
                model = self.env[field.comodel_name] if field.relational else model

    def _value_for(self, record):
        """This variable's text for ``record``; '' when the record has none."""
        self.ensure_one()
        if self.source == 'static':
            return self.static_value or ''
        if not self.field_path:
            return ''
        owner, value, field = record, record, None
        for name in self.field_path.split('.'):
            owner = value[:1]
            if not owner:
                return ''
            field = owner._fields[name]
            value = owner[name]
        return self._as_text(owner, field, value)

    def _as_text(self, owner, field, value):
        if isinstance(value, models.BaseModel):
            return ', '.join(name for name in value.mapped('display_name') if name)
        if value is False or value is None or value == '':
            return ''
        if field.type == 'date':
            return format_date(self.env, value)
        if field.type == 'datetime':
            return format_datetime(self.env, value)
        if field.type == 'monetary':
            currency = owner[field.get_currency_field(owner)]
            return format_amount(self.env, value, currency) if currency else formatLang(self.env, value)
        if field.type == 'float':
            return formatLang(self.env, value)
        if field.type == 'selection':
            return dict(field._description_selection(self.env)).get(value, value)
        if field.type == 'boolean':
            return _('Yes')
        if field.type == 'html':
            return re.sub(r'\s+', ' ', re.sub(r'<[^>]+>', ' ', str(value))).strip()
        return str(value)

    def _check_value(self, value):
        """Why WhatsApp would refuse ``value`` (a translated sentence), or None."""
        self.ensure_one()
        if not value:
            return _('%(variable)s has no value and no fallback.', variable=self.display_name)
        if len(value) > MAX_VARIABLE_LENGTH:
            return _('%(variable)s is longer than %(max)s characters.', variable=self.display_name,
                     max=MAX_VARIABLE_LENGTH)
        if REFUSED_IN_VARIABLE.search(value):
            return _('%(variable)s contains a line break, a tab or 4 spaces in a row, which WhatsApp refuses.',
                     variable=self.display_name)
        return None

    def _preview_value(self):
        self.ensure_one()
        if self.source == 'static' and self.static_value:
            return self.static_value
        return self.sample or (f'[{self.field_path}]' if self.field_path else '')
