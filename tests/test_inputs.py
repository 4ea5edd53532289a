"""chatter.inputs, and a property: no HTTP input makes a Chatter page a 500 on PostgreSQL.

The property-based test drives every Chatter URL with generated path segments, query
strings and form bodies (NULs, lone surrogates as raw bytes, invalid UTF-8, huge and
non-ASCII numbers, real usernames and room ids mixed in), logged in or not, with and
without htmx, and checks after each request: the status is below 500, a refused request
(4xx) wrote nothing, and every room is whole (members, sequence numbers). Each example
runs in a savepoint that is rolled back, so examples do not see each other's rooms.

``CHATTER_HYPOTHESIS_EXAMPLES`` sets the number of examples (default 1,000).
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from django.db import connection, transaction
from django.db.models import Count, Max
from django.test import Client, RequestFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatter import messages, rooms
from chatter.inputs import has_unstorable_text, is_storable
from chatter.models import Block, Membership, Message, Report, Room

EXAMPLES = int(os.environ.get("CHATTER_HYPOTHESIS_EXAMPLES", "1000"))


# -- chatter.inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "storable"),
    [
        ("", True),
        ("hello", True),
        ("h\u00e9 \U0001f600 \ufffd \u200b", True),
        ("\x00", False),
        ("a\x00b", False),
        ("\ud800", False),
        ("x\udfffy", False),
        ("\x01\x1f\x7f", True),  # other control characters are stored as they are
    ],
)
def test_is_storable(text: str, storable: bool) -> None:
    assert is_storable(text) is storable


def test_has_unstorable_text_looks_everywhere() -> None:
    rf = RequestFactory()
    assert not has_unstorable_text(rf.get("/chat/?q=ok"), "ok", room="ok")
    assert has_unstorable_text(rf.get("/chat/with/%00/"))
    assert has_unstorable_text(rf.get("/chat/?q=%00"))
    assert has_unstorable_text(rf.get("/chat/?%00=q"))
    assert has_unstorable_text(rf.get("/chat/?q=ok&q=%00"))  # every value of a key
    assert has_unstorable_text(rf.post("/chat/new/", {"name": "a\x00"}))
    assert has_unstorable_text(rf.post("/chat/new/", {"\x00": "name"}))
    assert has_unstorable_text(rf.get("/chat/"), username="\ud800")
    assert has_unstorable_text(rf.get("/chat/"), "\x00")


# -- the property, on PostgreSQL ------------------------------------------------------------

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (CHATTER_DATABASE_URL)"
)

# Characters of every kind, lone surrogates and NUL included, and URL syntax.
CHARS = st.one_of(
    st.characters(exclude_categories=()),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=()),
    st.sampled_from(["\x00", "%", "/", "?", "&", "=", "+", "#", ";", " ", "."]),
)
# Values worth trying; {room}, {uuid}, {ROOM} and {long} are replaced by the room's id, a
# fresh id, the room's id in upper case and 5,000 characters.
KNOWN = [
    "",
    "0",
    "1",
    "5",
    "-1",
    "9" * 19,
    "9" * 25,
    "\u0661\u0662",  # Arabic-Indic digits
    "\u00b2",
    "1e400",
    "2026-11-30",
    "2026-02-30",
    "bob",
    "alice",
    "bob, carol",
    "nobody",
    "..",
    "{long}",
    "{room}",
    "{uuid}",
    "\x00",
    "bob\x00",
]
VALUES = st.one_of(
    st.sampled_from(KNOWN),
    st.text(CHARS, max_size=40),
    st.binary(max_size=40),  # raw bytes: invalid UTF-8 too
)
FIELDS = [
    "q",
    "before",
    "day",
    "name",
    "usernames",
    "text",
    "client_id",
    "csrfmiddlewaretoken",
    "reason",
    "details",
    "next",
]
FORM = st.lists(
    st.tuples(st.one_of(st.sampled_from(FIELDS), st.text(CHARS, max_size=10)), VALUES),
    max_size=6,
)
ROUTES = [
    "/chat/",
    "/chat/new/",
    "/chat/users/",
    "/chat/with/{segment}/",
    "/chat/{room_segment}/",
    "/chat/{room_segment}/history/",
    "/chat/{room_segment}/item/",
    "/chat/{room_segment}/send/",
    "/chat/{room_segment}/m/{segment}/report/",
    "/chat/{room_segment}/m/1/report/",
    "/chat/block/{segment}/",
    "/chat/unblock/{segment}/",
    "/chat/blocked/",
    "/chat/{segment}",  # no route: the resolver's 404
]
REQUESTS = st.fixed_dictionaries(
    {
        "route": st.sampled_from(ROUTES),
        "method": st.sampled_from(["GET", "POST", "GET", "POST", "PUT", "DELETE", "HEAD"]),
        "segment": st.one_of(st.sampled_from(["bob", "alice", "carol", "nobody"]), VALUES),
        "room_segment": st.one_of(
            st.just("{room}"), st.sampled_from(["{room}", "{uuid}", "{ROOM}"]), VALUES
        ),
        "query": FORM,
        "form": FORM,
        "logged_in": st.sampled_from([True, True, True, False]),
        "htmx": st.booleans(),
    }
)


def _raw(value: str | bytes, room: Room) -> bytes:
    """The bytes a client would send for a generated value (surrogates kept as UTF-8)."""
    if isinstance(value, str):
        value = value.replace("{room}", str(room.pk)).replace("{uuid}", str(uuid.uuid4()))
        value = value.replace("{ROOM}", str(room.pk).upper()).replace("{long}", "x" * 5000)
        return value.encode("utf-8", "surrogatepass")
    return value


def _encoded(pairs: list[tuple[Any, Any]], room: Room) -> str:
    return "&".join(f"{quote_plus(_raw(k, room))}={quote_plus(_raw(v, room))}" for k, v in pairs)


def _path(request: dict[str, Any], room: Room) -> str:
    segments = {
        "segment": quote(_raw(request["segment"], room), safe=""),
        "room_segment": quote(_raw(request["room_segment"], room), safe=""),
    }
    path = request["route"].format(**segments)
    query = _encoded(request["query"], room)
    return f"{path}?{query}" if query else path


def _counts() -> tuple[int, ...]:
    return (
        Room.objects.count(),
        Membership.objects.count(),
        Message.objects.count(),
        Block.objects.count(),
        Report.objects.count(),
    )


def _assert_rooms_whole() -> None:
    """No room without members, and every room's last_seq is its newest message's."""
    for room in Room.objects.annotate(
        n=Count("memberships", distinct=True), top=Max("messages__seq")
    ):
        assert room.n >= 1, f"room {room.pk} has no members"
        assert room.last_seq == (room.top or 0), f"room {room.pk}: {room.last_seq} != {room.top}"


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db
def test_no_http_input_makes_a_500(alice: Any, bob: Any, carol: Any) -> None:
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    messages.send_message(room, bob, "hello")
    client = Client()
    seen: dict[str, int] = {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(request=REQUESTS)
    def check(request: dict[str, Any]) -> None:
        path = _path(request, room)
        body = _encoded(request["form"], room).encode("ascii")
        with transaction.atomic():
            if request["logged_in"]:
                client.force_login(alice)
            else:
                client.logout()
            before = _counts()
            headers = {"HX-Request": "true"} if request["htmx"] else {}
            response = client.generic(
                request["method"],
                path,
                data=body,
                content_type="application/x-www-form-urlencoded",
                headers=headers,
            )
            status = response.status_code
            assert status < 500, (request["method"], path, body, status)
            if status >= 400:
                assert _counts() == before, f"a {status} wrote something"
            _assert_rooms_whole()
            seen[str(status)] = seen.get(str(status), 0) + 1
            transaction.set_rollback(True)

    started = time.monotonic()
    check()
    elapsed = time.monotonic() - started
    print(f"\n{EXAMPLES} examples in {elapsed:.1f} s; statuses: {dict(sorted(seen.items()))}")
    # Meaningful: the generated requests reached the views' successes and refusals alike.
    assert {"200", "302", "400", "404"} <= set(seen), seen
