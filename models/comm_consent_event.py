"""Consent trail: every opt-out and opt-in of a number, with where it came from.

Odoo's ``phone.blacklist`` stays the one list the sending paths check; each change of an entry
(created active = opted out, archived = opted in again, reactivated…) is recorded here, whoever
made it: a STOP / START keyword received (the inbound path passes the message in the context), a
person on the blacklist's form or wizard, an import. Rows are evidence: nobody edits them.

A number whose contact was erased (models/comm_rights.py) leaves the blacklist, which stores
numbers in clear, for ``comm.blacklist.hash``: a keyed hash our sending paths check as well.
"""
import hashlib
import hmac

from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL, ormcache

SOURCES = [('keyword', 'Keyword received'), ('manual', 'By hand'), ('import', 'Import')]
KINDS = [('opt_out', 'Opted out'), ('opt_in', 'Opted in')]
# passed in the context by the inbound path: the comm.message whose keyword changed the consent
CONSENT_MESSAGE_KEY = 'comm_consent_message_id'


def number_hasher(env):
    """``hash(number)``: a keyed hash of E.164 numbers. Phone numbers are few enough to hash them
    all, so a plain hash would give the number back; the key is the database's own secret, read once."""
    secret = (env['ir.config_parameter'].sudo().get_param('database.secret') or '').encode()
    return lambda number: hmac.new(secret, (number or '').encode(), hashlib.sha256).hexdigest()


def number_hash(env, number):
    return number_hasher(env)(number)


class CommConsentEvent(models.Model):
    _name = 'comm.consent.event'
    _description = 'Consent event (opt-out / opt-in)'
    _order = 'date desc, id desc'
    _rec_name = 'kind'

    date = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now, index=True)
    kind = fields.Selection(KINDS, required=True, readonly=True)
    source = fields.Selection(SOURCES, required=True, readonly=True)
    number = fields.Char(readonly=True, index='btree_not_null', help='Emptied when its contact is erased.')
    number_hash = fields.Char(readonly=True, index=True)
    partner_id = fields.Many2one('res.partner', 'Contact', readonly=True, index='btree_not_null', ondelete='set null')
    message_id = fields.Many2one('comm.message', 'Message', readonly=True, ondelete='set null',
                                 help='The message whose keyword made the change.')
    channel = fields.Selection(related='message_id.channel', store=True)
    provider_id = fields.Many2one('comm.provider', 'Account', readonly=True, ondelete='set null')
    company_id = fields.Many2one('res.company', readonly=True, index=True)
    user_id = fields.Many2one('res.users', 'By', readonly=True, ondelete='set null')
    note = fields.Char(readonly=True)

    @api.model_create_multi
    def create(self, vals_list):
        raise AccessError(self.env._('Consent events are recorded by the blacklist only.'))

    def write(self, vals):
        raise AccessError(self.env._('Consent events are evidence: nobody edits them.'))

    @api.model
    def _record(self, kind, numbers):
        """One event per number for a change of ``phone.blacklist``, its source read from the context."""
        numbers = [number for number in numbers if number]
        if not numbers:
            return self.browse()
        message = self.env['comm.message'].sudo().browse(self.env.context.get(CONSENT_MESSAGE_KEY)).exists()
        source = 'keyword' if message else 'import' if self.env.context.get('import_file') else 'manual'
        partners = self.env['res.partner']._comm_find_by_numbers(numbers)
        values = [{
            'kind': kind, 'source': source, 'number': number, 'number_hash': number_hash(self.env, number),
            'partner_id': (message.partner_id if message.partner_id and message.from_number == number
                           else partners.get(number, self.env['res.partner'])).id,
            'message_id': message.id, 'provider_id': message.provider_id.id,
            'company_id': message.company_id.id or self.env.company.id, 'user_id': self.env.uid,
        } for number in numbers]
        return super(CommConsentEvent, self.sudo()).create(values)


class CommBlacklistHash(models.Model):
    """Opted-out numbers of erased contacts, kept as keyed hashes only: never texted again."""
    _name = 'comm.blacklist.hash'
    _description = 'Opted-out number of an erased contact (hash)'
    _log_access = False

    number_hash = fields.Char(required=True, readonly=True)
    date = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)

    _sql_constraints = [('number_hash_unique', 'unique(number_hash)', 'A number is hashed once.')]

    @api.model
    def _add(self, numbers):
        if not numbers:
            return
        self.env.cr.execute("SELECT EXISTS(SELECT FROM comm_blacklist_hash)")
        first = not self.env.cr.fetchone()[0]
        for number in numbers:
            self.env.cr.execute(SQL(
                "INSERT INTO comm_blacklist_hash (number_hash, date) VALUES (%s, now() at time zone 'UTC')"
                " ON CONFLICT (number_hash) DO NOTHING", number_hash(self.env, number)))
        if first:
            # the first hash of the database: every worker asks the table from now on (at once in
            # this one, after the commit in the others through Odoo's cache signaling)
            self.env.registry.clear_cache()
            self.env.cr.postcommit.add(self.env.registry.clear_cache)

    @api.model
    @ormcache()
    def _any(self):
        """Whether any number is hashed. Cached: most databases never erase a contact, and every
        SMS of Odoo's own paths asks (``sms.sms._send``), as our sending paths do. Once a hash
        exists the answer stays true (a stale true only costs the lookup)."""
        self.env.cr.execute("SELECT EXISTS(SELECT FROM comm_blacklist_hash)")
        return self.env.cr.fetchone()[0]

    @api.model
    def _listed(self, numbers):
        """The E.164 ``numbers`` among ``numbers`` whose hash is here (opted out, then erased)."""
        if not self._any():
            return set()
        hash_of = number_hasher(self.env)
        hashes = {hash_of(number): number for number in numbers if number}
        if not hashes:
            return set()
        self.env.cr.execute(SQL("SELECT number_hash FROM comm_blacklist_hash WHERE number_hash IN %s", tuple(hashes)))
        return {hashes[row[0]] for row in self.env.cr.fetchall()}

    @api.model
    def _remove(self, numbers):
        hash_of = number_hasher(self.env)
        hashes = [hash_of(number) for number in numbers if number]
        if hashes:
            self.env.cr.execute(SQL("DELETE FROM comm_blacklist_hash WHERE number_hash IN %s", tuple(hashes)))


class PhoneBlacklist(models.Model):
    _inherit = 'phone.blacklist'

    @api.model_create_multi
    def create(self, vals_list):
        # Odoo's create reactivates existing entries (through write: recorded there) and creates the rest
        numbers = [self.env.user._phone_format(number=vals.get('number')) or vals.get('number') for vals in vals_list]
        before = set(self.with_context(active_test=False).search([('number', 'in', numbers)]).ids)
        records = super().create(vals_list)
        new = records.filtered(lambda entry: entry.id not in before)
        self.env['comm.consent.event']._record('opt_out', new.filtered('active').mapped('number'))
        self._comm_opted_in(new.filtered(lambda entry: not entry.active).mapped('number'))
        return records

    def write(self, vals):
        if 'active' not in vals:
            return super().write(vals)
        changed = self.with_context(active_test=False).filtered(lambda entry: entry.active != bool(vals['active']))
        result = super().write(vals)
        if vals['active']:
            self.env['comm.consent.event']._record('opt_out', changed.mapped('number'))
        else:
            self._comm_opted_in(changed.mapped('number'))
        return result

    @api.model
    def _comm_opted_in(self, numbers):
        self.env['comm.consent.event']._record('opt_in', numbers)
        self.env['comm.blacklist.hash'].sudo()._remove(numbers)

    @api.model
    def _comm_opted_out(self, numbers):
        """The E.164 ``numbers`` no message may go to: on the blacklist, or hashed there on erasure."""
        numbers = [number for number in numbers if number]
        if not numbers:
            return set()
        # one query, not the blacklist's own search, which would sanitize each number again
        self.flush_model(['number', 'active'])
        self.env.cr.execute(SQL("SELECT number FROM phone_blacklist WHERE active AND number = ANY(%s)",
                                list(set(numbers))))
        listed = {number for number, in self.env.cr.fetchall()}
        return listed | self.env['comm.blacklist.hash']._listed([number for number in numbers if number not in listed])
