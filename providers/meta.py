"""Meta WhatsApp adapter (work in progress: being written)."""
from . import register
from .base import ProviderAdapter


@register
class MetaAdapter(ProviderAdapter):
    code = 'meta'
    name = 'Meta WhatsApp'
    default_base_url = 'https://graph.facebook.com'
