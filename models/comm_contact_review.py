"""Contacts from unknown numbers: the company's rule for a sender no contact has, review of the
contacts it creates, an optional lead per account, and merging a reviewed duplicate away.

The one place the rule is applied: ``comm.message._comm_unknown_senders`` (called by
``_receive_inbound``). Rules: ``create`` a contact; ``review`` create it flagged "to review" (a
tag, the "To review" filter); ``hold`` create it flagged and attach the message to nobody until
someone marks the contact reviewed (then its messages join it); ``ignore`` keep the message
unattached.
"""
import logging

from odoo import _, api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from ..tools.number_info import NUMBER_TYPES, number_info

_logger = logging.getLogger(__name__)

REVIEW_TAG = 'comm_gateway.res_partner_category_to_review'
FLAGGING_RULES = ('review', 'hold')


class ResCompany(models.Model):
    _inherit = 'res.company'

    comm_unknown_sender = fields.Selection(
        selection_add=[('review', 'Create a contact and flag it for review'),
                       ('hold', 'Create a contact flagged for review, attach the message to nobody until reviewed'),
                       ('ignore',)],
        ondelete={'review': 'set default', 'hold': 'set default'})


class CommProvider(models.Model):
    _inherit = 'comm.provider'

    comm_lead_unknown = fields.Boolean(
        'Leads from unknown numbers',
        help='An inbound message from a number no contact has creates a lead, with the message in its chatter.')


class ResPartner(models.Model):
    _inherit = 'res.partner'

    comm_to_review = fields.Boolean(
        'To review', copy=False, index='btree_not_null',
        help='Created from a message of an unknown number: check it, merge it into an existing contact '
             '(Action → Merge) or mark it reviewed.')
    comm_number_type = fields.Selection(NUMBER_TYPES, 'Number type', copy=False,
                                        help="From libphonenumber's data, when the contact was created from a message.")
    comm_number_carrier = fields.Char('Carrier', copy=False,
                                      help="The number's original carrier, by libphonenumber (a ported number moved).")

    def action_comm_mark_reviewed(self):
        """The contact is checked: the flag and the tag go, and the messages held for it join it."""
        if not self.env.user.has_group('comm_gateway.group_comm_user'):
            raise AccessError(_('Only Communications users may review contacts created from messages.'))
        self.check_access('write')
        partners = self.sudo().filtered('comm_to_review')
        partners.write({'comm_to_review': False, 'category_id': [(3, self.env.ref(REVIEW_TAG).id)]})
        self.env['comm.message']._comm_attach_held(partners)
        return True

    def _comm_flag_created(self):
        """Flag these contacts, just created for unknown numbers, for review."""
        self.write({'comm_to_review': True, 'category_id': [(4, self.env.ref(REVIEW_TAG).id)]})


class CommMessage(models.Model):
    _inherit = 'comm.message'

    @api.model
    def _comm_unknown_senders(self, provider, inbounds, partners):
        """Apply the company's rule for senders no contact has, and the account's lead option.

        :param partners: ``{sender: contact}`` found for the known ones
        :returns: ``(partners, leads)``: the contacts the messages are attached to (the known,
            and those created when the rule attaches them), and ``{sender: crm.lead}`` created
        """
        rule = provider.company_id.comm_unknown_sender
        unknown = [inbound for inbound in inbounds if inbound.sender and inbound.sender not in partners]
        partners = dict(partners)
        created = {}
        if unknown and rule != 'ignore':
            created = self._create_senders(unknown, provider.company_id)
            self._comm_store_number_info(created)
            if rule in FLAGGING_RULES:
                self.env['res.partner'].union(*created.values())._comm_flag_created()
            partners.update(created)
        if rule == 'hold':      # new or not, a contact still to review gets nothing attached
            partners = {sender: partner for sender, partner in partners.items() if not partner.comm_to_review}
        leads = self._comm_create_leads(provider, unknown, partners) if unknown and provider.comm_lead_unknown else {}
        return partners, leads

    @api.model
    def _comm_store_number_info(self, partners):
        """Type, country (when the contact has none) and carrier of each new contact's number."""
        codes = {}
        for number, partner in partners.items():
            kind, region, carrier = number_info(number) or (False, '', '')
            codes.setdefault(region, []).append((partner, kind, carrier))
        countries = {country.code: country for country in self.env['res.country'].search([('code', 'in', list(codes))])}
        for region, rows in codes.items():
            for partner, kind, carrier in rows:
                values = {'comm_number_type': kind, 'comm_number_carrier': carrier or False}
                if region in countries and not partner.country_id:
                    values['country_id'] = countries[region].id
                partner.write(values)

    @api.model
    def _comm_create_leads(self, provider, inbounds, partners):
        """``{sender: crm.lead}``: one lead per unknown sender, in the account's company."""
        channels = dict(self._fields['channel']._description_selection(self.env))
        values = {}
        for inbound in inbounds:
            partner = partners.get(inbound.sender)
            values.setdefault(inbound.sender, {
                'name': _('%(channel)s from %(name)s', channel=channels.get(inbound.channel, 'SMS'),
                          name=inbound.profile_name or inbound.sender),
                'partner_id': partner.id if partner else False, 'company_id': provider.company_id.id,
                'phone': inbound.sender if inbound.sender.startswith('+') else False,
                'contact_name': inbound.profile_name or False,
            })
        leads = self.env['crm.lead'].sudo().with_context(mail_create_nosubscribe=True).create(list(values.values()))
        _logger.info('comm.provider %s: %s lead(s) created for unknown numbers', provider.id, len(leads))
        return dict(zip(values, leads))

    @api.model
    def _comm_attach_held(self, partners):
        """The inbound messages of these contacts' numbers held unattached: attach them and post
        them in the contact's chatter."""
        by_number = {}
        for partner in partners:
            for number in {partner.phone_sanitized, partner.comm_phone_sanitized, partner.comm_mobile_sanitized} - {False}:
                by_number.setdefault(number, partner)
        if not by_number:
            return self.browse()
        held = self.sudo().search([('direction', '=', 'in'), ('partner_id', '=', False), ('res_model', '=', False),
                                   ('from_number', 'in', list(by_number))], order='id')
        held = held.filtered(lambda m: not by_number[m.from_number].company_id
                             or m.company_id == by_number[m.from_number].company_id)
        for message in held:
            partner = by_number[message.from_number]
            message.write({'partner_id': partner.id, 'res_model': 'res.partner', 'res_id': partner.id})
        held._post_inbound({message.id: by_number[message.from_number] for message in held})
        return held


class BasePartnerMergeAutomaticWizard(models.TransientModel):
    _inherit = 'base.partner.merge.automatic.wizard'

    @api.model
    def _update_reference_fields(self, src_partners, dst_partner):
        """Messages and calls made from a merged contact's form now belong to the one kept (their
        contact column, a foreign key, Odoo's merge moves already)."""
        super()._update_reference_fields(src_partners, dst_partner)
        for table in ('comm_message', 'comm_call'):
            self.env[table.replace('_', '.')].flush_model(['res_model', 'res_id'])
            self.env.cr.execute(SQL(
                "UPDATE %s SET res_id = %s WHERE res_model = 'res.partner' AND res_id IN %s",
                SQL.identifier(table), dst_partner.id, tuple(src_partners.ids)))
            self.env[table.replace('_', '.')].invalidate_model(['res_id'])

    @api.model
    def _update_values(self, src_partners, dst_partner):
        """The contact kept takes the sender number of a merged one (one contact per number and
        company: the merged ones give theirs up first, or Odoo's copy of the value would meet
        the unique index while they still exist)."""
        givers = src_partners.sudo().filtered('comm_sender_number')
        number = dst_partner.comm_sender_number or givers[:1].comm_sender_number
        if givers:
            givers.write({'comm_sender_number': False})
            givers.flush_recordset(['comm_sender_number'])
        super()._update_values(src_partners, dst_partner)
        if number and not dst_partner.comm_sender_number:
            dst_partner.sudo().comm_sender_number = number
