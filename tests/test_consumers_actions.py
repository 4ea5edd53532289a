"""Message actions over the socket: edit, delete, react, reply, and resuming their changes.

The rule under test: a page that was away gets every changed message once, in its
current state, whatever happened meanwhile (and however much: 1,000 changes are paged).
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test.utils import override_settings

from chatter import messages, rooms
from chatter.models import Message, Room
from tests.factories import fill_room
from tests.sockets import OPEN, drain, frames_until, make_user, open_room

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_cleanup")]

THUMBS = "\N{THUMBS UP SIGN}"
ARTICLE = re.compile(r'<article class="chatter-msg[^"]*" id="chatter-msg-(\d+)"')
UPTO = re.compile(r'data-kind="changes" data-upto="(\d+)"')
CID = str(uuid.uuid4())
NO_LIMITS = {kind: (0, 1) for kind in ("resume", "read", "typing", "ping", "edit", "react")}


@pytest.fixture
def pair(db: Any) -> tuple[Any, Any, Room]:
    alice, bob = make_user("alice"), make_user("bob")
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    return alice, bob, room


def articles(text: str) -> Counter[int]:
    return Counter(int(seq) for seq in ARTICLE.findall(text))


async def test_an_edit_replaces_the_message_on_every_page(pair: Any) -> None:
    alice, bob, room = pair
    a = await open_room(alice, room, after=0, changes=0)
    b = await open_room(bob, room, after=0, changes=0)
    await a.send_json_to({"type": "send", "text": "helo", "client_id": str(uuid.uuid4())})
    await frames_until(b, lambda t: "chatter-msg-1" in t)
    await drain(a)
    await a.send_json_to({"type": "edit", "seq": 1, "text": "hello"})
    got = "".join(await frames_until(b, lambda t: "data-upto" in t))
    assert 'id="chatter-msg-1"' in got and 'hx-swap-oob="true"' in got and "hello" in got
    assert 'data-change="1"' in got and "chatter-edited" in got
    assert 'data-kind="room"' in got  # the room list's preview, for lists showing it
    mine = "".join(await frames_until(a, lambda t: "data-upto" in t))
    assert "hello" in mine  # the author's other tabs too


async def test_reactions_and_deletes_reach_the_other_member(pair: Any) -> None:
    alice, bob, room = pair
    a = await open_room(alice, room, after=0, changes=0)
    b = await open_room(bob, room, after=0, changes=0)
    await a.send_json_to({"type": "send", "text": "vote", "client_id": str(uuid.uuid4())})
    await frames_until(b, lambda t: "chatter-msg-1" in t)
    await b.send_json_to({"type": "react", "seq": 1, "emoji": THUMBS})
    got = "".join(await frames_until(a, lambda t: "chatter-reaction-count" in t))
    assert f'data-users=" {bob.pk} "' in got and THUMBS in got
    await a.send_json_to({"type": "delete", "seq": 1})
    got = "".join(await frames_until(b, lambda t: "chatter-tombstone" in t))
    assert "vote" not in got.split('data-kind="room"')[0]  # the text is gone from the frame


async def test_a_reply_over_the_socket_quotes_its_message(pair: Any) -> None:
    alice, bob, room = pair
    a = await open_room(alice, room, after=0, changes=0)
    b = await open_room(bob, room, after=0, changes=0)
    await a.send_json_to({"type": "send", "text": "lunch?", "client_id": str(uuid.uuid4())})
    await frames_until(b, lambda t: "chatter-msg-1" in t)
    await b.send_json_to(
        {"type": "send", "text": "yes", "client_id": str(uuid.uuid4()), "reply_to": "1"}
    )
    got = "".join(await frames_until(a, lambda t: "chatter-msg-2" in t))
    assert 'class="chatter-quote"' in got and "lunch?" in got and "?around=1" in got


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ({"type": "edit", "seq": 1, "text": "bob's now"}, "only edit your own"),
        ({"type": "delete", "seq": 1}, "only delete your own"),
        ({"type": "react", "seq": 1, "emoji": "no"}, "one emoji"),
        ({"type": "react", "seq": 9, "emoji": THUMBS}, "does not exist"),
        ({"type": "react", "seq": "1", "emoji": THUMBS}, "could not be read"),
        ({"type": "edit", "seq": 1}, "must be text"),
        ({"type": "delete", "seq": -1}, "could not be read"),
        (
            {"type": "send", "text": "x", "client_id": str(uuid.uuid4()), "reply_to": 7},
            "you answer",
        ),
        (
            {"type": "send", "text": "x", "client_id": str(uuid.uuid4()), "reply_to": "x1"},
            "could not be read",
        ),
    ],
)
async def test_a_refused_action_is_said_under_the_composer(
    pair: Any, frame: dict[str, Any], says: str
) -> None:
    alice, bob, room = pair
    await sync_to_async(messages.send_message)(room, alice, "alice's")
    b = await open_room(bob, room, after=1, changes=0)
    await drain(b)
    await b.send_json_to(frame)
    got = "".join(await frames_until(b, lambda t: "chatter-composer-error" in t))
    assert says in got
    assert await sync_to_async(lambda: Message.objects.get(room=room, seq=1).change)() == 0
    await b.send_json_to({"type": "send", "text": "still open", "client_id": str(uuid.uuid4())})
    assert "still open" in "".join(await frames_until(b, lambda t: "chatter-msg-2" in t))


def _meanwhile(room: Room, alice: Any, bob: Any) -> None:
    """While bob's page is away: an edit, a delete, reactions, a new message reacted to."""
    messages.edit_message(room, alice, 1, "first, edited")
    messages.delete_message(room, alice, 2)
    messages.toggle_reaction(room, bob, 3, THUMBS)
    messages.toggle_reaction(room, alice, 3, THUMBS)
    messages.toggle_reaction(room, alice, 3, "\N{PARTY POPPER}")
    messages.send_message(room, alice, "fourth")
    messages.toggle_reaction(room, bob, 4, THUMBS)
    messages.edit_message(room, alice, 1, "first, edited twice")


async def test_a_page_that_was_away_gets_each_change_once(pair: Any) -> None:
    alice, bob, room = pair
    for text in ("first", "second", "third"):
        await sync_to_async(messages.send_message)(room, alice, text)
    b = await open_room(bob, room, after=0, changes=0)
    await frames_until(b, lambda t: "chatter-msg-3" in t)
    await b.disconnect()
    OPEN.remove(b)
    await sync_to_async(_meanwhile)(room, alice, bob)
    b = await open_room(bob, room, after=3, changes=0, oldest=1)
    got = "".join(await frames_until(b, lambda t: "chatter-msg-4" in t and "data-upto" in t))
    got += "".join(await drain(b))
    assert articles(got) == Counter({1: 1, 2: 1, 3: 1, 4: 1})
    assert "first, edited twice" in got and "chatter-tombstone" in got
    assert ">second<" not in got
    assert UPTO.findall(got)[-1] == "7"  # seven changes meanwhile
    three = got[got.index('id="chatter-msg-3"') :]
    assert 'chatter-reaction-count">2<' in three and "\N{PARTY POPPER}" in three


async def test_a_page_that_knows_every_change_gets_none_again(pair: Any) -> None:
    alice, bob, room = pair
    await sync_to_async(messages.send_message)(room, alice, "only")
    await sync_to_async(messages.edit_message)(room, alice, 1, "only, edited")
    b = await open_room(bob, room, after=1, changes=1, oldest=1)
    await b.send_json_to({"type": "send", "text": "mine", "client_id": str(uuid.uuid4())})
    got = "".join(await frames_until(b, lambda t: "chatter-msg-2" in t))
    got += "".join(await drain(b))
    assert articles(got) == Counter({2: 1})


async def test_a_lost_change_event_is_read_from_the_database(pair: Any) -> None:
    alice, bob, room = pair
    await sync_to_async(messages.send_message)(room, alice, "one")
    await sync_to_async(messages.send_message)(room, alice, "two")
    a = await open_room(alice, room, after=2, changes=0)
    b = await open_room(bob, room, after=2, changes=0)
    # Changed without an announcement: as if the channel layer dropped the event.
    await sync_to_async(messages.edit_message)(room, alice, 1, "one, silently")
    await a.send_json_to({"type": "edit", "seq": 2, "text": "two, loudly"})
    got = "".join(await frames_until(b, lambda t: 'data-upto="2"' in t))
    got += "".join(await drain(b))
    assert articles(got) == Counter({1: 1, 2: 1})
    assert "one, silently" in got and "two, loudly" in got


@override_settings(CHATTER_FRAME_LIMITS=NO_LIMITS, CHATTER_RATE_LIMIT_MESSAGES=0)
@pytest.mark.parametrize(("oldest", "expected"), [(1, 1000), (951, 50)])
async def test_a_thousand_changes_are_paged_each_message_once(
    pair: Any, oldest: int, expected: int, capsys: Any
) -> None:
    alice, bob, room = pair

    def thousand_changes() -> None:
        fill_room(room, 1000, sender=alice)
        for seq in range(1, 1001):
            messages.toggle_reaction(room, bob, seq, THUMBS)

    await sync_to_async(thousand_changes)()
    started = time.perf_counter()
    b = await open_room(bob, room, after=1000, changes=0, oldest=oldest)
    got = await frames_until(b, lambda t: 'data-upto="1000"' in t, timeout=60)
    took = time.perf_counter() - started
    got += await drain(b)
    text = "".join(got)
    assert articles(text) == Counter({seq: 1 for seq in range(1001 - expected, 1001)})
    assert len([f for f in got if "<article" in f]) >= expected // 50  # paged, 50 a frame
    with capsys.disabled():
        print(f"\nresume of {expected} changed messages: {took:.2f} s, {len(got)} frames")


@override_settings(CHATTER_FRAME_LIMITS={"react": (2, 60)})
async def test_a_socket_flooding_reactions_is_turned_away_by_its_own_window(pair: Any) -> None:
    alice, bob, room = pair
    await sync_to_async(messages.send_message)(room, alice, "react to me")
    b = await open_room(bob, room, after=1, changes=0)
    await drain(b)
    for emoji in ("\N{THUMBS UP SIGN}", "\N{PARTY POPPER}", "\N{RED APPLE}", "\N{PEAR}"):
        await b.send_json_to({"type": "react", "seq": 1, "emoji": emoji})
    got = "".join(await frames_until(b, lambda t: t.count("too often") >= 2))
    assert "too often" in got
    count = await sync_to_async(lambda: Message.objects.get(room=room, seq=1).change)()
    assert count == 2  # two reactions stored, the other two refused before the database
