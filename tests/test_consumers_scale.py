"""ChatConsumer at the size users reach: rooms of 200 on Redis, storms and floods.

Clients behave like chatter.js: resume on open, ``read`` after new messages, pings.
Every wait is for progress (a frame, a count) with a generous bound, never a duration.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chatter import consumers, messages, rooms
from chatter.models import Room
from chatter.routing import websocket_urlpatterns
from chatter.utils import ChatterMTMiddlewareStack, SameHostOriginValidator
from tests import servers
from tests.factories import crowd, fill_room, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_cleanup")]

HOST = "testserver"
APP = SameHostOriginValidator(ChatterMTMiddlewareStack(URLRouter(websocket_urlpatterns)))
SEQ = re.compile(r'id="chatter-msg-(\d+)"')
#: Seconds without any frame after which a wait fails: a slow machine is slow, a
#: broken one is silent.
STALL = 60


@pytest.fixture
def redis_layer(settings: Any) -> None:
    """channels-redis on the tests' Redis, as users run it."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": servers.REDIS_URL, "socket_timeout": 30}],
                "capacity": 1000,
                "expiry": 30,
            },
        }
    }


class Client:
    """One browser page: its socket and everything it received."""

    def __init__(self, cookie: str, room: Room) -> None:
        self.cookie = cookie
        self.room = room
        self.frames: list[str] = []
        self.comm: WebsocketCommunicator | None = None

    @property
    def seqs(self) -> list[int]:
        return [int(s) for frame in self.frames for s in SEQ.findall(frame)]

    def contiguous(self) -> int:
        """The highest sequence up to which this page has every message (what it resumes)."""
        have, top = set(self.seqs), 0
        while top + 1 in have:
            top += 1
        return top

    async def open(self, after: int | None = None) -> None:
        headers = [
            (b"host", HOST.encode()),
            (b"origin", f"http://{HOST}".encode()),
            (b"cookie", self.cookie.encode()),
        ]
        self.comm = WebsocketCommunicator(APP, f"/ws/chatter/{self.room.pk}/", headers=headers)
        accepted, _ = await self.comm.connect(timeout=STALL)
        assert accepted
        await self.send({"type": "resume", "after": self.contiguous() if after is None else after})

    async def send(self, data: dict[str, Any]) -> None:
        assert self.comm is not None
        await self.comm.send_json_to(data)

    async def until(self, predicate: Callable[[Client], bool]) -> None:
        """Read frames until ``predicate(self)`` holds; fail if none comes for STALL s."""
        assert self.comm is not None
        while not predicate(self):
            self.frames.append(await self.comm.receive_from(timeout=STALL))

    async def drain(self, quiet: float = 0.3) -> int:
        """Read what comes until the socket is quiet for ``quiet`` seconds; how many."""
        assert self.comm is not None
        count = 0
        while not await self.comm.receive_nothing(timeout=quiet):
            self.frames.append(await self.comm.receive_from())
            count += 1
        return count

    async def close(self) -> None:
        if self.comm is not None:
            await self.comm.disconnect()
            self.comm = None


def a_room(count: int, prefix: str = "m") -> tuple[Room, list[Any], list[str]]:
    users = crowd(f"{prefix}{uuid.uuid4().hex[:6]}", count)
    room = Room.objects.get(pk=rooms.create_room(users))
    return room, users, [session_cookie(user) for user in users]


async def open_all(clients: list[Client]) -> None:
    await asyncio.gather(*(client.open() for client in clients))
    await asyncio.gather(*(client.drain() for client in clients))


async def close_all(clients: list[Client]) -> None:
    await asyncio.gather(*(client.close() for client in clients))


def message(text: str) -> dict[str, Any]:
    """A send frame as chatter.js makes it."""
    return {"type": "send", "text": text, "client_id": str(uuid.uuid4()), "HEADERS": {}}


def has(seq: int) -> Callable[[Client], bool]:
    return lambda client: seq in client.seqs


def frames_without_messages(frames: list[str]) -> list[str]:
    return [frame for frame in frames if not SEQ.search(frame)]


# -- the room of 200 -----------------------------------------------------------------------


@pytest.mark.redis
async def test_one_message_reaches_a_room_of_200_once(
    redis_layer: None, caplog: pytest.LogCaptureFixture
) -> None:
    room, users, cookies = await database_sync_to_async(a_room)(200)
    # A first message, so that each page's resume is answered (with it): the message under
    # test then reaches pages that have all resumed, as pages that have been open a while.
    await database_sync_to_async(messages.send_message)(room, users[0], "welcome")
    clients = [Client(cookie, room) for cookie in cookies]
    await open_all(clients)
    await asyncio.gather(*(client.until(has(1)) for client in clients))
    try:
        sender = clients[0]
        for client in clients:
            client.frames.clear()
        await sender.send(
            {"type": "send", "text": "hello, 199 people", "client_id": str(uuid.uuid4())}
        )
        await asyncio.gather(*(client.until(has(2)) for client in clients))
        await asyncio.gather(*(client.drain() for client in clients))
        for client in clients:
            assert client.seqs == [2]
            # One frame carries the message and the room-list update; nothing per member.
            message_frames = [f for f in client.frames if SEQ.search(f)]
            assert len(message_frames) == 1
            assert 'data-kind="room"' in message_frames[0]
        # Every page reads the message, as a visible page does: "Seen by" is paced per
        # room, so each socket gets a few frames, not one per reader.
        for client in clients:
            client.frames.clear()
        await asyncio.gather(*(client.send({"type": "read", "seq": 2}) for client in clients))
        await sender.until(lambda c: any('data-say="seen-by"' in f for f in c.frames))
        await asyncio.sleep(2.5)  # two pacing intervals: what the crowd of reads still causes
        await asyncio.gather(*(client.drain(quiet=0.5) for client in clients))
        for client in clients:
            seen = [f for f in client.frames if 'id="chatter-seen"' in f]
            assert len(seen) <= 3, len(seen)
        # The sender's socket is still open and sending.
        await sender.send({"type": "send", "text": "still here", "client_id": str(uuid.uuid4())})
        await asyncio.gather(*(client.until(has(3)) for client in clients))
    finally:
        await close_all(clients)
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not problems, [r.getMessage() for r in problems]


@pytest.mark.postgres
def test_statements_per_send_are_the_same_for_2_and_200_members() -> None:
    """One transaction of the same statements, whatever the room's size; no query per member."""
    counts = {}
    for size in (2, 200):
        room, users, _ = a_room(size, prefix=f"s{size}_")
        consumers._send(room, users[0], "warm-up", str(uuid.uuid4()), None, "")
        with CaptureQueriesContext(connection) as queries:
            _message, created, event = consumers._send(
                room, users[1], "counted", str(uuid.uuid4()), None, ""
            )
        assert created and event is not None and "counted" in event.payload["html"]
        counts[size] = [q["sql"].split()[0] for q in queries.captured_queries]
    assert counts[2] == counts[200]
    # SQLite's capture lists BEGIN and COMMIT; PostgreSQL's does not.
    statements = [s for s in counts[2] if s not in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")]
    # One transaction: the sequence, the sender's read position, the message, the room.
    # (A resend is caught by the unique client id, not looked for first.)
    assert statements == ["UPDATE", "UPDATE", "INSERT", "UPDATE"], counts[2]


# -- a reconnect storm ---------------------------------------------------------------------


@pytest.mark.redis
async def test_a_reconnect_storm_of_200_loses_and_doubles_nothing(redis_layer: None) -> None:
    """200 pages of one room reconnect at once while messages flow."""
    room, users, cookies = await database_sync_to_async(a_room)(200)
    clients = [Client(cookie, room) for cookie in cookies]
    sender = Client(await database_sync_to_async(session_cookie)(users[0]), room)
    await open_all([*clients, sender])
    total = 40

    async def talk() -> None:
        for i in range(total):
            await sender.send(
                {"type": "send", "text": f"storm {i}", "client_id": str(uuid.uuid4())}
            )
            await sender.until(has(i + 1))

    try:
        talking = asyncio.ensure_future(talk())
        await clients[0].until(has(5))
        # Every page loses its socket at once, then reconnects and resumes after what it has.
        await close_all(clients)
        before = [list(client.frames) for client in clients]
        for client in clients:
            client.frames = [f for f in client.frames if SEQ.search(f)]
        await asyncio.gather(*(client.open() for client in clients))
        await talking
        await asyncio.gather(*(client.until(has(total)) for client in clients))
        await asyncio.gather(*(client.drain() for client in clients))
        for client, old in zip(clients, before, strict=True):
            assert client.seqs == list(range(1, total + 1))  # each once, in order
            new_frames = client.frames[len([f for f in old if SEQ.search(f)]) :]
            assert len(frames_without_messages(new_frames)) <= 5
    finally:
        await close_all([*clients, sender])


# -- floods ----------------------------------------------------------------------------------


async def test_floods_from_one_socket_do_not_hold_up_the_others() -> None:
    """Resume, read, ping and typing floods cost the flooder's own budget, nobody's time."""
    room, users, cookies = await database_sync_to_async(a_room)(3, prefix="f")
    await database_sync_to_async(fill_room)(room, 600, sender=users[1])
    flooder, reader, talker = (Client(cookie, room) for cookie in cookies)
    await open_all([reader, talker])
    await flooder.open(after=600)
    try:
        for round_ in range(5):
            for i in range(100):
                for data in (
                    {"type": "resume", "after": i % 2},
                    {"type": "read", "seq": i},
                    {"type": "ping"},
                    {"type": "typing"},
                    {"type": "resume", "after": {"deep": [i]}},
                ):
                    await flooder.send(data)
            await talker.send(
                {"type": "send", "text": f"round {round_}", "client_id": str(uuid.uuid4())}
            )
            # The reader gets each message while the flood is still queued.
            await reader.until(has(601 + round_))
        await flooder.until(has(605))
        await flooder.drain(quiet=1.0)
        await reader.drain()
    finally:
        await close_all([flooder, reader, talker])
    assert reader.seqs[-5:] == [601, 602, 603, 604, 605]
    typing = [f for f in reader.frames if 'data-say="typing"' in f]
    assert len(typing) <= 2  # one per two seconds per socket, five per ten per user
    resumes = [f for f in flooder.frames if SEQ.search(f) and "round" not in f]
    # 1,000 resumes asked for pages the socket had: one page per ten seconds, and the
    # socket's place in the room did not move (no refill of 600 messages after them).
    assert len(resumes) <= 2, len(resumes)
    retries = [f for f in flooder.frames if 'data-kind="retry"' in f]
    assert 1 <= len(retries) <= 4
