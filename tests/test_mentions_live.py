"""Mentions over the socket and through the plain forms: stored by id, shown live, counted
in the room lists of the members they name."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.urls import reverse

from chatter import rooms
from chatter.models import Mention, Message, Room
from tests.sockets import OPEN, connect, cookie_for, frames_until, make_user, open_room

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_cleanup")]


@pytest.fixture
def trio(db: Any) -> tuple[Any, Any, Any, Room]:
    OPEN.clear()  # open_room drains the sockets opened before: this test's only
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    room = Room.objects.get(pk=rooms.create_room([alice, bob, carol]))
    return alice, bob, carol, room


def _mentions(message_seq: int, room: Room) -> set[Any]:
    return set(Mention.objects.filter(room=room, seq=message_seq).values_list("user_id", flat=True))


async def test_a_mention_sent_over_the_socket_reaches_the_page_and_the_room_list(trio):
    alice, bob, carol, room = trio
    page = await open_room(bob, room)
    lobby, accepted, _ = await connect("/ws/chatter/", await sync_to_async(cookie_for)(carol))
    assert accepted
    a = await open_room(alice, room)
    await a.send_json_to({"text": "@bob and @carol: look", "client_id": str(uuid.uuid4())})
    got = "".join(await frames_until(page, lambda t: "chatter-msg-1" in t))
    assert f'<span class="chatter-mention" data-user="{bob.pk}">@bob</span>' in got
    assert f'data-mentions=" {bob.pk} {carol.pk} "' in got
    listed = "".join(await frames_until(lobby, lambda t: 'data-kind="room"' in t))
    assert f'data-mentions=" {bob.pk} {carol.pk} "' in listed
    assert ">@bob and @carol: look</i>" in listed
    assert await sync_to_async(_mentions)(1, room) == {bob.pk, carol.pk}

    # An edit over the socket moves the mention; the page gets the message as it is now.
    await a.send_json_to({"type": "edit", "seq": 1, "text": "only @carol"})
    changed = "".join(await frames_until(page, lambda t: 'data-kind="changes"' in t))
    assert f'data-mentions=" {carol.pk} "' in changed and "@bob" not in changed
    assert await sync_to_async(_mentions)(1, room) == {carol.pk}
    for comm in (a, page, lobby):
        await comm.disconnect()


def test_the_plain_forms_store_mentions(trio: Any) -> None:
    alice, bob, carol, room = trio
    client = Client()
    client.force_login(alice)
    response = client.post(reverse("chatter:send", args=[room.pk]), {"text": "hi @bob"})
    assert response.status_code == 302
    message = Message.objects.get(room=room, seq=1)
    assert message.text == f"hi <@{bob.pk}>"
    assert _mentions(1, room) == {bob.pk}
    # The no-JavaScript edit page shows "@bob", and its form moves the mention.
    page = client.get(reverse("chatter:edit", args=[room.pk, 1])).content.decode()
    assert ">hi @bob</textarea>" in page
    edit = client.post(reverse("chatter:edit", args=[room.pk, 1]), {"text": "hi @carol"})
    assert edit.status_code == 302
    assert _mentions(1, room) == {carol.pk}
    client.post(reverse("chatter:delete", args=[room.pk, 1]))
    assert _mentions(1, room) == set()
