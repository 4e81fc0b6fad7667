"""The spending and rate guard of an account, applied where the dispatch claims messages: a daily
cap (the rest waits for the next day, saying so) and refused destinations (premium rate, countries
outside the allowed list)."""
from datetime import datetime, timedelta

import pytz

from odoo import fields
from odoo.tests import tagged

from .whatsapp_common import WhatsappCase

BELGIAN, FRENCH, FRENCH_PREMIUM = '+32470123456', '+33612345678', '+33899123456'
INMARSAT = '+870772001788'      # a valid mobile number of no country (libphonenumber's region 001)


@tagged('post_install', '-at_install')
class TestSendGuard(WhatsappCase):

    def setUp(self):
        super().setUp()
        self.sandbox = self.account('sandbox', channel_sms=True)

    def queue(self, *numbers):
        now = fields.Datetime.now()
        return self.env['comm.message'].create([{
            'direction': 'out', 'channel': 'sms', 'provider_id': self.sandbox.id, 'to_number': number,
            'body': 'Hi', 'dispatch_state': 'todo', 'next_try_at': now, 'queued_at': now} for number in numbers])

    def test_number_intelligence_on_messages(self):
        mobile, premium = self.queue(FRENCH, FRENCH_PREMIUM)
        self.assertEqual((mobile.number_type, mobile.number_country_id.code, mobile.number_carrier),
                         ('mobile', 'FR', 'SFR'))
        self.assertEqual(premium.number_type, 'premium_rate')

    def test_daily_cap_holds_the_rest_until_tomorrow(self):
        self.sandbox.daily_cap = 3
        messages = self.queue(*[f'+3247012345{index}' for index in range(5)])
        self.dispatch()
        self.assertEqual(messages.mapped('dispatch_state'), ['done'] * 3 + ['todo'] * 2)
        held = messages[3:]
        self.assertEqual(set(held.mapped('guard_state')), {'daily_cap'}, 'the reason is on the message')
        self.assertEqual(held.mapped('attempts'), [0, 0], 'a held message is not an attempt')
        tomorrow = fields.Datetime.to_datetime(fields.Date.today() + timedelta(days=1))
        self.assertEqual(set(held.mapped('next_try_at')), {tomorrow})
        self.assertEqual(self.sandbox.sent_today, 3)
        later = self.queue('+32470999999')
        self.dispatch()
        self.assertEqual(later.dispatch_state, 'todo', 'the cap holds for the day, across runs')
        self.sandbox.daily_cap = 10     # raised: the waiting ones go now
        self.dispatch()
        self.assertEqual(set((held | later).mapped('dispatch_state')), {'done'})
        self.assertFalse((held | later).filtered('guard_state'))

    def test_premium_rate_refused_unless_the_country_is_allowed(self):
        premium, mobile = self.queue(FRENCH_PREMIUM, FRENCH)
        self.dispatch()
        self.assertEqual((premium.dispatch_state, premium.state, premium.guard_state), ('failed', 'failed', 'destination'))
        self.assertIn('does not send to', premium.error_message)
        self.assertEqual(mobile.dispatch_state, 'done')
        self.sandbox.allowed_country_ids = self.env.ref('base.fr')
        allowed = self.queue(FRENCH_PREMIUM)
        self.dispatch()
        self.assertEqual(allowed.dispatch_state, 'done')

    def test_destinations_outside_the_allowed_countries_refused(self):
        self.sandbox.allowed_country_ids = self.env.ref('base.be')
        belgian, french = self.queue(BELGIAN, FRENCH)
        self.dispatch()
        self.assertEqual((belgian.dispatch_state, french.dispatch_state), ('done', 'failed'))
        self.assertEqual(french.guard_state, 'destination')
        self.assertEqual(self.sandbox.sent_today, 1, 'a refused message counts nothing')

    def test_daily_cap_counts_the_company_day_not_the_utc_day(self):
        """A zone whose date differs from UTC's now, whatever the hour: +14 h from 10:00 UTC,
        -11 h before. The UTC day's count (full) does not hold the account; its own day's does."""
        tz = 'Pacific/Kiritimati' if datetime.utcnow().hour >= 10 else 'Pacific/Pago_Pago'
        self.sandbox.company_id.partner_id.tz = tz
        self.assertEqual(self.sandbox.cap_tz, tz)
        local_day = datetime.now(pytz.timezone(tz)).date()
        self.assertNotEqual(local_day, fields.Date.today())
        self.sandbox.daily_cap = 2
        self.env['comm.provider.usage'].create({'provider_id': self.sandbox.id, 'day': fields.Date.today(), 'sent': 2})
        messages = self.queue(*[f'+3247012345{index}' for index in range(3)])
        self.dispatch()
        self.assertEqual(messages.mapped('dispatch_state'), ['done', 'done', 'todo'])
        usage = self.env['comm.provider.usage'].search([('provider_id', '=', self.sandbox.id), ('day', '=', local_day)])
        self.assertEqual(usage.sent, 2)
        self.assertEqual(self.sandbox.sent_today, 2)
        midnight = pytz.timezone(tz).localize(datetime.combine(local_day + timedelta(days=1), datetime.min.time()))
        self.assertEqual(messages[2].next_try_at, midnight.astimezone(pytz.utc).replace(tzinfo=None),
                         "held until midnight of the company's day")

    def test_no_company_timezone_is_utc(self):
        self.sandbox.company_id.partner_id.tz = False
        self.assertEqual(self.sandbox.cap_tz, 'UTC')

    def test_unknown_country_refused_when_destinations_are_listed(self):
        unplaced = self.queue(INMARSAT)
        self.dispatch()
        self.assertEqual(unplaced.dispatch_state, 'done', 'no allowed list: no country needed')
        self.sandbox.allowed_country_ids = self.env.ref('base.be')
        unplaced = self.queue(INMARSAT)
        self.dispatch()
        self.assertFalse(unplaced.number_country_id)
        self.assertEqual((unplaced.dispatch_state, unplaced.guard_state), ('failed', 'destination'))
        self.assertIn('is not known', unplaced.error_message)
