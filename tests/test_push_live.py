"""Web Push from the live path: a message sent on a websocket is pushed after it is stored,
a slow push service never holds up a send, and an open page stops the pushes."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from chatter import push, rooms
from chatter.models import Membership, Room
from tests.push_endpoint import PushEndpoint
from tests.sockets import OPEN, frames_until, make_user, open_room
from tests.test_push import push_settings, subscribe

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_cleanup")]


@pytest.fixture
def endpoint(settings: Any) -> Iterator[PushEndpoint]:
    settings.CHATTER_PUSH = push_settings(BACKEND="chatter.push.thread_backend")
    with PushEndpoint() as running:
        yield running
        if running.gate is not None:
            running.gate.set()
        assert push.queue.drain(60)


@pytest.fixture
def dm(endpoint: PushEndpoint) -> tuple[Any, Any, Room]:
    """alice and bob in their room; bob's browser subscribed."""
    OPEN.clear()
    alice, bob = make_user("alice"), make_user("bob")
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    subscribe(bob, endpoint.browser())
    return alice, bob, room


async def say(comm: Any, text: str, seq: int) -> None:
    await comm.send_json_to({"text": text, "client_id": str(uuid.uuid4()), "HEADERS": {}})
    await frames_until(comm, lambda t: f"chatter-msg-{seq}" in t, timeout=60)


async def test_a_slow_push_service_never_holds_up_a_send(
    endpoint: PushEndpoint, dm: tuple[Any, Any, Room]
) -> None:
    alice, _bob, room = dm
    endpoint.gate = threading.Event()  # the push service takes its time to answer
    a = await open_room(alice, room)
    await say(a, "first", 1)
    first = await asyncio.to_thread(endpoint.next, 60)
    assert first.data["body"] == "first"
    # The push service still has not answered, and the next send is stored and shown.
    await say(a, "second", 2)
    assert not endpoint.gate.is_set()
    endpoint.gate.set()
    second = await asyncio.to_thread(endpoint.next, 60)
    assert second.data["body"] == "second"
    await a.disconnect()


async def test_no_push_while_the_reader_has_the_room_open(
    endpoint: PushEndpoint, dm: tuple[Any, Any, Room]
) -> None:
    alice, bob, room = dm
    a, b = await open_room(alice, room), await open_room(bob, room)
    seen = sync_to_async(
        lambda: Membership.objects.filter(user=bob, last_seen_at__isnull=False).exists()
    )
    async with asyncio.timeout(60):
        while not await seen():
            await asyncio.sleep(0.05)
    await say(a, "you are here", 1)
    await frames_until(b, lambda t: "chatter-msg-1" in t, timeout=60)
    assert await asyncio.to_thread(push.queue.drain, 60)
    assert endpoint.all() == []
    await b.disconnect()
    await a.disconnect()
