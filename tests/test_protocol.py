"""The frame parser: every frame a client can send gets a typed value, never an exception."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatter import protocol
from chatter.protocol import (
    Add,
    Delete,
    Edit,
    Invalid,
    Leave,
    Ping,
    React,
    Read,
    Remove,
    Rename,
    Report,
    Resume,
    Send,
    Typing,
    parse,
)
from tests import strategies

LIMIT = 64 * 1024
EXAMPLES = int(os.environ.get("CHATTER_HYPOTHESIS_EXAMPLES", "1000"))


def frame(data: Any) -> Any:
    return parse(json.dumps(data), None, LIMIT)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"text": "hi", "client_id": "abc"}, Send("hi", "abc")),
        ({"type": "send", "text": "hi"}, Send("hi", "")),
        (
            {"text": "hi", "client_id": "x" * 100, "HEADERS": {"HX-Request": "true"}},
            Send("hi", "x" * 64),
        ),
        ({"type": "resume", "after": 5}, Resume(5)),
        ({"type": "resume"}, Resume(0)),
        ({"type": "resume", "after": None}, Resume(0)),
        ({"type": "resume", "after": 2**63 - 1}, Resume(2**63 - 1)),
        ({"type": "read", "seq": 3}, Read(3)),
        ({"type": "read"}, Read(None)),
        ({"type": "typing"}, Typing()),
        ({"type": "ping", "extra": [1, 2]}, Ping()),
        ({"type": "resume", "after": 5, "changes": 7, "oldest": 2}, Resume(5, 7, 2)),
        ({"type": "resume", "after": 5, "changes": None}, Resume(5, None, 0)),
        ({"text": "hi", "client_id": "a", "reply_to": 3}, Send("hi", "a", 3)),
        ({"text": "hi", "client_id": "a", "reply_to": "3"}, Send("hi", "a", 3)),
        ({"text": "hi", "client_id": "a", "reply_to": ""}, Send("hi", "a", None)),
        ({"type": "edit", "seq": 4, "text": "new"}, Edit(4, "new")),
        ({"type": "delete", "seq": 4}, Delete(4)),
        ({"type": "react", "seq": 4, "emoji": "👍"}, React(4, "👍")),
        ({"type": "rename", "name": "Ski trip"}, Rename("Ski trip")),
        ({"type": "rename", "name": ""}, Rename("")),  # the domain says a name is needed
        ({"type": "add", "users": [3, 4, 3]}, Add((3, 4))),
        ({"type": "add", "users": []}, Add(())),  # the domain asks to choose someone
        ({"type": "add", "users": ["a1b2"]}, Add(("a1b2",))),
        ({"type": "remove", "user": 7}, Remove(7)),
        ({"type": "remove", "user": "7"}, Remove("7")),
        ({"type": "leave", "HEADERS": {}}, Leave()),
        ({"type": "report", "seq": 2, "reason": "spam"}, Report(2, "spam")),
        ({"type": "report", "seq": 2, "reason": "x", "details": "d"}, Report(2, "x", "d")),
        ({"type": "report", "seq": 2, "reason": "abuse", "details": None}, Report(2, "abuse")),
    ],
)
def test_valid_frames(data: Any, expected: Any) -> None:
    assert frame(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        {"type": "resume", "after": -1},
        {"type": "resume", "after": 2**63},
        {"type": "resume", "after": 1.0},
        {"type": "resume", "after": "5"},
        {"type": "resume", "after": True},
        {"type": "read", "seq": [1]},
        {"type": "read", "seq": {"a": 1}},
        {"type": ["send"], "text": "x"},
        {"type": {"a": 1}},
        {"type": 5},
        {"type": "nothing"},
        [1, 2],
        "text",
        7,
        None,
    ],
)
def test_ignored_frames(data: Any) -> None:
    assert frame(data) is None


@pytest.mark.parametrize(
    "data",
    [
        {"type": "edit", "seq": "4", "text": "x"},
        {"type": "edit", "text": "x"},
        {"type": "delete", "seq": -4},
        {"type": "delete", "seq": 2**63},
        {"type": "react", "seq": 4},
        {"type": "react", "seq": 4, "emoji": "x" * 33},
        {"type": "send", "text": "hi", "reply_to": "²"},
        {"type": "send", "text": "hi", "reply_to": 1.5},
        {"type": "resume", "after": 1, "changes": -1},
        {"type": "rename"},
        {"type": "rename", "name": 5},
        {"type": "rename", "name": "x" * (protocol.MAX_NAME + 1)},
        {"type": "add"},
        {"type": "add", "users": 3},
        {"type": "add", "users": {"3": 1}},
        {"type": "add", "users": [True]},
        {"type": "add", "users": [1.5]},
        {"type": "add", "users": [-1]},
        {"type": "add", "users": [""]},
        {"type": "add", "users": ["x" * 65]},
        {"type": "add", "users": [[1]]},
        {"type": "add", "users": list(range(protocol.MAX_USERS + 1))},
        {"type": "remove"},
        {"type": "remove", "user": None},
        {"type": "remove", "user": 2**63},
        {"type": "report", "reason": "spam"},
        {"type": "report", "seq": 1},
        {"type": "report", "seq": 1, "reason": 3},
        {"type": "report", "seq": 1, "reason": "x" * 33},
        {"type": "report", "seq": 1, "reason": "spam", "details": 5},
        {"type": "report", "seq": 1, "reason": "spam", "details": "x" * 1001},
    ],
)
def test_malformed_actions_are_answered_never_raised(data: Any) -> None:
    got = frame(data)
    if data.get("type") == "resume":
        assert got is None
    else:
        assert isinstance(got, Invalid) and got.message


def test_report_details_are_bounded_as_the_domain_bounds_them() -> None:
    from chatter import moderation

    assert protocol.MAX_DETAILS == moderation.DETAILS_MAX_LENGTH
    got = frame({"type": "report", "seq": 1, "reason": "spam", "details": "x" * 1001})
    assert got == Invalid("Say it in at most 1000 characters.")


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "rename", "name": "a\\ud800"}',
        '{"type": "add", "users": ["\\udfff"]}',
        '{"type": "report", "seq": 1, "reason": "spam", "details": "\\ud800"}',
    ],
)
def test_a_lone_surrogate_in_a_room_action_is_refused(text: str) -> None:
    assert isinstance(parse(text, None, LIMIT), Invalid)


def test_a_lone_surrogate_emoji_is_refused() -> None:
    got = parse('{"type": "react", "seq": 4, "emoji": "\\ud800"}', None, LIMIT)
    assert isinstance(got, Invalid)


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "resume", "after": Infinity}',
        '{"type": "resume", "after": -Infinity}',
        '{"type": "resume", "after": NaN}',
        '{"type": "resume", "after": 1e400}',
        '{"type": "read", "seq": 1e400}',
        '{"type": "resume", "after": ' + "9" * 5000 + "}",
        "[" * 20_000 + "]" * 20_000,
        '{"a":' * 20_000 + "1" + "}" * 20_000,
        "not json",
        "",
    ],
)
def test_hostile_text_is_ignored(text: str) -> None:
    assert parse(text, None, 10**6) is None


def test_a_lone_surrogate_in_a_send_is_refused_under_the_composer() -> None:
    got = parse('{"text": "a\\ud800b", "client_id": "c1"}', None, LIMIT)
    assert isinstance(got, Invalid) and got.client_id == "c1"
    got = parse('{"text": "ok", "client_id": "\\udfff"}', None, LIMIT)
    assert isinstance(got, Invalid) and got.client_id == ""


@pytest.mark.parametrize("text", [5, None, ["x"], {"t": 1}, True])
def test_a_send_without_text_is_refused(text: Any) -> None:
    got = frame({"type": "send", "text": text, "client_id": "c2"})
    assert got == Invalid("A message must be text.", "c2")


def test_sizes_are_bounded_before_parsing() -> None:
    assert isinstance(parse('{"text": "' + "é" * 60 + '"}', None, 100), Invalid)
    assert parse('{"text": "' + "e" * 60 + '"}', None, 100) == Send("e" * 60, "")
    assert isinstance(parse(None, b"\x00\x01", LIMIT), Invalid)


json_values = strategies.json_values()
frames_like = strategies.frames(json_values)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(frames_like.map(json.dumps), json_values.map(json.dumps), st.text()))
def test_any_text_gives_a_typed_answer(text: str) -> None:
    got = parse(text, None, LIMIT)
    kinds = (Invalid, Send, Resume, Read, Typing, Ping, Edit, Delete, React, *protocol.ROOM_ACTIONS)
    assert got is None or isinstance(got, kinds)
    if isinstance(got, Send):
        got.text.encode("utf-8")  # valid Unicode, storable
        assert isinstance(got.client_id, str) and len(got.client_id) <= protocol.MAX_CLIENT_ID
    if isinstance(got, Resume):
        assert isinstance(got.after, int) and 0 <= got.after <= protocol.MAX_SEQ
        assert got.changes is None or 0 <= got.changes <= protocol.MAX_SEQ
        assert isinstance(got.oldest, int) and 0 <= got.oldest <= protocol.MAX_SEQ
    if isinstance(got, Send):
        assert got.reply_to is None or 0 <= got.reply_to <= protocol.MAX_SEQ
    if isinstance(got, (Edit, Delete, React)):
        assert isinstance(got.seq, int) and 0 <= got.seq <= protocol.MAX_SEQ
    if isinstance(got, Edit):
        got.text.encode("utf-8")
    if isinstance(got, React):
        got.emoji.encode("utf-8")
        assert len(got.emoji) <= protocol.MAX_EMOJI
    if isinstance(got, Read):
        assert got.seq is None or 0 <= got.seq <= protocol.MAX_SEQ
    if isinstance(got, Rename):
        got.name.encode("utf-8")
        assert len(got.name) <= protocol.MAX_NAME
    if isinstance(got, (Add, Remove)):
        ids = got.users if isinstance(got, Add) else (got.user,)
        assert len(ids) <= protocol.MAX_USERS and len(set(ids)) == len(ids)
        for pk in ids:
            assert not isinstance(pk, bool) and isinstance(pk, int | str)
            if isinstance(pk, int):
                assert 0 <= pk <= protocol.MAX_SEQ
            else:
                assert 0 < len(pk) <= protocol.MAX_USER_ID
                pk.encode("utf-8")
    if isinstance(got, Report):
        assert isinstance(got.seq, int) and 0 <= got.seq <= protocol.MAX_SEQ
        assert len(got.reason) <= protocol.MAX_REASON
        assert len(got.details) <= protocol.MAX_DETAILS
        got.reason.encode("utf-8")
        got.details.encode("utf-8")


@settings(max_examples=EXAMPLES // 4, deadline=None)
@given(st.binary())
def test_any_bytes_are_refused(data: bytes) -> None:
    assert isinstance(parse(None, data, LIMIT), Invalid)
