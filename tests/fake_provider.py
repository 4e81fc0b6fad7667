"""A local HTTP server standing in for a provider's API during tests.

It records every request (method, path, query, headers, body) and answers with scripted
responses matched on method and path, so adapters are exercised through their real HTTP stack
(and the official SDKs) without leaving the machine. Odoo's test framework only lets requests
reach localhost, which is where this server listens.
"""
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


class RecordedRequest:
    def __init__(self, method, path, query, headers, body):
        self.method = method
        self.path = path
        self.query = query              # [(name, value)]
        self.headers = headers          # {lower-case name: value}
        self.body = body                # bytes
        self.received_at = time.monotonic()

    @property
    def form(self):
        """Form fields in order, repeated keys kept: [(name, value)]."""
        return parse_qsl(self.body.decode(), keep_blank_values=True)

    def form_dict(self):
        values = {}
        for key, value in self.form:
            values.setdefault(key, []).append(value)
        return {key: vals[0] if len(vals) == 1 else vals for key, vals in values.items()}

    def json(self):
        return json.loads(self.body.decode())

    def __repr__(self):
        return f'<{self.method} {self.path}>'


class _Route:
    def __init__(self, method, pattern, status, body, headers, delay, times):
        self.method = method
        self.pattern = re.compile(pattern)
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.delay = delay
        self.times = times


class FakeProviderServer:
    """``server.route('POST', r'/2010-04-01/Accounts/\\w+/Messages.json', 201, json={...})``"""

    def __init__(self):
        self.requests = []
        self._routes = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else b''
                parts = urlsplit(self.path)
                recorded = RecordedRequest(
                    self.command, parts.path, parse_qsl(parts.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()}, body)
                route = fake._match(self.command, parts.path)
                with fake._lock:
                    fake.requests.append(recorded)
                if route is None:
                    status, payload, headers, delay = 404, b'{"message": "no fake route"}', {}, 0
                else:
                    status, payload, headers, delay = route.status, route.body, route.headers, route.delay
                    if callable(payload):
                        answer = payload(recorded)      # a body, or (status, body): e.g. refused auth
                        if isinstance(answer, tuple):
                            status, answer = answer
                        payload = json.dumps(answer).encode()
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    headers = {'Content-Type': 'application/json', **headers}
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header('Content-Length', str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self):
        return f'http://127.0.0.1:{self.httpd.server_address[1]}'

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self):
        with self._lock:
            self.requests.clear()
            self._routes.clear()

    def route(self, method, pattern, status=200, json=None, body=b'', headers=None, delay=0, times=None):
        """Script an answer; the latest matching route wins; ``times`` limits how often it serves.

        ``json`` may be a callable taking the :class:`RecordedRequest` (e.g. a fresh id per call),
        answering a body or ``(status, body)``.
        """
        if callable(json):
            body = json
        elif json is not None:
            body = __import__('json').dumps(json).encode()
        elif isinstance(body, str):
            body = body.encode()
        with self._lock:
            self._routes.insert(0, _Route(method, pattern, status, body, headers, delay, times))

    def _match(self, method, path):
        with self._lock:
            for route in self._routes:
                if route.method == method and route.pattern.fullmatch(path):
                    if route.times is not None:
                        if route.times <= 0:
                            continue
                        route.times -= 1
                    return route
        return None

    def last(self, method=None, path_contains=''):
        for request in reversed(self.requests):
            if (method is None or request.method == method) and path_contains in request.path:
                return request
        raise AssertionError(f'no {method or ""} request to {path_contains!r} reached the fake provider')


# ------------------------------------------------------------------------------------------------
# Message lists in the providers' own formats (the official SDKs parse them)
# ------------------------------------------------------------------------------------------------

def _rfc2822(when):
    return when.strftime('%a, %d %b %Y %H:%M:%S +0000')


def twilio_message(account_sid, sid, to, from_, status='delivered', direction='outbound-api', body='',
                   sent=None, error_code=None, num_media='0'):
    """A Message resource as ``GET /2010-04-01/Accounts/{sid}/Messages.json`` lists it."""
    date = _rfc2822(sent) if sent else None
    return {'account_sid': account_sid, 'api_version': '2010-04-01', 'body': body, 'date_created': date,
            'date_sent': date, 'date_updated': date, 'direction': direction, 'error_code': error_code,
            'error_message': None, 'from': from_, 'messaging_service_sid': None, 'num_media': num_media,
            'num_segments': '1', 'price': None, 'price_unit': 'USD', 'sid': sid, 'status': status,
            'subresource_uris': {'media': f'/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json'},
            'to': to, 'uri': f'/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json'}


def twilio_message_list(account_sid, messages, page=0, page_size=50, next_page=False):
    """One page of Twilio's message list (``next_page``: a further page exists, ``Page=page+1``)."""
    base = f'/2010-04-01/Accounts/{account_sid}/Messages.json?PageSize={page_size}'
    return {'messages': list(messages), 'start': page * page_size, 'end': page * page_size + len(messages) - 1,
            'page': page, 'page_size': page_size, 'uri': f'{base}&Page={page}',
            'first_page_uri': f'{base}&Page=0', 'previous_page_uri': f'{base}&Page={page - 1}' if page else None,
            'next_page_uri': f'{base}&Page={page + 1}&PageToken=PA{page + 1}' if next_page else None}


def plivo_message(auth_id, uuid, to, from_='15005550006', state='delivered', direction='outbound', kind='sms',
                  at='2026-01-02 10:00:03+00:00', error_code=''):
    """A message detail record as List all messages returns it (no text: Plivo keeps none)."""
    return {'message_uuid': uuid, 'to_number': to, 'from_number': from_, 'message_direction': direction,
            'message_state': state, 'message_type': kind, 'message_time': at, 'error_code': error_code,
            'units': 1, 'resource_uri': f'/v1/Account/{auth_id}/Message/{uuid}/'}


def plivo_message_list(auth_id, records, offset=0, limit=20, total=None):
    """One page of ``GET /v1/Account/{auth_id}/Message/``; ``total`` beyond the page: a next one."""
    total = len(records) + offset if total is None else total
    more = offset + len(records) < total
    return {'api_id': f'list-{offset}', 'objects': list(records),
            'meta': {'limit': limit, 'offset': offset, 'total_count': total,
                     'next': f'/v1/Account/{auth_id}/Message/?limit={limit}&offset={offset + limit}' if more else None,
                     'previous': None}}


def vonage_record(message_id, to, from_='15005550006', status='delivered', error_code='0',
                  error_description='Delivered', received='2026-01-02T10:00:00+0000', finalized=None,
                  product='SMS', direction='outbound', provider='sms', body=None, client_ref=None):
    """A record of ``GET /v2/reports/records`` (Reports API spec 2.2.2: ``json_sms_outbound`` /
    ``json_sms_inbound`` / ``csv_messages_outbound`` / ``csv_messages_inbound``)."""
    record = {'account_id': 'abcd1234', 'message_id': message_id, 'direction': direction, 'from': from_,
              'to': to, 'date_received': received, 'currency': 'EUR', 'total_price': 0.0333}
    if direction == 'outbound':
        record.update({'status': status, 'error_code': error_code, 'date_finalized': finalized or received,
                       'client_ref': client_ref, 'latency': 3120, 'country': 'US'})
        if product == 'SMS':
            record.update({'error_code_description': error_description, 'network': '310004',
                           'network_name': 'Verizon Wireless', 'concatenated': False})
    if product == 'MESSAGES':
        record['provider'] = provider
    if body is not None:
        record['message_body'] = body
    return record


def vonage_records(base_url, api_key, product, direction, records, ids_not_found=None, cursor=None):
    """One page of ``GET /v2/reports/records`` (``cursor``: a next page exists, linked by HAL ``_links.next``
    as in the Vonage .NET SDK's test data ``Reports/LoadRecords/Data/ShouldDeserialize200-response.json``)."""
    query = f'product={product}&account_id={api_key}&direction={direction}'
    page = {'request_id': 'a91b34c2-5d98-4c0e-8f23-a6b1c7d4e9f0', 'request_status': 'SUCCESS',
            'received_at': '2026-01-03T08:00:00+00:00', 'items_count': len(records), 'product': product,
            'direction': direction, 'account_id': api_key, 'price': 0.0, 'currency': 'EUR',
            '_links': {'self': {'href': f'{base_url}/v2/reports/records?{query}'}}, 'records': list(records)}
    if ids_not_found:
        page['ids_not_found'] = ','.join(ids_not_found)
    if cursor:
        page['_links']['next'] = {'href': f'{base_url}/v2/reports/records?{query}&cursor={cursor}'}
        page.update({'cursor': cursor, 'iv': '8a2c4e6f-12d3-45b6-78c9-0a1b2c3d4e5f'})
    return page
