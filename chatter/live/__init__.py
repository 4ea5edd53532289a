"""Delivery to open sockets: what to announce after a change, and the one place that sends it.

The database is the truth and the channel layer only a doorbell: each message event
carries its room sequence, so a socket that missed an event (channels-redis drops group
sends over capacity, a Redis restart drops everything in flight) notices the gap at the
next one and reads what it missed from the database.

The work per message is the same whatever the room's size: one event to the room's
group, rendered once (the message for the open room, and one room-list update that every
member's page applies with its own read position). Announcements that a crowd would
multiply are paced: "Seen by" and presence changes leave a process at most about once a
second per room, and the reads and pings of all the rooms of a process are written in one
statement per tick (:class:`~chatter.live.hub.Pacer`). Sync code (views,
commands) announces after the transaction commits; consumers publish after their
database call returned, i.e. after it committed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from chatter import frames, rooms, tenancy
from chatter.live.hub import Hub, gate, hub_for
from chatter.models import Message, Room
from chatter.types import RoomId, User, UserId

__all__ = [
    "Event",
    "Hub",
    "announce_change",
    "announce_deactivated",
    "announce_logout",
    "announce_message",
    "announce_read",
    "announce_room",
    "gone",
    "hub_for",
    "presence_changed",
    "publish",
    "read",
    "still_here",
]

log = logging.getLogger("chatter.live")

#: Seconds between two "Seen by" or presence frames of one room from one process.
PACE = 1.0
#: Seconds over which one process gathers the reads of its rooms into one database call.
READ_BATCH = 0.25

# The pacers gather per tenant (their key is the schema name), for all rooms at once:
#: A member of a room: (room id, user id).
MemberItem = tuple[uuid.UUID, UserId]
#: A read: (room id, user id, up to which sequence; None: the newest).
ReadItem = tuple[uuid.UUID, UserId, int | None]


@dataclass
class Event:
    """One channel-layer group send; the payload names its group for the hubs."""

    group: str
    payload: dict[str, Any]


def _event(group: str, kind: str, **fields: Any) -> Event:
    return Event(group, {"type": kind, "group": group, **fields})


# -- what to announce (sync: renders, never queries) --------------------------------------


def message_event(message: Message, schema_name: str = "") -> Event:
    """A new message: its frame for the open room and its room-list update, rendered once."""
    group = tenancy.room_group(schema_name, message.room_id)
    return _event(
        group,
        "chatter.message",
        seq=message.seq,
        html=frames.message(message),
        list=frames.room_update(message),
    )


def change_event(message: Message, schema_name: str = "") -> Event:
    """A message changed (edited, deleted, reacted to): its new state, rendered once, for
    the pages showing it, and a room-list update for the lists previewing it."""
    group = tenancy.room_group(schema_name, message.room_id)
    return _event(
        group,
        "chatter.change",
        change=message.change,
        seq=message.seq,
        html=frames.changed([message], message.change),
        list=frames.room_update(message),
    )


def room_event(room_id: uuid.UUID, member_ids: Iterable[UserId], schema_name: str = "") -> Event:
    """A new room: the open room lists of its members fetch its entry."""
    return _event(
        tenancy.rooms_group(schema_name),
        "chatter.room",
        room=room_id.hex,
        members=[str(pk) for pk in member_ids],
        html=frames.room_new(room_id),
    )


def seen_event(
    room_id: uuid.UUID,
    seq: int,
    readers: list[User],
    sender_id: UserId | None = None,
    schema_name: str = "",
) -> Event:
    """Who has read the room's last message: the "Seen by" line for the open room, and for
    room lists the read position of those readers (each page updates its own badge)."""
    group = tenancy.room_group(schema_name, room_id)
    read_ids = [r.pk for r in readers] + ([sender_id] if sender_id is not None else [])
    return _event(
        group,
        "chatter.seen",
        html=frames.seen(seq, readers),
        list=frames.read(room_id, seq, read_ids),
    )


def presence_event(
    room_id: RoomId, changes: list[tuple[User, bool]], schema_name: str = ""
) -> Event:
    """Members that became active or inactive in the room."""
    group = tenancy.room_group(schema_name, room_id)
    return _event(group, "chatter.frame", html=frames.presence(changes))


def typing_event(room_id: RoomId, user: User, schema_name: str = "") -> Event:
    """ "<name> is typing…" for the room's other members."""
    group = tenancy.room_group(schema_name, room_id)
    return _event(group, "chatter.frame", html=frames.typing(user), skip=str(user.pk))


def logout_event(user_id: UserId, session_key: str, schema_name: str = "") -> Event:
    """Close the sockets opened with this session (an empty key: every socket of the user)."""
    group = tenancy.user_group(schema_name, user_id)
    return _event(group, "chatter.logout", session=session_key)


def doorbell_event(room_id: RoomId, seq: int, schema_name: str = "") -> Event:
    """The room has messages up to ``seq``: sockets that lack some read them."""
    return _event(tenancy.room_group(schema_name, room_id), "chatter.doorbell", seq=seq)


# -- sending ------------------------------------------------------------------------------


class _Outage:
    """Failed publishes: logged once per outage, message doorbells rung again later."""

    def __init__(self) -> None:
        self.failing = False
        self.bells: dict[str, dict[str, Any]] = {}
        self.retry: asyncio.Task[None] | None = None

    def failed(self, event: Event, exc: BaseException) -> None:
        if not self.failing:
            self.failing = True
            log.warning(
                "Chatter: publishing to the channel layer failed (%r); open pages will "
                "catch up from the database.",
                exc,
            )
        if event.payload.get("type") in ("chatter.message", "chatter.doorbell"):
            bell = dict(event.payload, type="chatter.doorbell")
            bell.pop("html", None)
            bell.pop("list", None)
            known = self.bells.get(event.group)
            if known is None or known["seq"] < bell["seq"]:
                self.bells[event.group] = bell
            self._ring_later()

    def worked(self) -> None:
        if self.failing:
            self.failing = False
            log.warning("Chatter: publishing to the channel layer works again.")

    def _ring_later(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        if self.retry is None or self.retry.done():
            self.retry = asyncio.ensure_future(self._ring())

    async def _ring(self) -> None:
        """Every second, ring the doorbells of rooms whose message events were lost."""
        layer = get_channel_layer()
        while self.bells and layer is not None:
            await asyncio.sleep(1.0)
            for group, bell in list(self.bells.items()):
                try:
                    await layer.group_send(group, bell)
                except Exception:
                    break
                if self.bells.get(group) is bell:
                    del self.bells[group]
                self.worked()


_outage = _Outage()


async def publish(events: Iterable[Event]) -> None:
    """Send the events in order. Never raises because of the channel layer.

    A failed send is logged (once per outage) and left to the resync: message events
    are rung again as doorbells once the layer works, and sockets read from the
    database what they missed.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    for event in events:
        try:
            async with gate():
                await layer.group_send(event.group, event.payload)
        except Exception as exc:
            _outage.failed(event, exc)
            # The sockets of this process need no layer: they get it now, the others from
            # the doorbell or their resync once the layer is back.
            await hub_for(layer).deliver_locally(event.payload)
        else:
            _outage.worked()


def announce(events: list[Event]) -> None:
    """From sync code: publish ``events`` once the current transaction commits."""
    if events and get_channel_layer() is not None:
        transaction.on_commit(partial(async_to_sync(publish), events))


def announce_message(message: Message) -> None:
    """From sync code (the HTTP fallback, ``chatter_send``): deliver a stored message."""
    if get_channel_layer() is not None:
        announce([message_event(message, tenancy.current_schema())])


def announce_change(message: Message) -> None:
    """From sync code (the HTTP actions, commands): deliver a changed message."""
    if get_channel_layer() is not None:
        announce([change_event(message, tenancy.current_schema())])


def announce_room(room_id: uuid.UUID, member_ids: Iterable[UserId]) -> None:
    """From sync code: show a new room in its members' open room lists."""
    if get_channel_layer() is not None:
        announce([room_event(room_id, member_ids, tenancy.current_schema())])


def announce_read(room: Room) -> None:
    """From sync code (opening the room page): "Seen by" and the readers' room lists."""
    if get_channel_layer() is None:
        return
    lines = rooms.seen_lines([room.pk])
    if room.pk in lines:
        last, readers, sender_id = lines[room.pk]
        announce([seen_event(room.pk, last, readers, sender_id, tenancy.current_schema())])


def announce_logout(user_id: UserId, session_key: str | None) -> None:
    """From sync code: close the sockets that were opened with this session."""
    if session_key:
        announce([logout_event(user_id, session_key, tenancy.current_schema())])


def announce_deactivated(user_id: UserId) -> None:
    """From sync code: close every socket of this user (their account was deactivated)."""
    announce([logout_event(user_id, "", tenancy.current_schema())])


# -- paced announcements from sockets (in the server's event loop) ------------------------


def _hub() -> Hub | None:
    layer = get_channel_layer()
    return hub_for(layer) if layer is not None else None


def read(schema_name: str, room: Room, user_id: UserId, seq: int | None) -> None:
    """A socket's user read ``room`` up to ``seq`` (None: the newest).

    Reads are the most frequent frame (every visible page, after new messages): one
    process gathers the reads of all its rooms for a quarter second into one database
    statement, and what they change is announced by the paced "Seen by" event, never one
    frame per read.
    """
    hub = _hub()
    if hub is None:
        return
    hub.pacer("reads", READ_BATCH, _flush_reads).note(schema_name, (room.pk, user_id, seq))


def still_here(schema_name: str, room: Room, user_id: UserId) -> None:
    """A socket's ping: its user still has ``room`` open (all rooms' pings once a second)."""
    hub = _hub()
    if hub is not None:
        hub.pacer("pings", PACE, _flush_pings).note(schema_name, (room.pk, user_id))


def gone(schema_name: str, room: Room, user_id: UserId) -> None:
    """The user's last socket on ``room`` in this process closed: a ping of theirs not yet
    written must not mark them active again after they left."""
    hub = _hub()
    if hub is not None:
        hub.pacer("pings", PACE, _flush_pings).discard(schema_name, (room.pk, user_id))


def presence_changed(schema_name: str, room: Room, user_id: UserId) -> None:
    """A member arrived in or left ``room``: paced, and only the members that changed."""
    hub = _hub()
    if hub is not None:
        hub.pacer("presence", PACE, _flush_presence).note(schema_name, (room.pk, user_id))


# Each flush is one database call for every room of a tenant that has something to say,
# so the statements per second do not grow with the number of rooms a process serves.


def _by_room(items: Iterable[MemberItem]) -> dict[uuid.UUID, set[UserId]]:
    grouped: dict[uuid.UUID, set[UserId]] = {}
    for room_id, user_id in items:
        grouped.setdefault(room_id, set()).add(user_id)
    return grouped


async def _flush_reads(schema_name: str, items: set[ReadItem]) -> None:
    reads: dict[MemberItem, int | None] = {}
    for room_id, user_id, seq in items:
        known = reads.get((room_id, user_id), 0)
        reads[room_id, user_id] = None if seq is None or known is None else max(seq, known)
    moved = await tenancy.in_schema(schema_name, rooms.mark_read_many, reads)
    hub = _hub()
    if moved and hub is not None:
        pacer = hub.pacer("seen", PACE, _flush_seen)
        for room_id, _ in reads:
            pacer.note(schema_name, room_id)


async def _flush_pings(schema_name: str, items: set[MemberItem]) -> None:
    arrived = await tenancy.in_schema(schema_name, rooms.touch_many, _by_room(items))
    hub = _hub()
    if arrived and hub is not None:
        pacer = hub.pacer("presence", PACE, _flush_presence)
        for room_id, user_ids in arrived.items():
            for user_id in user_ids:
                pacer.note(schema_name, (room_id, user_id))


async def _flush_seen(schema_name: str, room_ids: set[uuid.UUID]) -> None:
    lines = await tenancy.in_schema(schema_name, rooms.seen_lines, room_ids)
    await publish(
        [
            seen_event(room_id, last, readers, sender_id, schema_name)
            for room_id, (last, readers, sender_id) in lines.items()
        ]
    )


async def _flush_presence(schema_name: str, items: set[MemberItem]) -> None:
    changes = await tenancy.in_schema(schema_name, rooms.presence, _by_room(items))
    await publish(
        [presence_event(room_id, found, schema_name) for room_id, found in changes.items()]
    )
