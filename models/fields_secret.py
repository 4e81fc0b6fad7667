"""``Secret``: a char field stored encrypted, never read back in clear through the ORM API.

* Writing a value (create, write, assignment) stores ``fernet:<token>`` in the column.
* Reading the field in Python gives the ciphertext; ``comm.provider._get_secret`` decrypts.
* ``read``/``search_read``/``onchange``/export return ``MASK`` when set, ``False`` otherwise,
  so the plaintext never leaves the server, even for administrators.
"""
from odoo import fields

from ..tools import crypto

MASK = '••••••••'


class Secret(fields.Char):
    """Encrypted, write-only char field (keep ``type = 'char'`` for the database and views)."""

    def convert_to_cache(self, value, record, validate=True):
        if value is None or value is False or value == '':
            return None
        value = str(value)
        return value if crypto.is_encrypted(value) else crypto.encrypt(value)

    def convert_to_column(self, value, record, values=None, validate=True):
        return self.convert_to_cache(value, record)

    def convert_to_column_update(self, value, record):
        # the cache already holds the ciphertext; Field's default goes through convert_to_read
        return self.convert_to_column(value, record)

    def convert_to_read(self, value, record, use_display_name=True):
        return MASK if value else False

    def convert_to_export(self, value, record):
        return MASK if value else ''
