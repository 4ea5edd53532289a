"""Delivery to open sockets: what to announce after a change, and the one place that sends it.

The database is the truth and the channel layer only a doorbell: each message event
carries its room sequence, so a socket that missed an event (channels-redis drops group
sends over capacity) notices the gap at the next one and reads what it missed from the
database. Frames are rendered once per message here, never once per recipient socket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from chatter import frames, rooms, tenancy
from chatter.models import Membership, Message, Room


@dataclass
class Event:
    """One channel-layer group send."""

    group: str
    payload: dict[str, Any]


def message_events(message: Message, schema_name: str = "") -> list[Event]:
    """The room's message frame, and each member's updated room-list entry (sync, DB)."""
    room = message.room
    events = [
        Event(
            tenancy.room_group(schema_name, room.pk),
            {"type": "chatter.message", "seq": message.seq, "html": frames.message(message)},
        )
    ]
    return events + room_list_events(room, schema_name)


def room_list_events(room: Room, schema_name: str = "", users: Any = None) -> list[Event]:
    """Each member's (or each of ``users``') room-list entry for ``room``, with their unread.

    ``room`` must be current (its ``last_seq`` and ``last_message``), as ``send_message``
    leaves it.
    """
    all_members = rooms.members(room)
    memberships = Membership.objects.filter(room=room)
    if users is not None:
        memberships = memberships.filter(user__in=users)
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
    readers = [u for u in rooms.seen_by(room, room.last_seq) if u.pk != last_sender]
    events = [
        Event(
            tenancy.room_group(schema_name, room.pk),
            {"type": "chatter.frame", "html": frames.seen(room.last_seq, readers)},
        )
    ]
    return events + room_list_events(room, schema_name, users=[reader])


async def publish(events: list[Event]) -> None:
    """Send each event to its group; does nothing without a channel layer."""
    layer = get_channel_layer()
    if layer is None:
        return
    for event in events:
        await layer.group_send(event.group, event.payload)


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
