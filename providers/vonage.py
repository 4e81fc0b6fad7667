"""Vonage adapter (work in progress: being written)."""
from . import register
from .base import ProviderAdapter


@register
class VonageAdapter(ProviderAdapter):
    code = 'vonage'
    name = 'Vonage'
    default_base_url = 'https://api.nexmo.com'
