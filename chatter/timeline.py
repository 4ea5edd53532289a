"""What pages and sockets read of a room's messages: pages of history, a window around
one message, what a socket missed, and the changes after a change number.

Every read goes through :func:`fetch`, which loads what a message's rendering shows in a
constant number of queries per page (sender and answered message joined; mentions,
attachments and reactions one query each, and only when some message of the page has
them), so a page of plain messages costs one query whatever its length. Writing is
:mod:`chatter.messages`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from chatter import conf, mentions
from chatter.models import Message, Reaction, Room
from chatter.types import User


@dataclass
class HistoryPage:
    """Messages in ascending order, and whether older ones exist before the first."""

    messages: list[Message]
    has_more: bool

    @property
    def before(self) -> int | None:
        """The ``before`` value that fetches the next older page, if there is one."""
        return self.messages[0].seq if self.has_more and self.messages else None


@dataclass
class Window:
    """Messages around one (``?around=``), ascending, with whether more lie on each side."""

    messages: list[Message]
    has_older: bool
    has_newer: bool

    @property
    def before(self) -> int | None:
        return self.messages[0].seq if self.has_older and self.messages else None

    @property
    def after(self) -> int | None:
        return self.messages[-1].seq if self.has_newer and self.messages else None


@dataclass
class ReactionGroup:
    """One emoji on one message and who put it there, in order."""

    emoji: str
    users: list[User]

    @property
    def count(self) -> int:
        return len(self.users)

    @property
    def user_ids(self) -> str:
        """The users' ids between spaces, for ``[data-users~="<id>"]`` (the page's own)."""
        return " ".join(str(u.pk) for u in self.users)


def fetch(qs: QuerySet[Message]) -> list[Message]:
    """Messages with what their rendering shows: sender, the answered message, reactions,
    the users mentioned (``mentioned``, in them and in the messages they answer).

    One query, one more for the reactions when a message was ever changed (a message
    with reactions always was), one more for the mentions when a text has one: a page of
    plain messages costs one query.
    """
    from chatter import attachments  # it builds on chatter.messages, which builds on this

    rows = list(qs.select_related("sender", "reply_to", "reply_to__sender"))
    mentions.attach(rows)
    attachments.attach(rows)
    changed = {m.pk: m for m in rows if m.change}
    for message in rows:
        message.reaction_groups = []
    if changed:
        groups: dict[Any, dict[str, ReactionGroup]] = {pk: {} for pk in changed}
        for reaction in (
            Reaction.objects.filter(message_id__in=list(changed))
            .select_related("user")
            .order_by("created_at", "pk")
        ):
            by_emoji = groups[reaction.message_id]
            group = by_emoji.get(reaction.emoji)
            if group is None:
                group = by_emoji[reaction.emoji] = ReactionGroup(reaction.emoji, [])
            group.users.append(reaction.user)
        for pk, by_emoji in groups.items():
            changed[pk].reaction_groups = list(by_emoji.values())
    return rows


def one(qs: QuerySet[Message]) -> Message:
    """The one message of ``qs`` (:func:`fetch`), or ``Message.DoesNotExist``."""
    rows = fetch(qs[:2])
    if len(rows) != 1:
        raise Message.DoesNotExist
    return rows[0]


def changed_after(
    room: Room,
    after: int,
    upto: int | None = None,
    limit: int = 500,
    since_seq: int = 0,
    until_seq: int | None = None,
) -> list[Message]:
    """Messages changed after change ``after`` (up to ``upto``), by change number.

    Each message once, in its current state. ``since_seq``/``until_seq`` leave out the
    messages a page does not show (older than its oldest, or sent after the resume point).
    """
    qs = Message.objects.filter(room=room, change__gt=after, seq__gte=since_seq)
    if upto is not None:
        qs = qs.filter(change__lte=upto)
    if until_seq is not None:
        qs = qs.filter(seq__lte=until_seq)
    return fetch(qs.order_by("change")[:limit])


def last_numbers(room: Room) -> tuple[int, int]:
    """The room's newest sequence and change numbers, read from the database."""
    last, change = Room.objects.values_list("last_seq", "last_change").get(pk=room.pk)
    return int(last), int(change)


def message_at(room: Room, seq: int) -> Message:
    """Message ``seq`` of ``room`` with what it shows, or ``Message.DoesNotExist``."""
    if not 0 < seq < 2**63:  # beyond bigint: no such message, not a database error
        raise Message.DoesNotExist
    return one(Message.objects.filter(room=room, seq=seq))


def around(room: Room, seq: int, limit: int | None = None) -> Window:
    """The messages around ``seq``: half a page before it, it and the rest after (keyset)."""
    limit = limit or conf.get("CHATTER_PAGE_SIZE")
    before = max(limit // 2, 1)
    base = Message.objects.filter(room=room)
    older = fetch(base.filter(seq__lt=seq).order_by("-seq")[: before + 1])
    newer = fetch(base.filter(seq__gte=seq).order_by("seq")[: limit - before + 1])
    has_older, has_newer = len(older) > before, len(newer) > limit - before
    older = older[:before]
    older.reverse()
    return Window(older + newer[: limit - before], has_older, has_newer)


def history_after(room: Room, after: int, limit: int | None = None) -> Window:
    """The page of messages just newer than ``after``, and whether newer ones follow."""
    limit = limit or conf.get("CHATTER_PAGE_SIZE")
    rows = fetch(Message.objects.filter(room=room, seq__gt=after).order_by("seq")[: limit + 1])
    return Window(rows[:limit], has_older=True, has_newer=len(rows) > limit)


def last_seq(room: Room) -> int:
    """The room's newest sequence number, read from the database (raises if it is gone)."""
    return Room.objects.values_list("last_seq", flat=True).get(pk=room.pk)


def history(room: Room, before: int | None = None, limit: int | None = None) -> HistoryPage:
    """The page of messages just older than ``before`` (default: the newest), by keyset."""
    limit = limit or conf.get("CHATTER_PAGE_SIZE")
    qs = Message.objects.filter(room=room).order_by("-seq")
    if before is not None:
        qs = qs.filter(seq__lt=before)
    rows = fetch(qs[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    rows.reverse()
    return HistoryPage(messages=rows, has_more=has_more)


def messages_after(
    room: Room, after: int, limit: int = 500, upto: int | None = None
) -> list[Message]:
    """Messages after sequence ``after`` (up to ``upto``), oldest first: what a client missed."""
    qs = Message.objects.filter(room=room, seq__gt=after)
    if upto is not None:
        qs = qs.filter(seq__lte=upto)
    return fetch(qs.order_by("seq")[:limit])
