"""Stored XSS (issue 7): hostile text in messages, room names and user names stays text.

A corpus of payloads is stored where users can put text (a message, a group's name, a
user's first and last name) and every place that shows it is read back: the room page, the
room list, the older-history partial, a room-list entry, the user search (and a search
for a payload), the page that asks before starting a chat, every frame that carries it,
and the admin's changelists and change pages. No payload may come back as markup: each is
escaped by the autoescaping templates (htmx would also process ``hx-*`` attributes in
swapped content, so an injected attribute would be script too).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from chatter import frames, messages, rooms
from chatter.models import Message, Room
from tests.factories import make_user

pytestmark = pytest.mark.django_db

PAYLOADS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(2)">',
    '<b hx-get="/chat/" hx-trigger="load">x</b>',
    '<a href="javascript:alert(3)">link</a>',
    '"><svg onload=alert(4)>',
    '<div hx-on::load="alert(5)">x</div>',
    "</textarea><script>alert(6)</script>",
    "<iframe srcdoc='<script>alert(7)</script>'></iframe>",
    "{{ 7*7 }}{% now 'Y' %}",
]


def raw(payload: str) -> str:
    """The part of a payload that would be markup if it came back unescaped."""
    return payload[payload.index("<") :] if "<" in payload else payload


def assert_inert(text: str, where: str) -> None:
    for payload in PAYLOADS:
        if "<" in payload:
            assert raw(payload) not in text, (where, payload)


@pytest.fixture
def stored() -> dict[str, Any]:
    """Every payload as a message, plus hostile names on a user and a group."""
    alice = make_user("alice")
    mallory = make_user("mallory", first_name=PAYLOADS[1], last_name=PAYLOADS[0])
    make_user("eve", first_name=PAYLOADS[3], last_name=PAYLOADS[4])  # no room with alice
    staff = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    room = Room.objects.get(pk=rooms.create_room([alice, mallory], name=PAYLOADS[2]))
    for payload in PAYLOADS:
        messages.send_message(room, mallory, payload)
    return {"alice": alice, "mallory": mallory, "staff": staff, "room": room}


def test_pages_show_the_payloads_as_text(stored: dict[str, Any]) -> None:
    client = Client()
    client.force_login(stored["alice"])
    room = stored["room"]
    newest = Message.objects.filter(room=room).order_by("seq").last()
    assert newest is not None
    urls = {
        "room page": reverse("chatter:chatroom", args=[room.pk]),
        "room list": reverse("chatter:index"),
        "history": reverse("chatter:history", args=[room.pk]) + f"?before={newest.seq}",
        "room-list entry": reverse("chatter:room_item", args=[room.pk]),
        "user search": reverse("chatter:user_search") + "?q=m",
        "chat with, to confirm": reverse("chatter:chat_with", args=["eve"]),
    }
    for where, url in urls.items():
        response = client.get(url)
        assert response.status_code == 200, where
        assert_inert(response.content.decode(), where)
    partial = client.get(urls["user search"], headers={"HX-Request": "true"})
    assert "mallory" in partial.content.decode()
    assert_inert(partial.content.decode(), "user search results")
    for payload in PAYLOADS:  # a query is shown back in the search box
        for headers in ({}, {"HX-Request": "true"}):
            echoed = client.get(reverse("chatter:user_search"), {"q": payload}, headers=headers)
            assert echoed.status_code == 200
            assert_inert(echoed.content.decode(), f"user search for {payload!r}")
    page = client.get(urls["room page"]).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "{{ 7*7 }}" in page  # not a template either


def test_frames_show_the_payloads_as_text(stored: dict[str, Any]) -> None:
    room, mallory = stored["room"], stored["mallory"]
    messages = list(Message.objects.filter(room=room).select_related("sender").order_by("seq"))
    rendered = {
        "message": "".join(frames.message(m) for m in messages),
        "messages": frames.messages(messages, None),
        "room_update": "".join(frames.room_update(m) for m in messages),
        "typing": frames.typing(mallory),
        "presence": frames.presence([(mallory, True)]),
        "seen": frames.seen(messages[-1].seq, [mallory]),
        "composer_error": frames.composer_error(PAYLOADS[0], PAYLOADS[1]),
    }
    for where, text in rendered.items():
        assert_inert(str(text), where)


def test_the_admin_shows_the_payloads_as_text(stored: dict[str, Any]) -> None:
    client = Client()
    client.force_login(stored["staff"])
    room = stored["room"]
    message = Message.objects.filter(room=room).first()
    assert message is not None
    urls = {
        "rooms": reverse("admin:chatter_room_changelist"),
        "room": reverse("admin:chatter_room_change", args=[room.pk]),
        "messages": reverse("admin:chatter_message_changelist"),
        "message": reverse("admin:chatter_message_change", args=[message.pk]),
        "users": reverse("admin:auth_user_changelist"),
    }
    for where, url in urls.items():
        response = client.get(url)
        assert response.status_code == 200, where
        assert_inert(response.content.decode(), where)
