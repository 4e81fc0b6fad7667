"""A fake Twilio Messages API for the bench scripts, in its own process, on 127.0.0.1 only.

POST /2010-04-01/Accounts/<sid>/Messages.json answers 201 ``{"sid": "SM…", "status": "queued"}``
``--delay`` seconds after the request came, its own handling included (a unique sid each time) and counts the requests per (To, Body), so
that a message sent twice shows. GET on the same path lists the messages it accepted (``To`` and
``DateSent>`` filters: what the adapter's ``find_sent`` asks after an interrupted send).

Failures for the chaos bench: ``--mix 5xx=0.05,429=0.05,slow=0.1,timeout=0.02`` answers that
share of the sends with a 503, a 429 with ``Retry-After: --retry-after``, a 201 after ``--slow``
seconds, or nothing for ``--hold`` seconds then a 503 (the client has timed out: not accepted).
``POST /_mode`` with ``outage=1`` answers every send 503 until ``outage=0``.

GET /_stats returns the counts: every request, and the accepted ones (2xx) per (To, Body) and
per second, with the unix times of the first and the last; POST /_reset clears them. The server stops by itself after ``--lifetime`` seconds.

Run: ``python bench/fake_twilio.py --port 18471 --delay 0.1 [--mix …]``
"""
import argparse
import json
import random
import re
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

MESSAGES = re.compile(r'^/2010-04-01/Accounts/(AC\w+)/Messages\.json$')
FAILURES = ('5xx', '429', 'slow', 'timeout')


def parse_mix(text):
    """``'5xx=0.05,429=0.05'`` -> ``{'5xx': 0.05, '429': 0.05}`` (shares of the sends)."""
    mix = {}
    for part in filter(None, (text or '').split(',')):
        name, _, share = part.partition('=')
        if name not in FAILURES:
            raise SystemExit(f'--mix: unknown outcome {name!r} (one of {", ".join(FAILURES)})')
        mix[name] = float(share)
    if sum(mix.values()) > 1:
        raise SystemExit('--mix: the shares add up to more than 1')
    return mix


class FakeTwilio(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512        # the default backlog (5) drops connections under load

    def __init__(self, port, delay, mix=None, slow=1.0, hold=5.0, retry_after=1, seed=12):
        super().__init__(('127.0.0.1', port), Handler)
        self.delay, self.mix, self.slow, self.hold, self.retry_after = delay, mix or {}, slow, hold, retry_after
        self.random = random.Random(seed)
        self.outage = False
        self.lock = threading.Lock()
        self.sent = Counter()           # (To, Body) -> requests
        self.accepted = Counter()       # (To, Body) -> 2xx answers
        self.per_second = Counter()     # unix second -> 2xx answers
        self.outcomes = Counter()
        self.messages = []              # what a lookup lists: accepted sends
        self.first_accepted_at = self.last_accepted_at = None   # unix times

    def outcome(self):
        with self.lock:
            if self.outage:
                return 'outage'
            draw, edge = self.random.random(), 0.0
            for name, share in self.mix.items():
                edge += share
                if draw < edge:
                    return name
            return 'ok'

    def stats(self):
        with self.lock:
            return {'requests': sum(self.sent.values()), 'distinct': len(self.sent),
                    'duplicates': sum(count - 1 for count in self.sent.values() if count > 1),
                    'accepted': sum(self.accepted.values()), 'accepted_distinct': len(self.accepted),
                    'accepted_duplicates': sum(count - 1 for count in self.accepted.values() if count > 1),
                    'accepted_bodies': sorted(body for (_to, body) in self.accepted),
                    'max_accepted_per_second': max(self.per_second.values(), default=0),
                    'first_accepted_at': self.first_accepted_at, 'last_accepted_at': self.last_accepted_at,
                    'outcomes': dict(self.outcomes)}

    def reset(self):
        with self.lock:
            for counter in (self.sent, self.accepted, self.per_second, self.outcomes):
                counter.clear()
            self.messages.clear()
            self.first_accepted_at = self.last_accepted_at = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'       # keep-alive, as api.twilio.com
    disable_nagle_algorithm = True      # else headers and body, written apart, wait ~40 ms for an ACK

    def log_message(self, *args):
        pass

    def _answer(self, status, payload, headers=()):
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            for key, value in headers:
                self.send_header(key, value)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True        # the client timed out or was killed meanwhile

    def _error(self, status, code, message, headers=()):
        self._answer(status, {'code': code, 'message': message, 'status': status}, headers)

    def do_GET(self):
        parts = urlsplit(self.path)
        if parts.path == '/_stats':
            return self._answer(200, self.server.stats())
        if MESSAGES.match(parts.path):
            query = dict(parse_qsl(parts.query))
            with self.server.lock:
                found = [m for m in self.server.messages if m['to'] == query.get('To')]
            return self._answer(200, {'messages': found, 'end': len(found), 'page': 0, 'page_size': 50,
                                      'next_page_uri': None, 'uri': self.path})
        return self._error(404, 20404, 'not found')

    def do_POST(self):
        arrived = time.monotonic()      # answers come --delay seconds after the request, its handling included
        form = dict(parse_qsl(self.rfile.read(int(self.headers.get('Content-Length') or 0)).decode()))
        server, parts = self.server, urlsplit(self.path)
        if parts.path == '/_reset':
            server.reset()
            return self._answer(200, {})
        if parts.path == '/_mode':
            with server.lock:
                server.outage = dict(parse_qsl(parts.query), **form).get('outage') == '1'
            return self._answer(200, {'outage': server.outage})
        match = MESSAGES.match(parts.path)
        if not match:
            return self._error(404, 20404, 'not found')
        key = (form.get('To'), form.get('Body'))
        outcome = server.outcome()
        with server.lock:
            server.sent[key] += 1
            server.outcomes[outcome] += 1
        if outcome in ('outage', '5xx'):
            return self._error(503, 20503, 'Service unavailable')
        if outcome == '429':
            return self._error(429, 20429, 'Too Many Requests', [('Retry-After', str(server.retry_after))])
        if outcome == 'timeout':
            time.sleep(server.hold)     # the client gave up meanwhile
            return self._error(503, 20503, 'Service unavailable')
        sid = f'SM{uuid.uuid4().hex}'
        now = datetime.now(timezone.utc)
        message = {'sid': sid, 'account_sid': match[1], 'status': 'queued', 'to': form.get('To'),
                   'from': form.get('From'), 'body': form.get('Body'), 'num_segments': '1',
                   'direction': 'outbound-api', 'api_version': '2010-04-01', 'error_code': None,
                   'error_message': None, 'date_created': format_datetime(now), 'date_sent': format_datetime(now)}
        with server.lock:       # accepted from here on, whether the client waits for the answer or not
            server.accepted[key] += 1
            server.last_accepted_at = time.time()
            server.first_accepted_at = server.first_accepted_at or server.last_accepted_at
            server.per_second[int(server.last_accepted_at)] += 1
            server.messages.append(message)
        time.sleep(max(0.0, (server.slow if outcome == 'slow' else server.delay) - (time.monotonic() - arrived)))
        self._answer(201, message)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--delay', type=float, default=0.1, help='seconds before each answer')
    parser.add_argument('--mix', default='', help='shares of failed sends, e.g. 5xx=0.05,429=0.05,slow=0.1,timeout=0.02')
    parser.add_argument('--slow', type=float, default=1.0, help='seconds before a slow answer')
    parser.add_argument('--hold', type=float, default=5.0, help='seconds a "timeout" holds the request')
    parser.add_argument('--retry-after', type=int, default=1, help='Retry-After of a 429 (seconds)')
    parser.add_argument('--lifetime', type=float, default=3600, help='stop after this many seconds')
    args = parser.parse_args()
    server = FakeTwilio(args.port, args.delay, parse_mix(args.mix), args.slow, args.hold, args.retry_after)
    timer = threading.Timer(args.lifetime, server.shutdown)
    timer.daemon = True
    timer.start()
    print('ready', flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
