"""A page of Chatter as chatter.js and htmx's ws extension drive it, for tests on real servers.

:class:`ChatPage` is one open room page: one websocket at a time to a Daphne, reopened the
way the ws extension does it (only after close codes 1006, 1011, 1012 and 1013, or a
failed handshake, with chatter.js's full-jitter backoff), a ``resume`` after what the page
has without a hole on every open, a ``resume`` again when a frame leaves a hole, says
"more" or a resume "retry" is due, and sends that carry a fresh ``client_id``, queued
while the socket is down and sent again, with the same id, on the next open until the
server acknowledges them. It keeps every frame per connection, so a test can check what
each socket received: each message once, in order, and how many other frames came.

Waits are for progress: :func:`wait_until` fails when nothing at all happened on any page
for ``STALL`` seconds, never because the machine is slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import random
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake

#: Seconds without any progress on any page after which a wait fails.
STALL = 60.0
#: Close codes after which the ws extension opens the socket again.
RETRY_CODES = frozenset({1006, 1011, 1012, 1013})

MESSAGE = re.compile(
    r'<article class="chatter-msg" id="chatter-msg-(\d+)".*?'
    r'<div class="chatter-msg-text" hx-disable>(.*?)</div>',
    re.S,
)
SENT = re.compile(r'data-sent="([^"]+)"')
REFUSED = re.compile(r'data-client-id="([^"]+)">([^<]*)</p>')
RETRY = re.compile(r'data-kind="retry" data-frame="(\w+)" data-after="(\d+)"')


def message_text(body: str) -> str:
    """The text of a message's rendered body (Markdown made HTML): tags dropped, unescaped.

    Exact for the plain texts these tests send (a line break is ``<br>`` and a new line).
    """
    return html.unescape(re.sub(r"<[^>]*>", "", body)).strip()


def reconnect_delay(retries: int) -> float:
    """chatter.js's ``htmx.config.wsReconnectDelay`` in seconds: full jitter, capped at 15 s."""
    return 0.25 + random.random() * min(15.0, 0.5 * 2**retries)


@dataclass
class Connection:
    """One socket of a page: when it opened, what it received, how it closed."""

    opened_at: float
    frames: list[str] = field(default_factory=list)
    close_code: int | None = None
    #: Closed by the page itself (the test ended it), not by the server or the network.
    closed_by_page: bool = False

    def other_frames(self) -> list[str]:
        """The frames that carry no message (acks, room-list updates, presence, ...)."""
        return [frame for frame in self.frames if not MESSAGE.search(frame)]


class ChatPage:
    """One room page in a browser: a socket kept open like chatter.js keeps it."""

    def __init__(self, port: int, room: str, cookie: str, name: str = "") -> None:
        self.port = port
        self.room = room
        self.cookie = cookie
        self.name = name or cookie[:8]
        #: Every message sequence in the order the frames brought them (repeats kept).
        self.seqs: list[int] = []
        self.texts: dict[int, str] = {}
        self.connections: list[Connection] = []
        #: Sends not acknowledged yet (client_id -> text), in the order they were made.
        self.pending: dict[str, str] = {}
        self.acked: dict[str, float] = {}
        self.refused: dict[str, str] = {}
        self.failed_handshakes = 0
        self.stale = False
        self.last_activity = time.monotonic()
        self._ws: Any = None
        self._asked_after = -1
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._timers: set[asyncio.Task[None]] = set()

    # -- the page's state -----------------------------------------------------------------

    def contiguous(self) -> int:
        """The highest sequence up to which the page has every message (what it resumes)."""
        top = 0
        while top + 1 in self.texts:
            top += 1
        return top

    @property
    def is_open(self) -> bool:
        return self._ws is not None

    def complete(self, last: int) -> bool:
        """Whether the page shows every message up to ``last``."""
        return self.contiguous() >= last

    def close_codes(self) -> list[int | None]:
        """How the server or the network closed the page's sockets, oldest first."""
        return [
            conn.close_code
            for conn in self.connections
            if conn.close_code is not None and not conn.closed_by_page
        ]

    # -- driving it -------------------------------------------------------------------------

    def start(self) -> None:
        """Open the page's socket (in the background) and keep it open until stop()."""
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        """Close the socket as a closed tab does and stop reconnecting."""
        self._stopping = True
        for timer in self._timers:
            timer.cancel()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 10)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def send_text(self, text: str) -> str:
        """Send a message as the composer does; returns its client_id."""
        client_id = str(uuid.uuid4())
        self.pending[client_id] = text
        ws = self._ws
        if ws is not None:  # else the ws extension queues it until the next open
            with contextlib.suppress(ConnectionClosed):
                await ws.send(_send_frame(client_id, text))
        return client_id

    async def _run(self) -> None:
        retries = 0
        url = f"ws://127.0.0.1:{self.port}/ws/chatter/{self.room}/"
        headers = {"Origin": f"http://127.0.0.1:{self.port}", "Cookie": f"sessionid={self.cookie}"}
        while not self._stopping:
            try:
                ws = await websockets.connect(
                    url, additional_headers=headers, open_timeout=STALL, ping_interval=None
                )
            except (OSError, InvalidHandshake, TimeoutError):
                # A browser sees a refused or failed handshake as 1006 and tries again.
                self.failed_handshakes += 1
                self.last_activity = time.monotonic()
                await asyncio.sleep(reconnect_delay(retries))
                retries += 1
                continue
            retries = 0
            conn = Connection(opened_at=time.monotonic())
            self.connections.append(conn)
            self.last_activity = conn.opened_at
            try:
                await self._opened(ws)
                async for frame in ws:
                    await self._received(conn, frame if isinstance(frame, str) else frame.decode())
            except ConnectionClosed:
                pass
            finally:
                self._ws = None
            conn.close_code = ws.close_code if ws.close_code is not None else 1006
            conn.closed_by_page = self._stopping
            self.last_activity = time.monotonic()
            if self._stopping or conn.close_code not in RETRY_CODES:
                return
            await asyncio.sleep(reconnect_delay(retries))
            retries += 1

    async def _opened(self, ws: Any) -> None:
        """htmx:wsOpen: resume after what the page has, then the queued sends, in order."""
        self._asked_after = -1
        await ws.send(json.dumps({"type": "resume", "after": self.contiguous()}))
        flushed: set[str] = set()
        while todo := [cid for cid in self.pending if cid not in flushed]:
            for client_id in todo:
                flushed.add(client_id)
                if client_id in self.pending:
                    await ws.send(_send_frame(client_id, self.pending[client_id]))
        self._ws = ws

    async def _received(self, conn: Connection, frame: str) -> None:
        """htmx:wsAfterMessage: apply the frame as chatter.js does."""
        conn.frames.append(frame)
        self.last_activity = time.monotonic()
        for seq, text in MESSAGE.findall(frame):
            self.seqs.append(int(seq))
            self.texts[int(seq)] = message_text(text)
        for client_id in SENT.findall(frame):
            if self.pending.pop(client_id, None) is not None:
                self.acked[client_id] = time.monotonic()
        for client_id, error in REFUSED.findall(frame):
            if error and self.pending.pop(client_id, None) is not None:
                self.refused[client_id] = html.unescape(error)
        if 'data-kind="stale"' in frame:
            self.stale = True
        for kind, after in RETRY.findall(frame):
            if kind == "resume":
                self._later(int(after) / 1000, self._resume)
        contiguous = self.contiguous()
        top = max(self.texts, default=0)
        if 'data-kind="more"' in frame:
            await self._resume()
        elif top > contiguous and contiguous != self._asked_after:
            self._asked_after = contiguous
            await self._resume()

    async def _resume(self) -> None:
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(json.dumps({"type": "resume", "after": self.contiguous()}))

    def _later(self, delay: float, action: Callable[[], Any]) -> None:
        async def run() -> None:
            await asyncio.sleep(delay)
            await action()

        task = asyncio.ensure_future(run())
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)


def _send_frame(client_id: str, text: str) -> str:
    """What the composer sends (chatter.js drops the headers and sets the type)."""
    return json.dumps({"type": "send", "text": text, "client_id": client_id})


async def wait_until(
    pages: Iterable[ChatPage],
    predicate: Callable[[], bool],
    what: str,
    stall: float = STALL,
    check: Callable[[], None] | None = None,
) -> float:
    """Wait until ``predicate()`` holds; return when (``time.monotonic()``).

    Fails when no page received, opened or lost anything for ``stall`` seconds: a slow
    machine makes progress, a broken server is silent. ``check()`` runs on every round and
    may raise to stop early (e.g. a traceback appeared in a server log).
    """
    pages = list(pages)
    while not predicate():
        if check is not None:
            check()
        quiet = time.monotonic() - max((page.last_activity for page in pages), default=0)
        if quiet > stall:
            raise AssertionError(f"no progress for {stall:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)
    return time.monotonic()
