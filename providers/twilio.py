"""Twilio adapter (work in progress: being written)."""
from . import register
from .base import ProviderAdapter


@register
class TwilioAdapter(ProviderAdapter):
    code = 'twilio'
    name = 'Twilio'
    default_base_url = 'https://api.twilio.com'
