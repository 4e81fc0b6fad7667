import logging
from collections import defaultdict
from datetime import timedelta

from odoo import api, fields, models

from ..tools.sms_api import CommSmsApi

_logger = logging.getLogger(__name__)

# sms.sms context key: the SMS of this recordset all go through one of our accounts
OURS_KEY = 'comm_sms_ours'
# cr.precommit.data key: the SMS created in this transaction that may wait in Odoo's SMS queue
WAITING_KEY = 'comm_gateway.sms_waiting'
QUEUE_SLICE = 100       # SMS of Odoo's queue handed over by one run of its cron, committed by Odoo


class SmsSms(models.Model):
    _inherit = 'sms.sms'

    # The company the SMS is sent for when it has no message (mass SMS without log, test SMS).
    # Declared as Odoo's sms_twilio declares it, so both can be installed; set by our composer.
    record_company_id = fields.Many2one('res.company', 'Company', ondelete='set null')

    @api.model_create_multi
    def create(self, vals_list):
        sms = super().create(vals_list)
        if self.env['res.company']._comm_sms_accounts():
            data = self.env.cr.precommit.data
            if WAITING_KEY not in data:     # one wake-up check per transaction
                data[WAITING_KEY] = set()
                self.env.cr.precommit.add(self._comm_wake_sms_queue)
            data[WAITING_KEY].update(sms.filtered(lambda s: s.state == 'outgoing').ids)
        return sms

    @api.model
    def _process_queue(self, ids=None):
        """Odoo's SMS cron, one slice at a time when a company sends through our accounts. Odoo
        hands up to 10,000 SMS to one job, which its watchdog kills on a large mass SMS (the
        batches done are committed, the rest waits an hour), and a cron worker busy with it
        runs nothing else: our dispatch would wait for the whole hand-over before the first
        send. Here each run hands over ``QUEUE_SLICE`` SMS (sent and committed by Odoo's own
        code) and triggers the next run at once for the rest, so the dispatch, woken by the
        slice, starts in between; a slice that moved nothing (a batch that failed stays
        outgoing) is tried again in a minute instead of at the hourly run."""
        if ids is not None or not self.env['res.company']._comm_sms_accounts():
            return super()._process_queue(ids)
        domain = [('state', '=', 'outgoing'), ('to_delete', '!=', True)]
        sms = self.search(domain, order='id', limit=QUEUE_SLICE)
        if not sms:
            return None
        result = super()._process_queue(sms.ids)
        cron = self.env.ref('sms.ir_cron_sms_scheduler_action').sudo()
        if self.search_count(domain + [('id', 'in', sms.ids)]) == len(sms):     # none moved
            _logger.info('sms.sms: %s SMS still outgoing after a send, tried again in a minute', len(sms))
            cron._trigger(fields.Datetime.now() + timedelta(minutes=1))
        elif self.search_count(domain, limit=1):
            cron._trigger()
        return result

    @api.model
    def _comm_wake_sms_queue(self):
        """SMS left in Odoo's own SMS queue ("Put in queue", "Send SMS" server actions) wait for
        its hourly cron. When some of a company of ours are still waiting as the transaction
        commits, that cron is triggered now: they reach our queue at once."""
        waiting = self.browse(self.env.cr.precommit.data.get(WAITING_KEY, ())).exists().filtered(
            lambda s: s.state == 'outgoing' and not s.to_delete)
        if waiting and waiting._comm_split_by_account()[0]:
            self.env.ref('sms.ir_cron_sms_scheduler_action').sudo()._trigger()

    # ------------------------------------------------------------------------------------------
    # Routing
    # ------------------------------------------------------------------------------------------

    def _split_by_api(self):
        """Current 18.0 layout: our SMS come out with our API, one pair per account; the others
        go through Odoo's own split (IAP, or ``sms_twilio`` for companies set up for it)."""
        by_account, rest = self._comm_split_by_account()
        yield from self._comm_apis(by_account)
        if rest:
            yield from super(SmsSms, rest)._split_by_api()

    def _comm_apis(self, by_account):
        """``(api, sms)`` for each of our accounts; the SMS say they are ours (``_get_batch_size``)."""
        for provider, sms in by_account.items():
            yield CommSmsApi(self.env, provider), sms.with_context(**{OURS_KEY: True})

    def _get_batch_size(self):
        return self._comm_batch_size() or super()._get_batch_size()

    def _comm_batch_size(self):
        """Our batches: one queue insert each, not one provider call per SMS (sms_twilio's 10)."""
        if self.env.context.get(OURS_KEY):
            return int(self.env['ir.config_parameter'].sudo().get_param('sms.session.batch.size', 500))
        return 0

    def _send(self, unlink_failed=False, unlink_sent=True, raise_exception=False):
        """Our SMS are queued (the dispatch cron sends them); the others are Odoo's.

        On the current layout ``send`` has chosen the API already (``sms_api`` in the context);
        on the May layout, or when ``_send`` is called directly, the SMS are split here.
        """
        sms_api = self.env.context.get('sms_api')
        if isinstance(sms_api, CommSmsApi):
            sms_api._queue(self, unlink_sent=unlink_sent, unlink_failed=unlink_failed)
            return
        if sms_api:
            rest = self
        else:
            by_account, rest = self._comm_split_by_account()
            for provider, sms in by_account.items():
                CommSmsApi(self.env, provider)._queue(sms, unlink_sent=unlink_sent, unlink_failed=unlink_failed)
        if rest := rest._comm_without_erased(unlink_failed=unlink_failed):
            super(SmsSms, rest)._send(unlink_failed=unlink_failed, unlink_sent=unlink_sent,
                                      raise_exception=raise_exception)

    def _comm_without_erased(self, unlink_failed=False):
        """These SMS but those to a number opted out then erased, cancelled as blacklisted.

        Odoo's own paths (IAP, ``sms_twilio``, SMS Marketing) check ``phone.blacklist`` when the
        SMS is made; an erased contact's opted-out number is no longer there, only its hash in
        ``comm.blacklist.hash``. ``_send`` is the one step every SMS takes before any SMS API, on
        both layouts: checked here (our own accounts check it when queuing)."""
        hashes = self.env['comm.blacklist.hash'].sudo()
        if not hashes._any():       # no contact ever erased: no number to format
            return self
        numbers = [self.env.user._phone_format(number=sms.number) or sms.number for sms in self]
        erased = hashes._listed(numbers)
        if not erased:
            return self
        refused = self.browse([sms.id for sms, number in zip(self, numbers) if number in erased]).sudo()
        _logger.info('sms.sms: %s SMS to erased opted-out numbers cancelled: %s', len(refused), refused.ids)
        refused._update_sms_state_and_trackers('canceled', failure_type='sms_blacklist')
        if unlink_failed:
            refused.to_delete = True
        refused.mail_message_id._notify_message_notification_update()
        return self - refused

    def _comm_split_by_account(self):
        """``({account: sms}, rest)``: the SMS whose company has a default SMS account of ours,
        by account, and the others. No query at all when no company has one."""
        accounts = self.env['res.company']._comm_sms_accounts()
        if not accounts:
            return {}, self
        by_account, rest = defaultdict(list), []     # ids: a union per SMS would be quadratic
        for sms, company_id in zip(self, self._comm_sms_companies()):
            if company_id in accounts:
                by_account[accounts[company_id]].append(sms.id)
            else:
                rest.append(sms.id)
        providers = self.env['comm.provider'].sudo().browse(list(by_account))
        return {provider: self.browse(by_account[provider.id]) for provider in providers}, self.browse(rest)

    def _comm_sms_companies(self):
        """The id of the company each SMS is sent for, in order, as Odoo resolves it: its
        message's record company, its own record company, its document's company, else the
        current company. One read per table whatever the number of SMS."""
        company_ids, documents = [], defaultdict(set)
        for sms in self:
            message = sms.mail_message_id
            company = message.record_company_id or sms.record_company_id
            company_ids.append(company.id)
            if not company and message.model and message.res_id:
                documents[message.model].add(message.res_id)
        document_company = {}
        for model, res_ids in documents.items():
            if model in self.env and 'company_id' in self.env[model]._fields:
                records = self.env[model].sudo().with_context(active_test=False).search_fetch(
                    [('id', 'in', list(res_ids))], ['company_id'])
                document_company.update(((model, record.id), record.company_id.id) for record in records)
        default = self.env.company.id
        return [
            company_id or document_company.get((sms.mail_message_id.model, sms.mail_message_id.res_id)) or default
            for sms, company_id in zip(self, company_ids)
        ]
