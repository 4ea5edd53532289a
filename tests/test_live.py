"""chatter.live: the hub (one delivery per process), pacing, and publishing that never raises."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer, get_channel_layer

from chatter import live, messages, tenancy
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


async def joined_hub() -> tuple[FlakyLayer, Hub, Listener]:
    """A hub on a layer that can fail, with one socket in the group "room"."""
    layer = FlakyLayer()
    hub = Hub(layer)
    socket = Listener()
    await hub.join(socket, ["room"])
    return layer, hub, socket


async def test_after_a_layer_outage_the_hub_rejoins_and_resyncs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    layer, hub, socket = await joined_hub()
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
        message, _ = messages.send_message(room, alice, "rolled back")
        live.announce_message(message)
        raise RuntimeError("the request failed")
    with pytest.raises(TimeoutError):
        async_to_sync(next_event)(0.3)
    with transaction.atomic():
        message, _ = messages.send_message(room, alice, "kept")
        live.announce_message(message)
        with pytest.raises(TimeoutError):
            async_to_sync(next_event)(0.3)  # not before the commit
    event = async_to_sync(next_event)(30)
    assert event["type"] == "chatter.message" and "kept" in event["html"]
    assert event["seq"] == message.seq == 1  # the rolled-back message took no number


@pytest.mark.django_db
def test_without_a_channel_layer_nothing_is_announced(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """A project without CHANNEL_LAYERS serves pages only: announcing is a no-op, no error."""
    from chatter import rooms
    from chatter.models import Room
    from tests.factories import make_user

    alice, bob = make_user("alice"), make_user("bob")
    settings.CHANNEL_LAYERS = {}
    assert get_channel_layer() is None
    with django_capture_on_commit_callbacks() as callbacks:
        room = Room.objects.get(pk=rooms.create_room([alice, bob]))  # announce_room
        message, _ = messages.send_message(room, alice, "hello")
        live.announce_message(message)
        live.announce_read(room)
        live.announce_logout(alice.pk, "a-session-key")
        live.announce([live.message_event(message)])
    assert callbacks == []


@pytest.mark.django_db
def test_a_logout_without_a_session_is_not_announced(
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        live.announce_logout(1, None)
        live.announce_logout(1, "")
        live.announce([])
    assert callbacks == []
    with django_capture_on_commit_callbacks() as callbacks:
        live.announce_logout(1, "a-session-key")
    assert len(callbacks) == 1


async def test_without_a_channel_layer_sockets_are_paced_by_nobody(settings: Any) -> None:
    """Reads, pings and presence of sockets need the hub; without a layer they do nothing."""
    from chatter.models import Room

    settings.CHANNEL_LAYERS = {}
    room = Room(name="no layer")
    live.read("", room, 1, 5)
    live.still_here("", room, 1)
    live.presence_changed("", room, 1)
    await live.publish([live.doorbell_event(room.pk, 3)])  # nowhere to send: no error
    assert not live._outage.failing


async def test_a_long_outage_is_logged_once_and_ends_with_one_resync(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Retries that fail (the layer stays down) neither log again nor resync early."""
    caplog.set_level(logging.WARNING, "chatter.live")
    layer, hub, socket = await joined_hub()
    try:
        layer.down = True
        await layer.send(hub.channel, {"type": "t", "group": "nowhere"})
        await until(lambda: not hub.healthy)
        await asyncio.sleep(0.8)  # several failed receives and re-joins meanwhile
        assert socket.resyncs == 0
        layer.down = False
        await until(lambda: socket.resyncs == 1)
        assert caplog.text.count("the channel layer failed") == 1
        assert caplog.text.count("is back") == 1
    finally:
        await hub.close()


async def test_concurrent_first_joins_start_one_reader() -> None:
    layer = InMemoryChannelLayer()
    hub = Hub(layer)
    sockets = [Listener() for _ in range(5)]
    try:
        await asyncio.gather(*(hub.join(socket, ["g"]) for socket in sockets))
        assert len(layer.groups["g"]) == 1
        await layer.group_send("g", {"type": "t", "group": "g"})
        await until(lambda: all(len(s.events) == 1 for s in sockets))
    finally:
        await hub.close()


async def test_events_without_a_group_and_unknown_groups_reach_nobody() -> None:
    hub = Hub(InMemoryChannelLayer())
    socket = Listener()
    await hub.join(socket, ["g"])
    hub.leave(socket, ["never-joined"])  # harmless
    try:
        await hub.deliver_locally({"type": "t"})
        await hub.deliver_locally({"type": "t", "group": ["g"]})
        await hub.deliver_locally({"type": "t", "group": "other"})
        assert socket.events == []
        await hub.deliver_locally({"type": "t", "group": "g"})
        assert socket.events == [("g", {"type": "t", "group": "g"})]
    finally:
        await hub.close()


async def test_groups_are_added_again_every_refresh_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """channels-redis forgets a group's members after ``group_expiry``: the hub re-adds."""
    from chatter.live import hub as hub_module

    monkeypatch.setattr(hub_module, "SWEEP_INTERVAL", 0.05)
    monkeypatch.setattr(hub_module, "REFRESH_INTERVAL", 0.0)
    layer = InMemoryChannelLayer()
    hub = Hub(layer)
    socket = Listener()
    await hub.join(socket, ["room"])
    try:
        await layer.group_discard("room", hub.channel)  # expired
        assert "room" not in layer.groups
        await until(lambda: "room" in layer.groups)
        await layer.group_send("room", {"type": "t", "group": "room"})
        await until(lambda: len(socket.events) == 1)
    finally:
        await hub.close()


async def test_a_failing_flush_is_logged_and_the_next_one_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flushed: list[set[int]] = []

    async def flush(key: str, items: set[int]) -> None:
        if not flushed:
            flushed.append(set())
            raise RuntimeError("the database is down")
        flushed.append(items)

    pacer: Pacer[str, int] = Pacer(0.05, flush)
    pacer.note("room", 1)
    await until(lambda: len(flushed) == 1)
    pacer.note("room", 2)
    await until(lambda: len(flushed) == 2)
    assert flushed[1] == {2}
    assert "flushing 'room' failed" in caplog.text
    pacer.cancel()


async def test_a_pacer_forgets_keys_that_have_been_quiet() -> None:
    """Past 1000 keys, keys quiet for ten intervals are dropped: the dict stays bounded.

    Pruning runs only while the dict holds more than 1000 keys (it bounds the size; it is
    not a timer), so the quiet keys of a first batch go when a second batch passes 1000.
    """
    flushed: list[int] = []

    async def flush(key: int, items: set[None]) -> None:
        flushed.append(key)

    pacer: Pacer[int, None] = Pacer(0.01, flush)
    for key in range(1001):
        pacer.note(key)
    await until(lambda: len(flushed) == 1001)
    # Bounded, whatever the speed: on a loaded machine the first keys may already have
    # been quiet for ten intervals by the time the last ones fire, and be dropped.
    assert 0 < len(pacer.last) <= 1001
    await asyncio.sleep(0.15)  # ten intervals and more
    for key in range(5000, 6001):
        pacer.note(key)
    await until(lambda: len(flushed) == 2002)
    assert pacer.last and all(key >= 5000 for key in pacer.last)
    assert len(pacer.last) <= 1001
    pacer.cancel()


async def test_events_read_together_reach_a_socket_as_one_call_in_order() -> None:
    """While the hub is busy, what gathers meanwhile is handed on together."""
    hub = Hub(InMemoryChannelLayer())
    calls: list[list[int]] = []

    class Batched:
        async def hub_event(self, group: str, event: dict[str, Any]) -> None:
            calls.append([event["n"]])

        async def hub_events(self, items: list[tuple[str, dict[str, Any]]]) -> None:
            calls.append([event["n"] for _, event in items])

        def hub_resync(self) -> None:
            pass

    class Single:
        seen: list[int] = []

        async def hub_event(self, group: str, event: dict[str, Any]) -> None:
            self.seen.append(event["n"])

        def hub_resync(self) -> None:
            pass

    batched, single = Batched(), Single()
    hub.listeners = {"g": {batched, single}, "other": {single}}
    await hub._dispatch_many([{"group": "g", "n": 1}])
    events = [{"group": "g", "n": 2}, {"group": "other", "n": 3}, {"group": "g", "n": 4}]
    await hub._dispatch_many([*events, {"n": 5}])  # no group: nobody's
    assert calls == [[1], [2, 4]]
    assert single.seen == [1, 2, 3, 4]  # one at a time, in order, without hub_events


async def test_the_dispatcher_outlives_a_batch_that_fails(caplog: pytest.LogCaptureFixture) -> None:
    """A batch that raises is logged; the events after it are still handed on."""
    hub = Hub(InMemoryChannelLayer())
    seen: list[int] = []

    class Counting:
        async def hub_event(self, group: str, event: dict[str, Any]) -> None:
            seen.append(event["n"])

        def hub_resync(self) -> None:
            pass

    hub.listeners = {"g": {Counting()}}
    task = asyncio.ensure_future(hub._dispatch_forever())
    try:
        hub.listeners["bad"] = None  # type: ignore[assignment]  # iterating it raises
        hub.backlog.append({"group": "bad"})
        hub._woken.set()
        await until(lambda: "handing events to the sockets failed" in caplog.text)
        hub.backlog.append({"group": "g", "n": 1})
        hub._woken.set()
        await until(lambda: seen == [1])
    finally:
        task.cancel()
