"""One delivery per process: the hub subscribes once per group and writes to its sockets.

The bare Channels way puts every socket's channel in the groups it needs, so a message
to a room of 200 becomes 200 channel-layer copies and 200 consumer dispatches (about
0.4 CPU-ms each, measured). Here each server process has ONE channel: the hub adds it to
a group when the first local socket needs that group, reads every event once, and hands
it to its local sockets, which write it straight to the websocket (about 0.02 CPU-ms).
The channel layer carries one copy per process, whatever the room's size.

The channel layer stays a doorbell: when it fails (Redis restarted, a connection lost)
the hub keeps trying, subscribes again once it is back, and asks every local socket to
read what it may have missed from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, Generic, Protocol, TypeVar

log = logging.getLogger("chatter.live")

#: Seconds between sweeps: groups no local socket needs are left, the others re-joined.
SWEEP_INTERVAL = 30.0
#: Most channel-layer calls in flight at once per process. redis-py's pools refuse (not
#: wait) past 100 connections: 200 sockets of one room reading at once made 200 group
#: sends and ``MaxConnectionsError``. Calls past this number wait their turn.
LAYER_CONCURRENCY = 32

#: Seconds between re-adding every group (channels-redis forgets members after
#: ``group_expiry``, a day by default).
REFRESH_INTERVAL = 3600.0
#: When handing events to the sockets takes longer than BATCH_BUSY (seconds), the next
#: batch starts no sooner than BATCH_WINDOW after this one started: events that come
#: meanwhile are handed on together, one frame per socket for all of them.
BATCH_BUSY = 0.002
BATCH_WINDOW = 0.02


class Listener(Protocol):
    """A local socket, as the hub sees it."""

    async def hub_event(self, group: str, event: dict[str, Any]) -> None:
        """Handle one event of a group this socket joined; must not wait on I/O."""

    def hub_resync(self) -> None:
        """The channel layer may have dropped events: read what was missed."""


K = TypeVar("K", bound=Hashable)
I = TypeVar("I", bound=Hashable)  # noqa: E741


class Pacer(Generic[K, I]):
    """At most one ``flush(key, items)`` per ``interval`` seconds per key.

    The first note of a key flushes at once; notes within the interval after a flush are
    merged into one more flush at its end. So a storm of N notes costs at most two
    flushes per interval, and a single note is never delayed.
    """

    def __init__(self, interval: float, flush: Callable[[K, set[I]], Awaitable[None]]) -> None:
        self.interval = interval
        self.flush = flush
        self.pending: dict[K, set[I]] = {}
        self.last: dict[K, float] = {}
        self.timers: dict[K, asyncio.TimerHandle] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def note(self, key: K, item: I | None = None) -> None:
        items = self.pending.setdefault(key, set())
        if item is not None:
            items.add(item)
        if key in self.timers:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self.last.get(key, -self.interval) + self.interval - loop.time())
        self.timers[key] = loop.call_later(delay, self._fire, key)

    def discard(self, key: K, item: I) -> None:
        """Forget a note not flushed yet (it no longer holds)."""
        items = self.pending.get(key)
        if items is not None:
            items.discard(item)

    def _fire(self, key: K) -> None:
        del self.timers[key]
        items = self.pending.pop(key, set())
        self.last[key] = asyncio.get_running_loop().time()
        task = asyncio.get_running_loop().create_task(
            self._run(key, items), context=contextvars.Context()
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        # Forget keys that have been quiet for a while, so the dict does not grow forever.
        if len(self.last) > 1000:
            cutoff = self.last[key] - 10 * self.interval
            for old in [k for k, at in self.last.items() if at < cutoff]:
                del self.last[old]

    async def _run(self, key: K, items: set[I]) -> None:
        try:
            await self.flush(key, items)
        except Exception:
            log.exception("Chatter: flushing %r failed", key)

    def cancel(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()


class Hub:
    """The process's one channel, its group memberships, and its local sockets."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.channel: str | None = None
        self.listeners: dict[str, set[Listener]] = {}
        self.subscribed: set[str] = set()
        # Pacers of any key and item types, each made by pacer() for its own flush.
        self.pacers: dict[str, Pacer[Any, Any]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        # Events read but not yet handed to the sockets (see _dispatch_forever).
        self.backlog: deque[dict[str, Any]] = deque()
        self._woken = asyncio.Event()
        self._sweeper: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()
        self.healthy = True
        self.closing = False

    # -- membership ------------------------------------------------------------------------

    async def join(self, listener: Listener, groups: Iterable[str]) -> None:
        """Deliver the events of ``groups`` to ``listener`` (raises if the layer is down)."""
        await self._start()
        groups = list(groups)
        for group in groups:
            self.listeners.setdefault(group, set()).add(listener)
        for group in groups:
            if group not in self.subscribed:
                self.subscribed.add(group)
                try:
                    async with gate():
                        await self.layer.group_add(group, self.channel)
                except BaseException:
                    self.subscribed.discard(group)
                    raise

    def leave(self, listener: Listener, groups: Iterable[str]) -> None:
        """Stop delivering ``groups`` to ``listener``; idle groups are left at the sweep."""
        for group in groups:
            members = self.listeners.get(group)
            if members is not None:
                members.discard(listener)
                if not members:
                    del self.listeners[group]

    def local(self, group: str) -> set[Listener]:
        """The local sockets of a group (a copy)."""
        return set(self.listeners.get(group, ()))

    def pacer(
        self, name: str, interval: float, flush: Callable[[K, set[I]], Awaitable[None]]
    ) -> Pacer[K, I]:
        """The process's pacer called ``name`` (made on first use)."""
        if name not in self.pacers:
            self.pacers[name] = Pacer(interval, flush)
        return self.pacers[name]

    # -- reading ---------------------------------------------------------------------------

    async def _start(self) -> None:
        if self._reader is not None and not self._reader.done():
            return
        async with self._start_lock:
            if self._reader is not None and not self._reader.done():
                return
            if self.channel is None:
                self.channel = await self.layer.new_channel()
            # Tasks of their own context: not the language or tenant of the socket that
            # happened to start the hub.
            loop = asyncio.get_running_loop()
            self._reader = loop.create_task(self._read(), context=contextvars.Context())
            self._dispatcher = loop.create_task(
                self._dispatch_forever(), context=contextvars.Context()
            )
            self._sweeper = loop.create_task(self._sweep_forever(), context=contextvars.Context())

    async def _read(self) -> None:
        """Read the process's channel forever; survive and report layer failures.

        A receive is never cancelled on purpose: channels-redis may lose a message it has
        taken from Redis but not yet buffered.
        """
        assert self.channel is not None
        failures = 0
        while True:
            try:
                event = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.closing or _cancelling():
                    # channels-redis may turn a cancellation into another error.
                    raise asyncio.CancelledError from exc
                failures += 1
                if failures == 1:
                    self.healthy = False
                    log.warning("Chatter: the channel layer failed (%s); retrying.", exc)
                await asyncio.sleep(min(0.05 * 2**failures, 5.0))
                # Redis may have restarted empty: join again before waiting for events.
                if await self._resubscribe():
                    log.warning("Chatter: the channel layer is back; resyncing the sockets.")
                    failures, self.healthy = 0, True
                    self._resync()
                continue
            self.backlog.append(event)
            self._woken.set()

    async def _dispatch_forever(self) -> None:
        """Hand the events read to the local sockets, all that are waiting at once.

        An event for a room of 200 is 200 socket writes, and a write costs about the same
        whatever its size. An event that finds the hub idle is handed on at once; while
        the hub is busy, the events of the next BATCH_WINDOW are handed on together and
        each socket gets one frame for all of its own: the cost per event falls as the
        load rises, for at most BATCH_WINDOW of latency.
        """
        loop = asyncio.get_running_loop()
        while True:
            await self._woken.wait()
            self._woken.clear()
            while self.backlog:
                batch = list(self.backlog)
                self.backlog.clear()
                started = loop.time()
                try:
                    await self._dispatch_many(batch)
                except Exception:  # the dispatcher must outlive any one batch
                    log.exception("Chatter: handing events to the sockets failed")
                if loop.time() - started > BATCH_BUSY:
                    await asyncio.sleep(max(0.0, started + BATCH_WINDOW - loop.time()))

    async def _sweep_forever(self) -> None:
        last_refresh = time.monotonic()
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            refresh = time.monotonic() - last_refresh >= REFRESH_INTERVAL
            if refresh:
                last_refresh = time.monotonic()
            await self._sweep(refresh)

    async def _dispatch(self, event: dict[str, Any]) -> None:
        await self._dispatch_many([event])

    async def _dispatch_many(self, events: list[dict[str, Any]]) -> None:
        """Each socket gets its events of ``events`` in order, in one call."""
        per_socket: dict[Listener, list[tuple[str, dict[str, Any]]]] = {}
        for event in events:
            group = event.get("group")
            if not isinstance(group, str):
                continue
            for listener in self.listeners.get(group, ()):
                per_socket.setdefault(listener, []).append((group, event))
        for listener, items in per_socket.items():
            try:
                batch = getattr(listener, "hub_events", None) if len(items) > 1 else None
                if batch is None:
                    for group, event in items:
                        await listener.hub_event(group, event)
                else:
                    await batch(items)
            except Exception:  # one socket's trouble never stops the others
                log.exception("Chatter: delivering to a socket failed")

    async def deliver_locally(self, event: dict[str, Any]) -> None:
        """Hand an event to this process's sockets without the channel layer."""
        await self._dispatch(event)

    async def _resubscribe(self) -> bool:
        """Join every subscribed group again (after an outage); False if that failed."""
        try:
            for group in list(self.subscribed):
                async with gate():
                    await self.layer.group_add(group, self.channel)
        except Exception:
            return False
        return True

    def _resync(self) -> None:
        seen: set[int] = set()
        for members in list(self.listeners.values()):
            for listener in list(members):
                if id(listener) not in seen:
                    seen.add(id(listener))
                    listener.hub_resync()

    async def _sweep(self, refresh: bool) -> None:
        """Leave groups no local socket needs; re-add the others if ``refresh``."""
        for group in list(self.subscribed - self.listeners.keys()):
            self.subscribed.discard(group)
            with contextlib.suppress(Exception):
                async with gate():
                    await self.layer.group_discard(group, self.channel)
        if refresh:
            await self._resubscribe()

    async def close(self) -> None:
        """Stop reading and leave every group (tests; a server just exits). Bounded in time."""
        self.closing = True
        for pacer in self.pacers.values():
            pacer.cancel()
        tasks = [
            task for task in (self._reader, self._dispatcher, self._sweeper) if task is not None
        ]
        for task in tasks:
            task.cancel()
        if tasks:
            # channels-redis finishes a blocking pop (up to five seconds) before it stops.
            await asyncio.wait(tasks, timeout=15)
        groups, self.subscribed = list(self.subscribed), set()

        async def leave_all() -> None:
            for group in groups:
                with contextlib.suppress(Exception):
                    await self.layer.group_discard(group, self.channel)

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(leave_all(), 10)


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def gate() -> asyncio.Semaphore:
    """The event loop's bound on concurrent channel-layer (and limits' Redis) calls."""
    loop = asyncio.get_running_loop()
    semaphore = _gates.get(loop)
    if semaphore is None:
        semaphore = _gates[loop] = asyncio.Semaphore(LAYER_CONCURRENCY)
    return semaphore


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, Hub]] = (
    weakref.WeakKeyDictionary()
)


def hub_for(layer: Any) -> Hub:
    """The hub of this event loop for ``layer`` (one per process in a server)."""
    loop = asyncio.get_running_loop()
    hubs = _hubs.setdefault(loop, {})
    hub = hubs.get(id(layer))
    if hub is None or hub.layer is not layer:
        hub = hubs[id(layer)] = Hub(layer)
    return hub


async def close_hubs() -> None:
    """Close every hub of the running event loop (tests end their loops clean with it)."""
    hubs = _hubs.pop(asyncio.get_running_loop(), {})
    for hub in hubs.values():
        await hub.close()
