"""Notifications: per-room mute, a user's preferences, and the e-mail digest's selection.

Every query of notification state is here. The digest (``manage.py chatter_notify``,
rendered and sent by :mod:`chatter.notify_mail`) works in one transaction per run:

1. one query finds the memberships with something to e-mail (unread, older than
   ``CHATTER_NOTIFY_DELAY``, not muted, not yet e-mailed, the user active, with an address
   and not opted out) and, on PostgreSQL, locks them, skipping rows another run holds;
2. a bounded number of queries per user loads what their digest shows;
3. one ``UPDATE`` moves each membership's ``emailed_seq`` past what was selected;
4. the transaction commits, and only then is mail sent.

So two overlapping runs never select the same message, and a run that dies between the
commit and the send loses that digest rather than sending it twice: at most once.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import reduce
from operator import or_
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Greatest, RowNumber
from django.utils import timezone

from chatter import conf, mentions
from chatter.models import Membership, Message, Preferences, Room
from chatter.rooms import room_title
from chatter.types import User

# -- mute and preferences ----------------------------------------------------------------


def set_muted(room: Room, user: User, muted: bool) -> bool:
    """Mute (or unmute) ``room`` for ``user``; False if they are not a member."""
    return bool(Membership.objects.filter(room=room, user=user).update(muted=bool(muted)))


def is_muted(room: Room, user: User) -> bool:
    """Whether ``user`` muted ``room`` (False if they are not a member)."""
    return Membership.objects.filter(room=room, user=user, muted=True).exists()


def muted_room_ids(user: User) -> set[uuid.UUID]:
    """The rooms ``user`` muted: one query."""
    return set(Membership.objects.filter(user=user, muted=True).values_list("room_id", flat=True))


def unread_total(user: User) -> int:
    """Unread messages in ``user``'s rooms that are not muted (the page title's count)."""
    rows = Membership.objects.filter(user=user, muted=False).values_list(
        "room__last_seq", "last_read_seq"
    )
    return sum(max(last - read, 0) for last, read in rows)


def preferences_for(user: User) -> Preferences:
    """``user``'s preferences: their row, or an unsaved one with the defaults."""
    found = Preferences.objects.filter(user=user).first()
    return found if found is not None else Preferences(user=user)


def save_preferences(user: User, *, email_digest: bool) -> Preferences:
    """Store ``user``'s choices (creating their row the first time)."""
    prefs, _created = Preferences.objects.update_or_create(
        user=user, defaults={"email_digest": bool(email_digest)}
    )
    return prefs


# -- the digest ----------------------------------------------------------------------------


def delay() -> timedelta:
    """``CHATTER_NOTIFY_DELAY`` as a timedelta (the setting takes seconds or a timedelta)."""
    value = conf.get("CHATTER_NOTIFY_DELAY")
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


@dataclass
class DigestRoom:
    """One room in a digest: its newest unread messages and how many more there are."""

    room: Room
    title: str
    messages: list[Message]
    total: int

    @property
    def more(self) -> int:
        return max(self.total - len(self.messages), 0)


@dataclass
class Digest:
    """What one user's e-mail says: their rooms with unread messages, newest room first."""

    user: User
    rooms: list[DigestRoom] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(r.total for r in self.rooms)


def _wanted(cutoff: datetime) -> QuerySet[Message]:
    """Messages a digest may show: not deleted, not a system line, older than ``cutoff``."""
    return Message.objects.filter(
        created_at__lte=cutoff, deleted_at__isnull=True, kind=Message.Kind.MESSAGE
    )


def _user_filters() -> Q:
    """Active users with an e-mail address (for the fields the user model has)."""
    user_model = get_user_model()
    names = {f.name for f in user_model._meta.get_fields()}
    email = user_model.get_email_field_name()
    condition = Q()
    if email in names:
        condition &= Q(**{f"user__{email}__isnull": False}) & ~Q(**{f"user__{email}": ""})
    if "is_active" in names:
        condition &= Q(user__is_active=True)
    return condition


def candidates(cutoff: datetime) -> QuerySet[Membership]:
    """Memberships with a message to e-mail, each with ``upto``: the room's last message
    older than ``cutoff``. One query; locked (skipping locked rows) where the database
    can, when evaluated inside a transaction."""
    start = Greatest(OuterRef("last_read_seq"), OuterRef("emailed_seq"))
    pending = (
        _wanted(cutoff)
        .filter(room_id=OuterRef("room_id"), seq__gt=start)
        .exclude(sender_id=OuterRef("user_id"))
    )
    upto = (
        Message.objects.filter(room_id=OuterRef("room_id"), created_at__lte=cutoff)
        .order_by("-seq")
        .values("seq")[:1]
    )
    qs = (
        Membership.objects.filter(_user_filters(), muted=False)
        .filter(room__last_seq__gt=F("last_read_seq"))
        .filter(room__last_seq__gt=F("emailed_seq"))
        .filter(Exists(pending))
        .exclude(user__chatter_preferences__email_digest=False)
        .annotate(upto=Subquery(upto, output_field=BigIntegerField()))
        .select_related("user", "room")
        .order_by("user_id", "-room__updated_at", "room_id")
    )
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    return qs


def _upto(membership: Membership) -> int:
    """The ``upto`` :func:`candidates` annotates a membership with."""
    return int(cast(Any, membership).upto)


def _titles(rows: list[Membership]) -> dict[tuple[Any, Any], str]:
    """Each (room, user)'s room title: one query for the members of unnamed rooms."""
    unnamed = {m.room_id for m in rows if not m.room.name}
    people: dict[Any, list[Any]] = defaultdict(list)
    if unnamed:
        user_model = get_user_model()
        for other in (
            Membership.objects.filter(room_id__in=unnamed)
            .select_related("user")
            .order_by("user__" + user_model.USERNAME_FIELD)
        ):
            people[other.room_id].append(other.user)
    return {
        (m.room_id, m.user_id): room_title(
            m.room, [u for u in people[m.room_id] if u.pk != m.user_id]
        )
        for m in rows
    }


def _digest(user: User, rows: list[Membership], cutoff: datetime, titles: dict[Any, str]) -> Digest:
    """One user's digest: two or three queries, whatever the number of rooms or messages."""
    ranges = reduce(
        or_,
        (
            Q(room_id=m.room_id, seq__gt=max(m.last_read_seq, m.emailed_seq), seq__lte=_upto(m))
            for m in rows
        ),
    )
    base = _wanted(cutoff).filter(ranges).exclude(sender_id=user.pk)
    totals = dict(
        base.order_by().values("room_id").annotate(n=Count("pk")).values_list("room_id", "n")
    )
    newest = (
        base.annotate(rank=Window(RowNumber(), partition_by=F("room_id"), order_by=F("seq").desc()))
        .filter(rank__lte=conf.get("CHATTER_NOTIFY_MAX_MESSAGES"))
        .select_related("sender")
        .order_by("room_id", "seq")
    )
    shown: dict[Any, list[Message]] = defaultdict(list)
    loaded = list(newest)
    mentions.attach(loaded, replies=False)
    for message in loaded:
        shown[message.room_id].append(message)
    digest = Digest(user)
    for m in rows:
        if shown[m.room_id]:
            title = titles[m.room_id, m.user_id]
            digest.rooms.append(DigestRoom(m.room, title, shown[m.room_id], totals[m.room_id]))
    return digest


def _mark_emailed(rows: list[Membership]) -> None:
    """Move each membership's ``emailed_seq`` to its ``upto`` (never back): one UPDATE."""
    if not rows:
        return
    target = Case(
        *(When(pk=m.pk, then=Value(_upto(m))) for m in rows), output_field=BigIntegerField()
    )
    Membership.objects.filter(pk__in=[m.pk for m in rows]).update(
        emailed_seq=Greatest(F("emailed_seq"), target)
    )


def collect(now: datetime | None = None, *, dry_run: bool = False) -> list[Digest]:
    """The digests to send now, each message in at most one of them ever.

    Selects, loads and marks in one transaction (``dry_run``: marks nothing); the caller
    sends after this returns, when the marks are committed.
    """
    cutoff = (now or timezone.now()) - delay()
    with transaction.atomic():
        rows = [m for m in candidates(cutoff) if cast(Any, m).upto is not None]
        titles = _titles(rows)
        by_user: dict[Any, list[Membership]] = defaultdict(list)
        for m in rows:
            by_user[m.user_id].append(m)
        digests = [_digest(ms[0].user, ms, cutoff, titles) for ms in by_user.values()]
        if not dry_run:
            _mark_emailed(rows)
    return [d for d in digests if d.rooms]
