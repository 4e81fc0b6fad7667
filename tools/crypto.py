"""Encryption at rest for provider credentials (Fernet / MultiFernet from ``cryptography``).

The key never lives in the database. It comes, in this order, from:

1. the Odoo server option ``comm_gateway_key`` (odoo.conf),
2. the environment variable ``COMM_GATEWAY_KEY``,
3. a key file generated once in Odoo's data directory (``<data_dir>/comm_gateway.key``, mode 0600).

Options 1 and 2 may hold several comma-separated keys for rotation: the first one encrypts, all
of them decrypt; ``rotate`` re-encrypts a value with the first key.
"""
import functools
import logging
import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from odoo.tools import config

_logger = logging.getLogger(__name__)

PREFIX = 'fernet:'          # marks a stored value as ciphertext
KEY_FILE_NAME = 'comm_gateway.key'


class SecretError(Exception):
    """A stored secret cannot be decrypted with the configured keys."""


def key_source():
    """Where the key comes from: ``'config'``, ``'environment'`` or ``'file'`` (generated locally:
    another Odoo server on the same database has its own and cannot read these secrets)."""
    if config.get('comm_gateway_key'):
        return 'config'
    if os.environ.get('COMM_GATEWAY_KEY'):
        return 'environment'
    return 'file'


KEY_FILE_WARNING = (
    'comm_gateway: the encryption key of provider secrets was generated in this server\'s data '
    'directory (%s), not configured. Every Odoo server (worker host, cron host, replica) of this '
    'database must use the same key: copy it to the comm_gateway_key option of each server\'s '
    'odoo.conf (or the COMM_GATEWAY_KEY environment variable) — see the README, "Several servers".')


def key_file_path():
    return os.path.join(config['data_dir'], KEY_FILE_NAME)


def _configured_keys():
    raw = config.get('comm_gateway_key') or os.environ.get('COMM_GATEWAY_KEY') or ''
    keys = tuple(key.strip() for key in raw.split(',') if key.strip())
    return keys or (_key_file_key(),)


def _key_file_key():
    path = key_file_path()
    try:
        with open(path, 'rb') as key_file:
            return key_file.read().strip().decode()
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    key = Fernet.generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker created it first
        return _key_file_key()
    with os.fdopen(fd, 'wb') as key_file:
        key_file.write(key)
    _logger.info('comm_gateway: generated a new encryption key file in the data directory')
    return key.decode()


@functools.lru_cache(maxsize=8)
def _fernet(keys):
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise SecretError('comm_gateway_key is not a valid Fernet key '
                          '(32 url-safe base64-encoded bytes).') from exc


def fernet():
    return _fernet(_configured_keys())


def is_encrypted(value):
    return isinstance(value, str) and value.startswith(PREFIX)


def encrypt(plaintext):
    if not plaintext:
        return None
    return PREFIX + fernet().encrypt(str(plaintext).encode()).decode()


def decrypt(value):
    if not value:
        return ''
    if not is_encrypted(value):
        raise SecretError('stored secret is not encrypted')
    try:
        return fernet().decrypt(value[len(PREFIX):].encode()).decode()
    except InvalidToken:
        raise SecretError('a stored secret cannot be decrypted with the configured '
                          'comm_gateway_key: restore the key that encrypted it') from None


def rotate(value):
    """Re-encrypt ``value`` with the newest key; unchanged when empty."""
    if not value:
        return value
    try:
        return PREFIX + fernet().rotate(value[len(PREFIX):].encode()).decode()
    except InvalidToken:
        raise SecretError('a stored secret cannot be decrypted with the configured '
                          'comm_gateway_key: restore the key that encrypted it') from None
