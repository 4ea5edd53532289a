"""The HTTP path of message actions (forms that work without JavaScript), and the room
page's ``?reply=`` and ``?around=``, and the history partial both ways."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone

from chatter import messages, rooms, views
from chatter.models import Message, Reaction, Room
from tests.factories import fill_room, make_user

pytestmark = pytest.mark.django_db

THUMBS = "\N{THUMBS UP SIGN}"


@pytest.fixture
def chat(alice: Any, bob: Any, carol: Any) -> tuple[Any, Any, Any, Room, Message]:
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    message, _ = messages.send_message(room, alice, "original")
    return alice, bob, carol, room, message


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(name: str, room: Room, seq: int) -> str:
    return reverse(f"chatter:{name}", args=[room.id, seq])


def snapshot(message: Message) -> tuple[Any, ...]:
    message.refresh_from_db()
    return message.text, message.change, message.deleted_at, Reaction.objects.count()


def test_the_message_page_offers_what_the_viewer_may_do(chat: Any) -> None:
    alice, bob, carol, room, _message = chat
    mine = login(alice).get(url("message", room, 1)).content.decode()
    assert url("edit", room, 1) in mine and url("delete", room, 1) in mine
    theirs = login(bob).get(url("message", room, 1)).content.decode()
    assert url("edit", room, 1) not in theirs and url("delete", room, 1) not in theirs
    assert url("react", room, 1) in theirs and "?reply=1" in theirs
    assert login(carol).get(url("message", room, 1)).status_code == 404
    assert login(alice).get(url("message", room, 2)).status_code == 404
    assert login(alice).get(url("message", room, 2**70)).status_code == 404


@pytest.mark.parametrize(
    ("who", "name", "data", "status"),
    [
        ("alice", "edit", {"text": "changed"}, 302),
        ("bob", "edit", {"text": "bob's now"}, 403),
        ("carol", "edit", {"text": "carol's now"}, 404),
        ("mod", "edit", {"text": "mod's now"}, 404),
        ("alice", "edit", {"text": "   "}, 400),
        ("alice", "delete", {}, 302),
        ("bob", "delete", {}, 403),
        ("carol", "delete", {}, 404),
        ("mod", "delete", {}, 404),  # a moderator outside the room does not see it here
        ("bob", "react", {"emoji": THUMBS}, 302),
        ("bob", "react", {"emoji": "nope"}, 400),
        ("carol", "react", {"emoji": THUMBS}, 404),
    ],
)
def test_permission_matrix(
    chat: Any, who: str, name: str, data: dict[str, str], status: int
) -> None:
    alice, bob, carol, room, message = chat
    users = {"alice": alice, "bob": bob, "carol": carol}
    if who == "mod":
        users["mod"] = make_user("mod", is_staff=True)
        users["mod"].user_permissions.add(Permission.objects.get(codename="delete_message"))
    before = snapshot(message)
    response = login(users[who]).post(url(name, room, 1), data)
    assert response.status_code == status
    if status == 302:
        assert response["Location"].endswith(f"/{room.id}/#chatter-msg-1")
        assert snapshot(message) != before
    else:
        assert snapshot(message) == before
    if status in (400, 403):
        assert 'class="chatter-error"' in response.content.decode()


def test_a_member_moderator_deletes_others_messages(chat: Any) -> None:
    _alice, bob, _, room, message = chat
    bob.user_permissions.add(Permission.objects.get(codename="delete_message"))
    assert login(bob).post(url("delete", room, 1)).status_code == 302
    message.refresh_from_db()
    assert message.is_deleted and message.text == ""


def test_a_refused_edit_keeps_what_was_typed(chat: Any) -> None:
    alice, _, _, room, _message = chat
    with override_settings(CHATTER_MESSAGE_MAX_LENGTH=10):
        response = login(alice).post(url("edit", room, 1), {"text": "much too long now"})
    assert response.status_code == 400
    assert "much too long now</textarea>" in response.content.decode()


def test_too_old_to_edit_is_403(chat: Any) -> None:
    alice, _, _, room, message = chat
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(days=3))
    client = login(alice)
    assert client.get(url("edit", room, 1)).status_code == 403
    assert client.post(url("edit", room, 1), {"text": "late"}).status_code == 403


def test_htmx_gets_the_form_and_the_changed_message(chat: Any) -> None:
    alice, _, _, room, _ = chat
    client = login(alice)
    form = client.get(url("edit", room, 1), HTTP_HX_REQUEST="true").content.decode()
    assert form.startswith('<form class="chatter-edit-form"') and "original</textarea>" in form
    done = client.post(url("edit", room, 1), {"text": "new"}, HTTP_HX_REQUEST="true")
    assert done.status_code == 200 and 'id="chatter-msg-1"' in done.content.decode()


@override_settings(CHATTER_FRAME_LIMITS={"react": (1, 60)})
def test_acting_too_fast_is_429(chat: Any) -> None:
    from django.core.cache import cache

    cache.clear()
    _, bob, _, room, _ = chat
    client = login(bob)
    assert client.post(url("react", room, 1), {"emoji": THUMBS}).status_code == 302
    assert client.post(url("react", room, 1), {"emoji": THUMBS}).status_code == 429
    cache.clear()


def test_get_is_not_allowed_to_change_anything(chat: Any) -> None:
    alice, _, _, room, message = chat
    before = snapshot(message)
    for name in ("delete", "react"):
        assert login(alice).get(url(name, room, 1)).status_code == 405
    assert snapshot(message) == before


# -- replies without JavaScript ---------------------------------------------------------------


def test_reply_from_the_room_page_and_the_send_form(chat: Any) -> None:
    _alice, bob, _, room, message = chat
    client = login(bob)
    page = client.get(reverse("chatter:chatroom", args=[room.id]) + "?reply=1").content.decode()
    assert 'name="reply_to" id="chatter-reply-to" value="1"' in page
    assert "Replying to" in page and ">original<" in page
    send = reverse("chatter:send", args=[room.id])
    assert client.post(send, {"text": "answer", "reply_to": "1"}).status_code == 302
    answer = Message.objects.get(room=room, seq=2)
    assert answer.reply_to == message
    refused = client.post(send, {"text": "to nowhere", "reply_to": "5"})
    assert refused.status_code == 400 and "you answer" in refused.content.decode()
    assert client.post(send, {"text": "bad", "reply_to": "x"}).status_code == 400
    assert Message.objects.filter(room=room).count() == 2


def test_a_reply_quotes_a_deleted_message_as_deleted(chat: Any) -> None:
    alice, bob, _, room, _ = chat
    messages.send_message(room, bob, "answer", reply_to=1)
    messages.delete_message(room, alice, 1)
    page = login(bob).get(reverse("chatter:chatroom", args=[room.id])).content.decode()
    quote = page[page.index('class="chatter-quote"') :]
    assert "deleted message" in quote[: quote.index("</a>")]
    assert ">original<" not in page


# -- keyset both ways ----------------------------------------------------------------------


def test_the_room_page_around_a_message(chat: Any) -> None:
    alice, _, _, room, _ = chat
    fill_room(room, 299, sender=alice)
    page = login(alice).get(reverse("chatter:chatroom", args=[room.id]) + "?around=100")
    html = page.content.decode()
    assert 'id="chatter-msg-75"' in html and 'id="chatter-msg-124"' in html
    assert 'id="chatter-msg-74"' not in html and 'id="chatter-msg-125"' not in html
    assert "?before=75" in html and "?after=124" in html  # loaders both ways
    assert rooms.unread_counts(alice)[room.pk] == 299  # looking back marks nothing read
    login(alice).get(reverse("chatter:chatroom", args=[room.id]))
    assert rooms.unread_counts(alice)[room.pk] == 0


def test_the_history_partial_both_ways(chat: Any, monkeypatch: Any) -> None:
    alice, _, _, room, _ = chat
    fill_room(room, 299, sender=alice)
    client = login(alice)
    base = reverse("chatter:history", args=[room.id])
    newer = client.get(base + "?after=200").content.decode()
    assert 'id="chatter-msg-201"' in newer and 'id="chatter-msg-250"' in newer
    assert "?after=250" in newer and 'id="chatter-msg-251"' not in newer
    near = client.get(base + "?around=230&before=251").content.decode()
    found = [int(s) for s in __import__("re").findall(r'id="chatter-msg-(\d+)"', near)]
    assert found == list(range(205, 251))  # from a little before 230 up to the page's oldest
    monkeypatch.setattr(views, "AROUND_SPAN", 100)
    assert client.get(base + "?around=150&before=251").status_code == 404  # too far: full page
    assert client.get(base + "?around=300&before=251").status_code == 404
    assert client.get(base + "?after=x").status_code == 400
    assert client.get(base).status_code == 400
