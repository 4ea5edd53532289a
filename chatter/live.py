"""Delivery to open sockets: what to announce after a change, and the one place that sends it.

The database is the truth and the channel layer only a doorbell: each message event
carries its room sequence, so a socket that missed an event (channels-redis drops group
sends over capacity) notices the gap at the next one and reads what it missed from the
database. Frames are rendered once per message here, never once per recipient socket.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model

from chatter import frames, rooms, tenancy
from chatter.models import Membership, Message, Room


@dataclass
class Event:
    """One channel-layer group send."""

    group: str
    payload: dict[str, Any]


def message_event(message: Message, schema_name: str = "") -> Event:
    """The room's message frame, rendered once for every socket of the room."""
    return Event(
        tenancy.room_group(schema_name, message.room_id),
        {"type": "chatter.message", "seq": message.seq, "html": frames.message(message)},
    )


def message_events(message: Message, schema_name: str = "") -> list[Event]:
    """The room's message frame, and each member's updated room-list entry (sync, DB)."""
    return [message_event(message, schema_name), *room_list_events(message.room, schema_name)]


def room_list_events(room: Room, schema_name: str = "", users: Any = None) -> list[Event]:
    """Each member's (or each of ``users``') room-list entry for ``room``, with their unread.

    ``room`` must be current (its ``last_seq`` and ``last_message``), as ``send_message``
    leaves it.
    """
    memberships = list(
        Membership.objects.filter(room=room)
        .select_related("user")
        .order_by("user__" + get_user_model().USERNAME_FIELD)
    )
    all_members = [m.user for m in memberships]
    if users is not None:
        wanted = {u.pk for u in users}
        memberships = [m for m in memberships if m.user_id in wanted]
    events = []
    for membership in memberships:
        membership.room = room
        others = [u for u in all_members if u.pk != membership.user_id]
        summary = rooms.RoomSummary(room=room, membership=membership, others=others)
        events.append(
            Event(
                tenancy.user_group(schema_name, membership.user_id),
                {"type": "chatter.frame", "html": frames.room_item(summary)},
            )
        )
    return events


def read_events(room: Room, reader: Any, schema_name: str = "") -> list[Event]:
    """After ``reader`` read ``room``: the room's "Seen by" line and the reader's badges."""
    room = Room.objects.select_related("last_message", "last_message__sender").get(pk=room.pk)
    last_sender = room.last_message.sender_id if room.last_message else None
    readers = rooms.seen_by(room, room.last_seq, exclude=last_sender)
    events = [
        Event(
            tenancy.room_group(schema_name, room.pk),
            {"type": "chatter.frame", "html": frames.seen(room.last_seq, readers)},
        )
    ]
    return events + room_list_events(room, schema_name, users=[reader])


def presence_events(room: Room, schema_name: str = "") -> list[Event]:
    """The room's member list with who is active in it now, for every socket of the room."""
    html = frames.members(rooms.members(room), rooms.active_ids(room))
    group = tenancy.room_group(schema_name, room.pk)
    return [Event(group, {"type": "chatter.frame", "html": html})]


async def publish(events: list[Event]) -> None:
    """Send the events, in order within a group and concurrently across groups.

    This is the one place that hands frames to the channel layer; it does nothing
    without one.
    """
    layer = get_channel_layer()
    if layer is None or not events:
        return
    by_group: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_group.setdefault(event.group, []).append(event.payload)

    async def send_all(group: str, payloads: list[dict[str, Any]]) -> None:
        for payload in payloads:
            await layer.group_send(group, payload)

    await asyncio.gather(*(send_all(group, payloads) for group, payloads in by_group.items()))


def announce_message(message: Message) -> None:
    """From sync code (the HTTP fallback, ``chatter_send``): deliver a stored message."""
    async_to_sync(publish)(message_events(message, tenancy.current_schema()))


def announce_read(room: Room, reader: Any) -> None:
    """From sync code: tell the room and the reader's other tabs about a read."""
    async_to_sync(publish)(read_events(room, reader, tenancy.current_schema()))


def announce_logout(user_id: Any, session_key: str | None) -> None:
    """From sync code: close the sockets that were opened with this session."""
    if not session_key:
        return
    group = tenancy.user_group(tenancy.current_schema(), user_id)
    async_to_sync(publish)([Event(group, {"type": "chatter.logout", "session": session_key})])
