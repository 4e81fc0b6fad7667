"""Who may call what: every public method of every model of the module, called as a portal user,
an internal user without our groups and a Communications User (as ``/web/dataset/call_kw`` would
call it), against one table. A refused call raises AccessError, changes nothing and contacts no
provider. A public method missing from the table fails the test: a new one must say who may call it.
"""
import inspect

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
        """``{(model, method)}`` of every public method our module defines on a concrete model."""
        found = set()
        for name in self.env.registry:
            model = self.env[name]
            if model._abstract:
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
        records = (self.twilio.sudo(), self.event, self.draft)
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
                        try:
                            with self.env.cr.savepoint(), mute_logger('odoo.addons.comm_gateway'):
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
                    with self.env.cr.savepoint(), mute_logger('odoo.addons.comm_gateway'):
                        call(Records(self, manager))
                except AccessError as exc:
                    if key[0] != 'comm.whatsapp.composer':   # someone else's composer: refused, rightly
                        self.fail(f'a Communications Administrator may call {key}: {exc}')
                except Exception:  # noqa: BLE001  business refusals are not the point here
                    pass
