"""Odoo's SMS API for the companies whose default SMS account is one of ours.

Odoo 18.0 since September 2025 has an SMS provider layer: ``res.company._get_sms_api_class()``
picks the API class of a company, ``sms.sms._split_by_api()`` yields ``(api, sms)`` pairs and each
API implements ``_send_sms_batch``. Our API plugs in there; it sends nothing itself: each SMS is
queued as a ``comm.message`` of the account and the dispatch cron sends it.

The May 2025 layout of 18.0 has no ``SmsApiBase``: the class then stands on a base of the same
shape, and ``sms.sms._send`` (present in both layouts) routes our SMS to it.
"""
try:
    from odoo.addons.sms.tools.sms_api import SmsApiBase
except ImportError:  # Odoo 18.0 before its SMS provider layer
    class SmsApiBase:
        PROVIDER_TO_SMS_FAILURE_TYPE = {
            'server_error': 'sms_server',
            'sms_number_missing': 'sms_number_missing',
            'wrong_number_format': 'sms_number_format',
        }

        def __init__(self, env, account=None):
            self.env = env
            self.company = env.company

        def _get_sms_api_error_messages(self):
            return {}

        def _set_company(self, company):
            self.company = company

# what _send_sms_batch answers for an SMS refused before queueing, by Odoo failure type
FAILURE_TYPE_TO_STATE = {'sms_number_format': 'wrong_number_format', 'sms_blacklist': 'blacklisted'}


class CommSmsApi(SmsApiBase):
    """Queues SMS on one ``comm.provider`` account (given, else the company's default SMS account)."""

    PROVIDER_TO_SMS_FAILURE_TYPE = SmsApiBase.PROVIDER_TO_SMS_FAILURE_TYPE | {
        'blacklisted': 'sms_blacklist',
        'no_account': 'sms_acc',
    }

    def __init__(self, env, account=None):
        super().__init__(env, account=account)
        self.account = account

    @property
    def provider(self):
        return self.account or self.company.sudo().comm_sms_provider_id

    def _queue(self, sms_records, unlink_sent=True, unlink_failed=False):
        """Queue Odoo ``sms.sms`` records; they leave ``outgoing`` (queued, or refused with a reason)."""
        return self.env['comm.message']._queue_sms(
            self.provider, sms_records, unlink_sent=unlink_sent, unlink_failed=unlink_failed)

    def _send_sms_batch(self, messages, delivery_reports_url=False):
        """For the callers that use an SMS API directly (``company._get_sms_api_class()(env)``).

        Same arguments and answer as Odoo's ``SmsApi._send_sms_batch``: each number is queued on
        the account (an ``sms.sms`` is made for a uuid that has none, so the statuses have a
        tracker to update); the answer says ``processing`` for a queued SMS, else why it was not.
        """
        entries = [(number['uuid'], number['number'], message['content'])
                   for message in messages for number in message['numbers']]
        sms_model = self.env['sms.sms'].sudo()
        sms_records = sms_model.search([('uuid', 'in', [uuid for uuid, _number, _body in entries])])
        known = set(sms_records.mapped('uuid'))
        sms_records |= sms_model.create([{'uuid': uuid, 'number': number, 'body': body}
                                         for uuid, number, body in entries if uuid not in known])
        if not self.provider.active:
            return [{'uuid': sms.uuid, 'state': 'no_account'} for sms in sms_records]
        self._queue(sms_records, unlink_sent=False)
        return [{'uuid': sms.uuid,
                 'state': 'processing' if sms.state == 'process' else FAILURE_TYPE_TO_STATE.get(
                     sms.failure_type, 'server_error')}
                for sms in sms_records]

    def _get_sms_api_error_messages(self):
        return {
            **super()._get_sms_api_error_messages(),
            'processing': self.env._('Queued on %(account)s.', account=self.provider.display_name),
            'wrong_number_format': self.env._("The number you're trying to reach is not correctly formatted."),
            'blacklisted': self.env._('The number is blacklisted (opted out).'),
            'no_account': self.env._('The company has no active SMS account.'),
        }
