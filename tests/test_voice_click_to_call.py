"""Click-to-call through the model, against the local fake provider (Twilio, Plivo, Vonage) and
the Sandbox: the right endpoint, auth and call-control, the call log, errors. PROTOCOLS 1.7, 2.7, 3.9."""
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, urlsplit

import jwt

from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import CommWebhookMixin, FakeProviderMixin
from .test_provider_vonage import _private_key_pem

SID = 'AC' + '0123456789abcdef' * 2
PLIVO_ID = 'MA' + 'B' * 18
OUR_NUMBER = '+15005550006'
AGENT = '+33612345678'
CUSTOMER = '+14155550123'
BASE = 'https://odoo.example.com'
LOGGERS = ('odoo.addons.comm_gateway.models.comm_call', 'odoo.addons.comm_gateway.models.comm_webhook_event')


@tagged('post_install', '-at_install')
class TestVoice(FakeProviderMixin, CommWebhookMixin, TransactionCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.private_key, cls.public_key = _private_key_pem()

    def setUp(self):
        super().setUp()
        self.env['ir.config_parameter'].set_param('comm_gateway.public_base_url', BASE)
        self.env.user.comm_agent_phone = '06 12 34 56 78'
        self.env.user.country_id = self.env.ref('base.fr')
        self.partner = self.env['res.partner'].create({
            'name': 'Jordan Lee', 'phone': '(415) 555-0123', 'country_id': self.env.ref('base.us').id})

    def account(self, code, **values):
        credentials = {
            'twilio': {'twilio_account_sid': SID, 'twilio_auth_token': 'twilio-token'},
            'plivo': {'plivo_auth_id': PLIVO_ID, 'plivo_auth_token': 'plivo-token'},
            'vonage': {'vonage_api_key': 'abcd1234', 'vonage_api_secret': 'ApiSecret99',
                       'vonage_signature_secret': 's' * 40, 'vonage_application_id': 'app-123',
                       'vonage_private_key': self.private_key},
            'sandbox': {},
        }[code]
        provider = self.env['comm.provider'].create({
            'name': code, 'code': code, 'channel_voice': True, 'voice_from': OUR_NUMBER,
            'api_base_url': self.fake.base_url, **credentials, **values})
        self.env.company.comm_voice_provider_id = provider
        return provider

    def click(self, number='(415) 555-0123', record=None):
        record = record or self.partner
        return self.env['comm.call'].action_click_to_call(number, record._name, record.id)

    def last_call(self):
        return self.env['comm.call'].search([], order='id desc', limit=1)

    def assertCallLogged(self, provider, provider_call_id, state='initiated'):
        call = self.last_call()
        self.assertRecordValues(call, [{
            'direction': 'out', 'provider_id': provider.id, 'from_number': OUR_NUMBER, 'to_number': CUSTOMER,
            'partner_id': self.partner.id, 'user_id': self.env.uid, 'res_model': 'res.partner',
            'res_id': self.partner.id, 'provider_call_id': provider_call_id, 'state': state}])
        return call

    # -- per provider -----------------------------------------------------------------------------

    def test_twilio_calls_api_with_inline_twiml(self):
        provider = self.account('twilio')
        self.fake.route('POST', rf'/2010-04-01/Accounts/{SID}/Calls.json', 201,
                        json={'sid': 'CA' + '1' * 32, 'status': 'queued'})
        action = self.click()
        self.assertEqual(action['params']['type'], 'info')
        call = self.assertCallLogged(provider, 'CA' + '1' * 32)
        request = self.fake.last('POST', 'Calls.json')
        self.assertTrue(request.headers['authorization'].startswith('Basic '))
        form = request.form_dict()
        self.assertEqual((form['To'], form['From']), (AGENT, OUR_NUMBER), 'the agent\'s phone rings first')
        self.assertEqual(form['StatusCallback'], provider.webhook_url_voice_status)
        dial = ET.fromstring(form['Twiml']).find('Dial')
        self.assertEqual(dial.find('Number').text, CUSTOMER, 'then the customer is dialed')
        self.assertEqual(dial.get('callerId'), OUR_NUMBER)
        self.assertEqual(dial.get('action'), provider._webhook_url('voice_dialed'))
        self.env.invalidate_all()
        self.assertIn(call, self.partner.comm_history_ids.call_id)

    def test_plivo_call_api_with_answer_url(self):
        provider = self.account('plivo')
        self.fake.route('POST', rf'/v1/Account/{PLIVO_ID}/Call/', 201,
                        json={'api_id': 'a1', 'message': 'call fired', 'request_uuid': 'req-1'})
        self.click()
        self.assertCallLogged(provider, 'req-1')
        request = self.fake.last('POST', '/Call/')
        self.assertTrue(request.headers['authorization'].startswith('Basic '))
        body = request.json()
        self.assertEqual((body['from'], body['to']), (OUR_NUMBER[1:], AGENT[1:]))
        answer = urlsplit(body['answer_url'])
        self.assertEqual(f'{answer.scheme}://{answer.netloc}{answer.path}', provider.webhook_url_voice)
        self.assertEqual(dict(parse_qsl(answer.query)), {'comm_to': CUSTOMER},
                         'the answer URL (signed with its query) dials the customer')
        self.assertEqual(body['hangup_url'], provider.webhook_url_voice_status)

    def test_vonage_voice_api_with_ncco_connect(self):
        provider = self.account('vonage')
        self.fake.route('POST', '/v1/calls', 201, json={
            'uuid': 'leg-a', 'status': 'started', 'direction': 'outbound', 'conversation_uuid': 'CON-1'})
        self.click()
        call = self.assertCallLogged(provider, 'leg-a')
        self.assertEqual(call.provider_parent_id, 'CON-1')
        request = self.fake.last('POST', '/v1/calls')
        scheme, _, token = request.headers['authorization'].partition(' ')
        self.assertEqual(scheme, 'Bearer')
        self.assertEqual(jwt.decode(token, self.public_key, algorithms=['RS256'])['application_id'], 'app-123')
        body = request.json()
        self.assertEqual(body['to'], [{'type': 'phone', 'number': AGENT[1:]}])
        self.assertEqual(body['event_url'], [provider.webhook_url_voice_status])
        [connect] = body['ncco']
        self.assertEqual((connect['action'], connect['from'], connect['endpoint']),
                         ('connect', OUR_NUMBER[1:], [{'type': 'phone', 'number': CUSTOMER[1:]}]))
        self.assertEqual(connect['eventUrl'], [provider._webhook_url('voice_dialed')])

    # -- errors -----------------------------------------------------------------------------------

    @mute_logger(*LOGGERS)
    def test_provider_errors_show_and_stay_on_the_call(self):
        cases = [
            ('twilio', rf'/2010-04-01/Accounts/{SID}/Calls.json', 400,
             {'code': 21211, 'message': "The 'To' number is not a valid phone number.", 'status': 400}, '21211'),
            ('plivo', rf'/v1/Account/{PLIVO_ID}/Call/', 401, {'error': 'authentication failed'}, '401'),
            ('vonage', '/v1/calls', 402, {'type': 'https://developer.vonage.com/api-errors#low-balance',
                                          'title': 'Low balance', 'detail': 'Add funds to your account'}, 'low-balance'),
        ]
        for code, path, status, payload, error_code in cases:
            with self.subTest(code=code):
                self.fake.route('POST', path, status, json=payload)
                self.account(code)
                action = self.click()
                call = self.last_call()
                self.assertEqual((call.state, call.hangup_cause), ('failed', error_code))
                self.assertTrue(call.error_message)
                self.assertEqual(action['params']['type'], 'danger')
                self.assertEqual(action['params']['message'], call.error_message)
                self.assertTrue(call.end_date)

    def test_missing_agent_phone_is_asked(self):
        """No phone for calls (or one that is no number): a dialog asks it, saves it on the user
        and the call goes on."""
        self.account('sandbox')
        for phone in (False, 'not a number'):
            self.env.user.comm_agent_phone = phone
            action = self.click()
            self.assertEqual((action['res_model'], action['target']), ('comm.agent.phone', 'new'), phone)
        self.assertFalse(self.env['comm.call'].search([]), 'nothing is logged, nothing is called')
        dialog = self.env['comm.agent.phone'].with_context(action['context']).create({'phone': 'still no number'})
        with self.assertRaisesRegex(UserError, 'is not a phone number'):
            dialog.action_save_and_call()
        dialog.phone = '06 12 34 56 78'
        result = dialog.action_save_and_call()
        self.assertEqual(self.env.user.comm_agent_phone, '06 12 34 56 78', 'saved on the user')
        self.assertEqual(result['tag'], 'display_notification')
        self.assertEqual((self.last_call().res_model, self.last_call().res_id), ('res.partner', self.partner.id),
                         'the call goes on, from the record it was asked from')

    def test_no_voice_account_or_bad_number(self):
        self.env.company.comm_voice_provider_id = False
        with self.assertRaisesRegex(UserError, 'No voice account'):
            self.click()
        self.account('sandbox')
        with self.assertRaisesRegex(UserError, 'not a phone number'):
            self.click('12')

    # -- the Sandbox, end to end through the queue -------------------------------------------------

    @mute_logger(*LOGGERS)
    def test_sandbox_rings_answers_completes(self):
        self.account('sandbox')
        self.click()
        call = self.last_call()
        self.assertTrue(call.provider_call_id.startswith('SC'))
        self.assertEqual(call.state, 'initiated', 'the events wait in the queue')
        self.run_queue()
        self.assertRecordValues(call, [{'state': 'completed', 'duration': 42}])
        self.assertTrue(call.answer_date and call.end_date)
        self.assertIn('Outgoing call with Jordan Lee — 42 s, answered', self.partner.message_ids[0].body)

    @mute_logger(*LOGGERS)
    def test_sandbox_unreachable_number_fails(self):
        self.account('sandbox')
        self.click('+1 415 555 0199')
        self.run_queue()
        call = self.last_call()
        self.assertEqual((call.state, call.to_number, call.partner_id), ('failed', '+14155550199', self.partner))
        self.assertIn('Outgoing call to Jordan Lee — failed', self.partner.message_ids[0].body)

    @mute_logger(*LOGGERS)
    def test_call_from_any_record_notes_its_chatter(self):
        self.account('sandbox')
        other = self.env['res.partner'].create({'name': 'Acme', 'is_company': True})
        self.env['comm.call'].action_click_to_call('+32 470 12 34 56', other._name, other.id)
        self.run_queue()
        call = self.last_call()
        self.assertEqual((call.res_model, call.res_id, call.state), ('res.partner', other.id, 'completed'))
        self.assertIn('42 s, answered', other.message_ids[0].body)
