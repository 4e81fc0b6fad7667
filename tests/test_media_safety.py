"""Media URLs from payloads are no way to reach other hosts with our credentials: hosts, redirects,
addresses, size and type (providers/media.py), through real HTTP to local fake servers."""
import base64

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from ..providers.base import Media
from ..providers.media import MAX_REDIRECTS, MediaPolicy, MediaRefused, fetch_media
from .common import CommAdapterCase, CommWebhookMixin, FakeProviderMixin
from .fake_provider import FakeProviderServer
from .test_webhooks_twilio import OUR_NUMBER, SID, TOKEN, inbound_form, twilio_signature

PNG = b'\x89PNG\r\n\x1a\nfake-png'
AUTH = ('AC-user', 'secret-token')


@tagged('post_install', '-at_install')
class TestMediaPolicy(CommAdapterCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cdn = FakeProviderServer().start()          # "another host": a second local server
        cls.addClassCleanup(cls.cdn.stop)

    def setUp(self):
        super().setUp()
        self.cdn.reset()
        self.adapter = self.make_adapter('twilio', {'account_sid': SID, 'auth_token': TOKEN})

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        from urllib.parse import urlsplit  # noqa: PLC0415
        from odoo.tests import common  # noqa: PLC0415
        if urlsplit(r.url).netloc == urlsplit(cls.cdn.base_url).netloc:
            return common._super_send(s, r, **kw)
        return super()._request_handler(s, r, **kw)

    def netloc(self, server):
        return server.base_url.split('://', 1)[1]

    def test_credentials_only_to_the_providers_hosts(self):
        for url in ('https://169.254.169.254/latest/meta-data/', 'https://evil.example.com/steal',
                    'http://api.twilio.com/2010-04-01/x', f'{self.cdn.base_url}/x'):
            with self.subTest(url), self.assertRaises(MediaRefused):
                self.adapter.download_media(Media(url=url))
        self.assertFalse(self.fake.requests or self.cdn.requests, 'nothing left the machine')

    def test_redirect_to_another_host_is_refused(self):
        self.fake.route('GET', r'/media/1', 302, headers={'Location': 'https://evil.example.com/x'})
        self.fake.route('GET', r'/media/2', 302, headers={'Location': f'{self.cdn.base_url}/x'})
        for path in ('/media/1', '/media/2'):
            with self.subTest(path), self.assertRaises(MediaRefused):
                self.adapter.download_media(Media(url=self.fake.base_url + path))
        self.assertFalse(self.cdn.requests)

    def test_credentials_dropped_on_a_change_of_host(self):
        """A CDN of the provider's gets the redirect, not the credentials; back on the first host
        they do not come back."""
        policy = MediaPolicy(local_hosts={self.netloc(self.fake): True, self.netloc(self.cdn): False})
        self.fake.route('GET', r'/media/1', 302, headers={'Location': f'{self.cdn.base_url}/signed/1'})
        self.cdn.route('GET', r'/signed/1', 302, headers={'Location': f'{self.fake.base_url}/final/1'})
        self.fake.route('GET', r'/final/1', 200, body=PNG, headers={'Content-Type': 'image/png'})
        content, content_type = fetch_media(self.adapter.session, f'{self.fake.base_url}/media/1', policy, auth=AUTH,
                                            headers={'X-Api-Key': 'k'})
        self.assertEqual((content, content_type), (PNG, 'image/png'))
        self.assertTrue(self.fake.last('GET', '/media/1').headers['authorization'].startswith('Basic '))
        for request in (self.cdn.last('GET', '/signed/1'), self.fake.last('GET', '/final/1')):
            self.assertNotIn('authorization', request.headers)
            self.assertNotIn('x-api-key', request.headers)

    def test_at_most_three_redirects(self):
        for hop in range(MAX_REDIRECTS + 1):
            self.fake.route('GET', rf'/hop/{hop}$', 302, headers={'Location': f'/hop/{hop + 1}'})
        self.fake.route('GET', rf'/hop/{MAX_REDIRECTS + 1}$', 200, body=PNG, headers={'Content-Type': 'image/png'})
        self.assertEqual(self.adapter.download_media(Media(url=f'{self.fake.base_url}/hop/1'))[0], PNG)
        with self.assertRaises(MediaRefused):
            self.adapter.download_media(Media(url=f'{self.fake.base_url}/hop/0'))

    def test_private_addresses_are_refused_after_resolution(self):
        policy = MediaPolicy(credential_hosts=('localhost', 'api.twilio.com'))
        with self.assertRaises(MediaRefused) as caught:
            fetch_media(self.adapter.session, 'https://localhost/media/1', policy, auth=AUTH)
        self.assertIn('non-public address', caught.exception.message)
        self.assertFalse(self.fake.requests)

    def test_connected_peer_is_checked_again(self):
        """A name that resolved to a public address at the check, then to a private one at the
        connection (DNS rebinding), is refused before the body is read."""
        class RebindingPolicy(MediaPolicy):
            def classify(self, url):        # as if the resolution check had seen a public address
                return url.split('://', 1)[1].split('/', 1)[0], False
        self.fake.route('GET', r'/media/1', 200, body=PNG, headers={'Content-Type': 'image/png'})
        with self.assertRaises(MediaRefused) as caught:
            fetch_media(self.adapter.session, f'{self.fake.base_url}/media/1', RebindingPolicy())
        self.assertIn('connected to a non-public address', caught.exception.message)

    def test_size_cap_while_streaming(self):
        self.fake.route('GET', r'/big', 200, body=b'\0' * (256 * 1024), headers={'Content-Type': 'image/png'})
        policy = self.adapter.media_policy()
        with self.assertRaises(MediaRefused):
            fetch_media(self.adapter.session, f'{self.fake.base_url}/big', policy, max_bytes=100 * 1024)
        self.assertEqual(len(fetch_media(self.adapter.session, f'{self.fake.base_url}/big', policy)[0]), 256 * 1024)

    def test_disallowed_types(self):
        for content_type in ('text/html', 'text/html; charset=utf-8', 'image/svg+xml', 'application/javascript',
                             'application/x-msdownload', ''):
            with self.subTest(content_type):
                self.fake.reset()
                self.fake.route('GET', r'/file', 200, body=b'<script>', headers={'Content-Type': content_type})
                with self.assertRaises(MediaRefused):
                    self.adapter.download_media(Media(url=f'{self.fake.base_url}/file'))
        for content_type in ('image/jpeg', 'audio/ogg; codecs=opus', 'video/mp4', 'application/pdf', 'text/vcard',
                             'application/vnd.openxmlformats-officedocument.wordprocessingml.document'):
            with self.subTest(content_type):
                self.fake.reset()
                self.fake.route('GET', r'/file', 200, body=b'x', headers={'Content-Type': content_type})
                self.assertEqual(self.adapter.download_media(Media(url=f'{self.fake.base_url}/file'))[0], b'x')


@tagged('post_install', '-at_install')
class TestMediaRefusedInbound(FakeProviderMixin, CommWebhookMixin, HttpCase):
    """A refused media does not lose the message: it is stored and posted, the reason noted on it."""

    def setUp(self):
        super().setUp()
        self.setup_public_base_url()
        self.provider = self.env['comm.provider'].create({
            'name': 'Twilio', 'code': 'twilio', 'sms_from': OUR_NUMBER, 'api_base_url': self.fake.base_url,
            'twilio_account_sid': SID, 'twilio_auth_token': TOKEN})
        self.token = self.provider.sudo().webhook_token

    def post_mms(self, sid, media_url):
        url = f'{self.base_url()}/comm/webhook/{self.token}/inbound'
        form = inbound_form(sid, '+33623456789', 'see attached', NumMedia='1', MediaUrl0=media_url,
                            MediaContentType0='image/jpeg')
        return self.http('POST', url, data=form, headers={'X-Twilio-Signature': twilio_signature(url, form)})

    @mute_logger('odoo.addons.comm_gateway.models.comm_message', 'odoo.addons.comm_gateway.models.comm_message_media')
    def test_each_refusal_keeps_the_message_and_says_why(self):
        self.fake.route('GET', r'/redirect', 302, headers={'Location': 'https://attacker.example.net/collect'})
        self.fake.route('GET', r'/big', 200, body=b'\0' * (17 * 1024 * 1024), headers={'Content-Type': 'image/jpeg'})
        self.fake.route('GET', r'/page', 200, body=b'<html>', headers={'Content-Type': 'text/html'})
        cases = {
            'redirect elsewhere': (f'{self.fake.base_url}/redirect', 'not one of the provider'),
            'oversized': (f'{self.fake.base_url}/big', 'larger than'),
            'private address': ('https://169.254.169.254/latest/meta-data/iam', 'not one of the provider'),
            'disallowed type': (f'{self.fake.base_url}/page', 'text/html'),
        }
        for index, (name, (media_url, reason)) in enumerate(cases.items()):
            sid = f'MM{index:032d}'
            self.assertEqual(self.post_mms(sid, media_url).status_code, 200)
            self.run_queue()
            self.env['comm.message.media']._cron_fetch()     # media are fetched after the message is posted
            with self.subTest(name):
                message = self.messages(provider_message_id=sid)
                self.assertEqual((len(message), message.body, message.attachment_ids.ids), (1, 'see attached', []))
                self.assertEqual(message.media_ids.state, 'failed', 'refused for good: never retried')
                self.assertIn(reason, message.media_ids.error or '')
                self.assertIn(reason, message.partner_id.message_ids[:1].body, 'the note on the chatter says why')
        self.assertEqual(set(self.events(self.provider).mapped('state')), {'done'})
        for request in self.fake.requests:      # what reached the fake carried our credentials only there
            self.assertEqual(request.headers.get('authorization'),
                             'Basic ' + base64.b64encode(f'{SID}:{TOKEN}'.encode()).decode())
