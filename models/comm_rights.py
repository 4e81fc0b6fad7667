"""A customer's rights: export and erase everything we hold of a contact's numbers.

Both start from a contact (buttons for Communications Administrators) and cover every message,
call, consent event and raw webhook event of its numbers — the numbers on the contact and those
its messages and calls were exchanged with —, across channels and the accounts of the
administrator's companies.

Erasure anonymizes: rows stay (counts and statistics do not change) without body, media, the
customer's number or profile name; the chatter messages we posted say "[erased]"; raw webhook
events lose their payload through the queue's own path (``comm.webhook.event._erase_payloads``).
An opted-out number leaves ``phone.blacklist`` (numbers in clear) for ``comm.blacklist.hash``, which
our sending paths check: the number is never texted again. A ``comm.erasure`` row says who erased
what, and when.
"""
import base64
import csv
import io
import json
import logging
import zipfile

import phonenumbers
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from .comm_consent_event import number_hash

_logger = logging.getLogger(__name__)

ERASED = '[erased]'
MANAGER_GROUP = 'comm_gateway.group_comm_manager'


def number_formats(number):
    """The ways a number may be written in what we store: E.164, its digits (providers without
    '+', ``whatsapp:+…``, ``%2B…``), national and international with spaces, national digits."""
    formats = {number, number.lstrip('+')}
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return {value for value in formats if value}
    for style in (phonenumbers.PhoneNumberFormat.INTERNATIONAL, phonenumbers.PhoneNumberFormat.NATIONAL):
        written = phonenumbers.format_number(parsed, style)
        formats.update({written, ''.join(char for char in written if char.isdigit() or char == '+')})
    return {value for value in formats if len(value.lstrip('+')) >= 6}


class CommErasure(models.Model):
    """Audit of an erasure: who, when, what was anonymized (counts; no number, no content)."""
    _name = 'comm.erasure'
    _description = 'Erasure of a contact\'s communications'
    _order = 'id desc'

    partner_id = fields.Many2one('res.partner', 'Contact', readonly=True, ondelete='set null', index=True)
    user_id = fields.Many2one('res.users', 'Erased by', readonly=True, ondelete='set null')
    date = fields.Datetime(readonly=True, default=fields.Datetime.now)
    company_id = fields.Many2one('res.company', readonly=True)
    number_count = fields.Integer('Numbers', readonly=True)
    message_count = fields.Integer('Messages', readonly=True)
    call_count = fields.Integer('Calls', readonly=True)
    event_count = fields.Integer('Webhook events', readonly=True)
    chatter_count = fields.Integer('Chatter messages', readonly=True)
    attachment_count = fields.Integer('Media', readonly=True)
    hashed_count = fields.Integer('Opted-out numbers kept hashed', readonly=True)

    @api.model_create_multi
    def create(self, vals_list):
        raise AccessError(self.env._('Erasures are recorded by the erasure only.'))

    def write(self, vals):
        raise AccessError(self.env._('Erasures are an audit trail: nobody edits them.'))


class CommPartnerExport(models.TransientModel):
    """The file of one export (a ZIP with a JSON and a CSV), downloaded once from the contact."""
    _name = 'comm.partner.export'
    _description = 'Export of a contact\'s communications'

    partner_id = fields.Many2one('res.partner', required=True, readonly=True, ondelete='cascade')
    file = fields.Binary(readonly=True, attachment=False)
    filename = fields.Char(readonly=True)


class ResPartner(models.Model):
    _inherit = 'res.partner'

    comm_consent_event_ids = fields.One2many('comm.consent.event', 'partner_id', 'Consent trail',
                                             groups='comm_gateway.group_comm_user')

    # ------------------------------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------------------------------

    def action_comm_export(self):
        """Download every message, call and consent event of this contact's numbers (ZIP: JSON + CSV)."""
        self.ensure_one()
        self._comm_check_rights_admin('read')
        data = self._comm_export_data()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
            archive.writestr('communications.json', json.dumps(data, indent=2, ensure_ascii=False, default=str))
            archive.writestr('communications.csv', self._comm_export_csv(data))
        filename = f'communications-{self.id}.zip'
        export = self.env['comm.partner.export'].create({
            'partner_id': self.id, 'file': base64.b64encode(buffer.getvalue()), 'filename': filename})
        _logger.info('res.partner %s: communications exported by user %s', self.id, self.env.uid)
        return {'type': 'ir.actions.act_url', 'target': 'self',
                'url': f'/web/content/comm.partner.export/{export.id}/file/{filename}?download=true'}

    def action_comm_erase(self):
        """Anonymize every message, call, raw event and chatter post of this contact's numbers;
        opted-out numbers stay blocked (hashed). Recorded as a ``comm.erasure``."""
        self.ensure_one()
        self._comm_check_rights_admin('write')
        erasure = self._comm_erase()
        return {'type': 'ir.actions.client', 'tag': 'display_notification', 'params': {
            'title': self.env._('Communications erased'), 'type': 'success',
            'message': self.env._(
                '%(messages)s message(s), %(calls)s call(s) and %(events)s webhook event(s) anonymized.',
                messages=erasure.message_count, calls=erasure.call_count, events=erasure.event_count),
            'next': {'type': 'ir.actions.client', 'tag': 'soft_reload'}}}

    def _comm_check_rights_admin(self, operation):
        """A Communications Administrator who may ``operation`` (read: export, write: erase) the contact."""
        if not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(self.env._('Only Communications Administrators export or erase a contact\'s data.'))
        self.check_access(operation)

    # ------------------------------------------------------------------------------------------
    # What belongs to the contact
    # ------------------------------------------------------------------------------------------

    def _comm_rights_scope(self):
        """``(numbers, messages, calls)`` of this contact, in the administrator's companies (sudo)."""
        self.ensure_one()
        companies = self.env.user.company_ids.ids
        own = {self.phone_sanitized, self.comm_phone_sanitized, self.comm_mobile_sanitized} - {False, None, ''}
        Message, Call = self.env['comm.message'].sudo(), self.env['comm.call'].sudo()
        linked = Message.search([('partner_id', '=', self.id), ('company_id', 'in', companies)])
        calls = Call.search([('partner_id', '=', self.id), ('company_id', 'in', companies)])
        numbers = own | {self._comm_customer_number(row) for row in [*linked, *calls]} - {False, ''}
        if numbers:
            numbers_domain = ['|', '&', ('direction', '=', 'in'), ('from_number', 'in', list(numbers)),
                              '&', ('direction', '=', 'out'), ('to_number', 'in', list(numbers))]
            linked |= Message.search([('company_id', 'in', companies)] + numbers_domain)
            calls |= Call.search([('company_id', 'in', companies)] + numbers_domain)
        return sorted(numbers), linked, calls

    @staticmethod
    def _comm_customer_number(row):
        return row.from_number if row.direction == 'in' else row.to_number

    def _comm_consent_events(self, numbers):
        hashes = [number_hash(self.env, number) for number in numbers]
        return self.env['comm.consent.event'].sudo().search(
            ['|', ('partner_id', '=', self.id), ('number_hash', 'in', hashes)], order='date, id')

    # ------------------------------------------------------------------------------------------
    # Export
    # ------------------------------------------------------------------------------------------

    def _comm_export_data(self):
        """Everything of this contact's numbers as plain data."""
        numbers, messages, calls = self._comm_rights_scope()
        opted_out = self.env['phone.blacklist']._comm_opted_out(numbers)
        return {
            'contact': {'id': self.id, 'name': self.name, 'numbers': numbers},
            'exported_at': fields.Datetime.now(),
            'opted_out': sorted(opted_out),
            'messages': [{
                'id': message.id, 'date': message.received_at or message.create_date, 'channel': message.channel,
                'direction': message.direction, 'account': message.provider_id.name,
                'company': message.company_id.name, 'from': message.from_number, 'to': message.to_number,
                'body': message.body, 'type': message.message_type, 'state': message.state,
                'profile_name': message.profile_name, 'content': message.content,
                'template': message.template_id.name, 'template_values': message.template_values,
                'media': [attachment.name for attachment in
                          message.attachment_ids | message.media_ids.attachment_id],
            } for message in messages.sorted('id')],
            'calls': [{
                'id': call.id, 'date': call.start_date, 'direction': call.direction, 'account': call.provider_id.name,
                'company': call.company_id.name, 'from': call.from_number, 'to': call.to_number,
                'state': call.state, 'duration': call.duration, 'recording': call.recording_url,
            } for call in calls.sorted('id')],
            'consent': [{
                'date': event.date, 'kind': event.kind, 'source': event.source, 'number': event.number,
                'channel': event.channel, 'account': event.provider_id.name, 'message_id': event.message_id.id,
                'by': event.user_id.name,
            } for event in self._comm_consent_events(numbers)],
        }

    @api.model
    def _comm_export_csv(self, data):
        """One readable row per message, call and consent event, in date order."""
        rows = [(str(m['date']), 'message', m['channel'], m['direction'], m['account'], m['from'], m['to'],
                 m['state'], m['body'] or ', '.join(m['media'])) for m in data['messages']]
        rows += [(str(c['date']), 'call', 'voice', c['direction'], c['account'], c['from'], c['to'], c['state'],
                  f"{c['duration'] or 0} s") for c in data['calls']]
        rows += [(str(e['date']), e['kind'], e['channel'] or '', '', e['account'] or '', e['number'], '',
                  e['source'], '') for e in data['consent']]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(['date', 'kind', 'channel', 'direction', 'account', 'from', 'to', 'state', 'content'])
        writer.writerows(sorted(rows, key=lambda row: row[0]))
        return out.getvalue()

    # ------------------------------------------------------------------------------------------
    # Erasure
    # ------------------------------------------------------------------------------------------

    def _comm_erase(self):
        """Anonymize (see the module docstring); the caller checked the rights.

        :returns: the ``comm.erasure`` audit row
        """
        self.ensure_one()
        numbers, messages, calls = self._comm_rights_scope()
        formats = sorted({written for number in numbers for written in number_formats(number)}, key=len, reverse=True)
        hashed = self.env['phone.blacklist']._comm_opted_out(numbers)
        posts = messages.mail_message_id
        attachments = (messages.attachment_ids | messages.media_ids.attachment_id | posts.attachment_ids).sudo()
        attachment_count = len(attachments)
        attachments.unlink()
        messages.media_ids.sudo().write({'url': False, 'media_ref': False, 'filename': False})
        for message in messages:
            side = 'from_number' if message.direction == 'in' else 'to_number'
            message.write({side: False, 'body': False, 'content': False, 'template_values': False,
                           'profile_name': False, 'error_message': False})
        for call in calls:
            side = 'from_number' if call.direction == 'in' else 'to_number'
            call.write({side: False, 'recording_url': False})
        chatter = self._comm_erase_chatter(posts, [*messages, *calls], formats)
        self.env['comm.message.part'].sudo().search([('sender', 'in', numbers)]).unlink()
        sms = self.env['sms.sms'].sudo().search([('number', 'in', formats)])
        sms.unlink()
        events = self.env['comm.webhook.event']._erase_payloads(formats)
        # the consent trail stays (proof), by hash only
        consent = self._comm_consent_events(numbers)
        if consent:
            consent.flush_recordset()
            self.env.cr.execute(SQL("UPDATE comm_consent_event SET number = NULL WHERE id IN %s", tuple(consent.ids)))
            consent.invalidate_recordset(['number'])
        self.env['comm.blacklist.hash'].sudo()._add(hashed)
        self.env['phone.blacklist'].sudo().with_context(active_test=False).search(
            [('number', 'in', numbers)]).unlink()
        values = {'phone': False, 'mobile': False}
        if any(written in (self.name or '') for written in formats):    # named after the number it wrote from
            values['name'] = self.env._('Erased contact')
        self.sudo().with_context(tracking_disable=True).write(values)
        erasure = super(CommErasure, self.env['comm.erasure'].sudo()).create({
            'partner_id': self.id, 'user_id': self.env.uid, 'company_id': self.env.company.id,
            'number_count': len(numbers), 'message_count': len(messages), 'call_count': len(calls),
            'event_count': events, 'chatter_count': chatter, 'attachment_count': attachment_count,
            'hashed_count': len(hashed)})
        self.sudo()._message_log(body=self.env._(
            'Communications erased by %(user)s: %(messages)s message(s), %(calls)s call(s), %(events)s webhook '
            'event(s), %(media)s media.', user=self.env.user.name, messages=len(messages), calls=len(calls),
            events=events, media=attachment_count))
        _logger.info('res.partner %s: communications erased by user %s (erasure %s)', self.id, self.env.uid, erasure.id)
        return erasure

    def _comm_erase_chatter(self, posts, rows, formats):
        """Our chatter posts say "[erased]"; the number is taken out of every other chatter message
        of the documents involved (opt-out notes…). :returns: how many chatter messages changed"""
        Mail = self.env['mail.message'].sudo()
        posts.write({'body': Markup('<p>%s</p>') % ERASED, 'email_from': False, 'reply_to': False})
        posts.notification_ids.sudo().write({'sms_number': False})
        documents = {(row.res_model, row.res_id) for row in rows if row.res_model and row.res_id}
        documents.add(('res.partner', self.id))
        domain = ['|'] * (len(documents) - 1)
        for model, res_id in documents:
            domain += ['&', ('model', '=', model), ('res_id', '=', res_id)]
        mentions = Mail.browse()
        if formats:
            text_domain = ['|'] * (3 * len(formats) - 1)
            for written in formats:
                text_domain += [('body', 'ilike', written), ('email_from', 'ilike', written),
                                ('record_name', 'ilike', written)]
            mentions = Mail.search(domain + text_domain) - posts
        for mail in mentions | posts:
            body, email_from, name = str(mail.body or ''), mail.email_from or '', mail.record_name or ''
            for written in formats:
                body, email_from, name = (text.replace(written, ERASED) for text in (body, email_from, name))
            mail.write({'body': Markup(body), 'email_from': email_from or False, 'record_name': name or False})
        return len(posts | mentions)
