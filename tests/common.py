from urllib.parse import urlsplit

from odoo.tests import common

from ..providers import get_adapter_class
from .fake_provider import FakeProviderServer


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
