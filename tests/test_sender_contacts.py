"""One contact per unknown sender and company, whatever runs at the same moment: two
transactions on their own connections create the contact of the same new number."""
import threading

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, get_db_name, tagged

from odoo.addons.comm_gateway.models.comm_webhook_event import RetryLater
from odoo.addons.comm_gateway.providers.base import InboundMessage

NUMBER = '+15555550177'       # possible, not valid: Odoo's phone_sanitized stays empty for it


@tagged('post_install', '-at_install')
class TestOneContactPerSender(BaseCase):

    def test_two_transactions_for_one_new_number_make_one_contact(self):
        registry = Registry(get_db_name())
        inbound = InboundMessage(provider_id='SM-first', sender=NUMBER, recipient='+14155550100', profile_name='Ann')
        with registry.cursor() as cr:
            company_id = api.Environment(cr, SUPERUSER_ID, {}).ref('base.main_company').id
        first, second = (api.Environment(registry.cursor(), SUPERUSER_ID, {}) for _index in range(2))
        outcome = []

        def create_in_second():
            try:
                outcome.append(second['comm.message']._create_senders([inbound], second['res.company'].browse(company_id)))
            except Exception as exc:  # noqa: BLE001  what the queue sees
                outcome.append(exc)

        try:
            # the second transaction is under way (it looked for the number, found none) when the
            # first creates the contact: it cannot see that contact, whatever it does next
            self.assertFalse(second['res.partner']._comm_find_by_number(NUMBER, second['res.company'].browse(company_id)))
            created = first['comm.message']._create_senders([inbound], first['res.company'].browse(company_id))[NUMBER]
            thread = threading.Thread(target=create_in_second)
            thread.start()          # waits on the unique index for the first transaction, if it got there
            first.cr.commit()
            thread.join(30)
            self.assertFalse(thread.is_alive())
            self.assertEqual(len(outcome), 1)
            self.assertIsInstance(outcome[0], RetryLater, 'the second one is retried, it creates nothing')
            second.cr.rollback()
            # its retry, a new transaction, finds the contact the first one created
            self.assertEqual(second['res.partner']._comm_find_by_number(
                NUMBER, second['res.company'].browse(company_id)).id, created.id)
            self.assertEqual(second['res.partner'].with_context(active_test=False).search_count(
                [('comm_sender_number', '=', NUMBER)]), 1, 'one contact for one number')
            # an archived one no longer counts: the number gets a contact again
            created.with_env(first).active = False
            first.cr.commit()
            second.cr.rollback()
            again = second['comm.message']._create_senders([inbound], second['res.company'].browse(company_id))
            self.assertNotEqual(again[NUMBER].id, created.id)
        finally:
            for env in (first, second):
                env.cr.rollback()
                env.cr.close()
            with registry.cursor() as cr:
                api.Environment(cr, SUPERUSER_ID, {})['res.partner'].with_context(active_test=False).search(
                    [('comm_sender_number', '=', NUMBER)]).unlink()
