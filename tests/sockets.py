"""What the socket tests share: a room page's websocket through the real ASGI stack.

Each helper drives :data:`application` (origin check, sessions, auth, routing) with
Channels' ``WebsocketCommunicator``, on committed data (the tests that use them are
``transactional_db``). :data:`OPEN` lists the sockets the current test opened; a fixture of
``tests/conftest.py`` empties it around every test, and :func:`open_room` reads what a new
socket's arrival sent to those opened before (presence, "Seen by"), so a test reads only
the frames its own actions caused.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from chatter.models import Room
from chatter.routing import websocket_urlpatterns
from chatter.utils import ChatterMTMiddlewareStack, SameHostOriginValidator

HOST = "testserver"
application = SameHostOriginValidator(ChatterMTMiddlewareStack(URLRouter(websocket_urlpatterns)))
SEQ = re.compile(r'id="chatter-msg-(\d+)"')
#: The sockets the current test opened, oldest first.
OPEN: list[WebsocketCommunicator] = []


def make_user(username: str) -> Any:
    return get_user_model().objects.create_user(username, password="pw")


def cookie_for(user: object) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


async def connect(
    path: str, cookie: str | None = None, origin: str = f"http://{HOST}"
) -> tuple[WebsocketCommunicator, bool, object]:
    headers = [(b"host", HOST.encode()), (b"origin", origin.encode())]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    comm = WebsocketCommunicator(application, path, headers=headers)
    accepted, detail = await comm.connect()
    return comm, accepted, detail


async def close_code(comm: WebsocketCommunicator) -> int:
    """The code the socket is closed with (frames sent before the close are skipped)."""
    out = await comm.receive_output(timeout=2)
    while out["type"] == "websocket.send":
        out = await comm.receive_output(timeout=2)
    assert out["type"] == "websocket.close"
    return int(out["code"])


async def frames_until(
    comm: WebsocketCommunicator, predicate: Callable[[str], bool], timeout: float = 3
) -> list[str]:
    """Collect text frames until ``predicate(all_text)`` holds."""
    got: list[str] = []
    async with asyncio.timeout(timeout):
        while not predicate("".join(got)):
            got.append(await comm.receive_from(timeout=timeout))
    return got


def seqs(text: str) -> list[int]:
    return [int(s) for s in SEQ.findall(text)]


async def quiet(comm: WebsocketCommunicator) -> None:
    assert await comm.receive_nothing(timeout=0.2)


async def drain(comm: WebsocketCommunicator) -> list[str]:
    """Read what is pending until the socket has been quiet for 0.1 s."""
    got = []
    while not await comm.receive_nothing(timeout=0.1):
        got.append(await comm.receive_from())
    return got


async def open_room(
    user: object, room: Room, after: int = 0, **resume: int
) -> WebsocketCommunicator:
    """A socket of ``user`` on ``room``'s page that has sent its ``resume`` (``after`` and
    any of ``changes``/``oldest``); what its arrival sent to the sockets opened before is read."""
    cookie = await sync_to_async(cookie_for)(user)
    comm, accepted, _ = await connect(f"/ws/chatter/{room.pk}/", cookie)
    assert accepted
    OPEN.append(comm)
    for other in OPEN:
        await drain(other)
    await comm.send_json_to({"type": "resume", "after": after, **resume})
    return comm


async def opened(user: object, room: Room) -> WebsocketCommunicator:
    """A socket of ``user`` on ``room``'s page that has received the room's first message."""
    comm = await open_room(user, room)
    await frames_until(comm, lambda t: "chatter-msg-1" in t)
    return comm


async def lobby(user: object) -> WebsocketCommunicator:
    """A socket of ``user`` on the room list page."""
    cookie = await sync_to_async(cookie_for)(user)
    comm, accepted, _ = await connect("/ws/chatter/", cookie)
    assert accepted
    return comm


async def no_message_reaches(comm: WebsocketCommunicator, also: tuple[str, ...] = ()) -> None:
    """Nothing about a message (new or changed), nor any of ``also``, reaches ``comm`` for a
    while (presence and "Seen by" frames may)."""
    await asyncio.sleep(0.3)
    got = "".join(await drain(comm))
    assert 'id="chatter-msg-' not in got
    for marker in also:
        assert marker not in got
