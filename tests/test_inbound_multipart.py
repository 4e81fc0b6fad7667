from datetime import timedelta

from odoo import fields
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

from ..providers.base import InboundMessage


@tagged('post_install', '-at_install')
class TestInboundMultipart(TransactionCase):
    """A long SMS delivered in parts (Vonage SMS API) becomes one message, whatever the order."""

    def setUp(self):
        super().setUp()
        self.provider = self.env['comm.provider'].create({'name': 'Vonage', 'code': 'vonage'})
        self.adapter = self.provider._get_adapter()
        self.partner = self.env['res.partner'].create({'name': 'Ana', 'mobile': '+34612000111'})

    def part(self, number, text, total=3, ref='17'):
        return InboundMessage(provider_id=f'0A0000{number}', sender='+34612000111', recipient='+447700900000',
                              body=text, concat_ref=ref, concat_total=total, concat_part=number)

    def receive(self, inbound):
        return self.env['comm.message']._receive_inbound(self.provider, [inbound], self.adapter)

    def messages(self):
        return self.env['comm.message'].search([('provider_id', '=', self.provider.id)])

    def test_parts_in_any_order_make_one_message(self):
        self.assertFalse(self.receive(self.part(3, 'world!')))
        self.assertFalse(self.receive(self.part(1, 'Hello ')))
        self.assertFalse(self.messages(), 'nothing posted before every part is in')
        self.receive(self.part(1, 'Hello '))   # a retried part changes nothing
        message = self.receive(self.part(2, 'big '))
        self.assertEqual(message.body, 'Hello big world!')
        self.assertEqual(len(self.messages()), 1)
        self.assertEqual(message.mail_message_id.res_id, self.partner.id)
        self.assertFalse(self.env['comm.message.part'].search([('provider_id', '=', self.provider.id)]))

    def test_orphan_parts_are_posted_after_a_timeout(self):
        self.receive(self.part(1, 'Hello ', ref='99'))
        self.receive(self.part(3, 'world', ref='99'))
        self.env['comm.message.part']._flush_orphans()
        self.assertFalse(self.messages(), 'not yet: the other part may still come')
        self.env.flush_all()
        self.env.cr.execute('UPDATE comm_message_part SET create_date = %s', [fields.Datetime.now() - timedelta(hours=1)])
        self.env['comm.message.part'].invalidate_model()
        self.env['comm.message.part']._flush_orphans()
        message = self.messages()
        self.assertEqual(len(message), 1)
        self.assertIn('Hello', message.body)
        self.assertIn('world', message.body)
        self.assertIn('never arrived', message.body)
