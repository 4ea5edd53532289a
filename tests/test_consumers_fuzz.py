"""No frame can crash a socket: arbitrary JSON, text and bytes against the real consumer.

alice's room socket receives generated frames; after each one a probe (a send whose text
is not text, always answered under the composer) shows that the socket is open and has
handled the frame. bob watches on his room-list socket, which hears of every stored
message once: so "nothing stored, nothing broadcast" is checked for every frame that is
not a valid send, and "stored and announced once" for every one that is.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from chatter import protocol, rooms
from chatter.live.hub import close_hubs
from chatter.models import Message, Room
from chatter.routing import websocket_urlpatterns
from chatter.utils import ChatterMTMiddlewareStack, SameHostOriginValidator
from tests import strategies
from tests.factories import make_user, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

APP = SameHostOriginValidator(ChatterMTMiddlewareStack(URLRouter(websocket_urlpatterns)))
EXAMPLES = max(500, int(os.environ.get("CHATTER_HYPOTHESIS_EXAMPLES", "500")) // 2)
LIMIT = 64 * 1024

json_values = strategies.json_values(text_size=30, width=3, leaves=12)
shaped = strategies.frames(json_values)
HOSTILE = [
    "[" * 20_000 + "]" * 20_000,
    '{"type": ["send"], "text": "x"}',
    '{"type": {"a": 1}}',
    '{"type": "resume", "after": Infinity}',
    '{"type": "resume", "after": -Infinity}',
    '{"type": "read", "seq": 1e400}',
    '{"type": "send", "text": "\\ud800", "client_id": "c"}',
    '{"text": "\\u200b\\u200d\\ufeff"}',
    '{"text": "' + "x" * (LIMIT + 10) + '"}',
]
FRAMES = st.one_of(
    shaped.map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=200),
    st.binary(max_size=200),
    st.sampled_from(HOSTILE),
)


def _stored(room: Room) -> int:
    return Message.objects.filter(room=room).count()


async def _connect(path: str, cookie: str) -> WebsocketCommunicator:
    headers = [
        (b"host", b"testserver"),
        (b"origin", b"http://testserver"),
        (b"cookie", cookie.encode()),
    ]
    comm = WebsocketCommunicator(APP, path, headers=headers)
    accepted, _ = await comm.connect(timeout=60)
    assert accepted
    return comm


async def _until(comm: WebsocketCommunicator, needle: str) -> str:
    got = ""
    while needle not in got:
        got += await comm.receive_from(timeout=60)
    return got


async def _pending(comm: WebsocketCommunicator, quiet: float) -> list[str]:
    frames = []
    while not await comm.receive_nothing(timeout=quiet):
        frames.append(await comm.receive_from())
    return frames


def test_no_frame_crashes_the_socket_or_leaks(settings: Any) -> None:
    settings.CHATTER_FRAME_LIMITS = {
        "resume": (0, 0),
        "read": (0, 0),
        "typing": (0, 0),
        "ping": (0, 0),
    }
    alice, bob = make_user("alice"), make_user("bob")
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    cookies = session_cookie(alice), session_cookie(bob)
    loop = asyncio.new_event_loop()
    run = loop.run_until_complete
    sent = run(_connect(f"/ws/chatter/{room.pk}/", cookies[0]))
    watch = run(_connect("/ws/chatter/", cookies[1]))
    run(sent.send_json_to({"type": "resume", "after": 0}))
    probes = iter(range(10**9))
    totals = {"stored": 0, "announced": 0}

    async def check(frame: str | bytes) -> None:
        before = await sync_to_async(_stored)(room)
        # As the server hands frames over (empty ones too, which send_to refuses).
        if isinstance(frame, bytes):
            await sent.send_input({"type": "websocket.receive", "bytes": frame})
            parsed: Any = protocol.parse(None, frame, LIMIT)
        else:
            await sent.send_input({"type": "websocket.receive", "text": frame})
            parsed = protocol.parse(frame, None, LIMIT)
        probe = f"probe-{next(probes)}"
        await sent.send_json_to({"type": "send", "text": 5, "client_id": probe})
        await _until(sent, f'data-client-id="{probe}"')  # the socket is open and caught up
        stored = await sync_to_async(_stored)(room) - before
        if not isinstance(parsed, protocol.Send):
            assert stored == 0, frame
        assert stored in (0, 1)
        totals["stored"] += stored
        if stored:  # announced once to bob's room list
            news = await watch.receive_from(timeout=60)
            assert 'data-kind="room"' in news, news
            totals["announced"] += 1

    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(frame=FRAMES)
    @example(frame='{"text": "a real message"}')
    def one(frame: str | bytes) -> None:
        run(check(frame))

    try:
        one()
        # Nothing else reached bob's list: no announcement without a stored message.
        extra = run(_pending(watch, quiet=1.0))
        assert not extra, extra
        assert totals["stored"] == totals["announced"] >= 1
    finally:
        run(sent.disconnect())
        run(watch.disconnect())
        run(close_hubs())
        loop.close()
