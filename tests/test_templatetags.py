"""Tests of the ``chatter`` template library."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from chatter import rooms
from chatter.models import Room
from chatter.templatetags import chatter as tags

pytestmark = pytest.mark.django_db


def _render(source: str, viewer: Any, **context: Any) -> str:
    request = RequestFactory().get("/")
    request.user = viewer
    return Template("{% load chatter %}" + source).render(Context({"request": request, **context}))


def test_message_button_links_to_chat_with(alice: Any, bob: Any) -> None:
    html = _render("{% chatter_message_button other %}", alice, other=bob)
    assert f'href="{reverse("chatter:chat_with", args=["bob"])}"' in html
    assert "Message" in html


@pytest.mark.parametrize("username", ["mail@example.com", "a.b", "c+d", "e-f", "g_h", "Zoë9"])
def test_message_button_accepts_valid_usernames(
    alice: Any, user_factory: Any, username: str
) -> None:
    other = user_factory(username)
    html = _render("{% chatter_message_button other %}", alice, other=other)
    assert f'href="{reverse("chatter:chat_with", args=[username])}"' in html


def test_message_button_renders_nothing_for_self_none_and_anonymous(alice: Any) -> None:
    assert _render("{% chatter_message_button me %}", alice, me=alice).strip() == ""
    assert _render("{% chatter_message_button nobody %}", alice, nobody=None).strip() == ""
    anon = AnonymousUser()
    assert _render("{% chatter_message_button a %}", alice, a=anon).strip() == ""


def test_message_button_for_anonymous_viewer_still_links(bob: Any) -> None:
    html = _render("{% chatter_message_button other %}", AnonymousUser(), other=bob)
    assert "/with/bob/" in html


def test_message_button_escapes_names(alice: Any, user_factory: Any) -> None:
    other = user_factory("eve", first_name="<b>Eve</b>")
    html = _render("{% chatter_message_button other %}", alice, other=other)
    assert "<b>" not in html and "&lt;b&gt;Eve&lt;/b&gt;" in html


def test_chatter_name(alice: Any, bob: Any) -> None:
    assert tags.chatter_name(alice) == "Alice Liddell"
    assert tags.chatter_name(bob) == "bob"
    assert tags.chatter_name(None) == "Deleted user"


@pytest.mark.parametrize(
    ("name", "initials"),
    [("Alice Liddell", "AL"), ("bob", "B"), ("alice, bob, carol", "AB"), ("", "?"), (None, "?")],
)
def test_chatter_initials(name: Any, initials: str) -> None:
    assert tags.chatter_initials(name) == initials


def test_chatter_day_and_when() -> None:
    now = timezone.now()
    assert tags.chatter_day(now) == "Today"
    assert tags.chatter_day(now - datetime.timedelta(days=1)) == "Yesterday"
    assert tags.chatter_day(datetime.date(2020, 3, 1)) == "March 1, 2020"
    assert tags.chatter_day(None) == ""
    assert tags.chatter_when(now) == timezone.localtime(now).strftime("%H:%M")
    assert tags.chatter_when(datetime.datetime(2020, 3, 1, 9, tzinfo=datetime.UTC)) == "03/01/2020"
    assert tags.chatter_when(None) == ""
    assert (
        tags.chatter_isodate(datetime.datetime(2020, 3, 1, 9, tzinfo=datetime.UTC)) == "2020-03-01"
    )


@pytest.mark.django_db
def test_unread_count_tag(rf: Any, alice: Any, bob: Any) -> None:
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    for text in ("one", "two"):
        rooms.send_message(room, bob, text)
    tpl = Template("{% load chatter %}{% chatter_unread_count as n %}[{{ n }}]")
    request = rf.get("/")
    request.user = alice
    assert tpl.render(Context({"request": request})) == "[2]"
    request.user = bob
    assert tpl.render(Context({"request": request})) == "[0]"
    request.user = AnonymousUser()
    assert tpl.render(Context({"request": request})) == "[0]"
