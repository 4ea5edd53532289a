"""Server-rendered HTML fragments sent over the socket.

Every top-level element of a frame carries an explicit ``hx-swap-oob``, so htmx's ws
extension knows where it goes. Each function renders once; the result is sent as is to
every socket that should see it. Nothing here queries the database: callers pass
objects whose related rows are already loaded.

Frames that carry data for ``chatter.js`` rather than markup to show (a room's new last
message, a read position, a hint to retry) append an ``<i data-kind=...>`` element to the
hidden ``#chatter-feed``; the script reads and removes it. Its text and attributes are
autoescaped like everything else.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.template.loader import render_to_string

from chatter import conf
from chatter.models import Message, Room
from chatter.types import User, UserId


def message(msg: Message) -> str:
    """Append one message to the open room's message list."""
    return render_to_string("chatter/frames/message.html", {"message": msg})


def messages(msgs: Iterable[Message], more_after: int | None = None) -> str:
    """Append several messages, oldest first; ``more_after``: ask again after this seq."""
    context = {"messages": list(msgs), "more_after": more_after}
    return render_to_string("chatter/frames/messages.html", context)


def changed(msgs: Iterable[Message], upto: int) -> str:
    """Replace changed messages (edited, deleted, reacted to) where a page shows them.

    Each message is rendered whole, in its current state, with ``hx-swap-oob="true"``: a
    page that does not show it ignores it. ``upto``: the room's change number the page
    now knows, which it names when it resumes.
    """
    return render_to_string("chatter/frames/changed.html", {"messages": list(msgs), "upto": upto})


def room_update(msg: Message) -> str:
    """A room's new last message, for every room list showing the room.

    The same frame goes to every member: each page computes its unread badge (the
    room's sequence minus its own read position), the "You:" prefix and the order. Sent
    for a change too: a page whose preview shows that message (same sequence, older
    change) replaces the preview; the others ignore it.
    """
    return render_to_string("chatter/frames/room_update.html", {"message": msg})


def room_new(room_id: uuid.UUID) -> str:
    """A room a page does not show yet: the page fetches its room-list entry."""
    return render_to_string("chatter/frames/room_new.html", {"room_id": room_id})


def group_header(room: Room, members: list[User], active: set[UserId]) -> str:
    """A group's header after a change: its member list, and its name if it has one.

    Sent with the system line of the change. The title of an unnamed group names the
    other members, which differ by reader, so it is left as it is (a reload renews it).
    """
    context = {"room": room, "members": members, "active": active}
    return render_to_string("chatter/frames/group_header.html", context)


def gone(room_id: uuid.UUID) -> str:
    """The reader is no longer a member of a room: their room lists drop it."""
    return render_to_string("chatter/frames/gone.html", {"room_id": room_id})


def read(room_id: uuid.UUID, seq: int, user_ids: list[UserId]) -> str:
    """These users have read the room up to ``seq``: their room lists update the badge."""
    context = {"room_id": room_id, "seq": seq, "users": " ".join(str(pk) for pk in user_ids)}
    return render_to_string("chatter/frames/read.html", context)


def composer_error(error: str, client_id: str = "") -> str:
    """Show why a send was refused, under the sender's composer; the socket stays open."""
    return render_to_string(
        "chatter/frames/composer_error.html", {"error": error, "client_id": client_id}
    )


def sent(client_id: str) -> str:
    """Tell the sender's tab that its message ``client_id`` is stored (clears the error)."""
    return render_to_string("chatter/frames/sent.html", {"client_id": client_id})


def notice(text: str) -> str:
    """Tell the sender's tab, under its composer, that an action without a live answer
    (a report) was done; it replaces any error shown there."""
    return render_to_string("chatter/frames/notice.html", {"notice": text})


def typing(user: User) -> str:
    """Show "<name> is typing…" to the room's other members."""
    return render_to_string(
        "chatter/frames/typing.html",
        {"typist": user, "timeout": conf.get("CHATTER_TYPING_TIMEOUT")},
    )


def presence(changes: list[tuple[User, bool]]) -> str:
    """Mark members active or not in the room header: only the members that changed."""
    return render_to_string("chatter/frames/presence.html", {"changes": changes})


def seen(seq: int, readers: list[User]) -> str:
    """Replace the "Seen by" line under the room's last message."""
    return render_to_string("chatter/frames/seen.html", {"seq": seq, "readers": readers})


def too_far_behind() -> str:
    """Tell a client that missed more than a resume may carry to reload the page."""
    return render_to_string("chatter/frames/stale.html", {})


def retry(frame: str, seconds: float) -> str:
    """Tell a client that asked too fast when it may send a ``frame`` again."""
    milliseconds = max(0, round(seconds * 1000))
    return render_to_string(
        "chatter/frames/retry.html", {"frame": frame, "milliseconds": milliseconds}
    )
