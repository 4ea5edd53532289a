"""Blocks over the socket: the same refusals as over HTTP, and a deactivated author's
sockets closed live."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache

from chatter import messages, moderation, rooms
from chatter.consumers import FORBIDDEN, NOT_LOGGED_IN
from chatter.models import Message, Room
from tests.sockets import (
    close_code,
    drain,
    frames_until,
    make_user,
    no_message_reaches,
    open_room,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_cleanup")]


@pytest.fixture
def people(db: Any) -> dict[str, Any]:
    cache.clear()
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    pair = Room.objects.get(pk=rooms.create_room([alice, bob]))
    group = Room.objects.get(pk=rooms.create_room([alice, bob, carol], name="Team"))
    return {"alice": alice, "bob": bob, "carol": carol, "pair": pair, "group": group}


def send(text: str) -> dict[str, Any]:
    return {"type": "send", "text": text, "client_id": str(uuid.uuid4())}


async def test_a_blocked_send_is_refused_in_the_room_of_two(people: dict[str, Any]) -> None:
    alice, bob, pair = people["alice"], people["bob"], people["pair"]
    await sync_to_async(moderation.block)(alice, bob)
    a, b = await open_room(alice, pair), await open_room(bob, pair)
    await b.send_json_to(send("let me in"))
    got = "".join(await frames_until(b, lambda t: 'id="chatter-composer-error"' in t))
    assert "You cannot message this person." in got
    await no_message_reaches(a)
    assert not await sync_to_async(Message.objects.exists)()
    # Edits and reactions are refused the same way; the blocker still writes.
    await a.send_json_to(send("from alice"))
    await frames_until(b, lambda t: "chatter-msg-1" in t)
    await drain(a)
    await b.send_json_to({"type": "react", "seq": 1, "emoji": "\N{THUMBS UP SIGN}"})
    got = "".join(await frames_until(b, lambda t: 'id="chatter-composer-error"' in t))
    assert "You cannot message this person." in got
    await no_message_reaches(a)
    # Unblocked: bob's messages reach alice again.
    await sync_to_async(moderation.unblock)(alice, bob)
    await b.send_json_to(send("friends"))
    await frames_until(a, lambda t: "chatter-msg-2" in t)
    await a.disconnect()
    await b.disconnect()


async def test_a_blocked_send_in_a_group_reaches_everyone(people: dict[str, Any]) -> None:
    alice, bob, group = people["alice"], people["bob"], people["group"]
    await sync_to_async(moderation.block)(alice, bob)
    a, b = await open_room(alice, group), await open_room(bob, group)
    await b.send_json_to(send("hello team"))
    got = "".join(await frames_until(a, lambda t: "chatter-msg-1" in t))
    # The same frame for every member: the blocker's page collapses it by its own rules.
    assert f'data-sender="{bob.pk}"' in got and "hello team" in got
    await a.disconnect()
    await b.disconnect()


async def test_deactivating_the_author_closes_their_sockets(people: dict[str, Any]) -> None:
    alice, bob, carol, group = people["alice"], people["bob"], people["carol"], people["group"]
    a, b = await open_room(alice, group), await open_room(bob, group)
    await a.send_json_to(send("rude"))
    await frames_until(b, lambda t: "chatter-msg-1" in t)

    def report_and_deactivate() -> None:
        report = moderation.report_message(group, bob, 1, "abuse")
        staff = type(carol).objects.create_superuser("root", "root@example.com", "pw")
        moderation.deactivate_author(report, staff)

    await sync_to_async(report_and_deactivate)()
    assert await close_code(a) == NOT_LOGGED_IN
    await drain(b)  # the others stay connected, and keep talking
    await b.send_json_to(send("she is gone"))
    await frames_until(b, lambda t: "chatter-msg-2" in t)
    await b.disconnect()


async def test_a_removed_author_loses_the_socket(people: dict[str, Any]) -> None:
    """Removing a reported author is a group change: their open page is closed (4403)."""
    alice, bob, group = people["alice"], people["bob"], people["group"]
    a = await open_room(alice, group)

    def remove() -> None:
        messages.send_message(group, alice, "rude")
        report = moderation.report_message(group, bob, 1, "abuse")
        staff = type(bob).objects.create_superuser("root", "root@example.com", "pw")
        moderation.remove_author(report, staff)

    await sync_to_async(remove)()
    assert await close_code(a) == FORBIDDEN
