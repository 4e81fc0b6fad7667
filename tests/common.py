from unittest.mock import patch
from urllib.parse import urlsplit

from odoo.tests import common, new_test_user

from ..providers import get_adapter_class
from .fake_provider import FakeProviderServer


def reported_progress(env, run):
    """Call ``run()``; ``[(done, remaining)]`` it reported through ``ir.cron._notify_progress``."""
    reported = []

    def spy(model, *, done, remaining, deactivate=False):
        reported.append((done, remaining))
    with patch.object(type(env['ir.cron']), '_notify_progress', spy):
        run()
    return reported


def erase_opted_out(env, number, name='Erased customer'):
    """A contact with ``number`` who opts out, then is erased by a Communications Administrator:
    the number leaves ``phone.blacklist``, its hash stays in ``comm.blacklist.hash``."""
    partner = env['res.partner'].create({'name': name, 'mobile': number})
    env['phone.blacklist'].create({'number': number})
    manager = new_test_user(env, f'eraser_{partner.id}', groups='comm_gateway.group_comm_manager,base.group_partner_manager')
    partner.with_user(manager).action_comm_erase()
    assert not env['phone.blacklist'].with_context(active_test=False).search_count([('number', '=', number)])
    return partner


class FakeProviderMixin:
    """Starts one local fake provider server per test class; ``self.fake`` in every test.

    Requests to the fake server skip the test framework's "timeouts below 10 s become 10 s" rule
    (so timeout tests stay fast); every other host stays blocked as usual.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fake = FakeProviderServer().start()
        cls.addClassCleanup(cls.fake.stop)

    def setUp(self):
        super().setUp()
        self.fake.reset()

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        fake = getattr(cls, 'fake', None)
        if fake is not None and urlsplit(r.url).netloc == urlsplit(fake.base_url).netloc:
            return common._super_send(s, r, **kw)
        return super()._request_handler(s, r, **kw)

    def make_adapter(self, code, credentials, timeout=5, **options):
        """An adapter of ``code`` pointed at the fake server."""
        return get_adapter_class(code)(credentials, base_url=self.fake.base_url, timeout=timeout,
                                       options=options)


class CommAdapterCase(FakeProviderMixin, common.TransactionCase):
    """Adapter tests: real HTTP to the local fake provider, no mock of our own code."""

    def assertSignatureChecked(self, adapter, sign, url, form, tampered_form):
        """``sign(url, form, token=…)`` gives a request ``adapter`` accepts; a tampered parameter,
        another scheme, a dropped query string or the wrong token makes it refuse."""
        self.assertTrue(adapter.verify_webhook(sign(url, form)))
        tampered = sign(url, form)
        tampered.form = tampered_form
        self.assertFalse(adapter.verify_webhook(tampered), 'tampered parameter')
        for other_url in (url.replace('https://', 'http://'), url.split('?')[0]):
            request = sign(url, form)
            request.url = other_url
            self.assertFalse(adapter.verify_webhook(request), other_url)
        self.assertFalse(adapter.verify_webhook(sign(url, form, token='wrong-token')))


class CommWebhookMixin:
    """Helpers to post signed webhooks to our controller over real HTTP and run the queue."""

    def setup_public_base_url(self):
        self.env['ir.config_parameter'].sudo().set_param('comm_gateway.public_base_url', self.base_url())

    def post_webhook(self, provider, purpose, request=None, *, data=None, headers=None, method='POST',
                     url=None):
        """Post a :class:`WebhookRequest` (body, form, headers as signed) to our URL."""
        if request is not None:
            headers = {**request.headers, **(headers or {})}
            data = request.body if request.body else request.form
            url = url or request.url
        url = url or provider[f'webhook_url_{purpose}']
        return self.http(method, url, data=data, headers=headers)

    def http(self, method, url, data=None, headers=None):
        """A real HTTP request to the test server (url_open only does GET and POST)."""
        return self.opener.request(method, url, data=data, headers=headers or {}, timeout=20,
                                   allow_redirects=False)

    def run_queue(self, media=True):
        """Run the webhook queue's cron, then (unless ``media=False``) the media fetch cron."""
        self.env['comm.webhook.event']._cron_process(batch_size=500)
        if media:
            self.fetch_media()

    def fetch_media(self):
        self.env['comm.message.media']._cron_fetch(batch_size=500)

    def messages(self, **domain):
        """``comm.message`` of ``self.provider`` matching ``field=value`` pairs."""
        return self.env['comm.message'].search(
            [('provider_id', '=', self.provider.id)] + [(k, '=', v) for k, v in domain.items()])

    def events(self, provider):
        return self.env['comm.webhook.event'].search([('provider_id', '=', provider.id)])

    def assertAccepted(self, response):
        self.assertEqual((response.status_code, response.content), (200, b''))

    def assertRefused(self, response):
        self.assertEqual((response.status_code, response.content), (403, b''))

    def assertEscapedInChatter(self, message):
        """The chatter post of ``message`` (whose body was '<script>alert(1)</script><b>x</b>')
        shows it as text: nothing from outside renders as HTML."""
        body = message.mail_message_id.body
        self.assertIn('&lt;script&gt;', body)
        self.assertNotIn('<script>', body)
        self.assertNotIn('<b>x</b>', body)
