"""The forged-request counter never makes concurrent requests wait on one another."""
from contextlib import closing

from odoo import SUPERUSER_ID, api
from odoo.sql_db import db_connect
from odoo.tests import tagged
from odoo.tests.common import BaseCase, get_db_name


@tagged('post_install', '-at_install')
class TestForgedCounter(BaseCase):
    """Real, separate connections (not the test transaction): two requests counting a forgery for
    the same account at the same time, neither committed yet."""

    def env_of(self, cr):
        return api.Environment(cr, SUPERUSER_ID, {})

    def test_concurrent_forgeries_do_not_wait_on_one_row(self):
        connection = db_connect(get_db_name())
        with closing(connection.cursor()) as setup_cr:
            env = self.env_of(setup_cr)
            provider_id = env['comm.provider'].create({'name': 'Counter', 'code': 'sandbox'}).id
            env.flush_all()
            setup_cr.commit()
        try:
            with closing(connection.cursor()) as cr1, closing(connection.cursor()) as cr2:
                cr2.execute("SET lock_timeout = '2s'")
                for cr in (cr1, cr2):
                    Rejection = self.env_of(cr)['comm.webhook.rejection']
                    provider = self.env_of(cr)['comm.provider'].browse(provider_id)
                    for _n in range(3):
                        Rejection._count(provider)     # cr1 keeps its row locked: cr2 must not wait
                self.assertEqual(self.env_of(cr2)['comm.webhook.rejection']._total(provider), 3,
                                 'each transaction sees its own count')
                cr1.commit()
                cr2.commit()
            with closing(connection.cursor()) as cr:
                provider = self.env_of(cr)['comm.provider'].browse(provider_id)
                self.assertEqual(self.env_of(cr)['comm.webhook.rejection']._total(provider), 6)
        finally:
            with closing(connection.cursor()) as cr:
                env = self.env_of(cr)
                env['comm.provider'].browse(provider_id).unlink()
                env.flush_all()
                cr.commit()
