"""Who may call what: every public method of every model of the module, called as a portal user,
an internal user without our groups and a Communications User (as ``/web/dataset/call_kw`` would
call it), against one table. A refused call raises AccessError, changes nothing and contacts no
provider. A public method missing from the table fails the test: a new one must say who may call it.
"""
import inspect
from contextlib import closing

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .whatsapp_common import WhatsappCase

USER, MANAGER, SYSTEM = 'user', 'manager', 'system'      # Communications User / Administrator, Settings
# internal users who may post on contacts and leads: only our groups tell them apart
DOCUMENT_GROUPS = 'base.group_partner_manager,sales_team.group_sale_salesman_all_leads'
ORM_METHODS = {'create', 'write', 'unlink', 'init', 'copy', 'default_get', 'onchange'}

# (model, method): (who may call it, how it is called: records -> result)
TABLE = {
    ('comm.provider', 'action_test_connection'): (MANAGER, lambda r: r.provider.action_test_connection()),
    ('comm.provider', 'action_regenerate_webhook_token'): (
        SYSTEM, lambda r: r.provider.action_regenerate_webhook_token()),
    ('comm.provider', 'action_rotate_secrets'): (SYSTEM, lambda r: r.provider.action_rotate_secrets()),
    ('comm.webhook.event', 'action_reprocess'): (MANAGER, lambda r: r.event.action_reprocess()),
    ('comm.webhook.event', 'action_discard'): (MANAGER, lambda r: r.event.action_discard()),
    ('comm.whatsapp.template', 'action_sync'): (MANAGER, lambda r: r.template.action_sync()),
    ('comm.whatsapp.template', 'action_submit'): (MANAGER, lambda r: r.draft.action_submit()),
    ('comm.whatsapp.template', 'action_reset_draft'): (MANAGER, lambda r: r.draft.action_reset_draft()),
    ('comm.whatsapp.composer', 'action_send'): (USER, lambda r: r.composer.action_send()),
    ('comm.call', 'action_click_to_call'): (
        USER, lambda r: r.call.action_click_to_call('+4915123456780', 'res.partner', r.partner.id)),
    ('res.partner', 'action_view_comm_messages'): (USER, lambda r: r.partner.action_view_comm_messages()),
    ('res.partner', 'action_view_comm_calls'): (USER, lambda r: r.partner.action_view_comm_calls()),
    ('crm.lead', 'action_view_comm_messages'): (USER, lambda r: r.lead.action_view_comm_messages()),
    ('crm.lead', 'action_view_comm_calls'): (USER, lambda r: r.lead.action_view_comm_calls()),
    ('res.partner', 'action_comm_export'): (MANAGER, lambda r: r.partner.action_comm_export()),
    ('res.partner', 'action_comm_erase'): (MANAGER, lambda r: r.partner.action_comm_erase()),
    ('comm.message', 'action_create_shared_contacts'): (USER, lambda r: r.shared.action_create_shared_contacts()),
    ('comm.message', 'action_retry_now'): (USER, lambda r: r.shared.action_retry_now()),
    ('comm.message', 'action_cancel'): (USER, lambda r: r.shared.action_cancel()),
    ('comm.message', 'action_open_contact_review'): (MANAGER, lambda r: r.shared.action_open_contact_review()),
    ('comm.message.reattach', 'action_apply'): (MANAGER, lambda r: r.wizard('comm.message.reattach', {
        'message_ids': [(6, 0, r.shared.ids)], 'partner_id': r.partner.id}).action_apply()),
    ('comm.reconcile.wizard', 'action_compare'): (MANAGER, lambda r: r.reconcile().action_compare()),
    ('comm.reconcile.wizard', 'action_import_missing'): (MANAGER, lambda r: r.reconcile().action_import_missing()),
    ('comm.reconcile.wizard', 'action_refresh_statuses'): (
        MANAGER, lambda r: r.reconcile().action_refresh_statuses()),
    ('comm.overview', 'get_overview'): (USER, lambda r: r.overview.get_overview(7)),
    ('comm.alert.rule', 'action_check_now'): (MANAGER, lambda r: r.alert.action_check_now()),
    ('comm.message', 'action_open_conversation'): (USER, lambda r: r.shared.action_open_conversation()),
    ('comm.message', 'comm_conversation_list'): (USER, lambda r: r.shared.comm_conversation_list()),
    ('comm.message', 'comm_conversation_open'): (USER, lambda r: r.shared.comm_conversation_open('+32470000001')),
    ('comm.message', 'comm_conversation_reply'): (
        USER, lambda r: r.shared.comm_conversation_reply('+32470000001', 'Thanks')),
    ('res.partner', 'action_comm_conversation'): (USER, lambda r: r.partner.action_comm_conversation()),
    ('comm.agent.phone', 'action_save_and_call'): (USER, lambda r: r.call.env['comm.agent.phone'].create(
        {'phone': '+32470123456', 'number': '+4915123456780'}).action_save_and_call()),
    ('comm.send.batch', 'action_approve'): (MANAGER, lambda r: r.batch.action_approve()),
    ('comm.send.batch', 'action_refuse'): (MANAGER, lambda r: r.batch.action_refuse()),
    ('res.partner', 'action_comm_mark_reviewed'): (USER, lambda r: r.partner.action_comm_mark_reviewed()),
    ('sms.sms', 'send'): (SYSTEM, lambda r: r.sms.send()),     # Odoo's own rights (sms.sms: Settings)
}


class Records:
    """The records a call works on, browsed as one user (what an RPC call of that user gets)."""

    def __init__(self, case, user):
        env = case.env(user=user, su=False)
        self.provider = env['comm.provider'].browse(case.twilio.id)
        self.event = env['comm.webhook.event'].browse(case.event.id)
        self.template = env['comm.whatsapp.template']
        self.draft = env['comm.whatsapp.template'].browse(case.draft.id)
        self.composer = env['comm.whatsapp.composer'].browse(case.composers[user.id].id)
        self.call = env['comm.call']
        self.partner = env['res.partner'].browse(case.partner.id)
        self.lead = env['crm.lead'].browse(case.lead.id)
        self.shared = env['comm.message'].browse(case.shared.id)
        self.batch = env['comm.send.batch'].browse(case.batch.id)
        self.sms = env['sms.sms'].browse(case.sms.id)
        self.overview = env['comm.overview']
        self.alert = env['comm.alert.rule'].browse(case.alert.id)
        self.env = env

    def wizard(self, model, values):
        """A wizard created by this user (the ACL refuses it to those who may not)."""
        return self.env[model].create(values)

    def reconcile(self):
        return self.wizard('comm.reconcile.wizard', {'provider_id': self.provider.id})


@tagged('post_install', '-at_install')
class TestRights(WhatsappCase):

    def setUp(self):
        super().setUp()
        self.twilio = self.account('twilio')
        self.meta = self.account('meta')
        self.draft = self.env['comm.whatsapp.template'].create({
            'name': 'draft_one', 'provider_id': self.meta.id, 'body': 'Hi {{1}}'})
        self.draft.write({'status': 'rejected'})
        self.env['comm.webhook.event']._receive(self.twilio, 'status', self._signed_status())
        self.event = self.env['comm.webhook.event'].search([('provider_id', '=', self.twilio.id)])
        self.event._queue_write({'state': 'dead'})
        self.lead = self.env['crm.lead'].create({'name': 'Kitchen', 'partner_id': self.partner.id})
        self.alert = self.env.ref('comm_gateway.comm_alert_dead_letters')
        self.shared = self.env['comm.message'].create({   # a contact card the customer shared
            'direction': 'in', 'channel': 'whatsapp', 'provider_id': self.meta.id, 'state': 'received',
            'from_number': '+32470000001', 'partner_id': self.partner.id,
            'res_model': 'res.partner', 'res_id': self.partner.id,
            'content': {'contacts': [{'name': 'Card', 'phones': [{'phone': '+32470999888'}]}]}})
        self.batch = self.env['comm.send.batch'].create({'name': 'Bulk', 'channel': 'sms', 'recipient_count': 9})
        self.sms = self.env['sms.sms'].create({'number': '+32470000002', 'body': 'Hi', 'state': 'error'})
        self.users = {
            'portal': new_test_user(self.env, 'rights_portal', groups='base.group_portal'),
            'internal': new_test_user(self.env, 'rights_internal', groups=f'base.group_user,{DOCUMENT_GROUPS}'),
            'comm_user': new_test_user(self.env, 'rights_comm_user',
                                       groups=f'comm_gateway.group_comm_user,{DOCUMENT_GROUPS}'),
        }
        self.composers = {
            user.id: self.env['comm.whatsapp.composer'].with_user(user).sudo().with_context(
                default_res_model='res.partner', default_res_id=self.partner.id).create({
                    'provider_id': self.meta.id, 'body': 'Hi'})
            for user in self.users.values()}
        self.env.flush_all()

    def _signed_status(self):
        from twilio.request_validator import RequestValidator  # noqa: PLC0415
        from ..providers.base import WebhookRequest  # noqa: PLC0415
        url = self.twilio._webhook_url('status')
        form = [('MessageSid', 'SM' + 'f' * 32), ('MessageStatus', 'delivered')]
        signature = RequestValidator('twilio-auth-token').compute_signature(url, dict(form))
        return WebhookRequest(method='POST', url=url, form=form, headers={
            'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': signature})

    def public_methods(self):
        """``{(model, method)}`` of every public method our module defines on a concrete model, or
        on an abstract one of ours called directly (comm.overview; mixins count on their models)."""
        found = set()
        for name in self.env.registry:
            model = self.env[name]
            if model._abstract and (not name.startswith('comm.') or model._inherit_children):
                continue
            for cls in type(model).__mro__:
                if not cls.__module__.startswith('odoo.addons.comm_gateway.'):
                    continue
                for attr, value in vars(cls).items():
                    if attr.startswith('_') or attr in ORM_METHODS or isinstance(value, property):
                        continue
                    if inspect.isfunction(value):
                        found.add((name, attr))
        return found

    def snapshot(self):
        """What a refused call must leave as it was."""
        self.env.invalidate_all()
        records = (self.twilio.sudo(), self.event, self.draft, self.batch)
        return (
            [record.read([f for f, field in record._fields.items()
                          if field.store and field.type not in ('binary',) and f not in ('write_date',)])
             for record in records],
            self.env['comm.message'].sudo().search_count([]), self.env['comm.call'].sudo().search_count([]),
            self.env['mail.message'].sudo().search_count([]),
        )

    def test_table_covers_every_public_method(self):
        self.assertEqual(self.public_methods(), set(TABLE),
                         'every public method says who may call it (add new ones to TABLE)')

    def test_who_may_call_what(self):
        allowed_groups = {'portal': set(), 'internal': set(), 'comm_user': {USER}}
        for key, (group, call) in TABLE.items():
            for kind, user in self.users.items():
                with self.subTest(method=key, user=kind):
                    records = Records(self, user)
                    before, requests = self.snapshot(), len(self.fake.requests)
                    if group in allowed_groups[kind]:
                        try:    # rolled back: the next calls meet the same records
                            with closing(self.env.cr.savepoint()), mute_logger('odoo.addons.comm_gateway'):
                                call(records)
                        except AccessError as exc:
                            self.fail(f'{kind} may call {key}: {exc}')
                        except Exception:  # noqa: BLE001  a business refusal (no voice account…) is fine here
                            pass
                        continue
                    # no savepoint: whatever a refused call wrote before refusing would stay and show
                    with self.assertRaises(AccessError), mute_logger('odoo.models', 'odoo.addons.base.models.ir_model',
                                                                     'odoo.addons.base.models.ir_rule'):
                        call(records)
                    self.assertEqual(self.snapshot(), before, 'a refused call changes nothing')
                    self.assertEqual(len(self.fake.requests), requests, 'a refused call contacts no provider')

    def test_managers_may_call_theirs(self):
        """The same calls as a Communications Administrator pass the rights check."""
        manager = new_test_user(self.env, 'rights_manager', groups=f'comm_gateway.group_comm_manager,{DOCUMENT_GROUPS}')
        self.composers[manager.id] = self.composers[self.users['comm_user'].id]
        for key, (group, call) in TABLE.items():
            if group == SYSTEM:
                continue
            with self.subTest(method=key):
                try:
                    # always rolled back: what one call changes (an erasure…) never reaches the next
                    with closing(self.env.cr.savepoint()), mute_logger('odoo.addons.comm_gateway'):
                        call(Records(self, manager))
                except AccessError as exc:
                    if key[0] != 'comm.whatsapp.composer':   # someone else's composer: refused, rightly
                        self.fail(f'a Communications Administrator may call {key}: {exc}')
                except Exception:  # noqa: BLE001  business refusals are not the point here
                    pass


@tagged('post_install', '-at_install')
class TestDocumentAccess(WhatsappCase):
    """Communications Users see a message or call where they may read its document (or, without
    one, its contact); lists, the history view and the counts follow. Administrators see all."""

    def setUp(self):
        super().setUp()
        self.sandbox = self.account('sandbox')
        self.agent = new_test_user(self.env, 'doc_agent', groups='comm_gateway.group_comm_user,'
                                   'sales_team.group_sale_salesman')
        self.manager = new_test_user(self.env, 'doc_manager', groups='comm_gateway.group_comm_manager,'
                                     'sales_team.group_sale_salesman_all_leads')
        other_salesman = new_test_user(self.env, 'doc_other', groups='sales_team.group_sale_salesman')
        self.own_lead = self.env['crm.lead'].create({'name': 'Mine', 'user_id': self.agent.id})
        self.other_lead = self.env['crm.lead'].create({'name': 'Theirs', 'user_id': other_salesman.id,
                                                       'partner_id': self.partner.id})
        other_company = self.env['res.company'].create({'name': 'Elsewhere'})
        self.hidden_partner = self.env['res.partner'].create({'name': 'Other company', 'company_id': other_company.id})
        archived = self.env['res.partner'].create({'name': 'Archived', 'active': False})
        self.rows = {
            'on partner': self.message(res_model='res.partner', res_id=self.partner.id),
            'on own lead': self.message(res_model='crm.lead', res_id=self.own_lead.id),
            'on other lead': self.message(res_model='crm.lead', res_id=self.other_lead.id),
            'no document, readable contact': self.message(),
            'no document, hidden contact': self.message(partner=self.hidden_partner),
            'on archived contact': self.message(partner=archived, res_model='res.partner', res_id=archived.id),
        }
        self.calls = {
            'on other lead': self.env['comm.call'].create({
                'direction': 'out', 'provider_id': self.sandbox.id, 'to_number': '+4915123456780',
                'partner_id': self.partner.id, 'res_model': 'crm.lead', 'res_id': self.other_lead.id}),
            'on own lead': self.env['comm.call'].create({
                'direction': 'out', 'provider_id': self.sandbox.id, 'to_number': '+4915123456780',
                'res_model': 'crm.lead', 'res_id': self.own_lead.id}),
        }

    def message(self, partner=None, **values):
        return self.env['comm.message'].create({
            'direction': 'out', 'channel': 'sms', 'provider_id': self.sandbox.id, 'to_number': '+4915123456780',
            'state': 'sent', 'partner_id': (partner or self.partner).id, **values})

    def visible(self, user, model, rows):
        found = self.env[model].with_user(user).search([('id', 'in', [r.id for r in rows.values()])])
        return {name for name, row in rows.items() if row in found.sudo()}

    def test_users_see_what_their_documents_show(self):
        self.assertEqual(self.visible(self.agent, 'comm.message', self.rows),
                         {'on partner', 'on own lead', 'no document, readable contact', 'on archived contact'})
        self.assertEqual(self.visible(self.manager, 'comm.message', self.rows), set(self.rows))
        self.assertEqual(self.visible(self.agent, 'comm.call', self.calls), {'on own lead'})
        self.assertEqual(self.visible(self.manager, 'comm.call', self.calls), set(self.calls))
        with self.assertRaises(AccessError), mute_logger('odoo.addons.base.models.ir_rule'):
            self.rows['on other lead'].with_user(self.agent).read(['body'])

    def test_history_and_counts_follow(self):
        partner = self.partner.with_user(self.agent)
        # the partner's history: its messages and calls wherever made, minus those of the other's lead
        # (on partner, on own lead, no document; the other's lead hidden)
        self.assertEqual(partner.comm_message_count, 3)
        self.assertEqual(partner.comm_call_count, 0)
        self.assertEqual(len(partner.comm_history_ids), 3)
        self.assertEqual(self.partner.with_user(self.manager).comm_message_count, 4, 'counted per user')
        self.assertEqual(self.partner.with_user(self.manager).comm_call_count, 1)
        history = self.env['comm.history'].with_user(self.agent).search([])
        self.assertNotIn(self.rows['on other lead'], history.sudo().message_id)
        self.assertIn(self.rows['on own lead'], history.sudo().message_id)


@tagged('post_install', '-at_install')
class TestEvidence(WhatsappCase):
    """Webhook events, URLs and tokens: what nobody may change or see."""

    def setUp(self):
        super().setUp()
        self.twilio = self.account('twilio')
        self.manager = new_test_user(self.env, 'ev_manager', groups='comm_gateway.group_comm_manager')
        self.admin = new_test_user(self.env, 'ev_admin', groups='base.group_system,comm_gateway.group_comm_manager')
        self.agent = new_test_user(self.env, 'ev_agent', groups='comm_gateway.group_comm_user')
        self.env['comm.webhook.event']._receive(self.twilio, 'status', TestRights._signed_status(self))
        self.event = self.env['comm.webhook.event'].search([('provider_id', '=', self.twilio.id)])

    def test_raw_fields_are_read_only_for_everyone(self):
        raw = {'url': 'http://169.254.169.254/latest/', 'headers': {'X-Evil': '1'}, 'form_data': [['a', 'b']],
               'body': '{}', 'method': 'GET', 'provider_id': self.account('meta').id, 'state': 'pending'}
        for user in (self.manager, self.admin):
            for field, value in raw.items():
                with self.subTest(user=user.login, field=field), self.assertRaises(AccessError):
                    self.event.with_user(user).write({field: value})
        with self.assertRaises(AccessError):      # not even the superuser, outside the queue's code
            self.event.write({'url': 'http://elsewhere.example/'})
        with self.assertRaises(AccessError):
            self.env['comm.webhook.event'].with_user(self.admin).create({
                'provider_id': self.twilio.id, 'purpose': 'inbound', 'event_key': 'x'})
        self.assertEqual(self.event.url, self.twilio._webhook_url('status'))
        # the queue's own actions still work for administrators
        self.event._queue_write({'state': 'dead'})
        self.event.with_user(self.manager).action_reprocess()
        self.assertEqual(self.event.state, 'pending')

    def test_webhook_urls_are_for_administrators(self):
        self.assertTrue(self.twilio.with_user(self.manager).webhook_url_inbound)
        with self.assertRaises(AccessError), mute_logger('odoo.models'):
            self.twilio.with_user(self.agent).read(['webhook_url_inbound'])
        values = self.twilio.with_user(self.agent).web_read({'name': {}, 'code': {}, 'state': {}})
        self.assertNotIn(self.twilio.sudo().webhook_token, str(values))

    def test_token_never_logged(self):
        token = self.twilio.sudo().webhook_token
        request = TestRights._signed_status(self)
        request.headers['X-Twilio-Signature'] = 'forged'
        with self.assertLogs('odoo.addons.comm_gateway.models.comm_webhook_event', 'WARNING') as logs:
            self.assertEqual(self.env['comm.webhook.event']._receive(self.twilio, 'status', request), 'forged')
        self.assertNotIn(token, '\n'.join(logs.output))
        self.assertIn(f'comm.provider {self.twilio.id}', logs.output[0])
        # the access log line of a webhook request
        import logging  # noqa: PLC0415
        from ..tools.redact import RedactWebhookTokens  # noqa: PLC0415
        record = logging.LogRecord('werkzeug', logging.INFO, __file__, 1, '"%s" %s %s',
                                   (f'POST /comm/webhook/{token}/status HTTP/1.1', 403, 0), None)
        self.assertTrue(RedactWebhookTokens().filter(record))
        self.assertNotIn(token, record.getMessage())
        self.assertIn('/comm/webhook/<token>/status', record.getMessage())
        self.assertTrue(any(isinstance(f, RedactWebhookTokens) or type(f).__name__ == 'RedactWebhookTokens'
                            for f in logging.getLogger('werkzeug').filters))

    def test_composer_attaches_own_uploads_only(self):
        agent = new_test_user(self.env, 'ev_sender', groups='comm_gateway.group_comm_user,base.group_partner_manager')
        meta = self.account('meta')
        self.open_window(meta)
        private = self.env['ir.attachment'].create({'name': 'payroll.pdf', 'raw': b'%PDF-1.4 secret',
                                                    'mimetype': 'application/pdf'})
        others_upload = self.env['ir.attachment'].create({'name': 'theirs.jpg', 'raw': b'\xff\xd8', 'mimetype':
                                                          'image/jpeg', 'res_model': 'comm.whatsapp.composer'})
        own = self.env['ir.attachment'].with_user(agent).create({
            'name': 'mine.jpg', 'raw': b'\xff\xd8', 'mimetype': 'image/jpeg', 'res_model': 'comm.whatsapp.composer'})
        for foreign in (private, others_upload):
            composer = self.env['comm.whatsapp.composer'].with_user(agent).with_context(
                default_res_model='res.partner', default_res_id=self.partner.id).create({
                    'provider_id': meta.id, 'body': 'Hi', 'attachment_ids': [(6, 0, (own | foreign).ids)]})
            with self.subTest(foreign.name), self.assertRaises(AccessError):
                composer.action_send()
            self.assertFalse(self.env['comm.message'].search([('res_model', '=', 'res.partner'),
                                                              ('res_id', '=', self.partner.id), ('direction', '=', 'out')]))
        self.assertEqual(private.res_model, False, 'the private file stays where it was')
