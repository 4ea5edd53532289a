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


def crowd(prefix: str, count: int) -> list[Any]:
    """``count`` saved users named ``<prefix>000``…, made in one bulk insert."""
    user_model = get_user_model()
    user_model.objects.bulk_create(
        user_model(username=f"{prefix}{i:03d}", password="!") for i in range(count)
    )
    return list(user_model.objects.filter(username__startswith=prefix).order_by("username"))


def session_cookie(user: Any) -> str:
    """A ``Cookie`` header value of a new logged-in session of ``user`` (no login view)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"
