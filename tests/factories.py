"""Plain helpers that create test data; no fixtures, so any test module can use them."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from chatter.models import Message, Room


def make_user(username: str, **extra: Any) -> Any:
    """A saved user with the password "pw"."""
    return get_user_model().objects.create_user(username=username, password="pw", **extra)


def make_users(*usernames: str) -> list[Any]:
    """Saved users, one per username, in that order."""
    return [make_user(name) for name in usernames]


def fill_room(room: Room, count: int, sender: Any = None, text: str = "message {seq}") -> None:
    """Add ``count`` messages numbered after the room's last one, fast (one bulk insert)."""
    start = room.last_seq
    Message.objects.bulk_create(
        Message(room=room, sender=sender, seq=seq, text=text.format(seq=seq))
        for seq in range(start + 1, start + count + 1)
    )
    room.last_seq = start + count
    Room.objects.filter(pk=room.pk).update(last_seq=room.last_seq)


def summary(room: Any, user: Any) -> Any:
    """``room`` as ``user`` sees it in the room list (a ``rooms.RoomSummary``)."""
    from chatter import rooms

    return next(s for s in rooms.rooms_for(user) if s.room.pk == room.pk)
