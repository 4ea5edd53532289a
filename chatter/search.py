"""Message search: what a user may find, and every query of it.

:func:`search` answers a query typed in the search box (:mod:`chatter.search_query`) with
the best matches among the messages the user can see:

- only messages of rooms the user is a member of (now), of the current tenant (the
  tables are the tenant's own);
- never a deleted message, never a system line (its words are made when it is shown);
- never a message of someone the user blocks: their messages are collapsed in the room,
  and a search would bring them back;
- on PostgreSQL, a full-text search of the stored ``tsvector`` column
  (:mod:`chatter.search_index`) with ``websearch_to_tsquery``, best first
  (``ts_rank``, then newest), and ``ts_headline`` snippets; elsewhere (SQLite) a
  substring match of each word or phrase, newest first.

A snippet is a list of :class:`Piece` (text, and whether it matched) rendered by a
template, so no message text ever becomes markup. ``ts_headline`` marks the matches with
markers made of a random token per search; the pieces are cut at them.

Statements: one for the search, one for the titles of its rooms, one more for each kind
of filter named (``from:``, ``in:``): constant in the number of rooms and of results.
"""

from __future__ import annotations

import contextlib
import datetime
import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import BooleanField, FloatField, Q, QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from chatter import conf, search_index
from chatter.mention_text import TOKEN
from chatter.models import Block, Membership, Message, Room
from chatter.rooms import display_name, room_title
from chatter.search_query import Query, parse
from chatter.types import User

#: Characters of a snippet (where the database does not cut it).
SNIPPET_LENGTH = 160


@dataclass(frozen=True)
class Piece:
    """A part of a snippet: ``marked`` when it is what was searched for."""

    text: str
    marked: bool = False


@dataclass
class Hit:
    """One result: the message (with its room and sender), the room's title, a snippet."""

    message: Message
    title: str
    pieces: list[Piece]


@dataclass
class Results:
    """The answer to a search: its hits (best first), whether there are more, or errors."""

    query: Query
    hits: list[Hit] = field(default_factory=list)
    more: bool = False
    errors: list[str] = field(default_factory=list)
    room: Room | None = None


def search(user: User, raw: object, room: Room | None = None, limit: int | None = None) -> Results:
    """Search the messages ``user`` can see (only those of ``room`` if given) for ``raw``."""
    query = parse(raw)
    results = Results(query=query, errors=list(query.errors), room=room)
    if query.errors or query.is_empty:
        return results
    qs = _visible(user)
    if room is not None:
        qs = qs.filter(room_id=room.pk)
    qs = _filtered(qs, query, user, results.errors)
    if results.errors:
        return results
    limit = limit or conf.get("CHATTER_SEARCH_LIMIT")
    postgres = search_index.is_postgresql()
    if query.text and postgres:
        rows, pieces = _full_text(qs, query.text, limit)
    else:
        rows = list(_substring(qs, query).order_by("-created_at", "-pk")[: limit + 1])
        words = [] if postgres else [w for w, excluded in query.terms if not excluded]
        pieces = [_snippet(m.text, words) for m in rows]
    results.more = len(rows) > limit
    results.hits = _hits(user, rows[:limit], pieces[:limit])
    return results


def _visible(user: User) -> QuerySet[Message]:
    """Messages ``user`` may find: see the module's docstring."""
    rooms = Membership.objects.filter(user_id=user.pk).values("room_id")
    blocked = Block.objects.filter(blocker_id=user.pk).values("blocked_id")
    return (
        Message.objects.filter(room_id__in=rooms, deleted_at__isnull=True)
        .exclude(kind=Message.Kind.SYSTEM)
        .exclude(sender_id__in=blocked)
        .select_related("room", "sender")
    )


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _filtered(
    qs: QuerySet[Message], query: Query, user: User, errors: list[str]
) -> QuerySet[Message]:
    """``qs`` with the query's filters; what they name that does not exist goes to ``errors``."""
    if query.before is not None:
        qs = qs.filter(created_at__lt=_day_start(query.before))
    if query.after is not None:
        qs = qs.filter(created_at__gte=_day_start(query.after + datetime.timedelta(days=1)))
    if query.senders:
        user_model = get_user_model()
        wanted = {name.lower(): name for name in query.senders}
        found = dict(
            user_model._default_manager.annotate(_name=Lower(user_model.USERNAME_FIELD))
            .filter(_name__in=list(wanted))
            .values_list("_name", "pk")
        )
        errors.extend(
            _("No one is called “%(name)s”.") % {"name": name}
            for key, name in wanted.items()
            if key not in found
        )
        qs = qs.filter(sender_id__in=list(found.values()))
    if query.rooms:
        qs = qs.filter(room_id__in=_rooms_named(user, query.rooms, errors))
    return qs


def _rooms_named(user: User, names: list[str], errors: list[str]) -> set[uuid.UUID]:
    """Ids of ``user``'s rooms that ``names`` name (see :mod:`chatter.search_query`)."""
    ids: dict[str, uuid.UUID] = {}
    for name in names:
        with contextlib.suppress(ValueError):
            ids[name] = uuid.UUID(name)
    lowered = [name.lower() for name in names]
    username = "user__" + get_user_model().USERNAME_FIELD
    rows = (
        Membership.objects.filter(room__memberships__user_id=user.pk)
        .annotate(_room=Lower("room__name"), _user=Lower(username))
        .filter(
            Q(room_id__in=list(ids.values()))
            | Q(_room__in=lowered)
            | (Q(room__name="", _user__in=lowered) & ~Q(user_id=user.pk))
        )
        .values_list("room_id", "_room", "_user")
    )
    found: set[uuid.UUID] = set()
    named: set[str] = set()
    for room_id, room_name, member in rows:
        found.add(room_id)
        named.update({str(room_id), room_name or member})
    for name in names:
        if name.lower() not in named and str(ids.get(name, "")) not in named:
            errors.append(_("You have no conversation called “%(name)s”.") % {"name": name})
    return found


def _substring(qs: QuerySet[Message], query: Query) -> QuerySet[Message]:
    """``qs`` with every word or phrase of the query in the text (or not, for ``-word``)."""
    for words, excluded in query.terms:
        qs = qs.exclude(text__icontains=words) if excluded else qs.filter(text__icontains=words)
    return qs


def _full_text(
    qs: QuerySet[Message], text: str, limit: int
) -> tuple[list[Message], list[list[Piece]]]:
    """The best ``limit + 1`` full-text matches of ``text`` in ``qs``, and their snippets."""
    config = search_index.config_literal(conf.get("CHATTER_SEARCH_CONFIG"))
    tsquery = f"websearch_to_tsquery({config}, %s)"
    column = f'"{Message._meta.db_table}"."{search_index.COLUMN}"'
    start, stop = f"qs{secrets.token_hex(8)}q", f"qe{secrets.token_hex(8)}q"
    # The whole text (its fragments would leave out what its parser takes for tags), cut
    # around the first match here.
    options = f"StartSel={start}, StopSel={stop}, HighlightAll=true"
    # The SQL is made of constants and a configuration name checked by config_literal; what
    # was typed is a parameter.
    matches = RawSQL(f"{column} @@ {tsquery}", [text], output_field=BooleanField())  # noqa: S611
    rank = RawSQL(f"ts_rank({column}, {tsquery})", [text], output_field=FloatField())  # noqa: S611
    headline = RawSQL(  # noqa: S611
        f'ts_headline({config}, "{Message._meta.db_table}"."text", {tsquery}, %s)',
        [text, options],
        output_field=TextField(),
    )
    rows: list[Message] = list(
        qs.filter(matches)
        .annotate(_rank=rank, _headline=headline)
        .order_by("-_rank", "-created_at", "-pk")[: limit + 1]
    )
    cut = re.compile(f"{start}(.*?){stop}", re.DOTALL)
    return rows, [_cut(cut, getattr(m, "_headline", "")) for m in rows]


def _cut(markers: re.Pattern[str], headline: str) -> list[Piece]:
    """A headline with the markers around its matches, as pieces."""
    pieces: list[Piece] = []
    at = 0
    for found in markers.finditer(headline):
        if found.start() > at:
            pieces.append(Piece(headline[at : found.start()]))
        pieces.append(Piece(found.group(1), marked=True))
        at = found.end()
    if at < len(headline):
        pieces.append(Piece(headline[at:]))
    return pieces


def _snippet(text: str, words: list[str]) -> list[Piece]:
    """``text`` with its matches of ``words`` (in any case) marked."""
    if not words:
        return [Piece(text)]
    longest_first = sorted(words, key=len, reverse=True)
    return _cut(re.compile("({})".format("|".join(map(re.escape, longest_first))), re.I), text)


def _clip(pieces: list[Piece]) -> list[Piece]:
    """At most :data:`SNIPPET_LENGTH` characters of ``pieces``, from a little before the
    first marked one, with "…" where text is left out."""
    first, at = 0, 0
    for piece in pieces:
        if piece.marked:
            first = at
            break
        at += len(piece.text)
    total = sum(len(p.text) for p in pieces)
    start = max(min(first - SNIPPET_LENGTH // 3, total - SNIPPET_LENGTH), 0)
    end = start + SNIPPET_LENGTH
    clipped: list[Piece] = [Piece("…")] if start else []
    at = 0
    for piece in pieces:
        low, high = max(start - at, 0), min(end - at, len(piece.text))
        if low < high:
            clipped.append(Piece(piece.text[low:high], piece.marked))
        at += len(piece.text)
    if end < total:
        clipped.append(Piece("…"))
    return clipped


def _hits(user: User, rows: list[Message], pieces: list[list[Piece]]) -> list[Hit]:
    """The results, with their rooms' titles and mentions named (one query).

    Only the members a result shows are loaded: all of an unnamed room (its title names
    them), and those its snippet mentions: a named group of 200 loads none or a few.
    """
    others: dict[Any, list[User]] = {m.room_id: [] for m in rows}
    people: dict[Any, dict[str, User]] = {m.room_id: {str(user.pk): user} for m in rows}
    unnamed = [m.room_id for m in rows if not m.room.name]
    mentioned = _user_ids({t for snippet in pieces for p in snippet for t in TOKEN.findall(p.text)})
    if unnamed or mentioned:
        wanted = Q(room_id__in=unnamed) | Q(room_id__in=list(others), user_id__in=mentioned)
        for membership in (
            Membership.objects.filter(wanted)
            .exclude(user_id=user.pk)
            .select_related("user")
            .order_by("user__" + get_user_model().USERNAME_FIELD)
        ):
            if membership.room_id in unnamed:
                others[membership.room_id].append(membership.user)
            people[membership.room_id][str(membership.user_id)] = membership.user
    return [
        Hit(m, room_title(m.room, others[m.room_id]), _clip(_named(snippet, people[m.room_id])))
        for m, snippet in zip(rows, pieces, strict=True)
    ]


def _user_ids(tokens: set[str]) -> list[Any]:
    """The mention tokens' ids that are primary keys of the user model (others name no one)."""
    field = get_user_model()._meta.pk
    ids = []
    for token in tokens:
        with contextlib.suppress(ValidationError):
            ids.append(field.to_python(token) if field is not None else token)
    return ids


def _named(pieces: list[Piece], people: dict[str, User]) -> list[Piece]:
    """Mention tokens (``<@7>``) of the room's members shown as "@" and their name."""

    def name(found: re.Match[str]) -> str:
        person = people.get(found.group(1))
        return "@" + display_name(person) if person is not None else found.group(0)

    return [Piece(TOKEN.sub(name, p.text), p.marked) for p in pieces if p.text]
