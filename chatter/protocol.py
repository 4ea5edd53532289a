"""The socket protocol: one strict parser for every frame a client sends.

A frame is a JSON object sent by htmx's ws extension (a form's fields plus ``HEADERS``)
or by ``chatter.js``. Anything that is not one of the frames below, exactly typed, is
answered by :class:`Invalid` (shown under the composer) or ignored, never an exception:

* ``{"type": "send", "text": str, "client_id": str, "reply_to": int}`` (``type`` may be
  left out when ``text`` is present, as a plain form sends it; ``reply_to`` is optional:
  the sequence of the message answered, and an empty string counts as none);
* ``{"type": "resume", "after": int, "changes": int, "oldest": int}``: what came after
  sequence ``after``, and the changes after change ``changes`` to the messages from
  ``oldest`` on (both optional);
* ``{"type": "edit", "seq": int, "text": str}``, ``{"type": "delete", "seq": int}`` and
  ``{"type": "react", "seq": int, "emoji": str}``: actions on message ``seq``;
* ``{"type": "read", "seq": int}``: read up to ``seq`` (default: the newest);
* group changes of the socket's room: ``{"type": "rename", "name": str}``,
  ``{"type": "add", "users": [id, ...]}`` (at most :data:`MAX_USERS` distinct ids; an id
  is an int, or a string for projects whose users have other keys),
  ``{"type": "remove", "user": id}`` and ``{"type": "leave"}``;
* ``{"type": "report", "seq": int, "reason": str, "details": str}``: report message
  ``seq`` to the moderators (``details`` optional, at most :data:`MAX_DETAILS`
  characters; ``reason`` one of ``Report.Reason``, which the domain checks);
* ``{"type": "typing"}`` and ``{"type": "ping"}``.

Why one function: every field is checked once (type, range, valid Unicode), so the
consumer only ever sees well-formed values. Sizes are bounded before parsing; numbers
must be finite integers within PostgreSQL's ``bigint``; strings must encode to UTF-8
(a lone surrogate such as ``"\\ud800"`` does not).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

# Close codes the client understands: the ws extension opens the socket again only after
# 1006/1011/1012/1013, so each of these ends a page's socket for good (chatter.js says why).
NO_TENANT = 4400
NOT_LOGGED_IN = 4401
FORBIDDEN = 4403
NOT_FOUND = 4404
TOO_MANY_SOCKETS = 4429

#: Largest sequence number a client may name (PostgreSQL's bigint).
MAX_SEQ = 2**63 - 1
#: Longest client id kept (a UUID has 36 characters).
MAX_CLIENT_ID = 64
#: Longest group name read from a frame (the domain allows ``ROOM_NAME_MAX_LENGTH``).
MAX_NAME = 1000
#: Most users one "add" frame may name (the domain allows ``CHATTER_MAX_ROOM_MEMBERS``).
MAX_USERS = 1000
#: Longest user id given as a string (a UUID has 36 characters).
MAX_USER_ID = 64
#: Longest report reason read (the domain accepts only ``Report.Reason`` values).
MAX_REASON = 32
#: Longest report details: ``chatter.moderation.DETAILS_MAX_LENGTH``.
MAX_DETAILS = 1000


@dataclass(frozen=True)
class Send:
    text: str
    client_id: str
    reply_to: int | None = None


@dataclass(frozen=True)
class Resume:
    after: int
    changes: int | None = None
    oldest: int = 0


@dataclass(frozen=True)
class Edit:
    seq: int
    text: str


@dataclass(frozen=True)
class Delete:
    seq: int


@dataclass(frozen=True)
class React:
    seq: int
    emoji: str


@dataclass(frozen=True)
class Rename:
    name: str


@dataclass(frozen=True)
class Add:
    users: tuple[int | str, ...]


@dataclass(frozen=True)
class Remove:
    user: int | str


@dataclass(frozen=True)
class Leave:
    pass


@dataclass(frozen=True)
class Report:
    seq: int
    reason: str
    details: str = ""


@dataclass(frozen=True)
class Read:
    seq: int | None


@dataclass(frozen=True)
class Typing:
    pass


@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class Invalid:
    """A frame the server cannot read: ``message`` is shown under the composer."""

    message: str
    client_id: str = ""


Frame = (
    Send | Resume | Read | Typing | Ping | Edit | Delete | React | Rename | Add | Remove | Leave
    | Report
)  # fmt: skip
#: The frames of group changes and reports (:mod:`chatter.socket_actions` applies them).
ROOM_ACTIONS = (Rename, Add, Remove, Leave, Report)
#: Frame types whose malformed fields are answered under the composer.
ANSWERED = ("edit", "delete", "react", "rename", "add", "remove", "leave", "report")

#: Longest emoji accepted in a frame, in characters (before the domain's own check).
MAX_EMOJI = 32


class _Refused(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _Refused(name)  # NaN, Infinity, -Infinity: not JSON numbers we accept


def _valid_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _seq(value: Any) -> int:
    """A sequence number: an int (not a bool) from 0 to MAX_SEQ, else _Refused."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEQ:
        raise _Refused(value)
    return value


def _optional_seq(value: Any) -> int | None:
    """An optional sequence: None, "" (an empty form field) or a valid sequence."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)  # a form field's value
    return _seq(value)


def _text(value: Any, longest: int | None = None) -> str:
    if not isinstance(value, str) or not _valid_text(value):
        raise _Refused(value)
    if longest is not None and len(value) > longest:
        raise _Refused(value)
    return value


def _user_id(value: Any) -> int | str:
    """A user's id: an int from 0 to MAX_SEQ, or a short non-empty string, else _Refused."""
    if isinstance(value, str) and 0 < len(value) <= MAX_USER_ID:
        return _text(value)
    return _seq(value)


def _user_ids(value: Any) -> tuple[int | str, ...]:
    """At most MAX_USERS user ids, each once, in order."""
    if not isinstance(value, list) or len(value) > MAX_USERS:
        raise _Refused(value)
    return tuple(dict.fromkeys(_user_id(item) for item in value))


def _client_id(data: dict[str, Any]) -> str:
    value = data.get("client_id")
    if value is None:
        return ""
    if not isinstance(value, str) or not _valid_text(value):
        raise _Refused(value)
    return value[:MAX_CLIENT_ID]


def parse(text: str | None, data: bytes | None, max_bytes: int) -> Frame | Invalid | None:
    """Read one websocket frame: a frame, an :class:`Invalid` to answer, or None to ignore.

    ``max_bytes`` bounds the frame's UTF-8 size before any parsing.
    """
    if text is None:
        return Invalid(str(_("This message could not be read.")))
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        return Invalid(str(_("This message is too large to send.")))
    try:
        data_ = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # _Refused is a ValueError
        return None
    if not isinstance(data_, dict):
        return None
    kind = data_.get("type")
    if kind is None and "text" in data_:
        kind = "send"
    if not isinstance(kind, str):
        return None
    try:
        return _frame(kind, data_)
    except _Refused:
        if kind == "send":
            return Invalid(str(_("This message could not be read.")), _safe_client_id(data_))
        if kind in ANSWERED:
            return Invalid(str(_("This action could not be read.")))
        return None


def _frame(kind: str, data: dict[str, Any]) -> Frame | Invalid | None:
    if kind == "send":
        client_id = _client_id(data)
        text = data.get("text")
        if not isinstance(text, str) or not _valid_text(text):
            return Invalid(str(_("A message must be text.")), client_id)
        return Send(text=text, client_id=client_id, reply_to=_optional_seq(data.get("reply_to")))
    if kind == "resume":
        after = data.get("after")
        oldest = _optional_seq(data.get("oldest"))
        return Resume(
            after=0 if after is None else _seq(after),
            changes=_optional_seq(data.get("changes")),
            oldest=oldest or 0,
        )
    if kind == "edit":
        text = data.get("text")
        if not isinstance(text, str) or not _valid_text(text):
            return Invalid(str(_("A message must be text.")))
        return Edit(seq=_seq(data.get("seq")), text=text)
    if kind == "delete":
        return Delete(seq=_seq(data.get("seq")))
    if kind == "react":
        return React(seq=_seq(data.get("seq")), emoji=_text(data.get("emoji"), MAX_EMOJI))
    if kind == "rename":
        return Rename(name=_text(data.get("name"), MAX_NAME))
    if kind == "add":
        return Add(users=_user_ids(data.get("users")))
    if kind == "remove":
        return Remove(user=_user_id(data.get("user")))
    if kind == "leave":
        return Leave()
    if kind == "report":
        details = data.get("details")
        if isinstance(details, str) and len(details) > MAX_DETAILS:
            message = _("Say it in at most %(max)d characters.") % {"max": MAX_DETAILS}
            return Invalid(str(message))
        return Report(
            seq=_seq(data.get("seq")),
            reason=_text(data.get("reason"), MAX_REASON),
            details="" if details is None else _text(details),
        )
    if kind == "read":
        seq = data.get("seq")
        return Read(seq=None if seq is None else _seq(seq))
    if kind == "typing":
        return Typing()
    if kind == "ping":
        return Ping()
    return None


def _safe_client_id(data: dict[str, Any]) -> str:
    try:
        return _client_id(data)
    except _Refused:
        return ""
