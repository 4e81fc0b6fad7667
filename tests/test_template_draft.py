from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from .whatsapp_common import WhatsappCase


@tagged('post_install', '-at_install')
class TestTemplateDraftHelpers(WhatsappCase):
    """The variable rows follow the placeholders in the form, before saving, and saving keeps them
    once (with their bindings)."""

    def test_rows_follow_the_placeholders(self):
        sandbox = self.account('sandbox')
        form = Form(self.env['comm.whatsapp.template'])
        form.provider_id = sandbox
        form.name = 'order_ready'
        form.body = 'Hi {{1}}'
        self.assertEqual(len(form.variable_ids), 1)
        with form.variable_ids.edit(0) as row:
            self.assertEqual(row.model, 'res.partner', 'the field picker of a new row knows the model')
            row.field_path = 'name'
            row.sample = 'Ann'
        form.body = 'Hi {{1}}, your order {{2}} is ready'
        self.assertEqual(len(form.variable_ids), 2, 'a row appears for {{2}}')
        with form.variable_ids.edit(1) as row:
            row.field_path = 'ref'
            row.sample = '#1042'
        template = form.save()
        self.assertEqual([(v.key, v.field_path) for v in template.variable_ids], [('body.1', 'name'), ('body.2', 'ref')])
        with Form(template) as form:
            form.body = 'Your order {{2}} is ready'
            self.assertEqual(len(form.variable_ids), 1, 'the row of {{1}} goes')
        self.assertEqual([(v.key, v.field_path) for v in template.variable_ids], [('body.2', 'ref')],
                         'the binding of the kept one stays')

    def test_default_account_and_name(self):
        self.env['comm.provider'].search([]).write({'active': False})
        sandbox = self.account('sandbox')
        form = Form(self.env['comm.whatsapp.template'])
        self.assertEqual(form.provider_id, sandbox, 'the only WhatsApp account')
        Template = self.env['comm.whatsapp.template']
        self.assertEqual(Template.new({}).display_name, 'New WhatsApp template', 'the breadcrumb of a new one')
        self.assertEqual(Template.new({'name': 'order_ready'}).display_name, 'order_ready (en_US)')
        self.account('sandbox', name='Second')
        self.assertFalse(Form(self.env['comm.whatsapp.template']).provider_id, 'two accounts: the user picks')

    def test_samples_required_before_saving(self):
        form = Form(self.env['comm.whatsapp.template'])
        form.provider_id = self.account('sandbox')
        form.name = 'order_ready'
        form.body = 'Hi {{1}}'
        with self.assertRaisesRegex(AssertionError, "'sample' is a required field"):
            with form.variable_ids.edit(0) as row:
                row.field_path = 'name'
        with form.variable_ids.edit(0) as row:
            row.field_path = 'name'
            row.sample = 'Ann'
        self.assertEqual(form.save().variable_ids.sample, 'Ann')

    def test_saved_only_as_meta_accepts_it(self):
        sandbox = self.account('sandbox')
        Template = self.env['comm.whatsapp.template']
        refused = {
            'Order Ready': {'body': 'Hi'},
            'no_body': {'body': ' '},
            'long_body': {'body': 'x' * 1025},
            'long_header': {'body': 'Hi', 'header_format': 'text', 'header_text': 'x' * 61},
            'two_header_variables': {'body': 'Hi', 'header_format': 'text', 'header_text': '{{1}} {{2}}'},
            'long_footer': {'body': 'Hi', 'footer': 'x' * 61},
        }
        for name, values in refused.items():
            with self.subTest(name), self.assertRaises(ValidationError), self.env.cr.savepoint():
                Template.create({'name': name, 'provider_id': sandbox.id, **values})
        Template.create({'name': 'fine_1', 'provider_id': sandbox.id, 'body': 'x' * 1024,
                         'header_format': 'text', 'header_text': 'Order {{1}}', 'footer': 'x' * 60})
        twilio = self.account('twilio')
        Template.create({'name': 'Synced Elsewhere', 'provider_id': twilio.id, 'body': 'Hi'})   # not submitted here
