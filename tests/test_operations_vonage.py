"""Vonage's status lookup and message list through its Reports API (``GET /v2/reports/records``),
a paid product each account opts in to: the stale-status cron and the reconciliation report
against the local fake provider answering in the documented record format."""
import base64
from datetime import datetime, timedelta

from odoo.exceptions import UserError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from .common import FakeProviderMixin
from .fake_provider import vonage_record, vonage_records
from .test_operations import LOGGERS, OURS, TO, OperationsCase

API_KEY, API_SECRET = 'abcd1234', 'ApiSecret99'
RECORDS = r'/v2/reports/records'
SMS_ID, SMS_LOST = '0A00000012ABCD34', '0A00000012ABCD35'
WA_ID = 'aaaaaaaa-bbbb-cccc-dddd-0123456789ab'
BASIC = 'Basic ' + base64.b64encode(f'{API_KEY}:{API_SECRET}'.encode()).decode()


def answer(pages):
    """A fake records endpoint: Basic auth checked, then ``pages[(product, direction, cursor)]``."""
    def respond(request):
        if request.headers.get('authorization') != BASIC:
            return 401, {'type': 'https://developer.nexmo.com/api-errors#unauthorized', 'title': 'Unauthorized'}
        query = dict(request.query)
        return pages[query['product'], query['direction'], query.get('cursor')](query)
    return respond


class VonageReportsCase(OperationsCase):

    def setUp(self):
        super().setUp()
        self.vonage = self.env['comm.provider'].create({
            'name': 'Vonage', 'code': 'vonage', 'vonage_api_key': API_KEY, 'vonage_api_secret': API_SECRET,
            'vonage_reports_api': True, 'sms_from': OURS, 'whatsapp_from': OURS,
            'api_base_url': self.fake.base_url, 'timeout': 5, 'rate_limit': 0})

    def page(self, product, direction, records=(), **kwargs):
        return lambda query: vonage_records(self.fake.base_url, API_KEY, product, direction, records, **kwargs)


@tagged('post_install', '-at_install')
class TestVonageStaleStatuses(VonageReportsCase):

    @mute_logger(*LOGGERS)
    def test_records_asked_by_id_only_for_accounts_using_the_reports_api(self):
        without = self.env['comm.provider'].create({
            'name': 'Vonage without reports', 'code': 'vonage', 'vonage_api_key': 'efgh5678',
            'vonage_api_secret': 'other', 'api_base_url': self.fake.base_url})
        sms = self.sent(SMS_ID, provider=self.vonage)
        whatsapp = self.sent(WA_ID, provider=self.vonage, channel='whatsapp')
        lost = self.sent(SMS_LOST, provider=self.vonage)
        untouched = self.sent('0A00000012ABCD36', provider=without)

        def by_id(query):
            product, wanted = query['product'], query['id']
            found = {SMS_ID: vonage_record(SMS_ID, TO[1:], status='expired', error_code='2',
                                           error_description='Absent subscriber', finalized='2026-01-02T10:05:00+0000'),
                     WA_ID: vonage_record(WA_ID, TO[1:], status='rejected', error_code='1300', product='MESSAGES',
                                          provider='whatsapp')}
            record = found.get(wanted)
            return vonage_records(self.fake.base_url, API_KEY, product, 'outbound', [record] if record else [],
                                  ids_not_found=None if record else [wanted])
        self.fake.route('GET', RECORDS, 200, json=answer({
            ('SMS', 'outbound', None): by_id, ('MESSAGES', 'outbound', None): by_id}))
        self.assertEqual(self.env['comm.message']._cron_poll_statuses(), 3, 'the account without reports is not asked')
        self.assertEqual((sms.state, sms.error_code, sms.failure_type), ('undelivered', '2', 'unknown'))
        self.assertEqual((whatsapp.state, whatsapp.error_code, whatsapp.failure_type),
                         ('failed', '1300', 'sms_number_format'))
        self.assertEqual(lost.state, 'sent')
        self.assertEqual(self.steps(lost)[-1], ('poll', ''))
        self.assertIn('no record of message', lost.step_ids[-1].detail)
        self.assertEqual((untouched.state, untouched.status_checked_at), ('sent', False))
        asked = {dict(r.query)['id']: dict(r.query) for r in self.fake.requests}
        self.assertEqual(set(asked), {SMS_ID, WA_ID, SMS_LOST})
        self.assertEqual(asked[SMS_ID], {'account_id': API_KEY, 'product': 'SMS', 'direction': 'outbound', 'id': SMS_ID})
        self.assertEqual(asked[WA_ID]['product'], 'MESSAGES')
        self.assertTrue(all(r.headers['authorization'] == BASIC for r in self.fake.requests))

    @mute_logger(*LOGGERS)
    def test_refused_credentials_are_noted(self):
        self.vonage.vonage_api_secret = 'wrong'
        message = self.sent(SMS_ID, provider=self.vonage)
        self.fake.route('GET', RECORDS, 200, json=answer({}))
        self.assertEqual(self.env['comm.message']._cron_poll_statuses(), 1)
        self.assertEqual((message.state, self.steps(message)[-1]), ('sent', ('poll', '')))
        self.assertIn('401', message.step_ids[-1].detail)


@tagged('post_install', '-at_install')
class TestVonageReconciliation(VonageReportsCase):

    def setUp(self):
        super().setUp()
        self.manager = new_test_user(self.env, 'vonage_reconcile_manager', groups='comm_gateway.group_comm_manager')

    def wizard(self, provider, since=datetime(2026, 1, 2), until=datetime(2026, 1, 3)):
        return self.env['comm.reconcile.wizard'].with_user(self.manager).create({
            'provider_id': provider.id, 'date_from': since, 'date_to': until})

    @mute_logger(*LOGGERS)
    def test_records_compared_with_odoo_and_fixed(self):
        at = datetime(2026, 1, 2, 10, 0)
        matching = self.sent(SMS_ID, provider=self.vonage, state='delivered', attempt_at=at)
        behind = self.sent(WA_ID, provider=self.vonage, channel='whatsapp', attempt_at=at)
        self.sent(SMS_LOST, provider=self.vonage, attempt_at=at, body='lost at Vonage')
        sms_out = [vonage_record(SMS_ID, TO[1:])]
        sms_in = [vonage_record('0B00000000000001', OURS[1:], from_=TO[1:], direction='inbound',
                                body='Where is my order?')]
        wa_out = [vonage_record(WA_ID, TO[1:], status='delivered', product='MESSAGES', provider='whatsapp'),
                  vonage_record('cccccccc-0000-4000-8000-000000000001', TO[1:], product='MESSAGES',
                                provider='viber_service')]
        self.fake.route('GET', RECORDS, 200, json=answer({
            ('SMS', 'outbound', None): self.page('SMS', 'outbound', cursor='MTY0OTQ3ODAwMDAwMA'),
            ('SMS', 'outbound', 'MTY0OTQ3ODAwMDAwMA'): self.page('SMS', 'outbound', sms_out),
            ('SMS', 'inbound', None): self.page('SMS', 'inbound', sms_in),
            ('MESSAGES', 'outbound', None): self.page('MESSAGES', 'outbound', wa_out),
            ('MESSAGES', 'inbound', None): self.page('MESSAGES', 'inbound'),
        }))
        wizard = self.wizard(self.vonage)
        wizard.action_compare()
        first = dict(self.fake.requests[0].query)
        self.assertEqual(first, {'account_id': API_KEY, 'product': 'SMS', 'direction': 'outbound',
                                 'include_message': 'true', 'date_start': '2026-01-02T00:00:00Z',
                                 'date_end': '2026-01-03T00:00:00Z'})
        self.assertEqual(dict(self.fake.requests[1].query)['cursor'], 'MTY0OTQ3ODAwMDAwMA', 'the next page')
        self.assertEqual((wizard.listed_count, wizard.known_count, wizard.complete), (3, 3, True),
                         'a Viber record is none of ours')
        self.assertEqual(sorted((line.kind, line.provider_message_id) for line in wizard.line_ids), [
            ('mismatch', WA_ID), ('missing_odoo', '0B00000000000001'), ('missing_provider', SMS_LOST)])
        self.assertEqual(matching.state, 'delivered')
        # one click: the missing inbound SMS recorded as its webhook would have been
        wizard.action_import_missing()
        inbound = self.env['comm.message'].search([('provider_message_id', '=', '0B00000000000001')])
        self.assertEqual((inbound.direction, inbound.from_number, inbound.body), ('in', TO, 'Where is my order?'))
        self.assertEqual(inbound.received_at, at)
        # the other: its record asked again by id, through the status path
        self.fake.route('GET', RECORDS, 200, json=answer({
            ('SMS', 'outbound', None): self.page('SMS', 'outbound', sms_out),
            ('SMS', 'inbound', None): self.page('SMS', 'inbound', sms_in),
            ('MESSAGES', 'outbound', None): lambda query: vonage_records(
                self.fake.base_url, API_KEY, 'MESSAGES', 'outbound', wa_out[:1] if query.get('id') else wa_out),
            ('MESSAGES', 'inbound', None): self.page('MESSAGES', 'inbound'),
        }))
        wizard.action_refresh_statuses()
        self.assertEqual(behind.state, 'delivered')
        self.assertTrue(any(dict(r.query).get('id') == WA_ID for r in self.fake.requests))
        self.assertEqual(sorted((line.kind, line.provider_message_id) for line in wizard.line_ids),
                         [('missing_provider', SMS_LOST)], 'compared again')

    @mute_logger(*LOGGERS)
    def test_a_long_period_is_asked_24_hours_at_a_time_and_a_long_list_is_incomplete(self):
        self.sent(SMS_LOST, provider=self.vonage, attempt_at=datetime(2026, 1, 2, 10))
        self.fake.route('GET', RECORDS, 200, json=lambda request: vonage_records(
            self.fake.base_url, API_KEY, dict(request.query)['product'], dict(request.query)['direction'], []))
        wizard = self.wizard(self.vonage, datetime(2026, 1, 2), datetime(2026, 1, 3, 6))
        wizard.action_compare()
        windows = sorted({(dict(r.query)['date_start'], dict(r.query)['date_end']) for r in self.fake.requests})
        self.assertEqual(windows, [('2026-01-02T00:00:00Z', '2026-01-03T00:00:00Z'),
                                   ('2026-01-03T00:00:00Z', '2026-01-03T06:00:00Z')])
        self.assertEqual(len(self.fake.requests), 8, '2 windows x 2 products x 2 directions')
        self.assertTrue(wizard.complete)
        self.assertEqual(wizard.line_ids.mapped('kind'), ['missing_provider'])
        self.fake.route('GET', RECORDS, 200, json=lambda request: vonage_records(
            self.fake.base_url, API_KEY, 'SMS', 'outbound', [vonage_record(SMS_ID, TO[1:])], cursor='more'))
        from ..wizard import comm_reconcile  # noqa: PLC0415
        self.patch(comm_reconcile, 'LIST_LIMIT', 1)
        wizard.action_compare()
        self.assertFalse(wizard.complete)
        self.assertEqual(wizard.line_ids.mapped('kind'), ['missing_odoo'],
                         'what Odoo alone knows is not called missing')

    def test_an_account_without_the_reports_api_cannot_be_reconciled(self):
        self.assertTrue(self.vonage._get_adapter().message_list)
        self.vonage.state = 'connected'
        self.vonage.vonage_reports_api = False
        self.assertFalse(self.vonage._get_adapter().message_list, 'the cached adapter is rebuilt')
        self.assertEqual(self.vonage.state, 'connected', 'not a credential: the connection test stands')
        self.assertNotIn(self.vonage, self.env['comm.provider'].search(
            self.env['comm.provider']._able_domain('message_list')))
        with self.assertRaisesRegex(UserError, 'no list of messages'):
            self.wizard(self.vonage).action_compare()
        self.assertFalse(self.fake.requests)


@tagged('post_install', '-at_install')
class TestVonageReportsAdapter(FakeProviderMixin, TransactionCase):

    def adapter(self, **options):
        return self.make_adapter('vonage', {'api_key': API_KEY, 'api_secret': API_SECRET}, **options)

    def test_off_by_default_no_lookup_no_list(self):
        adapter = self.adapter()
        self.assertFalse(adapter.status_lookup or adapter.message_list)
        self.assertIsNone(adapter.fetch_status(SMS_ID))
        with self.assertRaisesRegex(Exception, 'no list of messages'):
            adapter.list_messages(datetime(2026, 1, 2), datetime(2026, 1, 3))
        self.assertFalse(self.fake.requests)

    def test_the_next_page_is_asked_of_our_own_host_only(self):
        """A next link naming another host: only its query is used, the credentials stay with ours."""
        elsewhere = 'https://reports.example.com'
        self.fake.route('GET', RECORDS, 200, json=lambda request: vonage_records(
            elsewhere, API_KEY, dict(request.query)['product'], dict(request.query)['direction'], [],
            cursor=None if dict(request.query).get('cursor') else 'NEXT'))
        listed, complete = self.adapter(reports_api=True).list_messages(
            datetime(2026, 1, 2), datetime(2026, 1, 2) + timedelta(hours=1))
        self.assertEqual((listed, complete), ([], True))
        self.assertEqual([dict(r.query).get('cursor') for r in self.fake.requests], [None, 'NEXT'] * 4)
        self.assertTrue(all(r.headers['authorization'] == BASIC for r in self.fake.requests))
