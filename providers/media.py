"""Fetching a media URL that came in a webhook payload, without making it a request forgery.

A payload's URL is chosen by whoever could post the payload, so a download must never carry our
credentials to another host nor reach our own network:

* credentials (Basic auth, Bearer) go only to the adapter's own hosts (``credential_hosts``: its
  API and media hosts); other hosts of the adapter's ``media_hosts`` (CDNs a provider redirects
  to) are fetched without them; any other host is refused;
* redirects are followed by hand, at most :data:`MAX_REDIRECTS`, each to an allowed host, and the
  credentials are dropped for good at the first change of host;
* every host is resolved first and refused when any of its addresses is not a public one
  (loopback, private, link-local — the cloud metadata address —, shared, reserved…), and the
  connected peer is checked again before the body is read; the one exception is the host of an
  adapter's configured base URL (a regional endpoint or, in tests, the local fake provider);
* the body is streamed and the size cap enforced while reading; the type must be one that real
  messages carry (:data:`ALLOWED_TYPES`), never HTML or script-capable images.

A refusal raises :class:`MediaRefused` (permanent: the message is kept, the reason noted on it);
transport errors stay :class:`ProviderError` (retryable).
"""
import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

import requests

from .base import ProviderError

MAX_MEDIA_BYTES = 16 * 1024 * 1024
MAX_REDIRECTS = 3
CHUNK = 64 * 1024
# What real messages carry: pictures, voice notes, videos, PDF and office documents, contact cards.
ALLOWED_TYPES = (
    'image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/heic', 'image/heif', 'image/bmp', 'image/tiff',
    'audio/', 'video/',
    'application/pdf', 'application/msword', 'application/vnd.ms-excel', 'application/vnd.ms-powerpoint',
    'application/vnd.openxmlformats-officedocument.', 'application/vnd.oasis.opendocument.',
    'text/vcard', 'text/x-vcard', 'text/directory', 'text/plain', 'text/csv',
)


class MediaRefused(ProviderError):
    """A media download refused by policy (host, address, size, type): never retried."""

    def __init__(self, message):
        super().__init__(message, code='media_refused', retryable=False)


def media_type_allowed(content_type):
    content_type = (content_type or '').split(';')[0].strip().lower()
    return bool(content_type) and content_type.startswith(ALLOWED_TYPES)


def _host_matches(host, patterns):
    return any(host == pattern or host.endswith('.' + pattern) for pattern in patterns)


def _public_address(address):
    ip = ipaddress.ip_address(address.split('%')[0])
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _check_addresses(host, port):
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ProviderError(f'media host {host} cannot be resolved.', code='network', retryable=True) from exc
    if not infos or not all(_public_address(info[4][0]) for info in infos):
        raise MediaRefused(f'media host {host} resolves to a non-public address')


def _check_peer(response, host):
    """The address the connection actually reached (a name may resolve differently twice)."""
    connection = getattr(response.raw, '_connection', None)
    sock = getattr(connection, 'sock', None)
    if sock is None:
        return
    try:
        address = sock.getpeername()[0]
    except OSError:
        return
    if not _public_address(address):
        raise MediaRefused(f'media host {host} connected to a non-public address')


class MediaPolicy:
    """Which hosts a media download may reach, and which of them get the credentials.

    :param credential_hosts: host names (a name also covers its subdomains) given the credentials
    :param media_hosts: further hosts fetched without credentials (a provider's CDN)
    :param local_hosts: ``{'host:port': gets_credentials}`` exempt from the https and address
        checks: the configured base URL's host (a regional endpoint, the tests' fake provider)
    """

    def __init__(self, credential_hosts=(), media_hosts=(), local_hosts=None):
        self.credential_hosts = tuple(credential_hosts)
        self.media_hosts = tuple(media_hosts)
        self.local_hosts = dict(local_hosts or {})

    def classify(self, url):
        """``(host, gets_credentials)`` for an allowed URL; raises :class:`MediaRefused`."""
        parts = urlsplit(url)
        host, netloc = (parts.hostname or '').lower(), parts.netloc.lower()
        if netloc in self.local_hosts:
            return netloc, self.local_hosts[netloc]
        if parts.scheme != 'https' or not host:
            raise MediaRefused(f'media URL scheme {parts.scheme or "?"} refused (https only)')
        if _host_matches(host, self.credential_hosts):
            gets_credentials = True
        elif _host_matches(host, self.media_hosts):
            gets_credentials = False
        else:
            raise MediaRefused(f'media host {host} is not one of the provider\'s')
        _check_addresses(host, parts.port or 443)
        return netloc, gets_credentials


def fetch_media(session, url, policy, *, auth=None, headers=None, timeout=15.0, max_bytes=MAX_MEDIA_BYTES,
                fallback_type='', name='provider'):
    """GET ``url`` under ``policy``. :returns: ``(content bytes, content type)``

    :param auth: a ``requests`` auth (tuple or callable), sent only to credential hosts
    :param headers: credential headers (Bearer), sent only to credential hosts
    :raises MediaRefused: refused by policy; :raises ProviderError: transport or HTTP error
    """
    first_host, _ = policy.classify(url)
    for _hop in range(MAX_REDIRECTS + 1):
        host, gets_credentials = policy.classify(url)
        with_credentials = gets_credentials and host == first_host   # dropped at the first change of host
        try:
            response = session.get(url, auth=auth if with_credentials else None,
                                   headers=headers if with_credentials else None,
                                   timeout=timeout, stream=True, allow_redirects=False)
        except requests.Timeout as exc:
            raise ProviderError(f'{name} media did not arrive in time.', code='timeout', retryable=True) from exc
        except requests.ConnectionError as exc:
            raise ProviderError(f'{name} media cannot be reached.', code='network', retryable=True) from exc
        with response:
            if host not in policy.local_hosts:
                _check_peer(response, host)
            if response.is_redirect:
                url = urljoin(url, response.headers.get('Location', ''))
                if host != first_host:
                    first_host = None          # credentials never come back after a change of host
                continue
            if response.status_code != 200:
                raise ProviderError(f'{name} media answered HTTP {response.status_code}.',
                                    code=str(response.status_code), http_status=response.status_code,
                                    retryable=response.status_code in (408, 429, 500, 502, 503, 504))
            return _read(response, max_bytes, fallback_type)
    raise MediaRefused(f'more than {MAX_REDIRECTS} redirects')


def _read(response, max_bytes, fallback_type):
    content_type = (response.headers.get('Content-Type') or fallback_type or '').split(';')[0].strip().lower()
    if not media_type_allowed(content_type):
        raise MediaRefused(f'media type {content_type or "(none)"} refused')
    declared = response.headers.get('Content-Length')
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise MediaRefused(f'media larger than {max_bytes} bytes')
    chunks, size = [], 0
    for chunk in response.iter_content(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise MediaRefused(f'media larger than {max_bytes} bytes')
        chunks.append(chunk)
    return b''.join(chunks), content_type
