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
        form.body = 'Hi {{1}}, your order {{2}} is ready'
        self.assertEqual(len(form.variable_ids), 2, 'a row appears for {{2}}')
        with form.variable_ids.edit(1) as row:
            row.field_path = 'ref'
        template = form.save()
        self.assertEqual([(v.key, v.field_path) for v in template.variable_ids], [('body.1', 'name'), ('body.2', 'ref')])
        with Form(template) as form:
            form.body = 'Your order {{2}} is ready'
            self.assertEqual(len(form.variable_ids), 1, 'the row of {{1}} goes')
        self.assertEqual([(v.key, v.field_path) for v in template.variable_ids], [('body.2', 'ref')],
                         'the binding of the kept one stays')
