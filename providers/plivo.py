"""Plivo adapter (work in progress: being written)."""
from . import register
from .base import ProviderAdapter


@register
class PlivoAdapter(ProviderAdapter):
    code = 'plivo'
    name = 'Plivo'
    default_base_url = 'https://api.plivo.com'
