"""The message search's query language, parsed: words for the full-text search, and filters.

What a user types in the search box is split into tokens (a run of characters without
white space, or a quoted phrase). Four tokens are filters, the rest is the text searched:

- ``from:USERNAME`` (``from:@alice`` too): messages sent by that user; repeated, by any
  of them;
- ``in:ROOM``: messages of one of the searcher's rooms, named by its name (a group's
  name, quoted when it has spaces: ``in:"book club"``), by the username of a person in
  an unnamed room (``in:bob``: the conversation with bob), or by its id; repeated, in
  any of them;
- ``before:YYYY-MM-DD`` and ``after:YYYY-MM-DD``: messages sent before that day, or
  after it (the day itself excluded, in the site's time zone).

The text keeps what :func:`websearch_to_tsquery` understands on PostgreSQL: ``"quoted
phrases"``, ``-word`` (without it) and ``or``. A filter name it does not know (``http:``)
is text. Parsing never raises: what is wrong is said in :attr:`Query.errors` (translated
sentences the results show), and a query with errors searches nothing.

This module works on text alone; :mod:`chatter.search` resolves the names and queries.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

#: Longest query, in characters.
MAX_LENGTH = 200
#: Most ``from:`` or ``in:`` values in one query.
MAX_VALUES = 10
FILTERS = ("from", "in", "before", "after")

# A token: an optional "-", an optional "name:", then a quoted phrase (an unclosed quote
# runs to the end) or a run of other characters; a "name:" right before a quote takes it.
_TOKEN = re.compile(r'(-?)(?:([A-Za-z]+):)?("[^"]*"?|[^\s"]+"?[^\s"]*)?')
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Characters a search may not hold: NUL (PostgreSQL refuses it) and lone surrogates.
_UNSEARCHABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass
class Query:
    """A parsed search: the words to search, the filters, and what was wrong."""

    raw: str = ""
    #: The text for the full-text search (quoted phrases, ``-word`` and ``or`` kept).
    text: str = ""
    senders: list[str] = field(default_factory=list)
    rooms: list[str] = field(default_factory=list)
    before: datetime.date | None = None
    after: datetime.date | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def has_filters(self) -> bool:
        return bool(self.senders or self.rooms or self.before or self.after)

    @property
    def is_empty(self) -> bool:
        """Nothing to search for: no words and no filters."""
        return not self.text and not self.has_filters

    @property
    def terms(self) -> list[tuple[str, bool]]:
        """The text as ``(words, excluded)`` pairs: a phrase is one pair (for the substring
        search where full-text search is not available); ``or`` is left out."""
        found: list[tuple[str, bool]] = []
        for match in _TOKEN.finditer(self.text):
            token = match.group(0)
            excluded = token.startswith("-")
            words = token.lstrip("-").strip('"').strip()
            if words and words.lower() != "or":
                found.append((words, excluded))
        return found


def _unquote(value: str) -> str:
    return value[1:].rstrip('"') if value.startswith('"') else value


def _date(query: Query, name: str, value: str) -> datetime.date | None:
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        return datetime.date.fromisoformat(value)
    except ValueError:
        query.errors.append(
            _("%(filter)s needs a date written YYYY-MM-DD, such as %(example)s, not “%(value)s”.")
            % {"filter": f"{name}:", "example": "2025-03-31", "value": value}
        )
        return None


def _add(query: Query, name: str, value: str, excluded: bool) -> None:
    """Apply the filter ``name:value`` to ``query`` (or say what is wrong with it)."""
    label = f"{name}:"
    if excluded:
        query.errors.append(
            _("A filter cannot be excluded with “-”: %(filter)s") % {"filter": label}
        )
        return
    if not value:
        query.errors.append(_("%(filter)s needs a value after the colon.") % {"filter": label})
        return
    if name in ("from", "in"):
        values = query.senders if name == "from" else query.rooms
        if len(values) >= MAX_VALUES:
            query.errors.append(
                _("At most %(count)d %(filter)s filters.") % {"count": MAX_VALUES, "filter": label}
            )
        else:
            value = value.removeprefix("@") if name == "from" else value
            if value and value not in values:
                values.append(value)
        return
    if getattr(query, name) is not None:
        query.errors.append(_("%(filter)s may be given once.") % {"filter": label})
        return
    setattr(query, name, _date(query, name, value))


def parse(raw: object) -> Query:
    """Parse what a user typed; never raises (see the module's docstring)."""
    if not isinstance(raw, str):
        return Query(errors=[_("A search must be text.")])
    raw = raw.strip()
    query = Query(raw=raw)
    if len(raw) > MAX_LENGTH:
        query.errors.append(
            _("A search may have at most %(max)d characters.") % {"max": MAX_LENGTH}
        )
        return query
    if _UNSEARCHABLE.search(raw):
        query.errors.append(_("A search cannot contain this character."))
        return query
    words: list[str] = []
    for match in _TOKEN.finditer(raw):
        minus, name, value = match.group(1), match.group(2), match.group(3) or ""
        if not match.group(0):
            continue
        if name is not None and name.lower() in FILTERS:
            _add(query, name.lower(), _unquote(value).strip(), bool(minus))
        else:
            words.append(match.group(0))
    query.text = " ".join(words)
    if query.before and query.after and query.before <= query.after:
        query.errors.append(_("before: must be a later day than after:."))
    return query
