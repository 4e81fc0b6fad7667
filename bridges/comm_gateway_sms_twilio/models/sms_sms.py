from odoo import models


class SmsSms(models.Model):
    """sms_twilio overrides the same methods as comm_gateway without calling ``super()`` for its
    companies; this bridge, loaded after both whatever their order, takes our SMS out first."""
    _inherit = 'sms.sms'

    def _split_by_api(self):
        by_account, rest = self._comm_split_by_account()
        yield from self._comm_apis(by_account)
        if rest:
            yield from super(SmsSms, rest)._split_by_api()

    def _get_batch_size(self):
        return self._comm_batch_size() or super()._get_batch_size()
