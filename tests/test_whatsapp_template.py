"""WhatsApp templates: variables from placeholders, binding to fields, validation, preview,
sync from Meta / Twilio / the Sandbox, submission to Meta."""
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .whatsapp_common import LOGGERS, TWILIO_SID, WABA_ID, WhatsappCase

TEMPLATES_PATH = rf'/v21\.0/{WABA_ID}/message_templates'


@tagged('post_install', '-at_install')
class TestWhatsapp(WhatsappCase):

    def setUp(self):
        super().setUp()
        self.sandbox = self.account('sandbox')
        self.template = self.make_template(
            self.sandbox, 'Hi {{1}}, your order {{2}} ships to {{3}}.', header_format='text',
            header_text='Order {{1}}', bindings=[
                ('header.1', {'source': 'static', 'static_value': 'update'}),
                ('body.1', {'field_path': 'name'}),
                ('body.2', {'field_path': 'ref', 'fallback': 'in progress'}),
                ('body.3', {'field_path': 'country_id.name'}),
            ])

    def test_variables_follow_placeholders(self):
        self.assertEqual(self.template.variable_ids.mapped('key'), ['header.1', 'body.1', 'body.2', 'body.3'])
        self.assertEqual(self.template.variable_ids[1].display_name, 'Body {{1}}')
        self.template.body = 'Hi {{1}}, see {{2}} and {{4}}.'
        self.assertEqual(self.template.variable_ids.mapped('key'), ['header.1', 'body.1', 'body.2', 'body.4'])
        self.assertEqual(self.template.variable_ids[1].field_path, 'name', 'kept variables keep their binding')
        self.template.write({'components': [{'type': 'BODY', 'text': self.template.body}, {
            'type': 'BUTTONS', 'buttons': [{'type': 'QUICK_REPLY', 'text': 'Stop'},
                                           {'type': 'URL', 'text': 'Track', 'url': 'https://t.example.com/{{1}}'}]}]})
        self.assertEqual(self.template.variable_ids[-1].key, 'button.1.1')

    def test_binding_values_and_fallback(self):
        values = self.template._render_values(self.partner)
        self.assertEqual(values, {'header.1': 'update', 'body.1': 'Ann Example', 'body.2': 'in progress',
                                  'body.3': 'Germany'})
        self.assertEqual(self.template._render_text(values),
                         'Order update\n\nHi Ann Example, your order in progress ships to Germany.')
        self.partner.ref = 'SO042'
        self.assertEqual(self.template._render_values(self.partner)['body.2'], 'SO042')

    def test_missing_value_without_fallback_stops(self):
        self.partner.country_id = False
        with self.assertRaises(UserError) as caught:
            self.template._render_values(self.partner)
        self.assertIn('Body {{3}} has no value and no fallback', caught.exception.args[0])

    def test_values_refused_by_whatsapp(self):
        for value, refused in (('Ann\nExample', True), ('Ann\tExample', True), ('Ann    Example', True),
                               ('A' * 1025, True), ('Ann   Example', False), ('A' * 1024, False)):
            with self.subTest(value=value[:20]):
                self.partner.name = value
                if refused:
                    with self.assertRaises(UserError) as caught:
                        self.template._render_values(self.partner)
                    self.assertIn('Body {{1}}', caught.exception.args[0])
                else:
                    self.assertEqual(self.template._render_values(self.partner)['body.1'], value)

    def test_every_problem_is_listed_at_once(self):
        self.partner.write({'name': 'Ann\nExample', 'country_id': False})
        with self.assertRaises(UserError) as caught:
            self.template._render_values(self.partner)
        self.assertIn('Body {{1}}', caught.exception.args[0])
        self.assertIn('Body {{3}}', caught.exception.args[0])

    def test_field_path_is_checked(self):
        with self.assertRaises(ValidationError):
            self.template.variable_ids[1].field_path = 'country_id.nope'

    def test_live_preview_uses_samples_and_paths(self):
        self.template.variable_ids.filtered(lambda v: v.key == 'body.1').sample = 'Ann'
        self.assertEqual(self.template.preview,
                         'Order update\n\nHi Ann, your order [ref] ships to [country_id.name].')

    def test_send_format(self):
        template = self.template._to_template(self.template._render_values(self.partner))
        self.assertEqual((template.name, template.language, template.content_sid),
                         ('order_update', 'en_US', 'ref-order_update'))
        self.assertEqual(template.components, [
            {'type': 'header', 'parameters': [{'type': 'text', 'text': 'update'}]},
            {'type': 'body', 'parameters': [{'type': 'text', 'text': 'Ann Example'},
                                            {'type': 'text', 'text': 'in progress'},
                                            {'type': 'text', 'text': 'Germany'}]}])

    def test_not_approved_is_not_sent(self):
        self.template._check_sendable(self.env['ir.attachment'])
        self.template.write({'status': 'paused'})
        with self.assertRaises(UserError):
            self.template._check_sendable(self.env['ir.attachment'])

    def test_media_header_needs_its_file(self):
        self.template.header_format = 'image'
        with self.assertRaises(UserError):
            self.template._check_sendable(self.env['ir.attachment'])
        photo = self.env['ir.attachment'].create({'name': 'p.jpg', 'raw': b'JPEG', 'mimetype': 'image/jpeg'})
        self.template._check_sendable(photo)
        [media] = self.env['comm.media.token']._media_of(self.env['comm.message'].create({
            'direction': 'out', 'channel': 'whatsapp', 'provider_id': self.sandbox.id, 'to_number': '+4915123456780',
            'attachment_ids': [(6, 0, photo.ids)]}))
        template = self.template._to_template(self.template._render_values(self.partner), [media])
        self.assertEqual(template.components[0], {'type': 'header', 'parameters': [
            {'type': 'image', 'image': {'link': media.url}}]})

    # -- sync and submission ---------------------------------------------------------------------

    def test_sync_from_meta_follows_pages(self):
        meta = self.account('meta')
        first = {'data': [{'id': '111', 'name': 'order_update', 'language': 'en_US', 'status': 'APPROVED',
                           'category': 'UTILITY', 'components': [
                               {'type': 'HEADER', 'format': 'IMAGE'},
                               {'type': 'BODY', 'text': 'Hi {{1}}, order {{2}} shipped'},
                               {'type': 'BUTTONS', 'buttons': [{'type': 'URL', 'text': 'Track',
                                                                'url': 'https://t.example.com/{{1}}'}]}]}],
                 'paging': {'cursors': {'before': 'B', 'after': 'CURSOR2'}, 'next': 'https://graph/next'}}
        second = {'data': [{'id': '222', 'name': 'promo', 'language': 'fr', 'status': 'REJECTED',
                            'category': 'MARKETING', 'rejected_reason': 'PROMOTIONAL',
                            'components': [{'type': 'BODY', 'text': 'Promo'}]}],
                  'paging': {'cursors': {'before': 'C', 'after': 'END'}}}
        self.fake.route('GET', TEMPLATES_PATH, 200, json=second)
        self.fake.route('GET', TEMPLATES_PATH, 200, json=first, times=1)
        self.env['comm.whatsapp.template']._sync_from(meta)
        requests = [r for r in self.fake.requests if r.path.endswith('/message_templates')]
        self.assertEqual(dict(requests[0].query)['fields'], 'name,language,status,category,components,rejected_reason')
        self.assertEqual(dict(requests[1].query)['after'], 'CURSOR2')
        templates = self.env['comm.whatsapp.template'].search([('provider_id', '=', meta.id)])
        order, promo = templates.sorted('name')
        self.assertEqual((order.status, order.provider_ref, order.header_format, order.body),
                         ('approved', '111', 'image', 'Hi {{1}}, order {{2}} shipped'))
        self.assertEqual(order.variable_ids.mapped('key'), ['body.1', 'body.2', 'button.0.1'])
        self.assertEqual((promo.status, promo.category, promo.rejection_reason), ('rejected', 'marketing', 'PROMOTIONAL'))
        # a second sync updates, never duplicates
        self.fake.route('GET', TEMPLATES_PATH, 200, json={'data': [{**first['data'][0], 'status': 'PAUSED'}]})
        self.env['comm.whatsapp.template']._sync_from(meta)
        self.assertEqual(order.status, 'paused')
        self.assertEqual(self.env['comm.whatsapp.template'].search_count([('provider_id', '=', meta.id)]), 2)

    def test_sync_from_twilio_content_api(self):
        twilio = self.account('twilio')
        self.fake.route('GET', r'/v1/ContentAndApprovals', 200, json={
            'contents': [{'sid': 'HX' + 'a' * 32, 'account_sid': TWILIO_SID, 'friendly_name': 'order_ready',
                          'language': 'en', 'variables': {'1': 'name'},
                          'types': {'twilio/text': {'body': 'Hi {{1}}, your order is ready.'}},
                          'approval_requests': {'name': 'order_ready', 'category': 'UTILITY', 'status': 'approved',
                                                'rejection_reason': ''}}],
            'meta': {'page': 0, 'page_size': 100, 'key': 'contents', 'next_page_url': None}})
        self.env['comm.whatsapp.template']._sync_from(twilio)
        template = self.env['comm.whatsapp.template'].search([('provider_id', '=', twilio.id)])
        self.assertEqual((template.name, template.language, template.status, template.provider_ref),
                         ('order_ready', 'en', 'approved', 'HX' + 'a' * 32))
        self.assertEqual(template.variable_ids.mapped('key'), ['body.1'])

    @mute_logger(*LOGGERS)
    def test_sync_error_is_clear(self):
        meta = self.account('meta')
        self.fake.route('GET', TEMPLATES_PATH, 401, json={'error': {'message': 'Invalid OAuth access token.',
                                                                   'type': 'OAuthException', 'code': 190}})
        with self.assertRaises(UserError) as caught:
            self.env['comm.whatsapp.template']._sync_from(meta)
        self.assertIn('190', caught.exception.args[0])
        self.assertNotIn('EAAGtoken123', caught.exception.args[0])

    def test_sync_sandbox_button(self):
        self.env['comm.whatsapp.template'].action_sync()
        names = self.env['comm.whatsapp.template'].search([('provider_id', '=', self.sandbox.id)]).mapped('name')
        self.assertIn('appointment_reminder', names)

    def test_submit_draft_to_meta(self):
        meta = self.account('meta')
        draft = self.env['comm.whatsapp.template'].create({
            'name': 'order_update', 'provider_id': meta.id, 'category': 'utility',
            'header_format': 'text', 'header_text': 'Order {{1}}', 'body': 'Hi {{1}}, order {{2}} shipped',
            'footer': 'Acme'})
        with self.assertRaises(UserError, msg='Meta needs examples'):
            draft.action_submit()
        for variable, sample in zip(draft.variable_ids, ('#1042', 'Ann', '#1042')):
            variable.sample = sample
        self.fake.route('POST', TEMPLATES_PATH, 200, json={'id': '594425479261596', 'status': 'PENDING',
                                                           'category': 'UTILITY'})
        draft.action_submit()
        self.assertEqual(self.fake.last('POST', 'message_templates').json(), {
            'name': 'order_update', 'language': 'en_US', 'category': 'UTILITY', 'components': [
                {'type': 'HEADER', 'format': 'TEXT', 'text': 'Order {{1}}', 'example': {'header_text': ['#1042']}},
                {'type': 'BODY', 'text': 'Hi {{1}}, order {{2}} shipped',
                 'example': {'body_text': [['Ann', '#1042']]}},
                {'type': 'FOOTER', 'text': 'Acme'}]})
        self.assertEqual((draft.status, draft.provider_ref), ('pending', '594425479261596'))

    def test_submit_refuses_bad_names(self):
        with self.assertRaisesRegex(ValidationError, 'lower case letters'):     # not even saved
            self.env['comm.whatsapp.template'].create({'name': 'Order Update', 'provider_id': self.sandbox.id,
                                                       'body': 'Hello'})
        draft = self.env['comm.whatsapp.template'].create({'name': 'order_update_2', 'provider_id': self.sandbox.id,
                                                           'body': 'Hello'})
        draft.action_submit()
        self.assertEqual(draft.status, 'approved', 'the Sandbox approves at once')
