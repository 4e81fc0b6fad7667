"""Provider adapters: one plain-Python class per provider behind :class:`base.ProviderAdapter`.

``ADAPTERS`` maps a ``comm.provider`` code to its class; models only ever call the interface.
"""
from .base import ProviderAdapter, ProviderError  # noqa: F401

ADAPTERS = {}


def register(cls):
    ADAPTERS[cls.code] = cls
    return cls


def get_adapter_class(code):
    try:
        return ADAPTERS[code]
    except KeyError:
        raise ValueError(f'no adapter for provider code {code!r}') from None


from . import sandbox, twilio, plivo, vonage, meta  # noqa: E402,F401  (registration)
