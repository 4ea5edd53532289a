"""The load generator: websocket clients in one process, pinned to the other core.

    taskset -c 1 python bench/loadgen.py SPEC.json > RESULT.json

The harness writes SPEC (see :class:`Generator`), runs this process once per step and
reads one JSON object from its stdout. Clients speak one of two protocols:

``chatter``
    What ``chatter.js`` does in a room page: session cookie and same-host Origin;
    ``{"type": "resume", "after": N}`` on every open (N = the newest sequence up to which
    it has no hole); ``resume`` again once for a hole it sees; ``{"type": "read", "seq":
    N}`` after new messages when the page is visible, at most once a second and only when
    the position moved; ``{"type": "ping"}`` every 20 s; sends as ``{"type": "send",
    "text", "client_id", "HEADERS"}``; reconnects after 1006/1011/1012/1013 with the
    jittered backoff of ``chatter.js`` and sends what it queued meanwhile. Frames are
    htmx-ws HTML: a message is an ``<article id="chatter-msg-<seq>">`` with the text.
``bare``
    The bare broadcast consumer: the text is the frame, both ways.

Every message's text is ``bm:<sender>:<n>:<send time in µs>``; each receiving socket
counts per message: delivered, duplicated, out of order, and its latency.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import resource
import sys
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import contextlib

from bench.procs import (
    LOADGEN_CORE,
    SERVER_CORE,
    backend_cpu,
    core_busy_seconds,
    cpu_seconds,
    raise_fd_limit,
    rss_kib,
)

RETRY_CODES = {1006, 1011, 1012, 1013}  # what the htmx ws extension reconnects after
MAX_SEQ = 2**63 - 1  # "after everything": what a freshly rendered page resumes after
PING_INTERVAL = 20.0
READ_INTERVAL = 1.0
QUIET = 0.5  # settled: no frame for this long
FOREIGN_LIMIT = 0.2  # share of the server core other processes may take before a step is flagged
MARK = re.compile(r"bm:(\d+):(\d+):(\d+)")
SEQ = re.compile(r'id="chatter-msg-(\d+)"')
FIRST_ID = re.compile(r'id="([^"]+)"')
ID_TAIL = re.compile(r"-(?:[0-9a-f]{8,}|\d+)$")


def now() -> float:
    return time.monotonic()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def frame_kind(frame: str) -> str:
    """What a Chatter frame that carries no message is, from its first element's id."""
    found = FIRST_ID.search(frame)
    return ID_TAIL.sub("", found.group(1)) if found else "other"


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Client:
    """One websocket of one user (one page), kept open until the step ends."""

    def __init__(self, gen: Generator, index: int, spec: dict[str, Any]) -> None:
        self.gen, self.index = gen, index
        self.room: str = spec["room"]
        self.cookie: str = spec.get("cookie", "")
        self.visible: bool = spec.get("visible", True)
        server = gen.servers[spec.get("server", 0)]
        self.port: int = server["port"]
        path = "chatter" if gen.chatter else "bare"
        self.url = f"ws://127.0.0.1:{self.port}/ws/{path}/{self.room}/"
        self.ws: ClientConnection | None = None
        self.first_open = asyncio.Event()
        self.opened_once = False
        self.handshake: float | None = None
        self.failed = 0
        self.retry = 0
        self.reconnects = 0
        self.closes: Counter[int] = Counter()
        self.queue: list[str] = []
        # delivery accounting: (sender, n) -> copies; per sender the highest n seen
        self.got: Counter[tuple[int, int]] = Counter()
        self.top_n: dict[int, int] = {}
        self.next_n: dict[int, int] = {}
        self.duplicates = 0
        self.out_of_order = 0
        self.frames: Counter[str] = Counter()
        self.first_how: dict[tuple[int, int], tuple[int, int, int]] = {}
        self.opens = 0
        # chatter.js state
        self.seqs: set[int] = set()
        # None until the first message: a page renders the room's newest messages and
        # resumes after them, so it never asks for what came before it opened (a step
        # run again in the same room must not count the earlier run's messages).
        self.contiguous: int | None = None
        self.highest = 0
        self.asked_after = -1
        self.read_seq = 0
        self.last_read_at = -READ_INTERVAL
        self.read_due: asyncio.TimerHandle | None = None
        # reconnect storm (S5)
        self.storm_closed = False
        self.stormed = False
        self.reopen = asyncio.Event()
        self.reopened_at: float | None = None
        self.need_n = 0
        self.complete_at: float | None = None
        self.frames_after: Counter[str] = Counter()

    # -- connection ------------------------------------------------------------------

    async def open(self) -> None:
        headers = {"Cookie": f"sessionid={self.cookie}"} if self.cookie else {}
        started = now()
        self.ws = await connect(
            self.url,
            origin=f"http://127.0.0.1:{self.port}",  # type: ignore[arg-type]
            additional_headers=headers,
            compression=None,
            ping_interval=None,
            max_size=None,
            max_queue=1024,
            open_timeout=self.gen.open_timeout,
        )
        self.opens += 1
        if not self.opened_once:
            self.handshake = now() - started
            self.opened_once = True
        if self.stormed and self.reopened_at is None:  # the first open after the storm
            self.reopened_at = now()
            self.need_n = self.gen.sent_count()
            self.check_complete()
        self.retry = 0
        self.asked_after = -1
        if self.gen.chatter:
            after = MAX_SEQ if self.contiguous is None else self.contiguous
            await self.send_now({"type": "resume", "after": after})
            self.mark_read()
        queued, self.queue = self.queue, []
        for text in queued:
            await self.send_raw(text)

    async def life(self) -> None:
        """Connect (under the generator's limit), read, reconnect as the page would."""
        async with self.gen.connecting:
            try:
                await self.open()
            except Exception:  # refused, timed out, reset: the page retries
                self.failed += 1
        self.first_open.set()
        while not self.gen.stopping:
            if self.ws is not None:
                await self.read()
            if self.gen.stopping:
                return
            if self.storm_closed:
                await self.reopen.wait()
                self.storm_closed = False
                try:
                    await self.open()
                except Exception:
                    self.failed += 1
                    self.ws = None
                continue
            code = self.ws.close_code if self.ws is not None else 1006
            if not self.gen.chatter or (code not in RETRY_CODES and code is not None):
                return
            cap = min(15.0, 0.5 * 2**self.retry)
            self.retry += 1
            await asyncio.sleep(0.25 + random.random() * cap)
            if self.gen.stopping:
                return
            try:
                await self.open()
                self.reconnects += 1
            except Exception:
                self.failed += 1
                self.ws = None

    async def read(self) -> None:
        assert self.ws is not None
        try:
            async for frame in self.ws:
                self.on_frame(frame if isinstance(frame, str) else frame.decode(), now())
        except ConnectionClosed:
            pass
        if not self.storm_closed and not self.gen.stopping:
            self.closes[self.ws.close_code or 1006] += 1

    async def send_raw(self, text: str) -> bool:
        """Send now if open; else queue it, as the ws extension does (chatter only)."""
        ws = self.ws
        if ws is not None:
            try:
                await ws.send(text)
                return True
            except ConnectionClosed:
                pass
        if self.gen.chatter:
            self.queue.append(text)
        return False

    async def send_now(self, data: dict[str, Any]) -> None:
        self.gen.sent_frames[data["type"]] += 1
        await self.send_raw(json.dumps(data))

    def send_later(self, data: dict[str, Any]) -> None:
        self.gen.spawn(self.send_now(data))

    # -- what arrives --------------------------------------------------------------------

    def on_frame(self, frame: str, at: float) -> None:
        gen = self.gen
        gen.last_frame = at
        if not gen.chatter:
            self.frames["message"] += 1
            for found in MARK.finditer(frame):
                self.on_message(int(found[1]), int(found[2]), int(found[3]), at, (0, 1, 0))
            return
        if "chatter-msg-" not in frame:
            kind = frame_kind(frame)
            self.frames[kind] += 1
            if self.reopened_at is not None:
                self.frames_after[kind] += 1
            return
        self.frames["message"] += 1
        if self.reopened_at is not None:
            self.frames_after["message"] += 1
        chunks = frame.split("<article")[1:]
        if self.contiguous is None:
            first = SEQ.search(chunks[0]) if chunks else None
            self.contiguous = int(first[1]) - 1 if first else 0
        for chunk in chunks:
            seq, mark = SEQ.search(chunk), MARK.search(chunk)
            number = int(seq[1]) if seq else 0
            if seq:
                self.seqs.add(number)
                self.highest = max(self.highest, number)
            if mark:
                how = (number, len(chunks), self.opens)
                self.on_message(int(mark[1]), int(mark[2]), int(mark[3]), at, how)
        while self.contiguous + 1 in self.seqs:
            self.contiguous += 1
        if self.highest > self.contiguous and self.contiguous != self.asked_after:
            self.asked_after = self.contiguous
            self.send_later({"type": "resume", "after": self.contiguous})
        self.mark_read()

    def on_message(
        self, sender: int, n: int, sent_us: int, at: float, how: tuple[int, int, int]
    ) -> None:
        """Count message ``n`` of ``sender``; ``how`` = (seq, messages in its frame, opens of
        this socket so far), kept for the first copy to explain duplicates."""
        key = (sender, n)
        self.got[key] += 1
        if self.got[key] > 1:
            self.duplicates += 1
            self.gen.anomaly("duplicate", self, key, self.first_how.get(key), how)
            return
        self.first_how[key] = how
        top = self.top_n.get(sender, -1)
        if n < top:
            self.out_of_order += 1
            self.gen.anomaly("out of order", self, key, self.first_how.get((sender, top)), how)
        else:
            self.top_n[sender] = n
        nxt = self.next_n.get(sender, 0)
        while (sender, nxt) in self.got:
            nxt += 1
        self.next_n[sender] = nxt
        self.gen.delivered += 1
        self.gen.latencies.append(at - sent_us / 1e6)
        if self.reopened_at is not None:
            self.check_complete()

    def check_complete(self) -> None:
        if self.complete_at is None and self.next_n.get(self.gen.storm_sender, 0) >= self.need_n:
            self.complete_at = now()

    # -- chatter.js's read rule ------------------------------------------------------------

    def mark_read(self) -> None:
        if not self.visible or self.read_due is not None or self.highest <= self.read_seq:
            return
        delay = self.last_read_at + READ_INTERVAL - now()
        if delay <= 0:
            self.send_read()
        else:
            self.read_due = asyncio.get_running_loop().call_later(delay, self.send_read)

    def send_read(self) -> None:
        self.read_due = None
        if self.highest > self.read_seq:
            self.read_seq = self.highest
            self.last_read_at = now()
            self.send_later({"type": "read", "seq": self.highest})

    async def pinger(self, first: float) -> None:
        await asyncio.sleep(first)
        while not self.gen.stopping:
            if self.ws is not None and self.ws.state.name == "OPEN":
                await self.send_now({"type": "ping"})
            await asyncio.sleep(PING_INTERVAL)

    def reset(self) -> None:
        """Start counting frames afresh (the measured phase begins)."""
        self.frames.clear()


class Generator:
    """One step: connect the sockets, run the senders, drain, and measure."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.chatter = spec["protocol"] == "chatter"
        self.servers: list[dict[str, Any]] = spec["servers"]
        self.open_timeout = float(spec.get("open_timeout", 20))
        self.connecting = asyncio.Semaphore(int(spec.get("connect_concurrency", 25)))
        self.stopping = False
        self.clients = [Client(self, i, s) for i, s in enumerate(spec["sockets"])]
        self.senders: list[dict[str, Any]] = spec.get("senders", [])
        self.offered: Counter[int] = Counter()
        self.lags: list[float] = []
        self.latencies: list[float] = []
        self.delivered = 0
        self.last_frame = now()
        self.sent_frames: Counter[str] = Counter()
        self.anomalies: list[dict[str, Any]] = []
        self.storm_sender = self.senders[0]["socket"] if self.senders else -1
        self._tasks: set[asyncio.Task[Any]] = set()

    def anomaly(
        self, kind: str, client: Client, key: tuple[int, int], before: Any, now_: Any
    ) -> None:
        """Keep the first few duplicates and reorderings, with how each copy came."""
        if len(self.anomalies) < 12:
            self.anomalies.append(
                {
                    "kind": kind,
                    "socket": client.index,
                    "message": f"{key[0]}:{key[1]}",
                    "earlier (seq, messages in frame, socket opens)": before,
                    "this (seq, messages in frame, socket opens)": now_,
                }
            )

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def sent_count(self) -> int:
        return self.offered[self.storm_sender]

    # -- measurements ----------------------------------------------------------------------

    def statements(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        if not self.spec.get("stats"):
            return {}
        for server in self.servers:
            url = f"http://127.0.0.1:{server['port']}/bench/stats"
            try:
                with urllib.request.urlopen(url, timeout=10) as answer:
                    total.update(json.loads(answer.read()))
            except OSError:
                return {}
        return dict(total)

    async def snapshot(self) -> dict[str, Any]:
        statements = await asyncio.to_thread(self.statements)
        return {
            "wall": now(),
            "server_cpu": sum(cpu_seconds(s["pid"]) for s in self.servers),
            "redis_cpu": cpu_seconds(self.spec["redis_pid"]),
            "loadgen_cpu": own_cpu(),
            "rss_kib": sum(rss_kib(s["pid"]) for s in self.servers),
            "statements": statements,
            "server_core_busy": core_busy_seconds(SERVER_CORE),
            "loadgen_core_busy": core_busy_seconds(LOADGEN_CORE),
            "postgres_cpu": backend_cpu(self.spec["database"]) if self.spec.get("database") else {},
        }

    # -- phases --------------------------------------------------------------------------

    async def connect_all(self) -> float:
        """Open every socket (at most ``connect_concurrency`` handshakes at once)."""
        started = now()
        first = 20.0 if self.spec.get("ping") == "fresh" else None
        for client in self.clients:
            self.spawn(client.life())
            if self.chatter and self.spec.get("ping", "steady") != "off":
                phase = first if first is not None else random.uniform(0, PING_INTERVAL)
                self.spawn(client.pinger(phase))
        waits = [c.first_open.wait() for c in self.clients]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waits), float(self.spec["connect_timeout"]))
        return now() - started

    async def settle(self) -> None:
        """Wait until frames stop flowing (connect-time announcements), at most settle_max."""
        deadline = now() + float(self.spec.get("settle_max", 10))
        quiet = float(self.spec.get("quiet", QUIET))
        await asyncio.sleep(quiet)
        while now() < deadline and now() - self.last_frame < quiet:
            await asyncio.sleep(0.1)

    async def send_loop(self, sender: dict[str, Any], start: float, end: float) -> None:
        """Open loop: message n is due at start + offset + n / rate, whatever came back."""
        client = self.clients[sender["socket"]]
        rate = float(sender["rate"])
        begin = start + float(sender.get("start", 0))
        n = 0
        while True:
            due = begin + n / rate
            if due >= end or self.stopping:
                return
            delay = due - now()
            if delay > 0:
                await asyncio.sleep(delay)
            at = now()
            self.lags.append(at - due)
            text = f"bm:{sender['socket']}:{n}:{int(at * 1e6)}"
            self.offered[sender["socket"]] += 1
            n += 1
            if self.chatter:
                data = {"type": "send", "text": text, "client_id": str(uuid.uuid4())}
                self.sent_frames["send"] += 1
                self.spawn(client.send_raw(json.dumps({**data, "HEADERS": {}})))
            else:
                self.spawn(client.send_raw(text))

    def expected(self) -> int:
        sizes = Counter(c.room for c in self.clients)
        return sum(n * sizes[self.clients[s].room] for s, n in self.offered.items())

    async def drain(self) -> float:
        """Until every message is everywhere, or nothing arrived for 3 s, or the cap."""
        started = now()
        deadline = started + float(self.spec.get("drain", 10))
        expected = self.expected()
        seen, progress_at = self.delivered, now()
        while now() < deadline and self.delivered < expected:
            await asyncio.sleep(0.05)
            if self.delivered != seen:
                seen, progress_at = self.delivered, now()
            elif now() - progress_at > 3:
                break
        return now() - started

    async def stop(self) -> None:
        self.stopping = True
        closing = [c.ws.close() for c in self.clients if c.ws is not None]
        await asyncio.gather(*closing, return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()

    # -- figures -----------------------------------------------------------------------

    def delivery_figures(self, send_window: tuple[dict, dict], end: dict) -> dict[str, Any]:
        start, sent_end = send_window
        wall = sent_end["wall"] - start["wall"]
        expected = self.expected()
        deliveries = self.delivered
        lag99 = percentile(self.lags, 0.99)
        cpu_share = (sent_end["loadgen_cpu"] - start["loadgen_cpu"]) / wall if wall > 0 else 0.0
        behind = []
        if cpu_share > 0.9:
            behind.append(f"load generator CPU {cpu_share:.0%}")
        if lag99 is not None and lag99 > 0.1:
            behind.append(f"send lag p99 {lag99 * 1000:.0f} ms")
        server_cpu = end["server_cpu"] - start["server_cpu"]
        redis_cpu = end["redis_cpu"] - start["redis_cpu"]
        postgres_cpu = sum(
            cpu - start["postgres_cpu"].get(pid, 0.0) for pid, cpu in end["postgres_cpu"].items()
        )
        # the server's core should run the server (and perhaps its database backends) only:
        # anything else there is another user of this shared machine
        window = end["wall"] - start["wall"]
        busy = end["server_core_busy"] - start["server_core_busy"]
        foreign = max(0.0, busy - server_cpu - postgres_cpu) / window if window > 0 else 0.0
        if foreign > FOREIGN_LIMIT:
            behind.append(f"other processes took {foreign:.0%} of the server core")
        statements = Counter(end["statements"])
        statements.subtract(start["statements"])
        sent = sum(self.offered.values())
        total_statements = sum(statements.values()) if self.spec.get("stats") else None
        lat = [x * 1000 for x in self.latencies]
        return {
            "sent": sent,
            "expected": expected,
            "delivered": deliveries,
            "delivered_share": deliveries / expected if expected else None,
            "duplicates": sum(c.duplicates for c in self.clients),
            "out_of_order": sum(c.out_of_order for c in self.clients),
            "p50_ms": percentile(lat, 0.5),
            "p99_ms": percentile(lat, 0.99),
            "max_ms": max(lat) if lat else None,
            "server_cpu_s": server_cpu,
            "cpu_per_1000": server_cpu / deliveries * 1000 if deliveries else None,
            "redis_cpu_per_1000": redis_cpu / deliveries * 1000 if deliveries else None,
            "postgres_cpu_per_1000": (
                postgres_cpu / deliveries * 1000
                if deliveries and self.spec.get("database")
                else None
            ),
            "server_core_foreign_share": foreign,
            "statements": total_statements,
            "statements_per_message": (
                total_statements / sent if total_statements is not None and sent else None
            ),
            "statements_by_shape": {k: v for k, v in statements.most_common() if v},
            "loadgen_cpu_share": cpu_share,
            "send_lag_p99_ms": lag99 * 1000 if lag99 is not None else None,
            "behind": "; ".join(behind),
            "client_frames": dict(self.sent_frames),
            "anomalies": self.anomalies,
        }

    def socket_figures(self, connect_s: float) -> dict[str, Any]:
        opened = [c for c in self.clients if c.opened_once]
        shakes = [c.handshake * 1000 for c in opened if c.handshake is not None]
        closes: Counter[int] = Counter()
        frames: Counter[str] = Counter()
        for c in self.clients:
            closes.update(c.closes)
            frames.update(c.frames)
        return {
            "sockets": len(self.clients),
            "connected": len(opened),
            "connect_s": connect_s,
            "handshake_rate": len(opened) / connect_s if connect_s > 0 else None,
            "handshake_p50_ms": percentile(shakes, 0.5),
            "handshake_p99_ms": percentile(shakes, 0.99),
            "failed_attempts": sum(c.failed for c in self.clients),
            "reconnects": sum(c.reconnects for c in self.clients),
            "closes": {str(k): v for k, v in closes.items()},
            "frames_per_socket": {k: v / len(self.clients) for k, v in frames.most_common()},
        }

    # -- the three kinds of step -------------------------------------------------------------

    async def open_all(self) -> tuple[dict[str, Any], float, dict[str, Any]]:
        """Open every socket and let it settle; the server before, the time, and after.

        What the clients counted while opening is dropped: a step measures what follows.
        """
        fresh = await self.snapshot()
        connect_s = await self.connect_all()
        await self.settle()
        connected = await self.snapshot()
        for client in self.clients:
            client.reset()
        return fresh, connect_s, connected

    async def fanout(self) -> dict[str, Any]:
        fresh, connect_s, connected = await self.open_all()
        start = await self.snapshot()
        self.sent_frames.clear()
        if self.spec.get("phase_file"):  # tells a profiler the measured phase began
            Path(self.spec["phase_file"]).touch()
        end_at = start["wall"] + float(self.spec["duration"])
        await asyncio.gather(*(self.send_loop(s, start["wall"], end_at) for s in self.senders))
        sent_end = await self.snapshot()
        drain_s = await self.drain()
        end = await self.snapshot()
        figures = self.delivery_figures((start, sent_end), end)
        figures.update(self.socket_figures(connect_s))
        figures["drain_s"] = drain_s
        figures["kib_per_socket"] = self.kib_per_socket(fresh, connected)
        await self.stop()
        return figures

    def kib_per_socket(self, fresh: dict, connected: dict) -> float | None:
        opened = sum(1 for c in self.clients if c.opened_once)
        return (connected["rss_kib"] - fresh["rss_kib"]) / opened if opened else None

    async def connections(self) -> dict[str, Any]:
        fresh, connect_s, connected = await self.open_all()
        await asyncio.sleep(float(self.spec.get("hold", 3)))
        held = await self.snapshot()
        figures = self.socket_figures(connect_s)
        opened = figures["connected"]
        figures["kib_per_socket"] = self.kib_per_socket(fresh, connected)
        figures["server_rss_mib"] = connected["rss_kib"] / 1024
        cpu = connected["server_cpu"] - fresh["server_cpu"]
        figures["connect_cpu_ms_per_socket"] = cpu / opened * 1000 if opened else None
        idle_cpu = held["server_cpu"] - connected["server_cpu"]
        figures["idle_cpu_share"] = idle_cpu / (held["wall"] - connected["wall"])
        figures["open_after_hold"] = sum(
            1 for c in self.clients if c.ws is not None and c.ws.state.name == "OPEN"
        )
        statements = Counter(connected["statements"])
        statements.subtract(fresh["statements"])
        if self.spec.get("stats") and opened:
            figures["statements_per_connect"] = sum(statements.values()) / opened
        await self.stop()
        return figures

    async def storm(self) -> dict[str, Any]:
        """S5: the storm sockets close at once, then all reconnect at once, while the
        sender goes on; how long until each has every message, and what else it got."""
        storm = self.spec["storm"]
        stormers = [self.clients[i] for i in storm["sockets"]]
        connect_s = await self.connect_all()
        await self.settle()
        for client in self.clients:
            client.reset()
        start = await self.snapshot()
        pre_end = start["wall"] + float(storm["pre"])
        end_at = pre_end + float(storm["gap"]) + float(storm["after"])
        sending = asyncio.gather(*(self.send_loop(s, start["wall"], end_at) for s in self.senders))
        await asyncio.sleep(max(0.0, pre_end - now()))
        pre_messages = self.sent_count()
        pre_other = sum(sum(c.frames.values()) - c.frames["message"] for c in stormers)
        storm_at = now()
        for client in stormers:
            client.storm_closed = client.stormed = True
        await asyncio.gather(*(c.ws.close() for c in stormers if c.ws), return_exceptions=True)
        await asyncio.sleep(float(storm["gap"]))
        for client in stormers:
            client.reopen.set()
        await sending
        sent_end = await self.snapshot()
        drain_s = await self.drain()
        end = await self.snapshot()
        figures = self.delivery_figures((start, sent_end), end)
        figures.update(self.socket_figures(connect_s))
        figures["drain_s"] = drain_s
        steady = pre_other / len(stormers) / pre_messages if pre_messages else 0.0
        total = self.sent_count()
        extra, raw, done = [], [], []
        kinds: Counter[str] = Counter()
        for c in stormers:
            other = sum(c.frames_after.values()) - c.frames_after["message"]
            raw.append(other)
            extra.append(other - steady * (total - c.need_n))
            kinds.update(c.frames_after)
            if c.complete_at is not None:
                done.append(c.complete_at - storm_at)
        figures.update(
            storm_sockets=len(stormers),
            storm_complete=len(done),
            storm_complete_s=max(done) if len(done) == len(stormers) else None,
            storm_complete_p50_s=percentile(done, 0.5),
            storm_other_frames_max=max(raw) if raw else None,
            storm_extra_frames_max=max(extra) if extra else None,
            storm_extra_frames_mean=sum(extra) / len(extra) if extra else None,
            storm_steady_other_per_message=steady,
            storm_frames_per_socket={k: v / len(stormers) for k, v in kinds.most_common()},
        )
        await self.stop()
        return figures


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    gen = Generator(spec)
    started = now()
    cpu = own_cpu()
    figures = await getattr(gen, spec["mode"])()
    figures["loadgen_wall_s"] = now() - started
    figures["loadgen_cpu_s"] = own_cpu() - cpu
    return figures


def main() -> None:
    raise_fd_limit()
    spec = json.loads(Path(sys.argv[1]).read_text())
    random.seed(spec.get("seed", 0))
    result = asyncio.run(run(spec))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    os._exit(0)  # do not wait for sockets a stalled server never closes


if __name__ == "__main__":
    main()
