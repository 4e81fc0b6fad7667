"""Number information of messages recorded before the module had it: the upgrade leaves the
columns empty (but for the messages still to send) and the cron fills them in slices."""
from odoo import fields
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

from ..models.comm_number_info import BACKFILL_PARAM

FRENCH, BELGIAN = '+33612345678', '+32470123456'


@tagged('post_install', '-at_install')
class TestNumberInfoBackfill(TransactionCase):

    def setUp(self):
        super().setUp()
        provider = self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox', 'sms_from': '+15005550006'})
        now = fields.Datetime.now()
        self.old = self.env['comm.message'].create([
            {'direction': 'in', 'provider_id': provider.id, 'from_number': FRENCH, 'to_number': '+15005550006',
             'body': f'Old {index}', 'state': 'received'} for index in range(5)])
        self.waiting = self.env['comm.message'].create({
            'direction': 'out', 'provider_id': provider.id, 'to_number': BELGIAN, 'body': 'Queued',
            'dispatch_state': 'todo', 'next_try_at': now, 'queued_at': now})
        self.env.flush_all()

    def upgrade_from_a_version_without_number_information(self):
        """As when the module is upgraded: the columns do not exist yet, ``_auto_init`` runs."""
        self.env.cr.execute('ALTER TABLE comm_message DROP COLUMN number_type, DROP COLUMN number_country_id,'
                            ' DROP COLUMN number_carrier')
        self.env.invalidate_all()
        self.registry.init_models(self.env.cr, ['comm.message'], {'module': 'comm_gateway'}, install=False)
        self.env.invalidate_all()

    def test_upgrade_computes_only_the_messages_to_send_then_the_cron_the_rest(self):
        self.upgrade_from_a_version_without_number_information()
        self.assertEqual((self.waiting.number_type, self.waiting.number_country_id.code), ('mobile', 'BE'),
                         'the guard reads it at the next claim')
        self.assertEqual(set(self.old.mapped('number_type')), {False}, 'not computed in the upgrade')
        self.assertGreater(int(self.env['ir.config_parameter'].sudo().get_param(BACKFILL_PARAM)), max(self.old.ids))
        filled = self.env['comm.message']._cron_number_info(slice_size=2)
        self.assertGreaterEqual(filled, len(self.old))
        self.assertEqual(set(self.old.mapped('number_type')), {'mobile'})
        self.assertEqual(set(self.old.mapped('number_country_id.code')), {'FR'})
        self.assertEqual(self.env['ir.config_parameter'].sudo().get_param(BACKFILL_PARAM), '0', 'done')
        self.assertEqual(self.env['comm.message']._cron_number_info(), 0, 'nothing left: nothing done')

    def test_cron_resumes_where_it_stopped(self):
        self.env.cr.execute('UPDATE comm_message SET number_type = NULL, number_country_id = NULL WHERE id IN %s',
                            [tuple(self.old.ids)])
        self.env.invalidate_all()
        self.env['ir.config_parameter'].sudo().set_param(BACKFILL_PARAM, max(self.old.ids) + 1)
        self.env['comm.message']._cron_number_info(slice_size=2)
        self.assertEqual(set(self.old.mapped('number_type')), {'mobile'})
