"""chatter.live: the hub (one delivery per process), pacing, and publishing that never raises."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer, get_channel_layer

from chatter import live, tenancy
from chatter.live.hub import Hub, Pacer, close_hubs, hub_for


class Listener:
    """A tiny stand-in for a socket: records what the hub hands it."""

    def __init__(self, fail: bool = False) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.resyncs = 0
        self.fail = fail

    async def hub_event(self, group: str, event: dict[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("this socket is broken")
        self.events.append((group, event))

    def hub_resync(self) -> None:
        self.resyncs += 1


async def until(predicate: Any, stall: float = 30) -> None:
    """Wait until ``predicate()`` holds; fail after ``stall`` seconds without it."""
    async with asyncio.timeout(stall):
        while not predicate():
            await asyncio.sleep(0.01)


class FlakyLayer(InMemoryChannelLayer):
    """The in-memory layer, made to fail like a Redis that went away and came back."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.groups_added: list[str] = []

    async def receive(self, channel: str) -> Any:
        while self.down:
            raise ConnectionError("Redis went away")
        return await super().receive(channel)

    async def group_add(self, group: str, channel: str) -> None:
        if self.down:
            raise ConnectionError("Redis went away")
        self.groups_added.append(group)
        await super().group_add(group, channel)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        if self.down:
            raise ConnectionError("Redis went away")
        await super().group_send(group, message)


async def test_one_copy_per_process_reaches_every_local_socket() -> None:
    layer = InMemoryChannelLayer()
    hub = Hub(layer)
    sockets = [Listener() for _ in range(50)]
    for socket in sockets:
        await hub.join(socket, ["room"])
    try:
        assert len(layer.groups["room"]) == 1  # the hub's channel, not 50
        await layer.group_send("room", {"type": "chatter.frame", "group": "room", "html": "x"})
        await until(lambda: all(s.events for s in sockets))
        assert all(
            s.events == [("room", {"type": "chatter.frame", "group": "room", "html": "x"})]
            for s in sockets
        )
    finally:
        await hub.close()


async def test_a_failing_socket_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    hub = Hub(InMemoryChannelLayer())
    broken, fine = Listener(fail=True), Listener()
    await hub.join(broken, ["g"])
    await hub.join(fine, ["g"])
    try:
        await hub.layer.group_send("g", {"type": "t", "group": "g"})
        await until(lambda: fine.events)
        assert "delivering to a socket failed" in caplog.text
    finally:
        await hub.close()


async def test_left_groups_are_left_at_the_sweep() -> None:
    layer = InMemoryChannelLayer()
    hub = Hub(layer)
    socket = Listener()
    await hub.join(socket, ["a", "b"])
    hub.leave(socket, ["a"])
    try:
        await hub._sweep(refresh=False)
        assert "a" not in layer.groups and "b" in layer.groups
        assert hub.local("b") == {socket} and hub.local("a") == set()
    finally:
        await hub.close()


async def test_after_a_layer_outage_the_hub_rejoins_and_resyncs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    layer = FlakyLayer()
    hub = Hub(layer)
    socket = Listener()
    await hub.join(socket, ["room"])
    try:
        layer.down = True
        # Wake the reader so it meets the outage (a real Redis drops the connection).
        await layer.send(hub.channel, {"type": "t", "group": "nowhere"})
        await until(lambda: not hub.healthy)
        layer.groups.clear()  # a restarted Redis forgot every group
        layer.down = False
        await until(lambda: socket.resyncs == 1)
        assert "room" in layer.groups  # joined again before waiting for events
        await layer.group_send("room", {"type": "t", "group": "room"})
        await until(lambda: len(socket.events) == 1)
        assert "the channel layer failed" in caplog.text and "is back" in caplog.text
    finally:
        await hub.close()


async def test_pacer_flushes_at_once_then_at_most_once_a_second() -> None:
    flushed: list[set[Any]] = []

    async def flush(key: Any, items: set[Any]) -> None:
        flushed.append(items)

    pacer = Pacer(0.3, flush)
    pacer.note("room", 1)
    await until(lambda: len(flushed) == 1)
    for user in range(2, 100):
        pacer.note("room", user)  # a storm inside one interval
    await until(lambda: len(flushed) == 2)
    await asyncio.sleep(0.5)
    assert flushed == [{1}, set(range(2, 100))]  # two flushes for 99 notes
    pacer.cancel()


async def test_publish_never_raises_and_rings_lost_messages_again(
    settings: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, "chatter.live")
    layer = FlakyLayer()
    monkeypatch.setattr(live, "get_channel_layer", lambda: layer)
    listener = await layer.new_channel()
    group = tenancy.room_group("", "0" * 32)
    await layer.group_add(group, listener)
    socket = Listener()
    hub = hub_for(layer)
    await hub.join(socket, [group])
    layer.down = True
    event = live._event(group, "chatter.message", seq=7, html="<p>", list="<i>")
    await live.publish([event])  # no exception
    assert socket.events == [(group, event.payload)]  # this process's sockets got it anyway
    await live.publish([live._event(group, "chatter.message", seq=8, html="", list="")])
    assert caplog.text.count("publishing to the channel layer failed") == 1
    layer.down = False
    bell = await asyncio.wait_for(layer.receive(listener), 30)
    assert bell == {"type": "chatter.doorbell", "group": group, "seq": 8}
    assert "works again" in caplog.text
    await hub.close()


async def test_hub_for_is_one_per_loop_and_layer() -> None:
    layer = get_channel_layer()
    assert hub_for(layer) is hub_for(layer)
    assert hub_for(InMemoryChannelLayer()) is not hub_for(layer)
    await close_hubs()


@pytest.mark.django_db(transaction=True)
def test_announcements_wait_for_the_commit() -> None:
    """Under ATOMIC_REQUESTS (or any atomic block) a rolled-back message is never announced."""
    from asgiref.sync import async_to_sync
    from django.db import transaction

    from chatter import rooms
    from chatter.models import Room
    from tests.factories import make_user

    alice, bob = make_user("alice"), make_user("bob")
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(tenancy.room_group("", room.pk), channel)

    async def next_event(timeout: float) -> Any:
        return await asyncio.wait_for(layer.receive(channel), timeout)

    with pytest.raises(RuntimeError), transaction.atomic():
        message, _ = rooms.send_message(room, alice, "rolled back")
        live.announce_message(message)
        raise RuntimeError("the request failed")
    with pytest.raises(TimeoutError):
        async_to_sync(next_event)(0.3)
    with transaction.atomic():
        message, _ = rooms.send_message(room, alice, "kept")
        live.announce_message(message)
        with pytest.raises(TimeoutError):
            async_to_sync(next_event)(0.3)  # not before the commit
    event = async_to_sync(next_event)(30)
    assert event["type"] == "chatter.message" and "kept" in event["html"]
    assert event["seq"] == message.seq == 1  # the rolled-back message took no number
