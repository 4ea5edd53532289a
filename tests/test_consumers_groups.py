"""Group changes on open sockets: the system line and the new member list for the room's
pages, the room for an added member's lists, and a removed member's sockets closed."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chatter import groups, live, messages, rooms
from chatter.consumers import FORBIDDEN
from chatter.live.members import announce_group, events
from chatter.models import Message, Room
from tests.sockets import (
    close_code,
    connect,
    cookie_for,
    drain,
    frames_until,
    lobby,
    make_user,
    open_room,
    opened,
    seqs,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_cleanup")]

MEMBERS = re.compile(r'<p id="chatter-members" class="chatter-members" hx-swap-oob="true">.*?</p>')


@pytest.fixture
def trio(db: Any) -> tuple[Any, Any, Any, Room]:
    """alice's group "Trip" with bob and carol, and one message in it."""
    cache.clear()
    alice, bob, carol = (make_user(n) for n in ("alice", "bob", "carol"))
    room = Room.objects.get(
        pk=rooms.create_room([alice, bob, carol], name="Trip", created_by=alice)
    )
    messages.send_message(room, alice, "hello all")
    return alice, bob, carol, room


def change(action: Any, room: Room, *args: Any) -> Message:
    """Make a group change as a view does: the action, then its announcement."""
    line = action(room, *args)
    announce_group(line)
    return line


def say(room: Room, user: Any, text: str) -> None:
    """Send a message as the HTTP fallback does: stored, then announced."""
    message, _ = messages.send_message(room, user, text)
    live.announce_message(message)


def member_list(text: str) -> str:
    found = MEMBERS.findall(text)
    assert found, text
    return found[-1]


async def test_removed_member_is_closed_4403_and_the_others_get_the_line_and_members(trio):
    alice, bob, carol, room = trio
    a, b, c = [await opened(u, room) for u in (alice, bob, carol)]
    carols_list = await lobby(carol)
    line = await sync_to_async(change)(groups.remove_member, room, alice, carol)
    assert line.seq == 2
    for comm in (a, b):
        got = "".join(await frames_until(comm, lambda t: "chatter-members" in t))
        assert seqs(got) == [2]
        assert "alice removed carol" in got
        members = member_list(got)
        assert ">alice<" in members and ">bob<" in members and "carol" not in members
        # The frame's words are the page's own (chatter.js fills data-say).
        assert 'data-say="members"' in members
    got = "".join(await frames_until(c, lambda t: 'data-kind="gone"' in t))
    assert "alice removed carol" in got  # the line, then the room leaves her list
    assert await close_code(c) == FORBIDDEN
    got = "".join(await frames_until(carols_list, lambda t: 'data-kind="gone"' in t))
    assert f'<i data-kind="gone" data-room="{room.pk.hex}"></i>' in got
    # carol's list no longer hears the room.
    await sync_to_async(say)(room, bob, "after carol")
    got_a = "".join(await frames_until(a, lambda t: "chatter-msg-3" in t))
    assert "after carol" in got_a
    assert await carols_list.receive_nothing(timeout=0.3)
    # Later connects of carol are refused, as for any non-member.
    cookie = await sync_to_async(cookie_for)(carol)
    again, accepted, _ = await connect(f"/ws/chatter/{room.pk}/", cookie)
    assert accepted and await close_code(again) == FORBIDDEN
    for comm in (a, b, carols_list):
        await comm.disconnect()


async def test_leaving_closes_the_leavers_sockets_of_the_room(trio):
    alice, bob, _carol, room = trio
    a, b = await open_room(alice, room), await open_room(bob, room)
    await sync_to_async(change)(groups.leave_group, room, bob)
    got = "".join(await frames_until(a, lambda t: "chatter-members" in t))
    assert "bob left the group" in got and "bob" not in member_list(got)
    assert await close_code(b) == FORBIDDEN
    await a.disconnect()


async def test_an_added_members_room_list_gets_the_room_live(trio):
    alice, _bob, _carol, room = trio
    dave = await sync_to_async(make_user)("dave")
    daves_list = await lobby(dave)
    a = await opened(alice, room)
    await sync_to_async(change)(groups.add_members, room, alice, [dave])
    got = "".join(await frames_until(daves_list, lambda t: 'data-kind="new-room"' in t))
    assert f'data-room="{room.pk.hex}"' in got
    got_a = "".join(await frames_until(a, lambda t: "chatter-members" in t))
    assert "alice added dave" in got_a and ">dave<" in member_list(got_a)
    # From now on dave's list hears the room's messages.
    await a.send_json_to({"text": "welcome dave", "client_id": str(uuid.uuid4())})
    got = "".join(await frames_until(daves_list, lambda t: "welcome dave" in t))
    assert f'data-kind="room" data-room="{room.pk.hex}" data-seq="3"' in got
    # And dave may open the room: its page has the history, the line unread.
    d = await open_room(dave, room)
    got = "".join(await frames_until(d, lambda t: "chatter-msg-3" in t))
    assert seqs(got) == [1, 2, 3]
    for comm in (a, daves_list, d):
        await comm.disconnect()


async def test_a_rename_reaches_pages_and_room_lists(trio):
    alice, bob, carol, room = trio
    a = await open_room(alice, room)
    bobs_list = await lobby(bob)
    await frames_until(a, lambda t: "chatter-msg-1" in t)
    await sync_to_async(change)(groups.rename_group, room, carol, "Ski <trip>")
    got = "".join(await frames_until(a, lambda t: "chatter-members" in t))
    assert '<h1 id="chatter-room-title" hx-swap-oob="true">Ski &lt;trip&gt;</h1>' in got
    got = "".join(await frames_until(bobs_list, lambda t: "data-title" in t))
    assert 'data-system="1" data-title="Ski &lt;trip&gt;"' in got
    await a.disconnect()
    await bobs_list.disconnect()


async def test_resume_after_a_member_change_brings_the_line_once_with_the_members(trio):
    alice, bob, _carol, room = trio
    b = await opened(bob, room)
    await b.disconnect()
    dave = await sync_to_async(make_user)("dave")
    await sync_to_async(change)(groups.add_members, room, alice, [dave])
    await sync_to_async(messages.send_message)(room, dave, "hi, I am new")
    # bob's page comes back and resumes after what it has.
    b = await open_room(bob, room, after=1)
    got = "".join(await frames_until(b, lambda t: "chatter-msg-3" in t and "chatter-members" in t))
    got += "".join(await drain(b))
    assert seqs(got) == [2, 3]
    assert got.count("alice added dave") == 1
    assert ">dave<" in member_list(got)
    await b.disconnect()


async def test_a_resume_without_group_lines_has_no_header(trio):
    alice, bob, _carol, room = trio
    await sync_to_async(messages.send_message)(room, alice, "plain")
    b = await open_room(bob, room, after=0)
    got = "".join(await frames_until(b, lambda t: "chatter-msg-2" in t))
    got += "".join(await drain(b))
    assert "chatter-members" not in got
    await b.disconnect()


async def test_a_removal_over_http_reaches_the_sockets(trio):
    alice, bob, carol, room = trio
    c = await open_room(carol, room)
    b = await open_room(bob, room)
    client = Client()
    await sync_to_async(client.force_login)(alice)
    response = await sync_to_async(client.post)(
        f"/chat/{room.pk}/group/remove/", {"user": str(carol.pk)}
    )
    assert response.status_code == 302
    assert await close_code(c) == FORBIDDEN
    got = "".join(await frames_until(b, lambda t: "chatter-members" in t))
    assert "removed carol" in got
    await b.disconnect()


def test_announcing_takes_two_queries_and_one_event_per_room(trio):
    alice, _bob, _carol, room = trio
    crowd = [make_user(f"extra{i:03d}") for i in range(40)]
    line = groups.add_members(room, alice, crowd)
    with CaptureQueriesContext(connection) as ctx:
        found = events(line)
    assert len(ctx.captured_queries) == 2
    # The line with the header for the room, the room for the new members' lists: two
    # events however many were added.
    assert [e.payload["type"] for e in found] == ["chatter.message", "chatter.room"]
    assert len(found[1].payload["members"]) == 40
    line = groups.remove_members(room, alice, crowd[:3])
    assert [e.payload["type"] for e in events(line)] == ["chatter.message"] + [
        "chatter.removed"
    ] * 3
