"""The "Send WhatsApp" server action (automated actions)."""
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .whatsapp_common import NUMBER, WhatsappCase


@tagged('post_install', '-at_install')
class TestWhatsapp(WhatsappCase):

    def setUp(self):
        super().setUp()
        self.sandbox = self.account('sandbox')
        self.template = self.make_template(self.sandbox, 'Hello {{1}}, welcome!', name='new_lead_welcome',
                                           bindings=[('body.1', {'field_path': 'name'})])
        self.action = self.env['ir.actions.server'].create({
            'name': 'Welcome on WhatsApp', 'model_id': self.env['ir.model']._get_id('res.partner'),
            'state': 'comm_whatsapp', 'comm_whatsapp_template_id': self.template.id})

    def run_on(self, records):
        return self.action.with_context(active_model=records._name, active_ids=records.ids).run()

    def test_sends_the_template(self):
        other = self.env['res.partner'].create({'name': 'Bob', 'phone': '+32 470 12 34 56'})
        self.run_on(self.partner | other)
        message = self.outbound()
        self.assertEqual((message.template_id, message.to_number, message.body),
                         (self.template, NUMBER, 'Hello Ann Example, welcome!'))
        self.assertEqual(self.outbound(other).to_number, '+32470123456')

    def test_recipient_field(self):
        company = self.env['res.partner'].create({'name': 'Acme', 'is_company': True})
        self.partner.parent_id = company
        self.template.model_id = self.env['ir.model']._get_id('res.partner')
        self.action.comm_whatsapp_recipient_field_id = self.env['ir.model.fields']._get('res.partner', 'parent_id')
        company.mobile = '+32 470 99 88 77'
        self.run_on(self.partner)
        self.assertEqual(self.outbound().to_number, '+32470998877')

    def test_record_without_number_gets_a_note(self):
        nobody = self.env['res.partner'].create({'name': 'No phone'})
        self.run_on(nobody)
        self.assertFalse(self.outbound(nobody))
        self.assertIn('not sent', nobody.message_ids[0].body)

    def test_missing_value_stops_the_action(self):
        self.template.variable_ids.field_path = 'ref'
        with self.assertRaises(UserError):
            self.run_on(self.partner)
        self.assertFalse(self.outbound())

    def test_template_must_match_the_model(self):
        with self.assertRaises(ValidationError):
            self.action.model_id = self.env['ir.model']._get_id('res.users')
