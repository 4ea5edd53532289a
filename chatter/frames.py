"""Server-rendered HTML fragments sent over the socket.

Every top-level element of a frame carries an explicit ``hx-swap-oob``, so htmx's ws
extension knows where it goes. Each function renders once; the result is sent as is to
every socket that should see it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.template.loader import render_to_string

from chatter import conf
from chatter.models import Message
from chatter.rooms import RoomSummary


def message(msg: Message) -> str:
    """Append one message to the open room's message list."""
    return render_to_string("chatter/frames/message.html", {"message": msg})


def messages(msgs: Iterable[Message]) -> str:
    """Append several messages, oldest first, in one frame."""
    return render_to_string("chatter/frames/messages.html", {"messages": list(msgs)})


def room_item(summary: RoomSummary) -> str:
    """Move a room to the top of one user's room list, with that user's unread count."""
    return render_to_string("chatter/frames/room_item.html", {"summary": summary})


def composer_error(error: str, client_id: str = "") -> str:
    """Show why a send was refused, under the sender's composer; the socket stays open."""
    return render_to_string(
        "chatter/frames/composer_error.html", {"error": error, "client_id": client_id}
    )


def sent(client_id: str) -> str:
    """Tell the sender's tab that its message ``client_id`` is stored (clears the error)."""
    return render_to_string("chatter/frames/sent.html", {"client_id": client_id})


def typing(user: Any) -> str:
    """Show "<name> is typing…" to the room's other members."""
    return render_to_string(
        "chatter/frames/typing.html",
        {"typist": user, "timeout": conf.get("CHATTER_TYPING_TIMEOUT")},
    )


def members(people: list[Any], active: set[Any]) -> str:
    """Replace the room header's member list, marking who is active in the room now."""
    return render_to_string("chatter/frames/members.html", {"members": people, "active": active})


def seen(seq: int, readers: list[Any]) -> str:
    """Replace the "Seen by" line under the room's last message."""
    return render_to_string("chatter/frames/seen.html", {"seq": seq, "readers": readers})


def too_far_behind() -> str:
    """Tell a client that missed more than a resume may carry to reload the page."""
    return render_to_string("chatter/frames/stale.html", {})
