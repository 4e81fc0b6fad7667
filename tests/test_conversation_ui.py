from odoo import fields
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from ..models import comm_conversation
from .screenshots import readme_screenshot
from .test_user_day_ui import UI_LOGGERS, TestUserDayUi
from .whatsapp_common import WhatsappMixin


@tagged('post_install', '-at_install')
class TestConversationUi(WhatsappMixin, HttpCase):
    """The conversation view and the systray counter, in a browser."""

    running_server = TestUserDayUi.running_server

    def setUp(self):
        super().setUp()
        self.env['ir.config_parameter'].set_param('comm_gateway.public_base_url', self.base_url())
        self.sandbox = self.env['comm.provider'].create({'name': 'Sandbox', 'code': 'sandbox',
                                                         'sms_from': '+15005550006'})
        self.env.company.comm_sms_provider_id = self.sandbox
        self.ines = self.env['res.partner'].create({
            'name': 'Ines Costa', 'mobile': '+351 912 345 670', 'country_id': self.env.ref('base.pt').id})
        # what was said before, sent and answered days ago
        self.env['comm.message'].search([]).conversation_unread = False
        self.message(self.ines, 'out', 'We saved you a table for Friday.', state='delivered')

    def message(self, partner, direction, body, **values):
        number = partner.phone_sanitized
        return self.env['comm.message'].create({
            'direction': direction, 'channel': 'sms', 'provider_id': self.sandbox.id, 'partner_id': partner.id,
            'from_number': number if direction == 'in' else '+15005550006',
            'to_number': '+15005550006' if direction == 'in' else number, 'body': body,
            'state': 'received' if direction == 'in' else values.pop('state', 'sent'),
            'received_at': fields.Datetime.now(), 'res_model': 'res.partner', 'res_id': partner.id, **values})

    @mute_logger(*UI_LOGGERS)
    def test_conversation_reply(self):
        """From the systray's counter to the conversation; a reply sent there is delivered and the
        answer appears without reload."""
        self.message(self.ines, 'in', 'Is my table ready?')

        def done(env):
            return env['comm.message'].search_count([('direction', '=', 'in'), ('body', '=', 'Thanks, got it!')])

        with self.running_server(done), readme_screenshot('conversation'):
            self.start_tour('/odoo', 'comm_conversation_tour', login='admin')
        reply = self.env['comm.message'].search([('direction', '=', 'out'), ('body', '=', 'Yes, see you at 8')])
        self.assertEqual((reply.state, reply.provider_id, reply.partner_id), ('delivered', self.sandbox, self.ines))
        self.assertFalse(self.env['comm.message'].search_count(
            [('peer_number', '=', self.ines.phone_sanitized), ('conversation_unread', '=', True)]),
            'read: the view was open when the answer came')

    @mute_logger(*UI_LOGGERS)
    def test_inbox_counter(self):
        lukas = self.env['res.partner'].create({
            'name': 'Lukas Weber', 'mobile': '+49 151 23456780', 'country_id': self.env.ref('base.de').id})
        self.message(self.ines, 'in', 'Is my table ready?')
        self.message(self.ines, 'in', 'We are four')
        self.message(lukas, 'in', 'Can I change the date?')
        with self.running_server(lambda env: True), readme_screenshot('inbox_systray'):   # the bus on
            self.start_tour('/odoo', 'comm_inbox_tour', login='admin')

    @mute_logger(*UI_LOGGERS)
    def test_browse_search_and_answer_an_unknown_number(self):
        """Pages of conversations and of messages, a search, and an SMS reply to a number without
        contact or document, delivered and kept in its conversation."""
        self.patch(comm_conversation, 'CONVERSATIONS_LIMIT', 1)
        self.patch(comm_conversation, 'MESSAGES_LIMIT', 2)
        for body in ('Is my table ready?', 'We are four', 'And a high chair'):
            self.message(self.ines, 'in', body)
        unknown = '+32470999888'
        self.env['comm.message'].create({
            'direction': 'in', 'channel': 'sms', 'provider_id': self.sandbox.id, 'from_number': unknown,
            'to_number': '+15005550006', 'body': 'Is the cake ready?', 'state': 'received',
            'received_at': fields.Datetime.now()})

        def done(env):
            return env['comm.message'].search_count([('direction', '=', 'in'), ('from_number', '=', unknown),
                                                     ('body', '=', 'Thanks, got it!')])

        action = self.env.ref('comm_gateway.action_comm_conversation')
        with self.running_server(done):
            self.start_tour(f'/odoo/action-{action.id}', 'comm_conversation_browse_tour', login='admin')
        reply = self.env['comm.message'].search([('direction', '=', 'out'), ('to_number', '=', unknown)])
        self.assertEqual((reply.state, reply.provider_id, reply.partner_id, reply.res_model),
                         ('delivered', self.sandbox, self.env['res.partner'], False))
