"""Number information of messages recorded before it existed, filled by a cron in slices.

``comm.message``'s number type, country and carrier are stored computed fields
(models/comm_send_guard.py): a new message gets them as it is created. When the module is
installed or upgraded on a database that already has messages, Odoo would compute them for every
row in the upgrade's transaction (libphonenumber for each number: minutes and memory for millions
of rows). ``_auto_init`` creates the columns empty instead — as Odoo's own ``account`` does for
its heavy stored fields — and fills at once only the outbound messages still to send (the
spending guard reads the country at the claim); the cron fills the rest, newest first, in
committed slices within its time budget, the position kept in a system parameter.
"""
import logging

from odoo import api, models
from odoo.tools import SQL
from odoo.tools.sql import column_exists, create_column, table_exists

from ..tools.dispatch import cron_budget
from .comm_dispatch import _testing

_logger = logging.getLogger(__name__)

NUMBER_INFO_COLUMNS = {'number_type': 'varchar', 'number_country_id': 'int4', 'number_carrier': 'varchar'}
# the messages below this id still have no number information; 0: none left
BACKFILL_PARAM = 'comm_gateway.number_info_backfill_below'
BACKFILL_SLICE = 2000
SLICE_SECONDS = 10.0    # what one slice may take, kept in reserve of the cron's budget
UNSENT = ('todo', 'attempt', 'approval')


class CommMessage(models.Model):
    _inherit = 'comm.message'

    def _auto_init(self):
        cr = self.env.cr
        backfill = table_exists(cr, self._table) and not column_exists(cr, self._table, 'number_type')
        if backfill:
            for name, column_type in NUMBER_INFO_COLUMNS.items():
                create_column(cr, self._table, name, column_type)
        result = super()._auto_init()
        if backfill:
            cr.execute(SQL("SELECT COALESCE(max(id), 0) + 1 FROM comm_message"))
            self.env['ir.config_parameter'].sudo().set_param(BACKFILL_PARAM, cr.fetchone()[0])
            # once every table of the upgrade is ready
            self.pool.post_init(self._comm_fill_unsent_number_info)
        return result

    def _comm_fill_unsent_number_info(self):
        self.env.cr.execute(SQL("SELECT id FROM comm_message WHERE direction = 'out' AND dispatch_state IN %s", UNSENT))
        self.browse([row[0] for row in self.env.cr.fetchall()])._comm_fill_number_info()
        _logger.info('comm.message: number information of the older messages left to the cron')

    def _comm_fill_number_info(self):
        """Compute the number information of these messages, in one write per value."""
        for name in NUMBER_INFO_COLUMNS:
            self.env.add_to_compute(self._fields[name], self)
        self.flush_recordset(list(NUMBER_INFO_COLUMNS))

    @api.model
    def _cron_number_info(self, slice_size=BACKFILL_SLICE):
        """Fill the number information of older messages, newest first, a committed slice at a
        time within the cron's budget. :returns: how many messages were filled"""
        params = self.env['ir.config_parameter'].sudo()
        below = int(params.get_param(BACKFILL_PARAM, 0) or 0)
        budget, done = cron_budget(self.env), 0
        while below > 0 and not budget.spent(SLICE_SECONDS):
            self.env.cr.execute(SQL("SELECT id FROM comm_message WHERE id < %s ORDER BY id DESC LIMIT %s",
                                    below, slice_size))
            ids = [row[0] for row in self.env.cr.fetchall()]
            self.browse(ids)._comm_fill_number_info()
            below = min(ids) if len(ids) == slice_size else 0
            params.set_param(BACKFILL_PARAM, below)
            done += len(ids)
            self.invalidate_model()
            if not _testing():
                self.env.cr.commit()
        self.env['ir.cron']._notify_progress(done=done, remaining=1 if below else 0)
        if done:
            _logger.info('comm.message: number information of %s older messages filled%s', done,
                         ', more to come' if below else '')
        return done
