"""What a group change announces (:mod:`chatter.groups`): one event per room, and one per
user whose membership ended.

* The system line goes to the room's group as a message does (:func:`message_event`:
  open pages of the room show it in order, resumes and gaps included; room lists preview
  it), its frame carrying the room's header as it is after the change (the member list,
  and the name of a named group), rendered once for every reader.
* New members' open room lists get the room (:func:`~chatter.live.room_event`).
* Each removed member (or the one who left) gets an event in their own user group: their
  sockets of the room are closed with 4403 and their room lists drop the room.
"""

from __future__ import annotations

import uuid
from typing import Any

from channels.layers import get_channel_layer

from chatter import frames, groups, tenancy
from chatter.live import Event, _event, announce, message_event, room_event
from chatter.models import Message, Room
from chatter.types import User, UserId

__all__ = ["announce_group", "group_event", "removed_event"]


def group_event(
    line: Message, room: Room, members: list[User], active: set[UserId], schema_name: str = ""
) -> Event:
    """A group's system line, with the room's header after the change."""
    event = message_event(line, schema_name)
    event.payload["html"] += frames.group_header(room, members, active)
    return event


def removed_event(room_id: uuid.UUID, user_id: UserId, schema_name: str = "") -> Event:
    """``user_id`` is no longer a member of the room: close their sockets of it, and take
    it out of their room lists."""
    return _event(
        tenancy.user_group(schema_name, user_id),
        "chatter.removed",
        room=room_id.hex,
        html=frames.gone(room_id),
    )


def events(line: Message, schema_name: str = "") -> list[Event]:
    """The events that announce a group's system line ``line``: two queries (the line's
    room is the one the action changed, with its new name)."""
    room, members, active = groups.header(line.room)
    found = [group_event(line, room, members, active, schema_name)]
    data: dict[str, Any] = line.data if isinstance(line.data, dict) else {}
    action = data.get("action")
    users = [p[0] for p in data.get("users") or () if isinstance(p, list) and p]
    if action == "added" and users:
        found.append(room_event(room.id, users, schema_name))
    elif action == "removed":
        found += [removed_event(room.id, user_id, schema_name) for user_id in users]
    elif action == "left" and line.sender_id is not None:
        found.append(removed_event(room.id, line.sender_id, schema_name))
    return found


def announce_group(line: Message | None) -> None:
    """From sync code (the pages, the admin, ``chatter_group``): announce a group change
    once the transaction commits. ``None`` (nothing changed) announces nothing."""
    if line is not None and get_channel_layer() is not None:
        announce(events(line, tenancy.current_schema()))
