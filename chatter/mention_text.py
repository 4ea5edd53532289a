"""Mentions in a message's text: "@alice" typed, ``<@ID>`` stored, "@Alice Liddell" shown.

The composer sends what the user typed ("hi @alice"). When a message is stored (sent or
edited), each ``@name`` that is the username of a member of the room (case-insensitively;
the exact case wins when two usernames differ only in case) becomes a token ``<@ID>``
(``ID``: the user's primary key) in the stored text, and one
:class:`~chatter.models.Mention` row per user mentioned is written in the same
transaction. A rename therefore never breaks a mention: pages show the user's *current*
name, and the edit form shows ``@username`` again.

What counts as a mention:

- ``@`` at the start of the text or after a character that cannot be in a username
  (a space, punctuation such as ``(``, ``,`` or ``>``): ``a@b.c`` is an address, not a
  mention;
- then the longest run of username characters (letters, digits, ``_ . + @ -``, as
  Django's username validator allows), without the punctuation that ends it: in
  "@alice, hi" and "@alice." the name is ``alice``. A run that is not a member's
  username stays text as typed ("@alice.smith" when only "alice" is a member);
- a token typed as is (``<@ID>``) of a member also counts (the edit form shows it for a
  username that "@" cannot express); any other ``<@...>`` is text;
- not in code (`` `@alice` ``, fenced blocks), which shows what was typed.

This module works on text alone (it never queries); :mod:`chatter.mentions` reads and
writes the ``Mention`` table.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from chatter.types import User

#: A stored mention: ``<@ID>``. Primary keys of other shapes cannot be mentioned.
ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
TOKEN = re.compile(rf"<@({ID.pattern})>")
# What a username may contain (Django's UnicodeUsernameValidator: letters, digits, @.+-_).
_NAME_CHAR = r"[\w.+@-]"
_PUNCTUATION = ".+@-"
# A token, or "@" not preceded by a username character, then a run of them.
_SCAN = re.compile(rf"{TOKEN.pattern}|(?<!{_NAME_CHAR})@(?P<run>{_NAME_CHAR}+)")
_LEADING_RUN = re.compile(rf"{_NAME_CHAR}*")
_NAME = re.compile(_NAME_CHAR)
# A username "@" can express: username characters, ending with a letter, digit or "_".
_USERNAME = re.compile(rf"{_NAME_CHAR}*\w")
_WORD = re.compile(r"\w")
# A fence line: up to three spaces, then ``` or ~~~ (or longer).
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_BACKTICKS = re.compile(r"`+")
_LINE = re.compile(r"[^\n]*\n|[^\n]+$")


def code_spans(text: str) -> list[tuple[int, int]]:
    """Where ``text`` has code, as Markdown reads it (fenced blocks, `inline code`):
    ``(start, end)`` ranges in order. A close reading of CommonMark's rules, not all of
    them (a fence inside a quote or a list item is not seen)."""
    spans: list[tuple[int, int]] = []
    fence, start, offset = "", 0, 0
    for line in _LINE.findall(text):
        found = _FENCE.match(line)
        if not fence:
            if found and not (found.group(1)[0] == "`" and "`" in line[found.end() :]):
                fence, start = found.group(1), offset
            else:
                spans += _inline_code(line, offset)  # a code span across lines is not seen
        elif (
            found
            and found.group(1)[0] == fence[0]
            and len(found.group(1)) >= len(fence)
            and not line[found.end() :].strip()
        ):
            spans.append((start, offset + len(line)))
            fence = ""
        offset += len(line)
    if fence:
        spans.append((start, len(text)))
    return sorted(spans)


def _inline_code(line: str, offset: int) -> list[tuple[int, int]]:
    """The code spans of one line: a run of backticks up to the next run of as many."""
    spans = []
    runs = list(_BACKTICKS.finditer(line))
    at = 0
    while at < len(runs):
        opening = runs[at]
        closing = next(
            (i for i in range(at + 1, len(runs)) if len(runs[i].group(0)) == len(opening.group(0))),
            None,
        )
        if closing is None:
            at += 1
            continue
        spans.append((offset + opening.start(), offset + runs[closing].end()))
        at = closing + 1
    return spans


def _outside_code(text: str) -> Callable[[re.Match[str]], bool]:
    """A test of whether a match of ``text`` starts outside its code."""
    spans = code_spans(text) if "`" in text or "~~~" in text else []
    starts = [start for start, _ in spans]

    def outside(match: re.Match[str]) -> bool:
        i = bisect.bisect_right(starts, match.start()) - 1
        return i < 0 or match.start() >= spans[i][1]

    return outside


def scan(text: str) -> tuple[set[str], set[str]]:
    """The names (as typed, punctuation stripped) and the token ids ``text`` may mention."""
    names: set[str] = set()
    ids: set[str] = set()
    if "@" not in text:
        return names, ids
    outside = _outside_code(text)
    for match in _SCAN.finditer(text):
        if not outside(match):
            continue
        if match.group(1) is not None:
            ids.add(match.group(1))
        elif name := match.group("run").rstrip(_PUNCTUATION):
            names.add(name)
    return names, ids


def _key(user: User) -> str | None:
    key = str(user.pk)
    return key if ID.fullmatch(key) else None


def substitute(text: str, members: Iterable[User]) -> tuple[str, dict[str, User]]:
    """``text`` with the mentions of ``members`` as tokens, and those users by id (in the
    order of their first mention). Pure: ``members`` are the room's users :func:`scan`
    asked for (others do no harm)."""
    by_name: dict[str, list[User]] = {}
    by_id: dict[str, User] = {}
    for user in members:
        key = _key(user)
        if key is not None:
            by_id[key] = user
            by_name.setdefault(user.get_username().lower(), []).append(user)
    if not by_id:
        return text, {}
    found: dict[str, User] = {}
    outside = _outside_code(text)

    def replace(match: re.Match[str]) -> str:
        if not outside(match):
            return match.group(0)
        if match.group(1) is not None:  # a token typed as is
            user = by_id.get(match.group(1)) or _by_pk(by_id, match.group(1))
            rest = ""
        else:
            run = match.group("run")
            name = run.rstrip(_PUNCTUATION)
            rest = run[len(name) :]
            users = by_name.get(name.lower(), [])
            exact = [u for u in users if u.get_username() == name]
            ranked = exact or sorted(users, key=lambda u: str(u.pk))
            user = ranked[0] if ranked else None
        if user is None:
            return match.group(0)
        key = str(user.pk)
        found.setdefault(key, user)
        return f"<@{key}>{rest}"

    return _SCAN.sub(replace, text), found


def pk_or_none(raw: str) -> Any:
    """``raw`` as a value of the user model's primary key, or None."""
    field = get_user_model()._meta.pk
    assert field is not None
    try:
        return field.to_python(raw)
    except (ValidationError, ValueError, TypeError):
        return None


def _by_pk(by_id: dict[str, User], raw: str) -> User | None:
    """The member whose primary key ``raw`` spells differently ("007", a UUID's case)."""
    value = pk_or_none(raw)
    return next((u for u in by_id.values() if value is not None and u.pk == value), None)


def editable(text: str, mentioned: dict[str, Any]) -> str:
    """The stored ``text`` as its author edits it: tokens as ``@username`` again.

    A token stays a token where "@username" would not read back as the same mention (a
    username "@" cannot express, a letter right before or after it): storing the result
    again gives the same text.
    """
    if "<@" not in text:
        return text
    out: list[str] = []
    at = 0
    previous = ""  # the last character written so far
    outside = _outside_code(text)
    for match in TOKEN.finditer(text):
        if not outside(match):
            continue
        between = text[at : match.start()]
        out.append(between)
        previous = between[-1:] or previous
        at = match.end()
        user = mentioned.get(match.group(1))
        name = user.get_username() if user is not None else ""
        following = _LEADING_RUN.match(text, at)
        safe = (
            _USERNAME.fullmatch(name) is not None
            and _NAME.fullmatch(previous or " ") is None
            and previous != "<"  # "<@name>" would read as a token
            and (following is None or _WORD.search(following.group(0)) is None)
        )
        piece = f"@{name}" if safe else match.group(0)
        out.append(piece)
        previous = piece[-1]
    out.append(text[at:])
    return "".join(out)


def _name(user: Any) -> str:
    from chatter.rooms import display_name  # rooms imports messages, which imports this

    return display_name(user)


def plain(text: str, mentioned: dict[str, Any]) -> str:
    """``text`` with its mentions as "@Display Name": a room list's preview, a quote."""
    if "<@" not in text:
        return text

    def name(match: re.Match[str]) -> str:
        user = mentioned.get(match.group(1))
        return match.group(0) if user is None else f"@{_name(user)}"

    return TOKEN.sub(name, text)


def ids_in(text: str, mentioned: dict[str, Any]) -> list[str]:
    """The ids of the users ``text`` mentions, in order of first mention."""
    ids: dict[str, None] = {}
    for match in TOKEN.finditer(text):
        if match.group(1) in mentioned:
            ids.setdefault(match.group(1))
    return list(ids)
