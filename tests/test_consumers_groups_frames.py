"""Group changes and reports sent over a room's socket (:mod:`chatter.socket_actions`):
the same domain calls, refusals and announcements as the forms of the group panel and
the report dialog."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chatter import groups, messages, protocol, rooms, socket_actions
from chatter.consumers import FORBIDDEN
from chatter.models import Membership, Message, Report, Room
from tests.sockets import (
    close_code,
    connect,
    cookie_for,
    drain,
    frames_until,
    lobby,
    make_user,
    no_message_reaches,
)
from tests.sockets import opened as open_room

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_cleanup")]

ERROR = 'id="chatter-composer-error"'
LINE = re.compile(
    r'<p class="chatter-msg chatter-system" id="chatter-msg-\d+"[^>]*>(.*?) <time', re.S
)
MEMBERS = re.compile(r'<p id="chatter-members" class="chatter-members" hx-swap-oob="true">.*?</p>')


@pytest.fixture
def trio(db: Any) -> tuple[Any, Any, Any, Room]:
    """alice's group "Trip" with bob and carol, and one message of alice's in it."""
    cache.clear()
    alice, bob, carol = (make_user(n) for n in ("alice", "bob", "carol"))
    room = Room.objects.get(
        pk=rooms.create_room([alice, bob, carol], name="Trip", created_by=alice)
    )
    messages.send_message(room, alice, "hello all")
    return alice, bob, carol, room


async def refused(comm: WebsocketCommunicator, frame: dict[str, Any]) -> str:
    """Send ``frame``; the refusal under the composer (what came before is read first)."""
    await drain(comm)
    await comm.send_json_to(frame)
    got = "".join(await frames_until(comm, lambda t: "data-client-id=" in t))
    assert ERROR in got and 'role="alert"' in got
    return got


def lines(text: str) -> list[str]:
    return [re.sub(r"\s+", " ", found).strip() for found in LINE.findall(text)]


def state(room: Room) -> tuple[str, list[str], int]:
    """What a group change changes: the name, the members, the messages."""
    room.refresh_from_db()
    names = sorted(Membership.objects.filter(room=room).values_list("user__username", flat=True))
    return room.name, names, Message.objects.filter(room=room).count()


async def test_a_rename_frame_renames_and_announces(trio: Any) -> None:
    alice, bob, _carol, room = trio
    a, b = await open_room(alice, room), await open_room(bob, room)
    bobs_list = await lobby(bob)
    await b.send_json_to({"type": "rename", "name": "Ski <trip>"})
    for comm in (a, b):
        got = "".join(await frames_until(comm, lambda t: "chatter-members" in t))
        assert '<h1 id="chatter-room-title" hx-swap-oob="true">Ski &lt;trip&gt;</h1>' in got
        assert lines(got) == ["bob renamed the group to “Ski &lt;trip&gt;”"]
    got = "".join(await frames_until(bobs_list, lambda t: "data-title" in t))
    assert 'data-title="Ski &lt;trip&gt;"' in got
    line = await sync_to_async(Message.objects.get)(room=room, seq=2)
    assert line.data == {"action": "renamed", "name": "Ski <trip>"} and line.sender_id == bob.pk
    # The same name again changes nothing and announces nothing.
    await drain(a)
    await b.send_json_to({"type": "rename", "name": "Ski <trip>"})
    await drain(b)
    await no_message_reaches(a, also=(ERROR, "chatter-members"))
    assert await sync_to_async(Message.objects.filter(room=room).count)() == 2
    for comm in (a, b, bobs_list):
        await comm.disconnect()


async def test_an_add_frame_adds_and_the_new_members_lists_get_the_room(trio: Any) -> None:
    alice, bob, _carol, room = trio
    dave, erin = await sync_to_async(make_user)("dave"), await sync_to_async(make_user)("erin")
    daves_list = await lobby(dave)
    a, b = await open_room(alice, room), await open_room(bob, room)
    await b.send_json_to({"type": "add", "users": [dave.pk, erin.pk]})
    got = "".join(await frames_until(a, lambda t: "chatter-members" in t))
    assert lines(got) == ["bob added dave, erin"]
    members = MEMBERS.findall(got)[-1]
    assert ">dave<" in members and ">erin<" in members
    got = "".join(await frames_until(daves_list, lambda t: 'data-kind="new-room"' in t))
    assert f'data-room="{room.pk.hex}"' in got
    # Refusals, under the composer, nothing changed.
    before = await sync_to_async(state)(room)
    assert "dave is already a member." in await refused(b, {"type": "add", "users": [dave.pk]})
    assert "No such user." in await refused(b, {"type": "add", "users": [10**9]})
    assert "No such user." in await refused(b, {"type": "add", "users": ["abc"]})
    assert "Choose at least one person" in await refused(b, {"type": "add", "users": []})
    assert "could not be read" in await refused(b, {"type": "add", "users": "dave"})
    assert await sync_to_async(state)(room) == before
    for comm in (a, b, daves_list):
        await comm.disconnect()


async def test_an_add_past_the_member_limit_is_refused_before_any_query(
    trio: Any, settings: Any
) -> None:
    settings.CHATTER_MAX_ROOM_MEMBERS = 4
    alice, _bob, _carol, room = trio
    a = await open_room(alice, room)
    got = await refused(a, {"type": "add", "users": list(range(1000, 1005))})
    assert "A group can have at most 4 members." in got
    dave, erin = await sync_to_async(make_user)("dave"), await sync_to_async(make_user)("erin")
    got = await refused(a, {"type": "add", "users": [dave.pk, erin.pk]})
    assert "A group can have at most 4 members." in got
    assert await sync_to_async(Membership.objects.filter(room=room).count)() == 3
    await a.disconnect()


async def test_remove_frames_need_the_groups_creator(trio: Any) -> None:
    alice, bob, carol, room = trio
    a, b, c = [await open_room(u, room) for u in (alice, bob, carol)]
    got = await refused(b, {"type": "remove", "user": carol.pk})
    assert "Only the person who made the group can remove people from it." in got
    assert await sync_to_async(Membership.objects.filter(room=room).count)() == 3
    await a.send_json_to({"type": "remove", "user": carol.pk})
    got = "".join(await frames_until(b, lambda t: "chatter-members" in t))
    assert lines(got) == ["alice removed carol"] and "carol" not in MEMBERS.findall(got)[-1]
    got = "".join(await frames_until(c, lambda t: 'data-kind="gone"' in t))
    assert await close_code(c) == FORBIDDEN
    got = await refused(a, {"type": "remove", "user": carol.pk})
    assert "carol is not a member of this group." in got
    assert "No such user." in await refused(a, {"type": "remove", "user": 10**9})
    for comm in (a, b):
        await comm.disconnect()


async def test_a_leave_frame_closes_the_leavers_page(trio: Any) -> None:
    alice, bob, _carol, room = trio
    a, b = await open_room(alice, room), await open_room(bob, room)
    await b.send_json_to({"type": "leave"})
    got = "".join(await frames_until(a, lambda t: "chatter-members" in t))
    assert lines(got) == ["bob left the group"]
    assert await close_code(b) == FORBIDDEN
    # Removing oneself is leaving, as in the domain.
    await a.send_json_to({"type": "remove", "user": alice.pk})
    assert await close_code(a) == FORBIDDEN
    assert await sync_to_async(state)(room) == ("Trip", ["carol"], 3)


async def test_a_room_of_two_cannot_change(trio: Any) -> None:
    alice, bob, carol, _room = trio
    pair = await sync_to_async(lambda: Room.objects.get(pk=rooms.create_room([alice, bob])))()
    cookie = await sync_to_async(cookie_for)(alice)
    a, accepted, _ = await connect(f"/ws/chatter/{pair.pk}/", cookie)
    assert accepted
    for frame in (
        {"type": "rename", "name": "Us"},
        {"type": "add", "users": [carol.pk]},
        {"type": "remove", "user": bob.pk},
        {"type": "leave"},
    ):
        got = await refused(a, frame)
        assert "This is a conversation of two" in got
        await drain(a)
    assert await sync_to_async(Membership.objects.filter(room=pair).count)() == 2
    await a.disconnect()


async def test_a_report_frame_reports_and_tells_only_the_reporter(trio: Any) -> None:
    alice, bob, _carol, room = trio
    a, b = await open_room(alice, room), await open_room(bob, room)
    await b.send_json_to({"type": "report", "seq": 1, "reason": "spam", "details": "ads"})
    got = "".join(await frames_until(b, lambda t: ERROR in t))
    assert 'role="status"' in got and "Your report was sent to the moderators." in got
    report = await sync_to_async(Report.objects.get)()
    assert (report.seq, report.reason, report.details, report.text) == (
        1, "spam", "ads", "hello all"
    )  # fmt: skip
    assert report.reporter_id == bob.pk and report.author_id == alice.pk
    await no_message_reaches(a, also=(ERROR, "chatter-members"))  # the author hears nothing of it
    frame = {"type": "report", "seq": 1, "reason": "spam"}
    assert "You have reported this message already." in await refused(b, frame)
    assert "Choose a reason." in await refused(b, {"type": "report", "seq": 1, "reason": "meh"})
    frame = {"type": "report", "seq": 1, "reason": "spam"}
    assert "You cannot report your own message." in await refused(a, frame)
    frame = {"type": "report", "seq": 99, "reason": "spam"}
    assert "This message does not exist." in await refused(a, frame)
    frame = {"type": "report", "seq": 1, "reason": "spam", "details": "x" * 1001}
    assert "Say it in at most 1000 characters." in await refused(a, frame)
    assert await sync_to_async(Report.objects.count)() == 1
    for comm in (a, b):
        await comm.disconnect()


async def test_each_socket_counts_its_group_frames_refused_ones_too(
    trio: Any, settings: Any, monkeypatch: Any
) -> None:
    settings.CHATTER_FRAME_LIMITS = {"group": (2, 60)}
    _alice, bob, carol, room = trio
    b = await open_room(bob, room)
    for _ in range(2):
        got = await refused(b, {"type": "remove", "user": carol.pk})
        assert "Only the person who made the group" in got
        await drain(b)
    calls = []
    apply = socket_actions.apply
    monkeypatch.setattr(socket_actions, "apply", lambda *a: calls.append(a) or apply(*a))
    got = await refused(b, {"type": "remove", "user": carol.pk})
    assert "You are doing that too often." in got
    assert not calls  # turned away before the database
    # The socket stays open for the rest.
    await b.send_json_to({"text": "still here", "client_id": str(uuid.uuid4())})
    await frames_until(b, lambda t: "still here" in t)
    await b.disconnect()


# -- the same result as the forms ------------------------------------------------------------


def _over_http(user: Any, room: Room, action: str, data: dict[str, Any]) -> int:
    client = Client()
    client.force_login(user)
    return int(client.post(f"/chat/{room.pk}/group/{action}/", data).status_code)


@pytest.mark.parametrize(
    ("action", "form", "frame"),
    [
        ("rename", lambda p: {"name": "Ski"}, lambda p: {"type": "rename", "name": "Ski"}),
        (
            "add",
            lambda p: {"usernames": "dave"},
            lambda p: {"type": "add", "users": [p["dave"].pk]},
        ),
        (
            "remove",
            lambda p: {"user": str(p["carol"].pk)},
            lambda p: {"type": "remove", "user": p["carol"].pk},
        ),
        ("leave", lambda p: {}, lambda p: {"type": "leave"}),
    ],
)
async def test_the_socket_and_the_form_make_the_same_change(
    trio: Any, action: str, form: Any, frame: Any
) -> None:
    alice, bob, carol, room = trio
    dave = await sync_to_async(make_user)("dave")
    people = {"alice": alice, "bob": bob, "carol": carol, "dave": dave}
    twin = await sync_to_async(
        lambda: Room.objects.get(
            pk=rooms.create_room([alice, bob, carol], name="Trip", created_by=alice)
        )
    )()
    await sync_to_async(messages.send_message)(twin, alice, "hello all")
    watch_http, watch_socket = await open_room(bob, room), await open_room(bob, twin)
    a = await open_room(alice, twin)
    assert await sync_to_async(_over_http)(alice, room, action, form(people)) == 302
    await a.send_json_to(frame(people))
    heard = []
    for comm in (watch_http, watch_socket):
        heard.append("".join(await frames_until(comm, lambda t: "chatter-members" in t)))
    assert lines(heard[0]) == lines(heard[1]) and len(lines(heard[0])) == 1
    assert MEMBERS.findall(heard[0])[-1] == MEMBERS.findall(heard[1])[-1]
    got = await sync_to_async(lambda: [Message.objects.get(room=r, seq=2) for r in (room, twin)])()
    assert [(m.kind, m.data, m.sender_id) for m in got[:1]] == [
        (m.kind, m.data, m.sender_id) for m in got[1:]
    ]
    assert (await sync_to_async(state)(room))[:2] == (await sync_to_async(state)(twin))[:2]
    for comm in (watch_http, watch_socket, a):
        await comm.disconnect()


# -- work per frame ----------------------------------------------------------------------------


def _measure(room: Room, alice: Any, bob: Any, carol: Any, new: Any) -> dict[str, int]:
    """Queries of each frame applied as alice, in ``room`` (a message of bob's is reported)."""
    reported, _ = messages.send_message(room, bob, "hi")
    counts = {}
    for name, frame in [
        ("rename", protocol.Rename("Ski")),
        ("add", protocol.Add((new.pk,))),
        ("remove", protocol.Remove(carol.pk)),
        ("report", protocol.Report(reported.seq, "spam")),
        ("leave", protocol.Leave()),
    ]:
        with CaptureQueriesContext(connection) as ctx:
            found, _notice = socket_actions.apply(frame, room, alice, "")
        counts[name] = len(ctx.captured_queries)
        # One event for the room, and one for the people added (or each one removed).
        assert len(found) == {"rename": 1, "report": 0}.get(name, 2)
    return counts


def test_queries_per_frame_do_not_grow_with_the_room(trio: Any) -> None:
    """The domain's statements plus the announcement's two, as many in a group of 40 as in
    a group of 3."""
    alice, bob, carol, room = trio
    small = _measure(room, alice, bob, carol, make_user("dave"))
    big = Room.objects.get(pk=rooms.create_room([alice, bob, carol], name="Big", created_by=alice))
    messages.send_message(big, alice, "hello all")
    groups.add_members(big, alice, [make_user(f"extra{i:02d}") for i in range(37)])
    cache.clear()  # the domain's own per-user limits
    # The same, but for the statement that keys a group by its id on its first member
    # change (the big group had one already).
    assert _measure(big, alice, bob, carol, make_user("erin")) == {**small, "add": 14}
    assert small == {"rename": 12, "add": 15, "remove": 13, "report": 6, "leave": 12}
