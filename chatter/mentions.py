"""Mentions: "@alice" in a message names a member of the room, stored by user id.

The rules of what is a mention, and the text functions, are in :mod:`chatter.mention_text`.
This module is the one that reads and writes the :class:`~chatter.models.Mention` table:
resolving names when a message is stored, the rows of a message sent or edited, the users
mentioned in messages loaded for showing, the unread mentions of a room list, and the
members the composer offers after "@".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q
from django.db.models.functions import Lower

from chatter import conf
from chatter.mention_text import pk_or_none, scan, substitute
from chatter.models import Mention, Message, Room
from chatter.types import User


def resolve(room: Room, text: str) -> tuple[str, dict[str, User]]:
    """``text`` with the mentions of ``room``'s members as tokens, and those users.

    One query, and only when the text has an "@" that may be a mention.
    """
    names, ids = scan(text)
    if not names and not ids:
        return text, {}
    user_model = get_user_model()
    field = user_model.USERNAME_FIELD
    condition = Q()
    if names:
        lowered = sorted({name.lower() for name in names})
        condition |= Q(**{f"{field}__in": sorted(names)}) | Q(chatter_lower_name__in=lowered)
    if ids:
        condition |= Q(pk__in=[v for v in map(pk_or_none, ids) if v is not None])
    members = (
        user_model._default_manager.filter(chatter_memberships__room=room)
        .annotate(chatter_lower_name=Lower(field))
        .filter(condition)
    )
    return substitute(text, list(members))


def add(message: Message, users: dict[str, User]) -> None:
    """The mentions of a new message: one bulk insert, none without mentions."""
    if users:
        Mention.objects.bulk_create(
            Mention(message=message, user=user, room_id=message.room_id, seq=message.seq)
            for user in users.values()
        )


def replace(message: Message, old_text: str, users: dict[str, User]) -> None:
    """After an edit: the mentions ``users`` added, the others removed (two statements at
    most, none when neither text has a mention)."""
    if "<@" in old_text:
        Mention.objects.filter(message=message).exclude(
            user_id__in=[u.pk for u in users.values()]
        ).delete()
    if users:
        Mention.objects.bulk_create(
            (
                Mention(message=message, user=user, room_id=message.room_id, seq=message.seq)
                for user in users.values()
            ),
            ignore_conflicts=True,
        )


def attach(messages: Sequence[Message], replies: bool = True) -> None:
    """Set ``mentioned`` ({id: user}) on messages loaded for showing, and (``replies``: they
    were loaded with them) on the messages they answer: one query, and only when one of
    them has a token."""
    targets = list(messages)
    if replies:
        targets += [m.reply_to for m in messages if m.reply_to_id and m.reply_to]
    for message in targets:
        message.mentioned = {}
    with_tokens = {m.pk: m for m in targets if "<@" in m.text}
    if not with_tokens:
        return
    found: dict[Any, dict[str, Any]] = {}
    for mention in Mention.objects.filter(message_id__in=list(with_tokens)).select_related("user"):
        found.setdefault(mention.message_id, {})[str(mention.user_id)] = mention.user
    for message in targets:
        message.mentioned = found.get(message.pk, {})


def unread_counts(user: User, room_ids: Sequence[Any]) -> dict[Any, int]:
    """Per room: ``user``'s mentions after their read position. One query for all rooms."""
    if not room_ids:
        return {}
    rows = (
        Mention.objects.filter(
            user_id=user.pk,
            room_id__in=list(room_ids),
            room__memberships__user_id=user.pk,
            seq__gt=F("room__memberships__last_read_seq"),
        )
        .values("room_id")
        .annotate(count=Count("pk"))
        .values_list("room_id", "count")
    )
    return dict(rows)


def search_members(
    room: Room, query: str, exclude: User | None = None, limit: int | None = None
) -> list[User]:
    """Members of ``room`` whose username, first or last name contains ``query`` (all
    members for an empty query), by username; at most ``limit``."""
    limit = limit or conf.get("CHATTER_USER_SEARCH_LIMIT")
    user_model = get_user_model()
    field = user_model.USERNAME_FIELD
    qs = user_model._default_manager.filter(chatter_memberships__room=room)
    query = (query or "").strip()
    if query:
        condition = Q(**{f"{field}__icontains": query})
        names = {f.name for f in user_model._meta.get_fields()}
        for extra in ("first_name", "last_name"):
            if extra in names:
                condition |= Q(**{f"{extra}__icontains": query})
        qs = qs.filter(condition)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return list(qs.order_by(field)[:limit])
