import uuid

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import format_datetime


class CommWhatsappComposer(models.TransientModel):
    """The chatter's WhatsApp and MMS composer. WhatsApp: free text and files inside the 24-hour
    window, an approved template at any time (``comm.message._queue_whatsapp``). MMS: text and
    files in one message (``comm.message._queue_mms``)."""
    _name = 'comm.whatsapp.composer'
    _description = 'Send a WhatsApp message or an MMS'

    res_model = fields.Char('Document model', required=True)
    res_id = fields.Integer('Document', required=True)
    channel = fields.Selection([('whatsapp', 'WhatsApp'), ('mms', 'MMS')], required=True, default='whatsapp')
    provider_id = fields.Many2one(
        'comm.provider', 'Account', required=True,
        domain="[('channel_mms' if channel == 'mms' else 'channel_whatsapp', '=', True)]",
        compute='_compute_provider_id', store=True, readonly=False, precompute=True)
    mms_available = fields.Boolean(compute='_compute_mms_available', help='The company has an account that sends MMS.')
    partner_id = fields.Many2one('res.partner', 'Contact', compute='_compute_recipient', store=True, readonly=False,
                                 precompute=True)
    to_number = fields.Char('To', compute='_compute_recipient', store=True, readonly=False, precompute=True)
    window_open = fields.Boolean(compute='_compute_window')
    window_message = fields.Char(compute='_compute_window')
    template_id = fields.Many2one(
        'comm.whatsapp.template', 'Template',
        domain="[('status', '=', 'approved'), ('provider_id', '=', provider_id), ('model', '=', res_model)]")
    template_header_format = fields.Selection(related='template_id.header_format')
    body = fields.Text('Message')
    attachment_ids = fields.Many2many('ir.attachment', string='Attachments')
    preview = fields.Text(compute='_compute_preview')
    # sent with the form, so a retried save or a second click still carries the same key
    idempotency_key = fields.Char(default=lambda self: uuid.uuid4().hex, copy=False)

    def _record(self):
        self.ensure_one()
        if self.res_model not in self.env or not isinstance(self.env[self.res_model], self.env.registry['mail.thread']):
            raise UserError(_('WhatsApp messages and MMS are sent about records that have a chatter.'))
        return self.env[self.res_model].browse(self.res_id).exists()

    def _company(self):
        record = self._record() if self.res_model else None
        if record and 'company_id' in record._fields and record.company_id:
            return record.company_id
        return self.env.company

    @api.depends('res_model', 'res_id')
    def _compute_mms_available(self):
        for composer in self:
            composer.mms_available = bool(self.env['comm.provider']._mms_account(composer._company()))

    @api.depends('res_model', 'res_id', 'channel')
    def _compute_provider_id(self):
        for composer in self:
            company = composer._company()
            if composer.channel == 'mms':
                composer.provider_id = self.env['comm.provider']._mms_account(company)
                continue
            composer.provider_id = company.comm_whatsapp_provider_id or self.env['comm.provider'].search(
                [('channel_whatsapp', '=', True), ('company_id', '=', company.id)], limit=1)

    @api.depends('res_model', 'res_id')
    def _compute_recipient(self):
        for composer in self:
            record = composer._record() if composer.res_model else None
            partner, number = record._comm_whatsapp_recipient() if record else (self.env['res.partner'], False)
            composer.partner_id, composer.to_number = partner, number

    @api.depends('to_number', 'provider_id')
    def _compute_window(self):
        for composer in self:
            number = composer._number()
            end = self.env['comm.message']._whatsapp_window_end(number, composer.provider_id)
            composer.window_open = bool(end)
            if end:
                composer.window_message = _('%(number)s wrote in the last 24 hours: free text and files can be '
                                            'sent until %(end)s.', number=number, end=format_datetime(self.env, end))
            else:
                composer.window_message = _('%(number)s has not written in the last 24 hours: WhatsApp only '
                                            'accepts an approved template.', number=number or _('This number'))

    @api.depends('template_id', 'res_model', 'res_id')
    def _compute_preview(self):
        for composer in self:
            record = composer._record() if composer.template_id else None
            try:
                composer.preview = record and composer.template_id._render_text(
                    composer.template_id._render_values(record))
            except UserError as exc:
                composer.preview = exc.args[0]

    def _check_attachments(self):
        """Only the user's own uploads to this composer, as Odoo's mail composer moves only its
        own: another attachment id (someone's invoice, a private file) cannot ride along."""
        foreign = self.attachment_ids.sudo().filtered(
            lambda a: a.res_model != self._name or a.res_id not in (0, self.id) or a.create_uid != self.env.user)
        if foreign:
            raise AccessError(_('Only files uploaded in this composer can be sent.'))

    def _number(self):
        """The number typed or found, in E.164 (False when it cannot be)."""
        self.ensure_one()
        if not self.to_number:
            return False
        record = self._record()
        return (record or self.partner_id)._phone_format(number=self.to_number) or False

    def _raise_window_closed(self):
        domain = [('status', '=', 'approved'), ('provider_id', '=', self.provider_id.id),
                  ('model', '=', self.res_model)]
        if self.env['comm.whatsapp.template'].search_count(domain, limit=1):
            raise UserError(_('%(number)s has not written in the last 24 hours: choose one of the approved '
                              'templates, WhatsApp accepts nothing else until they write again.',
                              number=self._number() or self.to_number))
        raise UserError(_('%(number)s has not written in the last 24 hours and %(account)s has no approved '
                          'template for this kind of document: sync or draft one in Communications → WhatsApp '
                          'Templates, or wait until they write.',
                          number=self._number() or self.to_number, account=self.provider_id.display_name))

    def action_send(self):
        self.ensure_one()
        record = self._record()
        if not record:
            raise UserError(_('The document was deleted.'))
        # as posting in its chatter would: the right to post on the document, before any sudo()
        record.check_access(getattr(record, '_mail_post_access', 'write'))
        self._check_attachments()
        if self.channel == 'mms':
            self.env['comm.message']._queue_mms(
                self.provider_id, record, self.partner_id, self._number(), body=self.body or '',
                attachments=self.attachment_ids, idempotency_key=self.idempotency_key)
            return {'type': 'ir.actions.act_window_close'}
        if not self.template_id and not self.window_open:
            self._raise_window_closed()
        values = self.template_id._render_values(record) if self.template_id else None
        self.env['comm.message']._queue_whatsapp(
            self.provider_id, record, self.partner_id, self._number(), body=self.body or '',
            attachments=self.attachment_ids, template=self.template_id or None, values=values,
            idempotency_key=self.idempotency_key)
        return {'type': 'ir.actions.act_window_close'}
