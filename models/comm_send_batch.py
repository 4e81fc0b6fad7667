"""Bulk sends under control: a send to more recipients than the company allows waits as a
``comm.send.batch`` "to approve" until a Communications Administrator approves or refuses it.

Nothing of a waiting batch leaves: its ``comm.message`` rows wait as ``dispatch_state='approval'``
(the dispatch claims only ``'todo'``) and its Odoo ``sms.sms`` stay out of ``sms.sms.send`` (so
neither our queue nor IAP gets them). The senders (composers, server actions) open the batch and
create their messages with ``BATCH_KEY`` in the context: wizard/comm_send_approval.py.
"""
import logging
from collections import Counter

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..tools.number_info import number_info
from ..tools.sms_text import sms_segments

_logger = logging.getLogger(__name__)

# context key: the messages and SMS created with it belong to this batch (an id) and wait for it
BATCH_KEY = 'comm_send_batch_id'
MANAGER_GROUP = 'comm_gateway.group_comm_manager'


class CommSendBatch(models.Model):
    _name = 'comm.send.batch'
    _description = 'Bulk send waiting for approval'
    _inherit = ['mail.thread', 'mail.activity.mixin']
    _order = 'id desc'

    name = fields.Char(required=True, readonly=True)
    company_id = fields.Many2one('res.company', required=True, readonly=True, index=True,
                                 default=lambda self: self.env.company)
    user_id = fields.Many2one('res.users', 'Requested by', required=True, readonly=True, index=True,
                              default=lambda self: self.env.user)
    state = fields.Selection([('to_approve', 'To approve'), ('approved', 'Approved'), ('refused', 'Refused')],
                             required=True, default='to_approve', readonly=True, tracking=True, index=True)
    channel = fields.Selection([('sms', 'SMS'), ('whatsapp', 'WhatsApp')], required=True, readonly=True)
    provider_id = fields.Many2one('comm.provider', 'Account', readonly=True)
    recipient_count = fields.Integer('Recipients', readonly=True)
    body = fields.Text(readonly=True)
    template_name = fields.Char('Template', readonly=True)
    cost_estimate = fields.Text(readonly=True, help="From the account's prices per country, when set.")
    decided_by_id = fields.Many2one('res.users', 'Decided by', readonly=True)
    decided_at = fields.Datetime(readonly=True)
    comm_message_ids = fields.One2many('comm.message', 'batch_id', 'Messages to send', readonly=True)
    sms_ids = fields.One2many('sms.sms', 'comm_batch_id', 'SMS', readonly=True)

    # ------------------------------------------------------------------------------------------
    # Opening a batch (the senders)
    # ------------------------------------------------------------------------------------------

    @api.model
    def _open_if_needed(self, channel, count, body='', template_name='', provider=None, company=None):
        """A batch the send must wait in, when it goes to more recipients than the company lets
        anyone but a Communications Administrator reach at once; else an empty recordset."""
        company = company or self.env.company
        threshold = company.comm_approval_threshold
        if not threshold or count <= threshold or self.env.user.has_group(MANAGER_GROUP):
            return self.browse()
        channels = dict(self._fields['channel']._description_selection(self.env))
        batch = self.sudo().create({
            'name': _('%(count)s %(channel)s by %(user)s', count=count, channel=channels[channel],
                      user=self.env.user.name),
            'company_id': company.id, 'channel': channel, 'recipient_count': count, 'body': body or False,
            'template_name': template_name or False, 'provider_id': provider.id if provider else False,
        })
        _logger.info('comm.send.batch %s: %s %s recipients wait for approval', batch.id, count, channel)
        return batch

    def _submit(self):
        """The batch's messages are in: estimate the cost, ask the approvers, tell the sender (on
        the bus, for the senders that return no action, and as the action to return)."""
        self.ensure_one()
        self.recipient_count = len(self.comm_message_ids) + len(self.sms_ids) or self.recipient_count
        self.cost_estimate = self._estimate_cost()
        for approver in self._approvers():
            self.activity_schedule('mail.mail_activity_data_todo', user_id=approver.id,
                                   summary=_('Approve a bulk send'),
                                   note=_('%(count)s recipients, requested by %(user)s.',
                                          count=self.recipient_count, user=self.user_id.name))
        message = _('This send goes to %(count)s recipients: it leaves once a Communications Administrator '
                    'approves it.', count=self.recipient_count)
        self.env.user._bus_send('simple_notification', {
            'type': 'warning', 'title': _('Waiting for approval'), 'message': message, 'sticky': True})
        return {'type': 'ir.actions.client', 'tag': 'display_notification', 'params': {
            'title': _('Waiting for approval'), 'type': 'warning', 'sticky': True, 'message': message,
            'next': {'type': 'ir.actions.act_window_close'}}}

    def _approvers(self):
        self.ensure_one()
        return self.env.ref(MANAGER_GROUP).users.filtered(
            lambda user: user.active and not user.share and self.company_id in user.company_ids)

    def _numbers(self):
        return self.comm_message_ids.mapped('to_number') + self.sms_ids.mapped('number')

    def _estimate_cost(self):
        """Recipients by country, times the account's price for that country (its line without
        country for the others); '' when the account has no price."""
        self.ensure_one()
        provider = self.provider_id
        if not provider or not provider.price_ids:
            return False
        units = sms_segments(self.body) if self.channel == 'sms' and self.body else 1
        countries = Counter((number_info(number) or ('', '', ''))[1] for number in self._numbers() if number)
        prices = {price.country_id.code or '': price.price for price in provider.price_ids}
        currency = provider.company_id.currency_id
        lines, total = [], 0.0
        for code, count in sorted(countries.items()):
            price = prices.get(code, prices.get(''))
            label = code or _('unknown country')
            if price is None:
                lines.append(_('%(country)s: %(count)s, no price set', country=label, count=count))
                continue
            cost = count * units * price
            total += cost
            lines.append(f'{label}: {count} × {units} × {price:g} = {cost:.2f} {currency.name}')
        lines.append(_('Total: %(total).2f %(currency)s', total=total, currency=currency.name))
        return '\n'.join(lines)

    # ------------------------------------------------------------------------------------------
    # Decisions
    # ------------------------------------------------------------------------------------------

    def _check_approver(self):
        if not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(_('Only a Communications Administrator may approve or refuse a bulk send.'))
        self.check_access('write')
        if any(batch.state != 'to_approve' for batch in self):
            raise UserError(_('This bulk send was already decided.'))

    def action_approve(self):
        """Let the batch's messages leave: ours to the dispatch, Odoo's SMS to its SMS queue."""
        self._check_approver()
        for batch in self.sudo():
            batch._decide('approved', _('Approved by %(user)s.', user=self.env.user.name))
            batch.comm_message_ids.filtered(lambda m: m.dispatch_state == 'approval').write(
                {'dispatch_state': 'todo', 'next_try_at': fields.Datetime.now()})
            if batch.sms_ids.filtered(lambda sms: sms.state == 'outgoing'):
                self.env.ref('sms.ir_cron_sms_scheduler_action').sudo()._trigger()
        self.env['comm.message']._trigger_dispatch()
        return True

    def action_refuse(self):
        """Cancel everything of the batch: nothing of it is ever sent."""
        self._check_approver()
        for batch in self.sudo():
            reason = _('Refused by %(user)s.', user=self.env.user.name)
            batch._decide('refused', reason)
            waiting = batch.comm_message_ids.filtered(lambda m: m.dispatch_state == 'approval')
            waiting.write({'dispatch_state': 'failed', 'next_try_at': False})
            for message in waiting:
                message._apply_state('canceled', error_message=_('Bulk send refused by %(user)s',
                                                                 user=self.env.user.name), failure_type='unknown')
            batch.sms_ids.filtered(lambda sms: sms.state == 'outgoing').action_set_canceled()
        return True

    def _decide(self, state, note):
        self.write({'state': state, 'decided_by_id': self.env.user.id, 'decided_at': fields.Datetime.now()})
        self.activity_ids.action_feedback(feedback=note)
        self.message_post(body=Markup('<p>%s</p>') % note, partner_ids=self.user_id.partner_id.ids,
                          subtype_xmlid='mail.mt_comment')


class CommMessage(models.Model):
    _inherit = 'comm.message'

    dispatch_state = fields.Selection(selection_add=[('approval', 'Waiting for approval')],
                                      ondelete={'approval': 'set null'})
    batch_id = fields.Many2one('comm.send.batch', 'Bulk send', index='btree_not_null', ondelete='set null',
                               readonly=True, copy=False)

    @api.model_create_multi
    def create(self, vals_list):
        if batch_id := self.env.context.get(BATCH_KEY):
            for vals in vals_list:
                if vals.get('direction') == 'out' and vals.get('dispatch_state') == 'todo':
                    vals.update(dispatch_state='approval', batch_id=batch_id)
        return super().create(vals_list)


class SmsSms(models.Model):
    _inherit = 'sms.sms'

    comm_batch_id = fields.Many2one('comm.send.batch', 'Bulk send', index='btree_not_null', ondelete='set null')

    @api.model_create_multi
    def create(self, vals_list):
        if batch_id := self.env.context.get(BATCH_KEY):
            for vals in vals_list:
                vals.setdefault('comm_batch_id', batch_id)
        return super().create(vals_list)

    def send(self, unlink_failed=False, unlink_sent=True, auto_commit=False, raise_exception=False):
        """The SMS of a bulk send waiting for approval stay where they are (``outgoing``)."""
        held = self.filtered(lambda sms: sms.comm_batch_id and sms.comm_batch_id.state != 'approved')
        return super(SmsSms, self - held).send(unlink_failed=unlink_failed, unlink_sent=unlink_sent,
                                               auto_commit=auto_commit, raise_exception=raise_exception)


class CommProviderPrice(models.Model):
    _name = 'comm.provider.price'
    _description = 'Price of a message of an account, per destination country'
    _order = 'country_id'

    provider_id = fields.Many2one('comm.provider', required=True, ondelete='cascade', index=True)
    company_id = fields.Many2one(related='provider_id.company_id', store=True)
    country_id = fields.Many2one('res.country', 'Destination', help='Empty: every other country.')
    price = fields.Float('Price per message', digits=(12, 4), required=True,
                         help="Per SMS segment, or per WhatsApp message, in the company's currency.")

    _sql_constraints = [('country_unique', 'unique(provider_id, country_id)', 'One price per country.')]


class CommProvider(models.Model):
    _inherit = 'comm.provider'

    price_ids = fields.One2many('comm.provider.price', 'provider_id', 'Prices',
                                help='Used to estimate the cost of a bulk send before it is approved.')


class ResCompany(models.Model):
    _inherit = 'res.company'

    comm_approval_threshold = fields.Integer(
        'Bulk sends approved above', default=0,
        help='A send to more recipients than this waits for a Communications Administrator\'s approval '
             '(unless one sends it). 0: no approval.')
