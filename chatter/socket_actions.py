"""Group changes and reports sent over a room's socket: the same domain calls, and the
same announcements, as the pages' forms (:mod:`chatter.group_views`,
:mod:`chatter.moderation_views`).

:func:`apply` runs wholly on the database thread, in the socket's tenant: it calls one
action of :mod:`chatter.groups` (or :func:`chatter.moderation.report_message`) as the
socket's user, in the socket's room, and builds the events of the change with
:func:`chatter.live.members.events`, which is what ``announce_group`` sends from a view
once its transaction commits. The consumer publishes them after :func:`apply` returns
(the change is committed by then). A refusal is the domain's
:class:`~chatter.messages.MessageRefused`, shown under the composer.

The work of one frame is bounded whatever the client sends: an "add" naming more people
than ``CHATTER_MAX_ROOM_MEMBERS`` is refused before any query, the others are looked up
in one query; and each socket counts its group and report frames in a window of its own
(``CHATTER_FRAME_LIMITS["group"]`` and ``["report"]``), refused ones included, besides the
per-user count the domain keeps of the changes it makes.

A report has no live announcement (the moderators read the queue): its sender gets a
notice under the composer, "Your report was sent to the moderators."

Blocking is not a frame: what it changes is the blocker's own pages (their style rules,
the header's Block button with its form), which the block form's redirect renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from chatter import conf, groups, moderation, protocol
from chatter.live import Event
from chatter.live.members import events
from chatter.models import Message, Room
from chatter.types import User

#: Frame kinds each socket counts in a window of its own (see the module's doc).
LIMITED = ("group", "report")

#: What a socket over its own window is told (the domain's sentence for the same).
TOO_OFTEN = _("You are doing that too often. Wait a few seconds and try again.")


def kind(frame: Any) -> str:
    """The limit a room action frame counts against: "report" or "group"."""
    return "report" if isinstance(frame, protocol.Report) else "group"


def apply(frame: Any, room: Room, user: User, schema_name: str) -> tuple[list[Event], str]:
    """Apply a group change or a report as ``user``: the events that announce it, and a
    notice for the sender (empty when the change itself is the answer).

    Raises :class:`~chatter.messages.MessageRefused` with nothing changed.
    """
    line: Message | None
    if isinstance(frame, protocol.Report):
        moderation.report_message(room, user, frame.seq, frame.reason, frame.details)
        return [], str(_("Your report was sent to the moderators."))
    if isinstance(frame, protocol.Rename):
        line = groups.rename_group(room, user, frame.name)
    elif isinstance(frame, protocol.Add):
        line = groups.add_members(room, user, _users(frame.users))
    elif isinstance(frame, protocol.Remove):
        line = groups.remove_member(room, user, _users([frame.user])[0])
    elif isinstance(frame, protocol.Leave):
        line = groups.leave_group(room, user)
    else:
        raise TypeError(f"Not a room action: {frame!r}")
    return (events(line, schema_name) if line is not None else []), ""


def _users(ids: Sequence[int | str]) -> list[User]:
    """The users of ``ids``, in order (one query); more than a group may have, or an id of
    nobody, is refused."""
    limit = conf.get("CHATTER_MAX_ROOM_MEMBERS")
    if len(ids) > limit:
        raise groups.GroupRefused(groups.too_many_members(limit), code="too_many")
    manager = get_user_model()._default_manager
    try:
        found = {str(u.pk): u for u in manager.filter(pk__in=list(ids))} if ids else {}
    except (ValueError, TypeError, ValidationError):  # e.g. "abc" for an integer key
        found = {}
    if len(found) < len({str(pk) for pk in ids}):
        raise groups.GroupRefused(_("No such user."), code="invalid")
    return [found[str(pk)] for pk in ids]
