import threading
from contextlib import contextmanager
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.addons.bus.models.bus import dispatch
from odoo.addons.bus.websocket import WebsocketConnectionHandler
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .whatsapp_common import LOGGERS, WhatsappMixin

UI_LOGGERS = LOGGERS + ('odoo.addons.mail.models.mail_mail',)


@tagged('post_install', '-at_install')
class TestUserDayUi(WhatsappMixin, HttpCase):
    """The flows of a person's day, in a browser."""

    @contextmanager
    def running_server(self):
        """What a running server does while the browser waits: the bus (websockets, which tests
        turn off) and the cron workers the queue triggers, every 0.3 s. The test cursor ignores
        post-commit hooks, so the websockets are told of new bus rows here."""
        self.startPatcher(patch.object(WebsocketConnectionHandler, 'websocket_allowed', return_value=True))
        stop, errors = threading.Event(), []

        def work():
            while not stop.wait(0.3):
                try:
                    with self.registry.cursor() as cr:
                        env = api.Environment(cr, SUPERUSER_ID, {})
                        env['comm.message']._cron_dispatch()
                        env['comm.webhook.event']._cron_process()
                    for websockets in list(dispatch._channels_to_ws.values()):
                        for websocket in list(websockets):
                            websocket.trigger_notification_dispatching()
                except Exception as exc:  # noqa: BLE001  reported by the test
                    errors.append(exc)
                    return

        worker = threading.Thread(target=work, name='comm-test-crons')
        worker.start()
        try:
            yield
        finally:
            stop.set()
            worker.join()
        self.assertFalse(errors)

    @mute_logger(*UI_LOGGERS)
    def test_template_sync_button(self):
        """The list's *Sync from accounts* works with and without a selection."""
        self.account('sandbox')
        action = self.env.ref('comm_gateway.action_comm_whatsapp_template')
        self.start_tour(f'/odoo/action-{action.id}', 'comm_template_sync_tour', login='admin')
        self.assertTrue(self.env['comm.whatsapp.template'].search([('name', '=', 'appointment_reminder')]))

    @mute_logger(*UI_LOGGERS)
    def test_sms_reply_appears_live(self):
        """An SMS from the chatter: its status icon moves and the Sandbox's reply appears in the
        open chatter, without reload."""
        self.env['ir.config_parameter'].set_param('comm_gateway.public_base_url', self.base_url())
        sandbox = self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox', 'sms_from': '+15005550006'})
        self.env.company.comm_sms_provider_id = sandbox
        partner = self.env['res.partner'].create({
            'name': 'Ines Costa', 'mobile': '912 345 670', 'country_id': self.env.ref('base.pt').id})
        with self.running_server():
            self.start_tour(f'/odoo/res.partner/{partner.id}', 'comm_live_chatter_tour', login='admin')
        message = self.env['comm.message'].search([('provider_id', '=', sandbox.id), ('direction', '=', 'out')])
        self.assertEqual(message.state, 'delivered')
