"""Plumbing shared by the benchmark scripts (run them through ``bench/run.sh``).

* Paths and ports come from the environment exactly as ``dev.sh`` reads them: ``ODOO_SRC``,
  ``ODOO_DB`` (here ``cg_bench``), ``ODOO_HTTP_PORT`` (here 18469; the gevent port is the next one).
* :func:`odoo_server` serves Odoo through ``./dev.sh run`` (which creates or updates the database)
  in its own process group, waits for ``/web/health`` and kills the group on exit.
* :func:`open_registry` loads the same database in this process, to prepare data, run the crons'
  methods and check results through the ORM.
"""
import contextlib
import cProfile
import hashlib
import io
import json
import os
import pstats
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(os.path.abspath(__file__)).parent.parent          # the checkout (= the addon)
CACHE = Path(os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache')
ODOO_SRC = Path(os.environ.get('ODOO_SRC') or CACHE / 'odoo' / '18.0')
STATE = CACHE / 'comm_gateway'
DB = os.environ.get('ODOO_DB', 'cg_bench')
HTTP_PORT = int(os.environ.get('ODOO_HTTP_PORT', '18469'))
GEVENT_PORT = int(os.environ.get('ODOO_GEVENT_PORT', str(HTTP_PORT + 1)))
BASE_URL = f'http://127.0.0.1:{HTTP_PORT}'
LOG_DIR = Path(os.environ.get('BENCH_LOG_DIR') or tempfile.gettempdir()) / 'comm_gateway_bench'


def say(*args):
    print(f'[bench {time.strftime("%H:%M:%S")}]', *args, flush=True)


def pg_port():
    if os.environ.get('PGPORT'):
        return os.environ['PGPORT']
    root = Path('/var/lib/postgresql/comm_gateway') if os.geteuid() == 0 else STATE / 'pg'
    return (root / 'port').read_text().strip()


def addons_dir():
    """The folder where dev.sh links this checkout as ``comm_gateway`` (same hash as dev.sh)."""
    path = STATE / 'addons' / hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    if not (path / 'comm_gateway').exists():
        sys.exit(f'{path}/comm_gateway missing: run ./dev.sh setup first (bench/run.sh does)')
    return path


def machine_load():
    """One line describing how busy the machine is (benchmarks on 2 shared cores are noisy)."""
    one, five, _ = os.getloadavg()
    return f'{os.cpu_count()} cores, load average {one:.2f} (1 min) {five:.2f} (5 min)'


def cpu_seconds(root_pid):
    """CPU seconds (user + system) used so far by ``root_pid`` and its descendants, and by the
    PostgreSQL processes of the machine: ``(server, postgres)``. Read around a workload, the
    differences say where its CPU went (on 2 shared cores a request's cost is its CPU)."""
    import psutil
    def used(process):
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            return times.user + times.system
        return 0.0
    try:
        root = psutil.Process(root_pid)
        server = used(root) + sum(used(child) for child in root.children(recursive=True))
    except psutil.Error:
        server = 0.0
    postgres = sum(used(process) for process in psutil.process_iter(['name'])
                   if process.info['name'] == 'postgres')
    return server, postgres


def now_utc():
    return datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')


# ------------------------------------------------------------------------------------------------
# The Odoo server, as ./dev.sh run starts it
# ------------------------------------------------------------------------------------------------

def gevent_shim():
    """Work around a venv defect that makes every multi-worker server burn a core.

    ``pkg_resources`` (setuptools 69.5 as dev.sh pins it; 70.3 and 75.8 alike) cannot find
    ``zope.interface`` 8.7 and ``zope.event`` 6.2, whose wheels install as ``zope_interface-*.dist-info``;
    so ``gevent.monkey.patch_all()`` raises in ``odoo-bin gevent`` and the prefork master respawns
    that process about 5 times a second (docs/BENCHMARKS.md). Pinning zope.interface==7.2 and
    zope.event==5.0 would fix the venv. Returns a folder to put on PYTHONPATH that declares the
    missing distributions (metadata only), or None when nothing is missing.
    """
    import importlib.metadata
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        import pkg_resources
    missing = []
    for name in ('zope.interface', 'zope.event'):
        try:
            pkg_resources.get_distribution(name)
        except pkg_resources.DistributionNotFound:
            missing.append((name, importlib.metadata.version(name)))
    if not missing:
        return None
    folder = LOG_DIR / 'gevent-shim'
    for name, version in missing:
        info = folder / f'{name}-{version}.egg-info'
        info.mkdir(parents=True, exist_ok=True)
        (info / 'PKG-INFO').write_text(f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n')
    return folder


def _get(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


@contextlib.contextmanager
def odoo_server(odoo_args, log_name, shim=True, start_timeout=900, port=None):
    """``./dev.sh run`` with ``odoo_args`` as ODOO_ARGS; yields the Popen once /web/health answers.
    ``port``: another server on the same database (its gevent port is the next one)."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f'{log_name}.log'
    port, gevent_port = (port, port + 1) if port else (HTTP_PORT, GEVENT_PORT)
    env = dict(os.environ, ODOO_DB=DB, ODOO_HTTP_PORT=str(port),
               ODOO_ARGS=f'{odoo_args} --gevent-port={gevent_port}')
    if shim and '--workers' in odoo_args and (folder := gevent_shim()):
        say(f'gevent shim on PYTHONPATH ({folder}): see gevent_shim() in bench/common.py')
        env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(folder), env.get('PYTHONPATH')]))
    say(f'starting ./dev.sh run (ODOO_DB={DB} port {port} ODOO_ARGS="{env["ODOO_ARGS"]}"), log {log_path}')
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))     # a kill still stops the server below
    with open(log_path, 'w') as log:
        proc = subprocess.Popen([str(ROOT / 'dev.sh'), 'run'], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                sys.exit(f'./dev.sh run exited with {proc.returncode}: see {log_path}')
            if time.monotonic() > deadline:
                sys.exit(f'Odoo did not answer /web/health within {start_timeout}s: see {log_path}')
            try:
                if _get(f'http://127.0.0.1:{port}/web/health')[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(1)
        say('server up')
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        say('server stopped')


class Rpc:
    """A web client session on ``port`` (JSON-RPC as the web client calls it): ``call(model, method,
    *args, **kwargs)`` runs ``/web/dataset/call_kw`` as the user who logged in."""

    def __init__(self, login='admin', password='admin', port=None):
        import http.cookiejar
        self.base = f'http://127.0.0.1:{port or HTTP_PORT}'
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.uid = self._post('/web/session/authenticate', {'db': DB, 'login': login, 'password': password})['uid']

    def _post(self, path, params, timeout=1800):
        request = urllib.request.Request(self.base + path, headers={'Content-Type': 'application/json'},
                                         data=json.dumps({'jsonrpc': '2.0', 'method': 'call', 'params': params}).encode())
        with self.opener.open(request, timeout=timeout) as response:
            answer = json.loads(response.read())
        if 'error' in answer:
            raise RuntimeError(f'{path}: {answer["error"].get("data", {}).get("message") or answer["error"]}')
        return answer['result']

    def call(self, model, method, *args, **kwargs):
        return self._post(f'/web/dataset/call_kw/{model}/{method}',
                          {'model': model, 'method': method, 'args': list(args), 'kwargs': kwargs})


# ------------------------------------------------------------------------------------------------
# The ORM in this process
# ------------------------------------------------------------------------------------------------

def start_database(log_name):
    """``./dev.sh run`` creates or updates the database (the server is stopped once up: a bench
    that needs no HTTP goes on in this process); :returns: the database's registry here."""
    with odoo_server('--max-cron-threads=0', log_name):
        pass
    return open_registry()


def size_arguments(doc, messages):
    """The parser of a bench sized in messages: ``-n``, ``--repeat``, ``--json``."""
    import argparse
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-n', '--messages', type=int, default=messages)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--json', help='also write the results to this file')
    return parser


def timed(function, repeat):
    """The median of ``repeat`` calls of ``function``, in seconds."""
    times = []
    for _index in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def open_registry():
    """Load ``DB`` in this process (the server must have created it first)."""
    sys.path.insert(0, str(ODOO_SRC))
    import odoo
    odoo.tools.config.parse_config([
        f'--addons-path={ODOO_SRC}/addons,{ODOO_SRC}/odoo/addons,{addons_dir()}',
        '--db_host=127.0.0.1', f'--db_port={pg_port()}', '--db_user=odoo',
        f'--data-dir={STATE / "data"}', '--log-level=warn', '--max-cron-threads=0'])
    return odoo.modules.registry.Registry(DB)


@contextlib.contextmanager
def environment(registry):
    """A superuser environment on a fresh cursor, committed on success; the caches it cleared are
    signaled to the server's workers, as a request's are (an account set here is seen there)."""
    import odoo
    with registry.manage_changes(), registry.cursor() as cr:
        yield odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})


def run_cron_until_done(registry, step, total, batch_size, deadline, what):
    """Call ``step(env)`` (one cron call; returns how many items are left) in a fresh committed
    transaction each time, until none is left, ``deadline`` seconds pass, or twice the batches
    ``total`` needs were run. :returns: (seconds, items left)"""
    started, left = time.perf_counter(), total
    for _batch in range(total // batch_size * 2 + 10):
        if time.perf_counter() - started > deadline:
            say(f'deadline of {deadline}s reached with {left} {what} left')
            break
        with environment(registry) as env:
            left = step(env)
        if not left:
            break
    return time.perf_counter() - started, left


# ------------------------------------------------------------------------------------------------
# Measuring
# ------------------------------------------------------------------------------------------------

def percentile(values, pct):
    """Nearest-rank percentile of ``values`` (seconds) in milliseconds."""
    if not values:
        return float('nan')
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index] * 1000


_PROBE = """
import signal, sys, time, urllib.request
url, every, latencies = sys.argv[1], float(sys.argv[2]), []
def stop(*_):
    print(' '.join(f'{x:.6f}' for x in latencies), flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print('ready', flush=True)
while True:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            response.read()
        latencies.append(time.perf_counter() - started)
    except OSError:
        latencies.append(10.0)
    time.sleep(max(0.0, every - (time.perf_counter() - started)))
"""


@contextlib.contextmanager
def health_probe(every=0.05, port=None):
    """GET /web/health on the server every ``every`` seconds from a process of its own (so that
    it measures the server and the machine, not this process's GIL) for the length of the block;
    yields a dict filled on exit: probes, p50_ms, p99_ms, max_ms (a failed probe counts 10 s)."""
    url = f'http://127.0.0.1:{port or HTTP_PORT}/web/health'
    proc = subprocess.Popen([sys.executable, '-c', _PROBE, url, str(every)], stdout=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != 'ready':
        proc.kill()
        raise SystemExit('the health probe did not start')
    result = {}
    try:
        yield result
    finally:
        proc.terminate()
        latencies = [float(x) for x in proc.stdout.read().split()]
        proc.wait(timeout=10)
        result.update(probes=len(latencies), p50_ms=round(percentile(latencies, 50), 1),
                      p99_ms=round(percentile(latencies, 99), 1),
                      max_ms=round(max(latencies, default=0.0) * 1000, 1))


@contextlib.contextmanager
def maybe_profile(path, top=25):
    """cProfile the block (this thread only) when ``path`` is set; print the top functions."""
    if not path:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(path)
        for key in ('cumulative', 'tottime'):
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).strip_dirs().sort_stats(key).print_stats(top)
            say(f'cProfile, top {top} by {key} (full profile: {path})')
            print('\n'.join(text.getvalue().splitlines()[4:]))


def py_spy_start(pid, out_path):
    """Sample ``pid`` and its children with py-spy (if installed) until :func:`py_spy_stop`."""
    exe = os.environ.get('PY_SPY') or shutil.which('py-spy')
    if not exe:
        say('py-spy not found (pip install py-spy, or set PY_SPY): no server profile')
        return None
    return subprocess.Popen([exe, 'record', '--pid', str(pid), '--subprocesses', '--format', 'raw',
                             '--rate', '50', '--output', str(out_path), '--nonblocking'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _frame(text):
    """'fn (odoo/sql_db.py:354)' -> 'fn (odoo/sql_db.py)' (py-spy already shortens paths)"""
    return text.rsplit(':', 1)[0] + ')' if ':' in text else text


def py_spy_stop(spy, out_path, top=20):
    """Stop the recording; print the Odoo and product functions most often on the stack
    (inclusive %) and the functions most often at its top (self %). py-spy only samples threads
    that are running, so these are shares of CPU time, not of wall time."""
    if spy is None:
        return
    spy.send_signal(signal.SIGINT)
    try:
        spy.wait(timeout=60)
    except subprocess.TimeoutExpired:
        spy.kill()
    if not Path(out_path).exists():
        say('py-spy wrote nothing (ptrace not permitted?)')
        return
    inclusive, own, total = Counter(), Counter(), 0
    for line in Path(out_path).read_text().splitlines():
        stack, _, count = line.rpartition(' ')
        frames = [f for f in stack.split(';') if not f.startswith(('process ', 'thread '))]
        if not frames:
            continue
        total += int(count)
        own[_frame(frames[-1])] += int(count)
        for frame in set(frames):
            if _frame(frame).split(' (')[-1].startswith(('odoo/', 'comm_gateway/')):
                inclusive[_frame(frame)] += int(count)     # Odoo and product frames only
    say(f'py-spy: {total} busy samples ({out_path})')
    for title, counter in (('inclusive', inclusive), ('self', own)):
        print(f'  top {top} functions by {title} share of busy samples:')
        for frame, count in counter.most_common(top):
            print(f'    {100 * count / max(total, 1):5.1f}%  {frame}')


def report_check(ok, counts):
    """Print a run's check line. :returns: ``(ok, counts)``"""
    say(f'check   : {"OK" if ok else "FAILED"} {counts}')
    return ok, counts


def dump_json(path, data):
    Path(path).write_text(json.dumps(data, indent=2, default=str))


def finish(results, json_path=None):
    """Write the results (``--json``) and exit: 0 when the run's checks passed."""
    if json_path:
        dump_json(json_path, results)
    raise SystemExit(0 if results['check_ok'] else 1)
