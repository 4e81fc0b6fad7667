"""Dispatch machinery that needs no ORM: the time budget of a cron run and the send pool.

The ORM side (claims, answers, the breaker and the rate shared in PostgreSQL) lives in
``models/comm_dispatch.py``; what runs in the pool's threads is here and never touches a cursor.
"""
import asyncio
import concurrent.futures
import functools
import logging
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

from odoo.tools import config

from ..providers import ProviderError
from .log import bodies_logged, correlation

_logger = logging.getLogger(__name__)

# Shares of a round of cron jobs one job may use. The prefork watchdog times all a cron worker
# does between two pings: its idle sleep, then every job due. During a campaign the dispatch,
# the webhook queue and Odoo's SMS cron are due together: their shares add up to one.
BUDGET_SHARE = 0.45                     # the dispatch, and the status poll (provider calls too)
WEBHOOK_SHARE = 0.4                     # the webhook queue (media downloads)
SMALL_SHARE = 0.15                      # the clean-up and back-fill crons (Odoo's SMS cron: one slice per run)
DEFAULT_LIMIT = 120.0                   # limit_time_real's default; the round when the cron limit is off
# A prefork cron worker pings the watchdog, then sleeps when idle: SLEEP_INTERVAL (60 s) plus up
# to 9 s (odoo/service/server.py, WorkerCron.sleep), woken early only by a cron trigger due now.
IDLE_SLEEP = 70.0
MIN_ROUND = 10.0                        # a limit below the idle sleep: Odoo kills idle workers anyway
ANSWER_WINDOW = 0.02                    # seconds to gather answers that arrive together
NOT_SENT = object()                     # a send the pool gave back without calling the provider

_cron_budgets = weakref.WeakKeyDictionary()     # {job cursor: {cron id: TimeBudget}}


def cron_time_limit():
    """Seconds after which Odoo kills a cron run: ``limit_time_real_cron``, else ``limit_time_real``."""
    for key in ('limit_time_real_cron', 'limit_time_real'):
        value = config.get(key) or 0
        if value > 0:
            return float(value)
    return DEFAULT_LIMIT


class TimeBudget:
    """Wall-clock seconds a run may still use. ``clock`` is injectable (tests)."""

    def __init__(self, seconds, clock=time.monotonic):
        self.clock = clock
        self.seconds = seconds
        self.deadline = clock() + seconds

    def left(self):
        return self.deadline - self.clock()

    def spent(self, reserve=0.0):
        """Whether less than ``reserve`` seconds are left (what the next step may take)."""
        return self.left() <= reserve

    def __repr__(self):
        return f'<TimeBudget {self.left():.1f}s of {self.seconds:.1f}s left>'


def cron_seconds(share=BUDGET_SHARE, limit_cron=-1, limit_real=DEFAULT_LIMIT, workers=0):
    """Seconds one cron job may run: its ``share`` of the round of jobs the watchdog allows.

    Odoo's limits: ``limit_cron`` (``limit_time_real_cron``; -1: ``limit_real``, 0: no limit, then
    the round is ``DEFAULT_LIMIT`` all the same, to keep runs short). In prefork (``workers``), the
    watchdog also counts the idle sleep before the round (``IDLE_SLEEP``): 120 s leave 50.
    """
    limit = limit_real if limit_cron is None or limit_cron < 0 else limit_cron
    if not limit or limit <= 0:
        return share * DEFAULT_LIMIT
    if workers:
        limit = max(limit - IDLE_SLEEP, MIN_ROUND)
    return share * limit


def cron_budget(env, share=BUDGET_SHARE):
    """The budget of the current cron job (:func:`cron_seconds`): Odoo's runner calls a method up to
    ten times in a row (``_notify_progress``) on one cursor, under one watchdog; those calls share
    one budget. Outside a cron job (tests, shell), every call gets a budget of its own."""
    seconds = cron_seconds(share, config.get('limit_time_real_cron', -1), config.get('limit_time_real') or 0,
                           config.get('workers') or 0)
    cron_id = env.context.get('cron_id')
    if not cron_id or not env.context.get('ir_cron_progress_id'):
        return TimeBudget(seconds)
    budgets = _cron_budgets.setdefault(env.cr, {})
    if cron_id not in budgets:
        budgets[cron_id] = TimeBudget(seconds)
    return budgets[cron_id]


class Pace:
    """Local side of an account's pacing: each send waits for its slot (reserved in PostgreSQL by
    the caller, see ``comm.provider.pace``), and never goes out less than ``interval`` after the
    previous one of this pool (a thread that started late does not bunch the next sends up). A 429
    moves the slots reserved before it by the pause, once per pause, so the sends resume at the
    same spacing; those reserved after it are not moved again (the caller wrote the pause in
    PostgreSQL: their slots already come after it — moving every later slot too added up each
    pause of the run, until the pool waited seconds per send)."""

    def __init__(self, interval=0.0):
        self.lock = threading.Lock()
        self.interval = interval
        self.last = float('-inf')
        self.pauses = []                # (monotonic start, seconds)
        self.paused_until = 0.0

    def pause(self, seconds):
        with self.lock:
            now = time.monotonic()
            if now < self.paused_until:
                return False        # the sends in flight already paused us
            self.pauses.append((now, seconds))
            self.paused_until = now + seconds
            return True

    def due(self, at, reserved_at):
        """When a send reserved at ``reserved_at`` for the slot ``at`` (``None``: no slot) may go."""
        shift = sum(seconds for start, seconds in self.pauses if start >= reserved_at)
        return max((reserved_at if at is None else at) + shift, self.paused_until, self.last + self.interval)

    def poll(self, at, reserved_at):
        """Seconds until the send may go; 0 or less: it goes now (its time is taken)."""
        with self.lock:
            now = time.monotonic()
            delay = self.due(at, reserved_at) - now
            if delay <= 0:
                self.last = now
            return delay

    def _turn(self, at, reserved_at, stop, patience):
        """Yields the seconds to sleep until the send is due; returns whether it may go."""
        while not stop.is_set():
            delay = self.poll(at, reserved_at)
            if delay <= 0:
                return True
            if patience is not None and delay > patience():
                return False
            yield delay
        return False

    def wait(self, at, reserved_at, stop, patience=None):
        """Sleep until the send is due; False when ``stop`` was set, or when it is due later than
        ``patience()`` seconds from now (the run's budget would not cover it)."""
        turn = self._turn(at, reserved_at, stop, patience)
        try:
            while True:
                stop.wait(min(next(turn), 0.5))
        except StopIteration as done:
            return done.value

    async def wait_async(self, at, reserved_at, stop, patience=None):
        """:meth:`wait` on an event loop."""
        turn = self._turn(at, reserved_at, stop, patience)
        try:
            while True:
                await asyncio.sleep(min(next(turn), 0.05))
        except StopIteration as done:
            return done.value


def _settle(future, task):
    """A task's outcome on the ``concurrent.futures.Future`` the caller waits on."""
    if task.cancelled():
        future.cancel()
    elif task.exception() is not None:
        future.set_exception(task.exception())
    else:
        future.set_result(task.result())


class _LoopEvent:
    """What a send on the event loop waits on to start: set from any thread, like an Event."""

    def __init__(self, loop):
        # made on the loop's thread: set from there (the loop's starter), no wake-up of the loop needed
        self.loop, self.future, self.flag, self.thread = loop, loop.create_future(), False, threading.get_ident()

    def set(self):
        self.flag = True
        if threading.get_ident() == self.thread:
            self._resolve()
        else:
            self.loop.call_soon_threadsafe(self._resolve)

    def _resolve(self):
        if not self.future.done():
            self.future.set_result(None)

    def is_set(self):
        return self.flag


class SendPool:
    """A bounded pool of sends for one account: no ORM in its threads, only the adapter.

    ``submit(key, outbound, at)`` queues a send for its slot; ``collect()`` waits for the first
    answers, or for sends about to start, and returns ``([(key, SendResult | ProviderError |
    NOT_SENT)], [key starting])``; ``stop()`` gives back every send that has not reached the
    provider yet (``NOT_SENT``), and so does a send whose turn comes when less than ``reserve``
    seconds of ``budget`` are left.

    At most ``workers`` sends are in their call at once: each on a thread of its own, or, for an
    adapter that sends without blocking (``sends_async``), all of them on one event loop in one
    thread (a fraction of the CPU per send: the pool shares the process with the dispatch).

    A send that has its turn and its slot waits until it is recorded that it starts, so a worker
    that dies leaves exactly the sends that reached the provider marked started, not those still
    waiting for a turn or a slot. With ``starter(keys)`` (which commits that these sends start,
    in a transaction of its own), a thread of the pool calls it for the sends waiting at that
    moment, together, and lets them go at once; one that fails lets none of them go
    (``NOT_SENT``). Without it, the caller records the keys ``collect()`` returned as starting
    (with the answers of that round, one commit), then lets them go with ``start(keys)``: each
    send waits for a round of the caller. On the event loop, a starter that has ``start_async(keys)``
    is awaited there instead, by a task of the loop (no thread between the sends and the database).
    """

    def __init__(self, adapter, workers, name='comm-send', budget=None, reserve=0.0, interval=0.0, starter=None):
        self.adapter = adapter
        self.starter = starter
        self.budget, self.reserve = budget, reserve     # no send starts that could outlive the run
        self.workers = max(1, workers)
        self.pace = Pace(interval)
        self.stopping = threading.Event()
        self.futures = {}
        self.wake = threading.Event()       # an answer came, or a send waits to be let go
        self.lock = threading.Lock()
        self.starting = {}                  # {key: event set by start()}: sends waiting to be let go
        self.refused = set()                # keys whose start the starter could not record
        self.start_wake = threading.Event()     # a send waits for the starter
        self.starter_lock = threading.Lock()    # held while the starter records (stop() waits for it)
        self.threads = []
        self.executor = self.loop = None
        sends_async = getattr(adapter, 'sends_async', False)
        self.starts_on_loop = sends_async and hasattr(starter, 'start_async')
        if sends_async:
            self.loop = asyncio.new_event_loop()
            self.loop_ready, self.loop_closing = threading.Event(), None
            self._spawn(self._run_loop, f'{name}-loop')
            self.loop_ready.wait()
        else:
            self.executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=name)
        if starter and not self.starts_on_loop:
            self._spawn(self._run_starter, f'{name}-start')

    def _spawn(self, target, name):
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        if self.executor:
            self.executor.shutdown(wait=True, cancel_futures=True)
        else:
            concurrent.futures.wait(list(self.futures))     # in their call: their answers come
            self.loop.call_soon_threadsafe(self.loop_closing.set_result, None)
        self.start_wake.set()
        for thread in self.threads:
            thread.join()
        if self.loop:
            self.loop.close()

    def __len__(self):
        return len(self.futures)

    def room(self):
        """How many more sends to queue: two per thread at most."""
        return max(0, 2 * self.workers - len(self.futures))

    def submit(self, key, outbound, at=None):
        self.submit_all([(key, outbound, at)])

    def submit_all(self, sends):
        """Queue these sends ``[(key, outbound, at)]``; on the event loop, handed over together
        (one wake-up of the loop, not one per send)."""
        if not sends:
            return
        reserved_at = time.monotonic()
        if self.loop:
            futures = [concurrent.futures.Future() for _send in sends]
            self.loop.call_soon_threadsafe(self._create_tasks, list(zip(futures, sends)), reserved_at)
        else:
            futures = [self.executor.submit(self._send, key, outbound, at, reserved_at) for key, outbound, at in sends]
        for future, (key, _outbound, _at) in zip(futures, sends):
            self.futures[future] = key
            future.add_done_callback(lambda _future: self.wake.set())

    def collect(self, timeout=None):
        """``(answers, starting)``: what came in, and the sends waiting for ``start()``."""
        while self.futures:
            self.wake.wait(timeout)
            with self.lock:
                asking = 0 if self.starter else sum(not event.is_set() for event in self.starting.values())
            if sum(not future.done() for future in self.futures) > asking:
                # the answers and starts coming in meanwhile are recorded with them (one commit)
                time.sleep(ANSWER_WINDOW)
            self.wake.clear()
            finished = [future for future in self.futures if future.done()]
            with self.lock:
                starting = [] if self.starter else [key for key, event in self.starting.items() if not event.is_set()]
            if finished or starting or timeout is not None:     # else woken by an answer collected before
                return [(self.futures.pop(future), future.result()) for future in finished], starting
        return [], []

    def start(self, keys):
        """The start of these sends is recorded: they go to the provider."""
        with self.lock:
            for key in keys:
                if key in self.starting:        # gone: it was stopped meanwhile
                    self.starting[key].set()

    def stop(self):
        """Nothing more goes out: queued sends are cancelled, those waiting for their turn, their
        slot or their start return."""
        self.stopping.set()
        self.start_wake.set()
        if self.starts_on_loop:
            self.loop.call_soon_threadsafe(self.loop_start_wake.set)
        with self.lock:
            for event in self.starting.values():
                event.set()
        if self.starter:
            with self.starter_lock:     # what it is recording now is committed before anything is given back
                pass
        if self.loop:       # on the loop, a send not in its call yet returns NOT_SENT by itself
            return []
        cancelled = [(key, NOT_SENT) for future, key in list(self.futures.items()) if future.cancel()]
        for future in [future for future in self.futures if future.cancelled()]:
            del self.futures[future]
        return cancelled

    def _patience(self):
        """Seconds a send may still wait for its slot: it must start a timeout before the budget ends."""
        return float('inf') if self.budget is None else self.budget.left() - self.reserve

    def _ask_start(self, key, event):
        """Wait list of the sends to let go; False once the pool stops."""
        with self.lock:
            if self.stopping.is_set():
                return False
            self.starting[key] = event
        if self.starts_on_loop:
            self.loop_start_wake.set()      # on the loop's thread
        else:
            (self.start_wake if self.starter else self.wake).set()
        return True

    def _started(self, key):
        """Whether the send waited for may go now."""
        with self.lock:
            del self.starting[key]
            refused = key in self.refused
            self.refused.discard(key)
        return not refused and not self.stopping.is_set()

    def _let_go(self, key):
        """Wait until the caller recorded that this send starts; False once the pool stops."""
        event = threading.Event()
        if not self._ask_start(key, event):
            return False
        event.wait()
        return self._started(key)

    def _run_starter(self):
        """The starter's thread: records the start of the sends waiting at that moment, together
        (one transaction for all of them), then lets them go; closes the starter at the end."""
        try:
            self._start_waiting()
        finally:
            self._close_starter()

    def _close_starter(self):
        if hasattr(self.starter, 'close'):
            self.starter.close()

    def _start_waiting(self):
        while not self.stopping.is_set():
            self.start_wake.wait(0.5)
            self.start_wake.clear()
            keys = self._waiting_keys()
            if not keys:
                continue
            try:
                with self.starter_lock:
                    self.starter(keys)
                self._let_started_go(keys)
            except Exception:  # noqa: BLE001  not recorded: not sent (the caller gives them back)
                self._let_started_go(keys, refused=True)

    def _waiting_keys(self):
        """The sends waiting for their start to be recorded (none once the pool stops)."""
        with self.lock:
            keys = [key for key, event in self.starting.items() if not event.is_set()]
        return [] if self.stopping.is_set() else keys

    def _let_started_go(self, keys, refused=False):
        """The starter recorded the start of these sends: they go (``refused``: it failed, none goes)."""
        if refused:
            _logger.exception('%s: the start of %s sends could not be recorded', self.adapter.code, len(keys))
        with self.lock:
            if refused:
                self.refused.update(keys)
            for key in keys:
                if key in self.starting:
                    self.starting[key].set()

    def _may_go(self):
        return self.budget is None or not self.budget.spent(self.reserve)

    def _send(self, key, outbound, at, reserved_at):
        if not self.pace.wait(at, reserved_at, self.stopping, self._patience) or not self._may_go() \
                or not self._let_go(key):
            return NOT_SENT
        started = time.monotonic()
        with correlation(outbound.client_ref):      # the adapter's log lines name the message
            result = self._call(outbound)
        result.elapsed = time.monotonic() - started
        return result

    def _call(self, outbound):
        self._log_send(outbound)
        try:
            return self.adapter.send_message(outbound)
        except Exception as exc:  # noqa: BLE001  mapped by _failed
            return self._failed(exc)

    def _log_send(self, outbound):
        _logger.debug('%s: sending a %s message', self.adapter.code, outbound.channel)
        if bodies_logged():
            _logger.debug('%s: body %r', self.adapter.code, outbound.body)

    def _failed(self, exc):
        """What a send that raised answers: the provider's error (a 429 pauses the pool), or an
        internal one, retried (an SDK bug must not kill the batch)."""
        if isinstance(exc, ProviderError):
            if (exc.http_status == 429 or exc.retry_after) and not exc.per_recipient:
                self.pace.pause(min(exc.retry_after or 1.0, 30.0))
            return exc
        _logger.error('%s adapter raised unexpectedly', self.adapter.code, exc_info=exc)
        return ProviderError(f'Unexpected error: {type(exc).__name__}', code='internal', retryable=True)

    # -- on the event loop (adapters that send without blocking) --------------------------------

    def _run_loop(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())

    async def _serve(self):
        """The loop's life: the adapter's client open while the pool lives (a client that cannot
        be made is every send's answer)."""
        self.limit = asyncio.Semaphore(self.workers)
        self.loop_closing = self.loop.create_future()
        self.loop_start_wake = asyncio.Event()
        self.client, self.client_error = None, None
        starts = self.loop.create_task(self._start_waiting_async()) if self.starts_on_loop else None
        try:
            async with self.adapter.async_client() as client:
                self.client = client
                self.loop_ready.set()
                await self.loop_closing
        except Exception as exc:  # noqa: BLE001  answered to each send instead
            self.client_error = exc
            self.loop_ready.set()
            await self.loop_closing
        finally:
            if starts:
                await starts
                self._close_starter()

    async def _start_waiting_async(self):
        """:meth:`_start_waiting` on the loop: the starter's statement awaited there, for the sends
        waiting meanwhile (each recorded group lets the next one go at once)."""
        while not self.stopping.is_set():
            await self.loop_start_wake.wait()
            self.loop_start_wake.clear()
            keys = self._waiting_keys()
            if not keys:
                continue
            try:
                with self.starter_lock:     # only stop() takes it, and lets go at once
                    await self.starter.start_async(keys)
                self._let_started_go(keys)
            except Exception:  # noqa: BLE001  not recorded: not sent (the caller gives them back)
                self._let_started_go(keys, refused=True)

    def _create_tasks(self, sends, reserved_at):
        """On the loop: a task per send, its outcome passed on to the caller's future."""
        for future, (key, outbound, at) in sends:
            task = self.loop.create_task(self._send_async(key, outbound, at, reserved_at))
            task.add_done_callback(functools.partial(_settle, future))

    async def _send_async(self, key, outbound, at, reserved_at):
        async with self.limit:
            if not await self.pace.wait_async(at, reserved_at, self.stopping, self._patience) or not self._may_go():
                return NOT_SENT
            event = _LoopEvent(self.loop)
            if not self._ask_start(key, event):
                return NOT_SENT
            await event.future
            if not self._started(key):
                return NOT_SENT
            started = time.monotonic()
            with correlation(outbound.client_ref):
                self._log_send(outbound)
                try:
                    if self.client_error:
                        raise self.client_error
                    result = await self.adapter.send_message_async(outbound, self.client)
                except Exception as exc:  # noqa: BLE001  mapped by _failed
                    result = self._failed(exc)
            result.elapsed = time.monotonic() - started
            return result
