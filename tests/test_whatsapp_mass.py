from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from .whatsapp_common import LOGGERS, WhatsappCase, WhatsappMixin


@tagged('post_install', '-at_install')
class TestWhatsappMass(WhatsappCase):
    """Records selected in a list → Send WhatsApp: an approved template queued for each, with the
    composer's checks, and a summary."""

    def setUp(self):
        super().setUp()
        self.sandbox = self.account('sandbox')
        self.template = self.make_template(self.sandbox, 'Hi {{1}}, your order shipped', bindings=[
            ('body.1', {'field_path': 'name'})])
        self.nobody = self.env['res.partner'].create({'name': 'No phone'})
        self.opted_out = self.env['res.partner'].create({'name': 'Opted out', 'mobile': '+32 470 11 22 33'})
        self.env['phone.blacklist'].sudo()._add(['+32470112233'])
        self.records = self.partner | self.nobody | self.opted_out

    def mass_composer(self, records=None, user=None, **values):
        records = records if records is not None else self.records
        return self.env['comm.whatsapp.composer'].with_user(user or self.env.user).with_context(
            active_model='res.partner', active_ids=records.ids, default_composition_mode='mass').create(
            {'provider_id': self.sandbox.id, **values})

    @mute_logger(*LOGGERS)
    def test_template_to_each_with_a_summary(self):
        composer = self.mass_composer(template_id=self.template.id)
        self.assertEqual((composer.composition_mode, composer.mass_count), ('mass', 3))
        result = composer.action_send()
        self.assertEqual(result['params']['message'],
                         '1 queued, 1 without a number, 1 refused (the reason is in their chatter)')
        sent = self.outbound()
        self.assertEqual((sent.template_id, sent.body, sent.to_number),
                         (self.template, 'Hi Ann Example, your order shipped', '+4915123456780'))
        self.assertIn('opted out', self.opted_out.message_ids[0].body)
        self.assertIn('not sent', self.nobody.message_ids[0].body)
        composer.action_send()
        self.assertEqual(len(self.outbound()), 1, 'a second click queues nothing more')

    def test_free_text_refused_and_rights(self):
        with self.assertRaisesRegex(UserError, 'Choose an approved template'):
            self.mass_composer(body='Free text to everyone').action_send()
        self.assertFalse(self.outbound())
        reader = new_test_user(self.env, 'mass_reader', groups='comm_gateway.group_comm_user')
        with self.assertRaises(AccessError):
            self.mass_composer(self.partner, user=reader, template_id=self.template.id).action_send()
        self.assertFalse(self.outbound())


@tagged('post_install', '-at_install')
class TestWhatsappMassUi(WhatsappMixin, HttpCase):

    @mute_logger(*LOGGERS)
    def test_mass_whatsapp_from_the_list(self):
        """Contacts list → select two → Action → Send WhatsApp → a template → a summary."""
        self.setup_whatsapp()
        sandbox = self.account('sandbox')
        self.env.company.comm_whatsapp_provider_id = sandbox
        self.make_template(sandbox, 'Hi {{1}}, your order shipped', name='order_shipped',
                           bindings=[('body.1', {'field_path': 'name'})])
        self.env['res.partner'].create({'name': 'Ann Nophone'})
        self.start_tour('/odoo/contacts?view_type=list', 'comm_whatsapp_mass_tour', login='admin')
        self.assertEqual(self.outbound().body, 'Hi Ann Example, your order shipped')
