import logging
import threading
import time
from contextlib import contextmanager
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.addons.bus.models.bus import dispatch
from odoo.addons.bus.websocket import WebsocketConnectionHandler
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .screenshots import readme_screenshot
from .whatsapp_common import LOGGERS, WhatsappMixin

_logger = logging.getLogger(__name__)
UI_LOGGERS = LOGGERS + ('odoo.addons.mail.models.mail_mail',)


@tagged('post_install', '-at_install')
class TestUserDayUi(WhatsappMixin, HttpCase):
    """The flows of a person's day, in a browser."""

    @contextmanager
    def running_server(self, done):
        """What a running server does while the browser waits: the bus (websockets, which tests
        turn off) and the cron workers the queue triggers. The test cursor ignores post-commit
        hooks, so the websockets are told of new bus rows here.

        The worker starts at the first trigger (a request of the tour: the test thread is then
        waiting for the browser, off the shared cursor) and stops once ``done(env)``.
        """
        self.startPatcher(patch.object(WebsocketConnectionHandler, 'websocket_allowed', return_value=True))
        wake, stop, errors = threading.Event(), threading.Event(), []
        IrCron = type(self.env['ir.cron'])
        trigger = IrCron._trigger

        def _trigger(cron, at=None):
            result = trigger(cron, at)
            wake.set()
            return result

        self.patch(IrCron, '_trigger', _trigger)

        def work():
            while not wake.wait(0.2):
                if stop.is_set():
                    return
            while not stop.is_set():
                try:
                    with self.registry.cursor() as cr:
                        env = api.Environment(cr, SUPERUSER_ID, {})
                        env['sms.sms']._process_queue()     # Odoo's SMS cron, triggered at commit
                        env['comm.message']._cron_dispatch()
                        env['comm.webhook.event']._cron_process()
                        finished = done(env)
                    for websockets in list(dispatch._channels_to_ws.values()):
                        for websocket in list(websockets):
                            websocket.trigger_notification_dispatching()
                except Exception as exc:  # noqa: BLE001  reported by the test (and logged: a tour may fail first)
                    _logger.exception('the test crons failed')
                    errors.append(exc)
                    return
                if finished:
                    return
                stop.wait(0.2)

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
        def done(env):
            return env['comm.message'].search_count([('direction', '=', 'in'), ('provider_id', '=', sandbox.id)])

        with self.running_server(done):
            self.start_tour(f'/odoo/res.partner/{partner.id}', 'comm_live_chatter_tour', login='admin')
        message = self.env['comm.message'].search([('provider_id', '=', sandbox.id), ('direction', '=', 'out')])
        self.assertEqual(message.state, 'delivered')

    @mute_logger(*UI_LOGGERS)
    def test_mass_sms_from_the_list_every_message_delivered(self):
        """Contacts list → select → Action → Send SMS → *Put in queue* (Odoo's mass SMS): every
        SMS leaves through our account and is delivered, each contact's chatter shows it."""
        self.env['ir.config_parameter'].set_param('comm_gateway.public_base_url', self.base_url())
        sandbox = self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox', 'sms_from': '+15005550006'})
        self.env.company.comm_sms_provider_id = sandbox
        partners = self.env['res.partner'].create([
            {'name': f'Mass Sale {index}', 'mobile': f'+3247012340{index}'} for index in range(3)])

        def delivered(env):
            return env['comm.message'].search_count([
                ('provider_id', '=', sandbox.id), ('direction', '=', 'out'), ('state', '=', 'delivered')]) == 3

        with self.running_server(delivered):
            self.start_tour('/odoo/contacts?view_type=list', 'comm_mass_sms_tour', login='admin')
            for _poll in range(150):     # the other two, if the tour saw one first
                self.env.invalidate_all()
                if delivered(self.env):
                    break
                time.sleep(0.2)
        messages = self.env['comm.message'].search([('provider_id', '=', sandbox.id), ('direction', '=', 'out')])
        self.assertEqual(sorted(messages.mapped('to_number')), sorted(partners.mapped('mobile')))
        self.assertEqual(set(messages.mapped('state')), {'delivered'}, 'every SMS of the mass send delivered')
        self.assertEqual(set(messages.mapped('body')), {'Our sale starts today'})

    @mute_logger(*UI_LOGGERS)
    def test_mms_failure_says_why(self):
        """A failed MMS: the reason in its popover and in the messaging menu, after a reload."""
        self.env['ir.config_parameter'].set_param('comm_gateway.public_base_url', self.base_url())
        self.env['comm.provider'].search([]).write({'active': False})
        sandbox = self.account('sandbox', channel_sms=True)
        self.env.company.comm_sms_provider_id = sandbox
        partner = self.env['res.partner'].create({'name': 'Nobody Home', 'mobile': '+1 415 555 0199'})
        admin = self.env.ref('base.user_admin')      # the failure is listed for the author of the post
        photo = self.env['ir.attachment'].with_user(admin).create({     # the author's own upload
            'name': 'kitchen.png', 'raw': b'\x89PNG\r\n\x1a\n' + b'0' * 64, 'mimetype': 'image/png',
            'res_model': 'comm.whatsapp.composer', 'res_id': 0})
        self.env['comm.whatsapp.composer'].with_user(admin).with_context(
            default_res_model='res.partner', default_res_id=partner.id).create({
                'channel': 'mms', 'body': 'Your new kitchen', 'attachment_ids': [(6, 0, photo.ids)]}).action_send()
        self.env['comm.message']._cron_dispatch()
        self.env['comm.webhook.event']._cron_process()
        self.assertEqual(self.outbound(partner).state, 'undelivered')
        self.start_tour(f'/odoo/res.partner/{partner.id}', 'comm_mms_failure_tour', login='admin')

    @mute_logger(*UI_LOGGERS)
    def test_whatsapp_window_closed(self):
        """Outside the 24-hour window the composer asks for a template, offers no files, and says
        why it cannot send free text."""
        self.setup_whatsapp()
        sandbox = self.account('sandbox')
        self.env.company.comm_whatsapp_provider_id = sandbox
        self.start_tour(f'/odoo/res.partner/{self.partner.id}', 'comm_wa_window_closed_tour', login='admin')
        self.assertFalse(self.outbound())

    @mute_logger(*UI_LOGGERS)
    def test_retry_failed_message(self):
        """Messages in list, graph, pivot and calendar; a failed one is retried from its form."""
        sandbox = self.account('sandbox')
        message = self.env['comm.message'].create({
            'direction': 'out', 'provider_id': sandbox.id, 'to_number': '+32470123456', 'body': 'Hi',
            'state': 'failed', 'dispatch_state': 'failed', 'attempts': 6, 'error_message': 'Timeout'})
        action = self.env.ref('comm_gateway.action_comm_message')
        self.start_tour(f'/odoo/action-{action.id}', 'comm_retry_tour', login='admin')
        self.assertEqual((message.state, message.dispatch_state), ('queued', 'todo'))

    @mute_logger(*UI_LOGGERS)
    def test_template_drafting(self):
        """A new template: the only account chosen, a readable breadcrumb, a variable row per {{n}} as
        it is typed, each bound with the field picker, samples and Meta's name rule checked before saving."""
        self.env['comm.provider'].search([]).write({'active': False})
        self.account('sandbox')     # the only account: the new template gets it
        action = self.env.ref('comm_gateway.action_comm_whatsapp_template')
        self.start_tour(f'/odoo/action-{action.id}', 'comm_template_draft_tour', login='admin')
        template = self.env['comm.whatsapp.template'].search([('name', '=', 'order_ready')])
        self.assertEqual([(v.key, v.source, v.field_path, v.sample) for v in template.variable_ids],
                         [('body.1', 'field', 'name', 'Ann'), ('body.2', 'field', 'ref', '#1042')])
        self.assertEqual((template.provider_id.code, template.status), ('sandbox', 'draft'))


@tagged('post_install', '-at_install')
class TestFirstLookUi(HttpCase):
    """The README's first look, in a browser the size of the README's screenshot."""

    browser_size = '1920x1000'
    running_server = TestUserDayUi.running_server

    @mute_logger(*UI_LOGGERS)
    def test_first_look_on_the_demo_data(self):
        """The README's first look, on the demo data as ``./dev.sh run`` installs it: Camille Martin
        in the Contacts app → the SMS link of her mobile → *Send SMS*; delivered through the demo Sandbox
        and its reply in the open chatter (the README's ``docs/sandbox_sms.png``)."""
        self.env['ir.config_parameter'].set_param('comm_gateway.public_base_url', self.base_url())
        sandbox = self.env.ref('comm_gateway.provider_sandbox')
        camille = self.env.ref('comm_gateway.partner_demo_fr_national')
        self.assertEqual(self.env.company.comm_sms_provider_id, sandbox, 'the demo company sends through the Sandbox')

        def done(env):
            return env['comm.message'].search_count([('direction', '=', 'in'), ('provider_id', '=', sandbox.id),
                                                     ('partner_id', '=', camille.id)])

        with self.running_server(done), readme_screenshot('sandbox_sms'):
            self.start_tour(f'/odoo/contacts/{camille.id}', 'comm_first_look_tour', login='admin')
        message = self.env['comm.message'].search([('partner_id', '=', camille.id), ('direction', '=', 'out')])
        self.assertEqual((message.state, message.to_number, message.body),
                         ('delivered', '+33612345678', 'Your table is ready'))
