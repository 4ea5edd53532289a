"""Avatars: a stable colour for each user and room, and the project's pictures.

A colour is one of :data:`HUES` classes (``chatter-hue-0`` to ``chatter-hue-11`` in
chatter.css, each a hue of one lightness, readable in the light and the dark scheme),
chosen from the primary key by CRC-32: the same in every process, page and frame, unlike
Python's ``hash()`` of a string. A picture comes from the project's hook, the callable that
``CHATTER_AVATAR_URL`` names (``user -> str | None``); without one, or when it answers
``None`` or an empty string, the avatar shows initials.
"""

from __future__ import annotations

import functools
import logging
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from django.utils.module_loading import import_string

from chatter import conf, rooms
from chatter.models import Room
from chatter.types import User

log = logging.getLogger("chatter.avatars")

#: How many colours avatars come in.
HUES = 12


def hue(key: object) -> int:
    """The colour class (0 to HUES - 1) of a user's or a room's primary key."""
    return zlib.crc32(str(key).encode()) % HUES


def initials(name: object) -> str:
    """Up to two capital initials of a name; "?" when it has none."""
    words = [w for w in str(name or "").replace(",", " ").split() if w[:1].isalnum()]
    return "".join(w[0] for w in words[:2]).upper() or "?"


class NotCallable(TypeError):
    """``CHATTER_AVATAR_URL`` names something that cannot be called."""


@functools.lru_cache(maxsize=8)
def load_hook(path: str) -> Callable[[User], Any]:
    """The callable a dotted path names: ImportError if it does not import, NotCallable if
    it is not callable (what the system check chatter.E025 reports)."""
    found = import_string(path)
    if not callable(found):
        raise NotCallable(path)
    hook: Callable[[User], Any] = found
    return hook


def picture_url(user: User | None) -> str | None:
    """The picture of ``user`` from the ``CHATTER_AVATAR_URL`` hook, or None.

    A hook that fails is logged and counts as None: an avatar never breaks a page or a
    frame (``manage.py check`` reports a path that does not import, chatter.E025).
    """
    path = conf.get("CHATTER_AVATAR_URL")
    if not path or user is None:
        return None
    try:
        url = load_hook(path)(user)
    except Exception:
        log.exception("CHATTER_AVATAR_URL %s failed for user %s", path, user.pk)
        return None
    return str(url) if url else None


def for_user(user: User | None) -> dict[str, Any]:
    """What ``chatter/_avatar.html`` shows for a user (None: a deleted user)."""
    return {
        "hue": hue(user.pk if user is not None else ""),
        "initials": initials(rooms.display_name(user)),
        "url": picture_url(user),
    }


def for_room(room: Room, people: Iterable[User], viewer: User | None, title: str) -> dict[str, Any]:
    """A room's avatar: the other user's in an unnamed room of two, else the initials of
    its ``title`` in the room's own colour (groups, named rooms, notes to self)."""
    viewer_pk = viewer.pk if viewer is not None else None
    others = [u for u in people if u.pk != viewer_pk]
    if not room.name and len(others) == 1:
        return for_user(others[0])
    return {"hue": hue(room.pk), "initials": initials(title), "url": None}
