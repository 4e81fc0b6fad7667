import psycopg2.errors

from odoo import _, api, fields, models
from odoo.tools import SQL, mute_logger

from ..providers.base import to_e164
from .comm_webhook_event import RetryLater


class ResPartner(models.Model):
    _name = 'res.partner'
    _inherit = ['res.partner', 'comm.history.mixin']
    _comm_link_field = 'partner_id'

    # Inbound messages are matched on these E.164 columns, through an index, never by a scan.
    # phone_sanitized (mail.thread.phone) holds the mobile, or the phone when there is no mobile;
    # comm_phone_sanitized always holds the phone, so a reply from either number finds the contact.
    # Odoo leaves phone_sanitized empty for numbers libphonenumber calls possible but not valid
    # (test ranges, newly allocated ones): ours keep them (comm_mobile_sanitized for the mobile).
    phone_sanitized = fields.Char(index='btree_not_null')
    comm_phone_sanitized = fields.Char(
        'Sanitized phone', compute='_compute_comm_phone_sanitized', compute_sudo=True, store=True,
        index='btree_not_null')
    comm_mobile_sanitized = fields.Char(
        'Sanitized mobile', compute='_compute_comm_phone_sanitized', compute_sudo=True, store=True,
        index='btree_not_null')
    # The number an unknown sender wrote from, on the contacts created for it: at most one active
    # such contact per number and company (a unique index), whatever runs at the same moment.
    # Contacts people made keep their duplicates: they have none.
    comm_sender_number = fields.Char('Created for sender', readonly=True, copy=False,
                                     help='The number this contact was created for when it first wrote.')
    # The "Communications" tab and smart buttons list every message and call of the contact,
    # wherever it was made from.
    comm_history_ids = fields.One2many('comm.history', 'partner_id')

    def init(self):
        super().init()
        self.env.cr.execute(SQL(
            """CREATE UNIQUE INDEX IF NOT EXISTS res_partner_comm_sender_number_uniq
                   ON res_partner (COALESCE(company_id, 0), comm_sender_number)
                WHERE comm_sender_number IS NOT NULL AND active"""))

    @api.depends('phone', 'mobile', 'country_id')
    def _compute_comm_phone_sanitized(self):
        for partner in self:
            partner.comm_phone_sanitized = partner._comm_e164('phone')
            partner.comm_mobile_sanitized = partner._comm_e164('mobile')

    def _comm_e164(self, fname):
        """The number of field ``fname`` in E.164: as Odoo formats it, else (possible but not
        valid numbers) as we read provider numbers, in the contact's country."""
        number = self[fname]
        if not number:
            return False
        country = self.country_id or self.env.company.country_id
        return self._phone_format(fname=fname) or to_e164(number, country.code, national=True) or False

    @api.model
    def _comm_find_by_number(self, number, company=None):
        """The contact whose mobile or phone is ``number`` (E.164); the oldest on ties."""
        return self._comm_find_by_numbers([number], company).get(number, self.browse())

    @api.model
    def _comm_find_by_numbers(self, numbers, company=None):
        """``{number: contact}`` for the E.164 ``numbers`` that match one (the oldest on ties), in
        one indexed search."""
        numbers = list({number for number in numbers if number})
        if not numbers:
            return {}
        domain = ['|', '|', '|', ('phone_sanitized', 'in', numbers), ('comm_phone_sanitized', 'in', numbers),
                  ('comm_mobile_sanitized', 'in', numbers), ('comm_sender_number', 'in', numbers)]
        if company:
            domain = ['&', ('company_id', 'in', [False, company.id])] + domain
        wanted, found = set(numbers), {}
        fnames = ['phone_sanitized', 'comm_phone_sanitized', 'comm_mobile_sanitized', 'comm_sender_number']
        partners = self.sudo().with_context(active_test=True).search_fetch(domain, fnames, order='id')
        for partner in partners:
            for number in (partner[fname] for fname in fnames):
                if number in wanted:
                    found.setdefault(number, partner)
        return found

    @api.model
    def _comm_create_for_senders(self, values):
        """Create the contacts of unknown senders, each ``values`` dict naming its number in
        ``comm_sender_number``. Two transactions creating one for the same number in one company
        at the same moment (two workers, two servers) meet on the unique index: the second waits
        for the first, then fails here and is retried (:class:`RetryLater`), and its retry finds
        the contact the first created. :returns: the contacts, in the order of ``values``"""
        try:
            with mute_logger('odoo.sql_db'), self.env.cr.savepoint():
                return self.sudo().create(values)
        except psycopg2.errors.UniqueViolation:
            raise RetryLater(_('Another transaction created the contact of this sender at the same moment: '
                               'retried, to use that contact.')) from None
