"""Chatter's domain actions: the one place rooms and messages are created, read and changed.

Views, consumers, management commands and tests all call these functions, so a rule
(membership, limits, idempotency, ordering) is enforced once.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import reduce
from operator import or_
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, models, transaction
from django.db.models import BigIntegerField, Case, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Least
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from chatter import conf, mentions
from chatter.mention_text import ids_in
from chatter.models import ROOM_NAME_MAX_LENGTH, Membership, Room
from chatter.timeline import last_seq
from chatter.types import AnyUser, RoomId, User, UserId


@dataclass
class RoomSummary:
    """A room as one user sees it in the room list."""

    room: Room
    membership: Membership
    others: list[User] = field(default_factory=list)
    #: The user's mentions in the room after their read position.
    mentions: int = 0

    @property
    def unread(self) -> int:
        return max(self.room.last_seq - self.membership.last_read_seq, 0)

    @property
    def title(self) -> str:
        return room_title(self.room, self.others)


# -- rooms -------------------------------------------------------------------------------


def _members_key(user_ids: Iterable[UserId]) -> str:
    joined = ",".join(sorted(str(pk) for pk in user_ids))
    return hashlib.sha256(joined.encode()).hexdigest()


def _validate_users(users: object) -> list[User]:
    user_model = get_user_model()
    if isinstance(users, str | bytes | user_model) or not isinstance(users, Iterable):
        raise TypeError(
            f"create_room() takes a list of {user_model.__name__} objects, "
            f"not {type(users).__name__}."
        )
    unique: dict[UserId, User] = {}
    for user in users:
        if not isinstance(user, user_model):
            if getattr(user, "is_anonymous", False) is True:
                raise ValueError("create_room() cannot put an anonymous user in a room.")
            raise TypeError(
                f"create_room() takes {user_model.__name__} objects, "
                f"got {type(user).__name__}: {user!r}."
            )
        if user.pk is None:
            raise ValueError(f"create_room() got an unsaved user: {user!r}.")
        unique.setdefault(user.pk, user)
    if not unique:
        raise ValueError("create_room() needs at least one user.")
    return list(unique.values())


def create_room(
    users: Iterable[AnyUser], name: str = "", *, created_by: AnyUser | None = None
) -> uuid.UUID:
    """Return the id of the room whose members are exactly ``users``, creating it if needed.

    Duplicates are ignored and a lazy ``request.user`` is accepted. ``name`` labels a room
    this call creates, and ``created_by`` (a user, e.g. the one who made a group) is
    stored as its creator; an existing room keeps both. Concurrent calls for one set of
    users get one room: the database's unique key on the member set decides. A room
    created here is announced to its members' open room lists once the transaction
    commits. A group whose members were changed by hand (:mod:`chatter.groups`) has a
    key of its own and is never returned here.
    """
    return get_or_create_room(users, name, created_by=created_by)[0]


def find_room(users: Iterable[AnyUser]) -> uuid.UUID | None:
    """The id of the room whose members are exactly ``users``, or None: creates nothing."""
    members = _validate_users(users)
    key = _members_key(user.pk for user in members)
    return Room.objects.filter(members_key=key).values_list("id", flat=True).first()


def get_or_create_room(
    users: Iterable[AnyUser], name: str = "", *, created_by: AnyUser | None = None
) -> tuple[uuid.UUID, bool]:
    """:func:`create_room`, also telling whether this call created the room."""
    members = _validate_users(users)
    creator = None if created_by is None else _validate_users([created_by])[0]
    name = (name or "").strip()
    if len(name) > ROOM_NAME_MAX_LENGTH:
        raise ValueError("create_room() got a room name longer than 100 characters.")
    key = _members_key(user.pk for user in members)
    existing = Room.objects.filter(members_key=key).values_list("id", flat=True).first()
    if existing is not None:
        return existing, False
    found = get_user_model()._default_manager.filter(pk__in=[u.pk for u in members]).count()
    if found != len(members):
        raise ValueError("create_room() got a user that is not in the database.")
    try:
        with transaction.atomic():
            room = Room.objects.create(members_key=key, name=name, created_by=creator)
            Membership.objects.bulk_create(Membership(room=room, user=u) for u in members)
    except IntegrityError:
        return Room.objects.values_list("id", flat=True).get(members_key=key), False
    from chatter import live  # live renders with the domain's help: imported late

    live.announce_room(room.id, [u.pk for u in members])
    return room.id, True


def room_for_member(room_id: RoomId, user: AnyUser) -> Room:
    """The room ``room_id`` if ``user`` is a member of it; else ``Room.DoesNotExist``."""
    if not user.is_authenticated:
        raise Room.DoesNotExist
    try:
        room_uuid = room_id if isinstance(room_id, uuid.UUID) else uuid.UUID(str(room_id))
    except ValueError:
        raise Room.DoesNotExist from None
    return Room.objects.get(pk=room_uuid, memberships__user=user)


def room_exists(room_id: RoomId) -> bool:
    """Whether a room with this id exists (to tell "not a member" from "no such room")."""
    return Room.objects.filter(pk=room_id).exists()


def room_ids_for(user: User) -> list[uuid.UUID]:
    """Ids of the rooms ``user`` is a member of: what their room list shows."""
    return list(Membership.objects.filter(user=user).values_list("room_id", flat=True))


def members(room: Room) -> list[User]:
    """The room's users, by username."""
    user_model = get_user_model()
    return list(
        user_model._default_manager.filter(chatter_memberships__room=room).order_by(
            user_model.USERNAME_FIELD
        )
    )


def display_name(user: User | None) -> str:
    """How a user is named in rooms: full name if set, else the username."""
    if user is None:
        return str(_("Deleted user"))
    full: str = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return full or user.get_username()


def room_title(room: Room, others: list[User]) -> str:
    """A room's name, or the names of the other members, or "Notes" for a one-user room."""
    if room.name:
        return room.name
    if not others:
        return str(_("Notes to self"))
    return ", ".join(display_name(u) for u in others)


def rooms_for(user: User, room_id: RoomId | None = None) -> list[RoomSummary]:
    """The user's rooms (or just ``room_id``), newest activity first, with unread counts
    and unread mentions.

    Three queries, whatever the number of rooms. A last message's mentions are named from
    the members (the users a mention names are members, or were).
    """
    memberships = Membership.objects.filter(user=user)
    if room_id is not None:
        memberships = memberships.filter(room_id=room_id)
    rows = list(
        memberships.select_related(
            "room", "room__last_message", "room__last_message__sender"
        ).order_by("-room__updated_at", "-room__created_at")
    )
    room_ids = [m.room_id for m in rows]
    others: dict[uuid.UUID, list[User]] = {rid: [] for rid in room_ids}
    for other in (
        Membership.objects.filter(room_id__in=room_ids)
        .exclude(user=user)
        .select_related("user")
        .order_by("user__" + get_user_model().USERNAME_FIELD)
    ):
        others[other.room_id].append(other.user)
    counts = mentions.unread_counts(user, room_ids)
    for m in rows:
        last = m.room.last_message
        if last is not None and "<@" in last.text:
            people = {str(u.pk): u for u in (user, *others[m.room_id])}
            last.mentioned = {pk: people[pk] for pk in ids_in(last.text, people)}
    return [RoomSummary(m.room, m, others[m.room_id], counts.get(m.room_id, 0)) for m in rows]


def room_summary(room_id: RoomId, user: User) -> RoomSummary | None:
    """One room as ``user`` sees it in the room list, or None if they are not a member."""
    found = rooms_for(user, room_id=room_id)
    return found[0] if found else None


def unread_counts(user: User) -> dict[uuid.UUID, int]:
    """Unread messages per room for ``user``: one query."""
    return {
        room_id: max(last - read, 0)
        for room_id, last, read in Membership.objects.filter(user=user).values_list(
            "room_id", "room__last_seq", "last_read_seq"
        )
    }


def total_unread(user: User) -> int:
    return sum(unread_counts(user).values())


def search_users(
    query: str,
    exclude: User | None = None,
    limit: int | None = None,
    exclude_room: RoomId | None = None,
) -> list[User]:
    """Users whose username, first or last name contains ``query``; at most ``limit``.

    ``exclude_room``: not the members of this room (the people one could add to it).
    """
    query = (query or "").strip()
    if not query:
        return []
    limit = limit or conf.get("CHATTER_USER_SEARCH_LIMIT")
    user_model = get_user_model()
    username_field = user_model.USERNAME_FIELD
    condition = Q(**{f"{username_field}__icontains": query})
    field_names = {f.name for f in user_model._meta.get_fields()}
    for extra in ("first_name", "last_name"):
        if extra in field_names:
            condition |= Q(**{f"{extra}__icontains": query})
    qs = user_model._default_manager.filter(condition)
    if "is_active" in field_names:
        qs = qs.filter(is_active=True)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    if exclude_room is not None:
        qs = qs.exclude(pk__in=Membership.objects.filter(room_id=exclude_room).values("user_id"))
    return list(qs.order_by(username_field)[:limit])


def mark_read(room: Room, user: User, seq: int | None = None) -> int | None:
    """Mark ``room`` read by ``user`` up to ``seq`` (default: the newest message).

    Read state only moves forward. Returns the new read position, or None if nothing
    changed.
    """
    try:
        last = last_seq(room)
    except Room.DoesNotExist:
        return None
    target = last if seq is None else max(0, min(int(seq), last))
    changed = Membership.objects.filter(room=room, user=user, last_read_seq__lt=target).update(
        last_read_seq=target
    )
    return target if changed else None


#: "Read to the newest": above any sequence, clamped to the room's last one in SQL.
_NEWEST = 2**62


def _pairs(pairs: Mapping[Any, Iterable[Any]]) -> Q:
    """Memberships of these users in these rooms: ``{room id: user ids}``."""
    return reduce(or_, (Q(room_id=room, user_id__in=list(ids)) for room, ids in pairs.items()))


def mark_read_many(reads: Mapping[tuple[Any, Any], int | None]) -> int:
    """Move read positions forward, in any number of rooms, in one UPDATE.

    ``reads`` maps ``(room id, user id)`` to the sequence read (None: the newest). A
    position only moves forward, and never past its room's last message. One statement
    for any number of rooms and readers. Returns how many positions moved.
    """
    targets = {
        (room_id, user_id): _NEWEST if seq is None else max(0, int(seq))
        for (room_id, user_id), seq in reads.items()
    }
    if not targets:
        return 0
    if connection.vendor == "postgresql":
        return _mark_read_values(targets)
    # Elsewhere (SQLite for the demo and the fast tests): the same statement from the ORM,
    # readers at the same place sharing a CASE arm.
    places: dict[tuple[Any, int], list[Any]] = defaultdict(list)
    readers: dict[Any, list[Any]] = defaultdict(list)
    for (room_id, user_id), seq in targets.items():
        places[room_id, seq].append(user_id)
        readers[room_id].append(user_id)
    wanted = Case(
        *(When(room_id=r, user_id__in=ids, then=Value(seq)) for (r, seq), ids in places.items()),
        output_field=BigIntegerField(),
    )
    last = Subquery(Room.objects.filter(pk=OuterRef("room_id")).values("last_seq")[:1])
    target = Least(wanted, last, output_field=BigIntegerField())
    return Membership.objects.filter(_pairs(readers), last_read_seq__lt=target).update(
        last_read_seq=target
    )


def _column(model: type[models.Model], name: str) -> str:
    """The quoted column of a concrete field."""
    column = getattr(model._meta.get_field(name), "column", None)
    assert isinstance(column, str), name
    return connection.ops.quote_name(column)


def _mark_read_values(targets: Mapping[tuple[Any, Any], int]) -> int:
    """:func:`mark_read_many` on PostgreSQL: ``UPDATE ... FROM unnest(arrays)``.

    Three array parameters for any number of readers: building a CASE of hundreds of arms
    through the ORM, or binding thousands of parameters, costs more CPU in this process
    than the database spends on the statement.
    """
    quote = connection.ops.quote_name
    membership, room = Membership._meta, Room._meta
    room_pk = room.pk
    user_pk = membership.get_field("user").target_field
    room_type, user_type = room_pk.db_type(connection), user_pk.db_type(connection)
    room_ids, user_ids, seqs = [], [], []
    for (room_id, user_id), seq in targets.items():
        room_ids.append(room_pk.get_db_prep_value(room_id, connection))
        user_ids.append(user_pk.get_db_prep_value(user_id, connection))
        seqs.append(seq)
    m_room, m_user, m_read = (_column(Membership, f) for f in ("room", "user", "last_read_seq"))
    r_last = _column(Room, "last_seq")
    sql = (
        f"UPDATE {quote(membership.db_table)} AS m "  # noqa: S608 (names from _meta)
        f"SET {m_read} = LEAST(v.seq, r.{r_last}) "
        f"FROM unnest(CAST(%s AS {room_type}[]), CAST(%s AS {user_type}[]), "
        "CAST(%s AS bigint[])) AS v(room_id, user_id, seq), "
        f"{quote(room.db_table)} AS r "
        f"WHERE m.{m_room} = v.room_id AND m.{m_user} = v.user_id "
        f"AND r.{_column(Room, 'id')} = m.{m_room} "
        f"AND m.{m_read} < LEAST(v.seq, r.{r_last})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [room_ids, user_ids, seqs])
        return int(cursor.rowcount)


def _presence_cutoff() -> datetime:
    return timezone.now() - timedelta(seconds=conf.get("CHATTER_PRESENCE_TIMEOUT"))


def touch_many(pairs: Mapping[Any, Iterable[Any]]) -> dict[Any, set[Any]]:
    """Record that these members (``{room id: user ids}``) have their rooms open.

    Two statements for any number of rooms; returns, per room, the ids of the members who
    were not active in it before.
    """
    pairs = {room_id: list(ids) for room_id, ids in pairs.items() if ids}
    if not pairs:
        return {}
    memberships = Membership.objects.filter(_pairs(pairs))
    inactive = Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=_presence_cutoff())
    arrived: dict[Any, set[Any]] = defaultdict(set)
    for room_id, user_id in memberships.filter(inactive).values_list("room_id", "user_id"):
        arrived[room_id].add(user_id)
    memberships.update(last_seen_at=timezone.now())
    return dict(arrived)


def leave(room: Room, user: User) -> None:
    """Record that ``user`` closed a socket of ``room`` (another open one touches again)."""
    Membership.objects.filter(room=room, user=user).update(last_seen_at=None)


def active_ids(room: Room) -> set[UserId]:
    """Ids of the members active in ``room`` within ``CHATTER_PRESENCE_TIMEOUT``."""
    return set(
        Membership.objects.filter(room=room, last_seen_at__gte=_presence_cutoff()).values_list(
            "user_id", flat=True
        )
    )


def presence(changes: Mapping[Any, Iterable[Any]]) -> dict[Any, list[tuple[Any, bool]]]:
    """These members of these rooms (``{room id: user ids}``), each with whether they are
    active in the room now: one query for any number of rooms."""
    changes = {room_id: list(ids) for room_id, ids in changes.items() if ids}
    if not changes:
        return {}
    cutoff = _presence_cutoff()
    rows = (
        Membership.objects.filter(_pairs(changes))
        .select_related("user")
        .order_by("user__" + get_user_model().USERNAME_FIELD)
    )
    found: dict[Any, list[tuple[Any, bool]]] = defaultdict(list)
    for m in rows:
        found[m.room_id].append((m.user, m.last_seen_at is not None and m.last_seen_at >= cutoff))
    return dict(found)


def seen_lines(room_ids: Iterable[Any]) -> dict[Any, tuple[int, list[Any], Any]]:
    """Per room: its last sequence, who (besides its sender) has read it, and the sender's
    id. Two queries for any number of rooms; a room that is gone is left out."""
    lines: dict[Any, tuple[int, list[Any], Any]] = {
        pk: (last, [], sender_id)
        for pk, last, sender_id in Room.objects.filter(pk__in=list(room_ids)).values_list(
            "pk", "last_seq", "last_message__sender_id"
        )
    }
    if not lines:
        return lines
    readers = (
        Membership.objects.filter(
            room_id__in=list(lines), room__last_seq__gt=0, last_read_seq__gte=F("room__last_seq")
        )
        .select_related("user")
        .order_by("user__" + get_user_model().USERNAME_FIELD)
    )
    for m in readers:
        _, names, sender_id = lines[m.room_id]
        if m.user_id != sender_id:
            names.append(m.user)
    return lines


def seen_by(room: Room, seq: int, exclude: AnyUser | UserId | None = None) -> list[User]:
    """Members (other than ``exclude``) who have read message ``seq``."""
    qs = Membership.objects.filter(room=room, last_read_seq__gte=seq).select_related("user")
    if exclude is not None:
        exclude_id: UserId = getattr(exclude, "pk", exclude)
        qs = qs.exclude(user_id=exclude_id)
    return [m.user for m in qs.order_by("user__" + get_user_model().USERNAME_FIELD)]
