"""Data governance: the consent trail, retention (purge and preview), a customer's export and erasure."""
import base64
import csv
import io
import json
import zipfile
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.addons.base.tests.test_ir_cron import CronMixinCase
from odoo.tests.common import TransactionCase
from odoo.tools import SQL, mute_logger

from ..models.comm_rights import number_formats
from ..tools.dispatch import TimeBudget
from .common import reported_progress

OWN = '+15005550006'
ALICE = '+32470000001'
BOB = '+32470000002'
PNG = b'\x89PNG\r\n\x1a\n' + b'\0' * 16


class GovernanceCase(CronMixinCase, TransactionCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider = cls.env['comm.provider'].create({
            'name': 'Sandbox', 'code': 'sandbox', 'channel_whatsapp': True, 'sms_from': OWN})
        cls.provider.company_id.comm_unknown_sender = 'create'
        cls.adapter = cls.provider._get_adapter()
        cls.Event = cls.env['comm.webhook.event']
        cls.alice = cls.env['res.partner'].create({'name': 'Alice', 'mobile': ALICE})
        cls.bob = cls.env['res.partner'].create({'name': 'Bob', 'mobile': BOB})
        cls.manager = new_test_user(cls.env, 'gov_manager', groups='comm_gateway.group_comm_manager,'
                                    'base.group_partner_manager')

    def receive(self, sender, body, **kw):
        request = self.adapter.simulate_inbound(self.provider.webhook_url_inbound, sender, OWN, body, **kw)
        self.assertEqual(self.Event._receive(self.provider, 'inbound', request), 'queued')
        with mute_logger('odoo.addons.comm_gateway.models.comm_message_media'):
            self.Event._cron_process()
            self.env['comm.message.media']._cron_fetch()
        return self.env['comm.message'].search([('provider_id', '=', self.provider.id)], limit=1)

    def age(self, records, days, fname='create_date'):
        """Make ``records`` ``days`` old."""
        records.flush_recordset()
        self.env.cr.execute(SQL('UPDATE %s SET %s = %s WHERE id IN %s', SQL.identifier(records._table),
                                SQL.identifier(fname), fields.Datetime.now() - timedelta(days=days),
                                tuple(records.ids)))
        records.invalidate_recordset()


@tagged('post_install', '-at_install')
class TestConsentTrail(GovernanceCase):

    def test_keyword_stop_then_start(self):
        stop = self.receive(ALICE, 'STOP')
        start = self.receive(ALICE, 'start')
        trail = self.alice.comm_consent_event_ids.sorted('id')
        self.assertEqual([(e.kind, e.source, e.number, e.message_id, e.channel, e.provider_id) for e in trail], [
            ('opt_out', 'keyword', ALICE, stop, 'sms', self.provider),
            ('opt_in', 'keyword', ALICE, start, 'sms', self.provider)])
        self.assertEqual(trail.company_id, self.provider.company_id)
        self.assertFalse(self.env['phone.blacklist'].search([('number', '=', ALICE)]), 'START restores')
        self.assertFalse(self.env['phone.blacklist']._comm_opted_out([ALICE]))

    def test_by_hand_and_by_import(self):
        Blacklist = self.env['phone.blacklist']
        entry = Blacklist.create({'number': ALICE})
        entry.action_archive()
        Blacklist.create({'number': ALICE})             # Odoo reactivates the entry
        Blacklist.with_context(import_file=True).create({'number': BOB})
        Blacklist.create({'number': BOB})               # already opted out: no change, no event
        trail = self.env['comm.consent.event'].search([('number', 'in', [ALICE, BOB])], order='id')
        self.assertEqual([(e.number, e.kind, e.source) for e in trail], [
            (ALICE, 'opt_out', 'manual'), (ALICE, 'opt_in', 'manual'), (ALICE, 'opt_out', 'manual'),
            (BOB, 'opt_out', 'import')])
        self.assertEqual(trail.user_id, self.env.user)
        self.assertEqual(trail.partner_id, self.alice | self.bob)

    def test_trail_is_evidence(self):
        Blacklist = self.env['phone.blacklist']
        Blacklist.create({'number': ALICE})
        event = self.alice.comm_consent_event_ids
        with self.assertRaises(AccessError):
            event.write({'kind': 'opt_in'})
        with self.assertRaises(AccessError):
            self.env['comm.consent.event'].create({'kind': 'opt_in', 'source': 'manual', 'number': ALICE})


@tagged('post_install', '-at_install')
class TestRetention(GovernanceCase):

    def setUp(self):
        super().setUp()
        self.company = self.provider.company_id
        self.company.write({'comm_keep_sms_days': 30, 'comm_keep_whatsapp_days': 90, 'comm_keep_media_days': 10,
                            'comm_keep_recording_days': 5, 'comm_keep_payload_days': 7})
        Message = self.env['comm.message']
        self.old_sms = self.receive(ALICE, 'An old secret')
        self.old_media = self.receive(ALICE, 'photo', channel='whatsapp', media=[(PNG, 'image/png', 'pic.png')])
        self.recent = self.receive(BOB, 'Recent')
        self.unsent = Message.create({'direction': 'out', 'provider_id': self.provider.id, 'to_number': BOB,
                                      'body': 'Not sent yet', 'dispatch_state': 'todo'})
        self.call = self.env['comm.call'].create({'direction': 'in', 'provider_id': self.provider.id,
                                                  'from_number': ALICE, 'recording_url': 'https://rec.example/1'})
        self.age(self.old_sms | self.unsent, 40)
        self.age(self.old_media, 20)
        self.age(self.call, 6, 'start_date')
        self.events = self.Event.search([('provider_id', '=', self.provider.id)])
        self.age(self.events, 8, 'processed_at')
        self.assertEqual(set(self.events.mapped('state')), {'done'})

    def test_preview_then_purge(self):
        preview = self.env['comm.retention.preview'].with_user(self.manager).create({})
        self.assertEqual(
            (preview.body_sms, preview.body_whatsapp, preview.media, preview.recording, preview.payload),
            (1, 0, 1, 1, 3), 'the old SMS text, the WhatsApp media (its text not 90 days old), the recording, '
                             'the three processed events')
        attachments = self.old_media.attachment_ids
        self.assertTrue(attachments)
        count = self.env['comm.message'].search_count([])
        self.env.ref('comm_gateway.ir_cron_comm_retention').method_direct_trigger()     # the daily cron

        self.assertEqual(self.old_sms.body, '[removed after 30 days]')
        self.assertIn('[removed after 30 days]', self.old_sms.mail_message_id.body)
        self.assertNotIn('An old secret', self.old_sms.mail_message_id.body)
        self.assertEqual((self.old_sms.direction, self.old_sms.state, self.old_sms.from_number),
                         ('in', 'received', ALICE), 'metadata kept')
        self.assertFalse(attachments.exists(), 'media deleted')
        self.assertEqual(self.old_media.body, 'photo', 'WhatsApp texts are kept 90 days')
        self.assertEqual((self.recent.body, self.unsent.body), ('Recent', 'Not sent yet'))
        self.assertFalse(self.call.recording_url)
        self.assertEqual(self.call.from_number, ALICE)
        self.assertFalse(self.events.exists(), 'raw payloads deleted')
        self.assertEqual(self.env['comm.message'].search_count([]), count, 'statistics unchanged')
        preview = self.env['comm.retention.preview'].create({})
        self.assertEqual((preview.body_sms, preview.media, preview.recording, preview.payload), (0, 0, 0, 0))

    def test_purge_in_bounded_batches(self):
        self.age(self.recent, 40)
        # the budget is spent before anything: nothing done, and the cron goes on in a run of its own
        cron = self.env.ref('comm_gateway.ir_cron_comm_retention')
        with self.capture_triggers(cron.id) as triggers:
            reported = reported_progress(self.env, lambda: self.env['comm.retention']._cron_purge(
                budget=TimeBudget(0)))
        self.assertEqual(reported, [(0, 0)])
        self.assertEqual(len(triggers.records), 1)
        self.assertEqual(self.recent.body, 'Recent')
        self.env['comm.retention']._cron_purge(batch_size=1)
        self.assertEqual((self.old_sms | self.recent).mapped('body'), ['[removed after 30 days]'] * 2)
        self.assertTrue((self.old_sms | self.recent).mapped('body_removed'))

    def test_payload_retention_of_the_queue(self):
        self.company.comm_keep_payload_days = 30
        self.assertEqual(self.Event._gc_count(self.company), 0)
        self.assertEqual(self.Event._gc_done_events(), 0, 'processed events 8 days old are kept 30 days')
        self.assertEqual(len(self.events.exists()), 3)


@tagged('post_install', '-at_install')
class TestCustomerRights(GovernanceCase):

    def setUp(self):
        super().setUp()
        self.hello = self.receive(ALICE, f'Hello, call me back on {ALICE}', channel='whatsapp',
                                  profile_name='Alice WA', media=[(PNG, 'image/png', 'me.png')])
        self.stop = self.receive(ALICE, 'STOP')
        self.reply = self.env['comm.message'].create({
            'direction': 'out', 'provider_id': self.provider.id, 'from_number': OWN, 'to_number': ALICE,
            'body': 'Sure', 'state': 'delivered', 'partner_id': self.alice.id})
        self.call = self.env['comm.call'].create({
            'direction': 'in', 'provider_id': self.provider.id, 'from_number': ALICE, 'to_number': OWN,
            'partner_id': self.alice.id, 'recording_url': 'https://rec.example/2', 'duration': 42})
        self.other = self.receive(BOB, 'Bob here')

    def test_export(self):
        action = self.alice.with_user(self.manager).action_comm_export()
        export = self.env['comm.partner.export'].search([('partner_id', '=', self.alice.id)])
        self.assertIn(f'/web/content/comm.partner.export/{export.id}/file/', action['url'])
        archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(export.file)))
        data = json.loads(archive.read('communications.json'))
        self.assertEqual(data['contact']['numbers'], [ALICE])
        self.assertEqual(data['opted_out'], [ALICE])
        self.assertEqual([(m['direction'], m['channel'], m['body']) for m in data['messages']], [
            ('in', 'whatsapp', f'Hello, call me back on {ALICE}'), ('in', 'sms', 'STOP'), ('out', 'sms', 'Sure')])
        self.assertEqual(data['messages'][0]['media'], ['me.png'])
        self.assertEqual(data['messages'][0]['profile_name'], 'Alice WA')
        self.assertEqual([(c['duration'], c['recording']) for c in data['calls']], [(42, 'https://rec.example/2')])
        self.assertEqual([(e['kind'], e['source'], e['message_id']) for e in data['consent']],
                         [('opt_out', 'keyword', self.stop.id)])
        self.assertNotIn('Bob here', json.dumps(data))
        rows = list(csv.reader(io.StringIO(archive.read('communications.csv').decode())))
        self.assertEqual(rows[0][:3], ['date', 'kind', 'channel'])
        self.assertEqual(sorted(row[1] for row in rows[1:]), ['call', 'message', 'message', 'message', 'opt_out'])

    def test_erase_leaves_no_trace_of_the_number(self):
        hello_post, media = self.hello.mail_message_id, self.hello.attachment_ids
        self.assertTrue(media)
        self.assertLessEqual({
            ('comm_message', 'body'), ('comm_message', 'from_number'), ('comm_message', 'to_number'),
            ('comm_call', 'from_number'), ('comm_webhook_event', 'body'), ('comm_consent_event', 'number'),
            ('mail_message', 'body'), ('phone_blacklist', 'number'), ('res_partner', 'mobile'),
        }, set(self.find_number(ALICE)), 'the number was in all these before')
        self.alice.with_user(self.manager).action_comm_erase()

        self.assertEqual(self.find_number(ALICE), [], 'the number is nowhere, in any format')
        self.assertEqual((self.hello.body, self.hello.profile_name, self.hello.from_number), (False, False, False))
        self.assertEqual((self.hello.direction, self.hello.state, self.hello.channel), ('in', 'received', 'whatsapp'))
        self.assertIn('[erased]', hello_post.body)
        self.assertFalse(media.exists())
        self.assertEqual((self.call.from_number, self.call.recording_url, self.call.duration), (False, False, 42))
        self.assertEqual(self.other.body, 'Bob here', "others' messages untouched")
        self.assertTrue(self.Event.search([('provider_id', '=', self.provider.id), ('body', 'ilike', BOB[1:])]))
        # opted out: never texted again, though only a hash is left
        self.assertFalse(self.env['phone.blacklist'].with_context(active_test=False).search([('number', '=', ALICE)]))
        self.assertEqual(self.env['phone.blacklist']._comm_opted_out([ALICE]), {ALICE})
        with self.assertRaises(UserError):
            self.env['comm.message']._queue_from_chatter('sms', self.provider, self.alice, self.alice, ALICE,
                                                         'Promo', [self.env['ir.attachment']])
        consent = self.env['comm.consent.event'].search([('partner_id', '=', self.alice.id)])
        self.assertEqual((consent.kind, consent.number), ('opt_out', False), 'the trail stays, by hash')
        erasure = self.env['comm.erasure'].search([('partner_id', '=', self.alice.id)])
        self.assertEqual((erasure.user_id, erasure.number_count, erasure.message_count, erasure.call_count),
                         (self.manager, 1, 3, 1))
        self.assertEqual((erasure.event_count, erasure.hashed_count), (2, 1))
        # the person writes START later: the block is lifted, the trail says so
        start = self.receive(ALICE, 'START')
        self.assertFalse(self.env['phone.blacklist']._comm_opted_out([ALICE]))
        self.assertEqual(self.env['comm.consent.event'].search([('message_id', '=', start.id)]).kind, 'opt_in')

    def test_only_administrators(self):
        user = new_test_user(self.env, 'gov_user', groups='comm_gateway.group_comm_user,base.group_partner_manager')
        for action in ('action_comm_export', 'action_comm_erase'):
            with self.subTest(action=action), self.assertRaises(AccessError):
                getattr(self.alice.with_user(user), action)()
        with self.assertRaises(AccessError):
            self.Event.with_user(user).sudo()._erase_payloads([ALICE])
        self.assertEqual(self.hello.body, f'Hello, call me back on {ALICE}')

    def find_number(self, number):
        """``[(table, column)]`` holding ``number`` in any format: every text column of our tables,
        of the chatter, the blacklist, the contacts and Odoo's SMS tables."""
        self.env.flush_all()
        patterns = [f'%{written}%' for written in number_formats(number)]
        models = [name for name in self.env.registry if name.startswith('comm.')] + [
            'mail.message', 'mail.notification', 'mail.tracking.value', 'phone.blacklist', 'res.partner',
            'sms.sms', 'sms.tracker']
        found = []
        for name in models:
            model = self.env[name]
            if model._abstract or not model._auto:
                continue
            for fname, field in model._fields.items():
                if field.store and field.column_type and field.type in ('char', 'text', 'html', 'json'):
                    self.env.cr.execute(SQL('SELECT count(*) FROM %s WHERE %s::text ILIKE ANY(%s)',
                                            SQL.identifier(model._table), SQL.identifier(fname), patterns))
                    if self.env.cr.fetchone()[0]:
                        found.append((model._table, fname))
        return found


@tagged('post_install', '-at_install')
class TestExportDownload(HttpCase):
    """The export is downloaded over HTTP by the administrator who made it, and by nobody else."""

    def test_download(self):
        partner = self.env['res.partner'].create({'name': 'Carol', 'mobile': ALICE})
        self.env['phone.blacklist'].create({'number': ALICE})
        manager = new_test_user(self.env, 'gov_dl_manager', groups='comm_gateway.group_comm_manager,'
                                'base.group_partner_manager')
        new_test_user(self.env, 'gov_dl_other', groups='comm_gateway.group_comm_manager,base.group_partner_manager')
        url = partner.with_user(manager).action_comm_export()['url']
        self.authenticate('gov_dl_manager', 'gov_dl_manager')
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200)
        data = json.loads(zipfile.ZipFile(io.BytesIO(response.content)).read('communications.json'))
        self.assertEqual((data['contact']['name'], data['opted_out']), ('Carol', [ALICE]))
        self.assertEqual([(e['kind'], e['source']) for e in data['consent']], [('opt_out', 'manual')])
        self.authenticate('gov_dl_other', 'gov_dl_other')
        with mute_logger('odoo.http', 'odoo.addons.base.models.ir_rule', 'odoo.models'):
            response = self.url_open(url)
        self.assertNotEqual(response.status_code, 200, "another administrator's export is not theirs to download")
        self.assertNotIn(ALICE.encode(), response.content)


@tagged('post_install', '-at_install')
class TestGovernanceUi(HttpCase):

    def setUp(self):
        super().setUp()
        self.provider = self.env['comm.provider'].create({
            'name': 'Sandbox', 'code': 'sandbox', 'channel_whatsapp': True, 'sms_from': OWN})

    def test_consent_trail_and_erasure(self):
        partner = self.env['res.partner'].create({'name': 'Dora', 'mobile': ALICE})
        self.env['comm.message'].create({
            'direction': 'in', 'provider_id': self.provider.id, 'from_number': ALICE, 'to_number': OWN,
            'body': 'Hi', 'state': 'received', 'partner_id': partner.id})
        self.env['phone.blacklist'].create({'number': ALICE})
        self.env.ref('base.user_admin').groups_id += self.env.ref('comm_gateway.group_comm_manager')
        self.start_tour(f'/odoo/res.partner/{partner.id}', 'comm_gateway_consent_erase_tour', login='admin')
        self.assertFalse(partner.mobile)
        self.assertTrue(self.env['comm.erasure'].search([('partner_id', '=', partner.id)]))

    def test_retention_preview(self):
        message = self.env['comm.message'].create({
            'direction': 'in', 'channel': 'whatsapp', 'provider_id': self.provider.id, 'from_number': ALICE,
            'body': 'Old', 'state': 'received'})
        self.env.cr.execute(SQL("UPDATE comm_message SET create_date = %s WHERE id = %s",
                                fields.Datetime.now() - timedelta(days=40), message.id))
        self.env.ref('base.user_admin').groups_id += self.env.ref('comm_gateway.group_comm_manager')
        self.env.ref('base.main_company').comm_keep_whatsapp_days = 30
        self.assertEqual(self.env['comm.retention']._preview(self.provider.company_id)['body_whatsapp'], 1,
                         (self.provider.company_id, self.env.ref('base.main_company')))
        self.start_tour('/odoo/action-comm_gateway.action_comm_config_settings',
                        'comm_gateway_retention_preview_tour', login='admin')
        self.assertEqual(message.body, 'Old', 'a preview removes nothing')
