"""The frame parser: every frame a client can send gets a typed value, never an exception."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatter import protocol
from chatter.protocol import Invalid, Ping, Read, Resume, Send, Typing, parse
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
    assert got is None or isinstance(got, (Invalid, Send, Resume, Read, Typing, Ping))
    if isinstance(got, Send):
        got.text.encode("utf-8")  # valid Unicode, storable
        assert isinstance(got.client_id, str) and len(got.client_id) <= protocol.MAX_CLIENT_ID
    if isinstance(got, Resume):
        assert isinstance(got.after, int) and 0 <= got.after <= protocol.MAX_SEQ
    if isinstance(got, Read):
        assert got.seq is None or 0 <= got.seq <= protocol.MAX_SEQ


@settings(max_examples=EXAMPLES // 4, deadline=None)
@given(st.binary())
def test_any_bytes_are_refused(data: bytes) -> None:
    assert isinstance(parse(None, data, LIMIT), Invalid)
