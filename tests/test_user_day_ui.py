from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .whatsapp_common import LOGGERS, WhatsappMixin


@tagged('post_install', '-at_install')
class TestUserDayUi(WhatsappMixin, HttpCase):
    """The flows of a person's day, in a browser."""

    @mute_logger(*LOGGERS)
    def test_template_sync_button(self):
        """The list's *Sync from accounts* works with and without a selection."""
        self.account('sandbox')
        action = self.env.ref('comm_gateway.action_comm_whatsapp_template')
        self.start_tour(f'/odoo/action-{action.id}', 'comm_template_sync_tour', login='admin')
        self.assertTrue(self.env['comm.whatsapp.template'].search([('name', '=', 'appointment_reminder')]))
