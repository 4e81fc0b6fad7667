"""The approval gate around every bulk sender: above the company's threshold, a sender who is no
Communications Administrator opens a ``comm.send.batch`` and its messages wait in it
(models/comm_send_batch.py). One override per sender, each wrapping the sender's own method."""
from odoo import models

from ..models.comm_send_batch import BATCH_KEY


def _gated(batch, send):
    """Run ``send(context)`` inside ``batch`` (when there is one); the batch's notification, else
    the sender's own answer."""
    if not batch:
        return send({})
    send({BATCH_KEY: batch.id})
    return batch._submit()


class SmsComposer(models.TransientModel):
    _inherit = 'sms.composer'

    def _action_send_sms(self):
        """Odoo's SMS composer (mass mode, and comment mode on many records: the "Send SMS"
        server actions go through it too). Odoo's ``action_send_sms`` returns nothing: the sender
        is told on the bus."""
        self.ensure_one()
        records = self._get_records()
        if self.composition_mode == 'numbers' or records is None:
            count = len([number for number in (self.numbers or '').split(',') if number.strip()])
        else:
            count = len(records)
        batch = self.env['comm.send.batch']._open_if_needed(
            'sms', count, body=self.body, template_name=self.template_id.name,
            provider=self.env.company.sudo().comm_sms_provider_id)
        return _gated(batch, lambda context: super(SmsComposer, self.with_context(**context))._action_send_sms())


class CommWhatsappComposer(models.TransientModel):
    _inherit = 'comm.whatsapp.composer'

    def _comm_batch_records(self):
        """The records this submission writes to (one, the chatter's; a mass composer, more)."""
        return self._record()

    def action_send(self):
        self.ensure_one()
        batch = self.env['comm.send.batch']._open_if_needed(
            self.channel if self.channel == 'whatsapp' else 'sms', len(self._comm_batch_records()),
            body=self.body, template_name=self.template_id.name, provider=self.provider_id,
            company=self._company())
        return _gated(batch, lambda context: super(CommWhatsappComposer, self.with_context(**context)).action_send())


class IrActionsServer(models.Model):
    _inherit = 'ir.actions.server'

    def _run_action_comm_whatsapp_multi(self, eval_context=None):
        records = (eval_context or {}).get('records') or (eval_context or {}).get('record')
        template = self.comm_whatsapp_template_id
        batch = self.env['comm.send.batch']
        if records and template and not self._is_recompute():
            batch = batch._open_if_needed('whatsapp', len(records), body=template.body,
                                          template_name=template.name, provider=template.provider_id,
                                          company=template.provider_id.company_id)
        return _gated(batch, lambda context: super(IrActionsServer, self.with_context(**context))
                      ._run_action_comm_whatsapp_multi(eval_context=eval_context))
