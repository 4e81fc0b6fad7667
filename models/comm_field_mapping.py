"""Admin-defined field mapping: extra fields of a provider's inbound payload (a parameter, or a
JSON path such as ``referral.source_url``) copied to a field of the message, its contact or its
lead, with a simple transformation, per account. Applied by the queue as it records inbound
messages (``comm.message._comm_apply_field_mappings``, called by ``_receive_inbound``, which
every inbound path takes: a single message, a long SMS reassembled from its parts — whose
payload is the parts' parameters with the whole text —, parts posted alone after a timeout); a
value that cannot be read is skipped and logged, never a reason to stop the queue."""
import json
import logging
from datetime import datetime, timezone

from odoo import api, fields, models
from odoo.exceptions import ValidationError

_logger = logging.getLogger(__name__)

TARGET_MODELS = [('comm.message', 'Message'), ('res.partner', 'Contact'), ('crm.lead', 'Lead')]
TARGET_TYPES = ('char', 'text', 'date', 'datetime', 'integer', 'float', 'monetary', 'boolean')
MAGIC_FIELDS = ('id', 'display_name', 'create_uid', 'create_date', 'write_uid', 'write_date')
MISSING = object()


def read_path(payload, path):
    """The value at ``path`` in ``payload``: the parameter of that exact name, else the dotted JSON
    path (``referral.source_url``, ``entry.0.id``); :data:`MISSING` when there is none."""
    if not isinstance(payload, dict):
        return MISSING
    if path in payload:
        return payload[path]
    value = payload
    for key in path.split('.'):
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return MISSING
    return value


class CommFieldMapping(models.Model):
    _name = 'comm.field.mapping'
    _description = 'Inbound payload field copied to a field of the message, contact or lead'
    _order = 'provider_id, sequence, id'

    provider_id = fields.Many2one('comm.provider', 'Account', required=True, ondelete='cascade', index=True)
    company_id = fields.Many2one(related='provider_id.company_id', store=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    source = fields.Char(required=True, help='A parameter of the webhook (Twilio: FromCity) or a JSON path in '
                                             'the message (Meta: referral.source_url).')
    target_model = fields.Selection(TARGET_MODELS, 'Copied to', required=True, default='res.partner')
    target_field_id = fields.Many2one(
        'ir.model.fields', 'Field', required=True, ondelete='cascade',
        domain="[('model', '=', target_model), ('store', '=', True), ('ttype', 'in', %s)]" % (list(TARGET_TYPES),))
    transform = fields.Selection([('as_is', 'As is'), ('lower', 'Lowercase'), ('date', 'Date'), ('number', 'Number')],
                                 required=True, default='as_is')
    overwrite = fields.Boolean(help='Replace a value the contact or lead already has (else only fill an empty one). '
                                    'A message field is always set.')

    @api.constrains('target_model', 'target_field_id')
    def _check_target(self):
        for mapping in self:
            field = mapping.target_field_id
            if (field.model != mapping.target_model or field.ttype not in TARGET_TYPES or not field.store
                    or field.name in MAGIC_FIELDS
                    or (mapping.target_model == 'comm.message' and not field.name.startswith('x_'))):
                raise ValidationError(self.env._(
                    '%(field)s cannot receive a payload value: choose a stored text, number, date or yes/no field '
                    '(on messages, a custom x_ field).', field=field.field_description or field.name))

    def _convert(self, value):
        """``value`` transformed and made fit for the target field; raises ValueError when it cannot be."""
        ttype = self.target_field_id.ttype
        if isinstance(value, (dict, list)):
            value = json.dumps(value, ensure_ascii=False, sort_keys=True)
        if self.transform == 'lower':
            value = str(value).lower()
        elif self.transform == 'number':
            value = float(str(value).replace(',', '.')) if not isinstance(value, (int, float)) else value
        elif self.transform == 'date':
            if isinstance(value, (int, float)) or str(value).isdigit():
                value = datetime.fromtimestamp(float(value), timezone.utc).replace(tzinfo=None)
            else:
                value = datetime.fromisoformat(str(value).replace('Z', '+00:00'))
                if value.tzinfo:
                    value = value.astimezone(timezone.utc).replace(tzinfo=None)
        if ttype == 'date':
            return (value if isinstance(value, datetime) else fields.Datetime.to_datetime(value)).date()
        if ttype == 'datetime':
            return value if isinstance(value, datetime) else fields.Datetime.to_datetime(value)
        if ttype == 'integer':
            return int(float(value))
        if ttype in ('float', 'monetary'):
            return float(value)
        if ttype == 'boolean':
            return str(value).lower() in ('1', 'true', 'yes', 'y', 'on')
        return value if isinstance(value, str) else (value.isoformat() if isinstance(value, datetime) else str(value))


class CommProvider(models.Model):
    _inherit = 'comm.provider'

    field_mapping_ids = fields.One2many('comm.field.mapping', 'provider_id', 'Field mapping',
                                        context={'active_test': False}, groups='comm_gateway.group_comm_manager')


class CommMessage(models.Model):
    _inherit = 'comm.message'

    def _comm_apply_field_mappings(self, provider, inbounds):
        """Copy the mapped payload values of ``inbounds`` (in the order of these messages) to the
        message, its contact and the lead it was posted on."""
        mappings = provider.sudo().field_mapping_ids.filtered('active')
        if not mappings:
            return
        for message, inbound in zip(self, inbounds):
            targets = {'comm.message': message, 'res.partner': message.partner_id,
                       'crm.lead': message._comm_lead()}
            writes = {}
            for mapping in mappings:
                record = targets[mapping.target_model]
                value = read_path(inbound.raw, mapping.source)
                if not record or value is MISSING or value in (None, ''):
                    continue
                name = mapping.target_field_id.name
                if mapping.target_model != 'comm.message' and not mapping.overwrite and record[name]:
                    continue
                try:
                    writes.setdefault(record, {})[name] = mapping._convert(value)
                except (TypeError, ValueError, OverflowError):
                    _logger.info('comm.field.mapping %s: message %s: the value of %s cannot be read as %s; skipped',
                                 mapping.id, message.id, mapping.source, mapping.transform)
            for record, values in writes.items():
                record.sudo().write(values)

    def _comm_lead(self):
        """The lead this inbound message lives on, if any."""
        if self.res_model == 'crm.lead' and self.res_id:
            return self.env['crm.lead'].sudo().browse(self.res_id).exists()
        return self.env['crm.lead']
