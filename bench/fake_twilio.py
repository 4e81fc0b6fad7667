"""A fake Twilio Messages API for bench/dispatch.py, in its own process, on 127.0.0.1 only.

POST /2010-04-01/Accounts/<sid>/Messages.json answers 201 ``{"sid": "SM…", "status": "queued"}``
after ``--delay`` seconds (a unique sid each time) and counts the requests per (To, Body), so
that a message sent twice shows. GET /_stats returns the counts; POST /_reset clears them.
The server stops by itself after ``--lifetime`` seconds.

Run: ``python bench/fake_twilio.py --port 18471 --delay 0.1``
"""
import argparse
import json
import re
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

MESSAGES = re.compile(r'^/2010-04-01/Accounts/(AC\w+)/Messages\.json$')


class FakeTwilio(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512        # the default backlog (5) drops connections under load

    def __init__(self, port, delay):
        super().__init__(('127.0.0.1', port), Handler)
        self.delay = delay
        self.lock = threading.Lock()
        self.sent = Counter()           # (To, Body) -> requests

    def stats(self):
        with self.lock:
            return {'requests': sum(self.sent.values()), 'distinct': len(self.sent),
                    'duplicates': sum(count - 1 for count in self.sent.values() if count > 1)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'       # keep-alive, as api.twilio.com
    disable_nagle_algorithm = True      # else headers and body, written apart, wait ~40 ms for an ACK

    def log_message(self, *args):
        pass

    def _answer(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == '/_stats':
            return self._answer(200, self.server.stats())
        return self._answer(404, {'code': 20404, 'message': 'not found', 'status': 404})

    def do_POST(self):
        form = dict(parse_qsl(self.rfile.read(int(self.headers.get('Content-Length') or 0)).decode()))
        if self.path == '/_reset':
            with self.server.lock:
                self.server.sent.clear()
            return self._answer(200, {})
        match = MESSAGES.match(self.path)
        if not match:
            return self._answer(404, {'code': 20404, 'message': 'not found', 'status': 404})
        with self.server.lock:
            self.server.sent[form.get('To'), form.get('Body')] += 1
        time.sleep(self.server.delay)
        self._answer(201, {
            'sid': f'SM{uuid.uuid4().hex}', 'account_sid': match[1], 'status': 'queued', 'to': form.get('To'),
            'from': form.get('From'), 'body': form.get('Body'), 'num_segments': '1', 'direction': 'outbound-api',
            'api_version': '2010-04-01', 'error_code': None, 'error_message': None})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--delay', type=float, default=0.1, help='seconds before each answer')
    parser.add_argument('--lifetime', type=float, default=3600, help='stop after this many seconds')
    args = parser.parse_args()
    server = FakeTwilio(args.port, args.delay)
    timer = threading.Timer(args.lifetime, server.shutdown)
    timer.daemon = True
    timer.start()
    print('ready', flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
