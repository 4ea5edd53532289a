"""Tests of the ``chatter`` template library."""

from __future__ import annotations

import datetime
import logging
import re
import textwrap
import zlib
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.middleware.csrf import _unmask_cipher_token
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from chatter import avatars, messages, rooms
from chatter.models import Room
from chatter.templatetags import chatter as tags
from tests import avatar_hooks

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _render(source: str, viewer: Any, **context: Any) -> str:
    request = RequestFactory().get("/")
    request.user = viewer
    return Template("{% load chatter %}" + source).render(Context({"request": request, **context}))


def _form_action(html: str) -> str:
    match = re.search(r'<form [^>]*action="([^"]*)"', html)
    assert match, html
    return match.group(1)


def test_message_button_is_a_post_form_with_the_csrf_token(alice: Any, bob: Any) -> None:
    request = RequestFactory().get("/")
    request.user = alice
    html = Template("{% load chatter %}{% chatter_message_button other %}").render(
        Context({"request": request, "other": bob})
    )
    assert _form_action(html) == reverse("chatter:chat_with", args=["bob"])
    assert re.search(r'<form [^>]*method="post"', html)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert token, html
    # The token is valid for this request: the cookie's secret unmasks it.
    secret = request.META["CSRF_COOKIE"]
    assert _unmask_cipher_token(token.group(1)) == secret
    assert "<a " not in html and "href=" not in html


def test_message_button_uses_the_pages_csrf_token(alice: Any, bob: Any) -> None:
    html = _render("{% chatter_message_button other %}", alice, other=bob, csrf_token="T" * 64)
    assert 'name="csrfmiddlewaretoken" value="' + "T" * 64 + '"' in html


def test_message_button_looks_like_a_button_without_any_stylesheet(
    alice: Any, user_factory: Any
) -> None:
    """A <button> with an aria-label: no visually hidden text shows on an unstyled page."""
    other = user_factory("dora", first_name="Dora", last_name="Explorer")
    html = _render("{% chatter_message_button other %}", alice, other=other)
    button = re.search(r"<button ([^>]*)>(.*?)</button>", html)
    assert button, html
    attributes, text = button.groups()
    assert text == "Message"  # all that shows, styled or not
    assert 'aria-label="Message Dora Explorer"' in attributes
    assert 'type="submit"' in attributes
    assert "chatter-button" in attributes  # themed pages still style it
    assert "visually-hidden" not in html and "<span" not in html
    assert re.search(r'<form [^>]*style="display: inline"', html)


@pytest.mark.parametrize("username", ["mail@example.com", "a.b", "c+d", "e-f", "g_h", "Zoë9"])
def test_message_button_accepts_valid_usernames(
    alice: Any, user_factory: Any, username: str
) -> None:
    other = user_factory(username)
    html = _render("{% chatter_message_button other %}", alice, other=other)
    assert _form_action(html) == escape(reverse("chatter:chat_with", args=[username]))


def test_message_button_renders_nothing_for_self_none_and_anonymous(alice: Any) -> None:
    assert _render("{% chatter_message_button me %}", alice, me=alice).strip() == ""
    assert _render("{% chatter_message_button nobody %}", alice, nobody=None).strip() == ""
    anon = AnonymousUser()
    assert _render("{% chatter_message_button a %}", alice, a=anon).strip() == ""


def test_message_button_for_anonymous_viewer_still_renders(bob: Any) -> None:
    html = _render("{% chatter_message_button other %}", AnonymousUser(), other=bob)
    assert _form_action(html) == reverse("chatter:chat_with", args=["bob"])


def test_message_button_escapes_names(alice: Any, user_factory: Any) -> None:
    other = user_factory("eve", first_name='<b>"Eve"</b>')
    html = _render("{% chatter_message_button other %}", alice, other=other)
    assert "<b>" not in html
    assert 'aria-label="Message &lt;b&gt;&quot;Eve&quot;&lt;/b&gt;"' in html


def _documented_markup() -> str:
    """The literal block after "renders" in the ``chatter_message_button`` section."""
    text = (DOCS / "templatetags.rst").read_text(encoding="utf-8")
    section = text[text.index("``chatter_message_button``") : text.index("\nFilters\n")]
    lines = section[section.index("renders") :].splitlines()[1:]
    start = next(i for i, line in enumerate(lines) if line.strip())
    block = []
    for line in lines[start:]:
        if line.strip() and not line.startswith("    "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip()


def _markup(html: str) -> str:
    """Markup with the whitespace between tags removed (the docs break it into lines)."""
    return re.sub(r">\s+<", "><", html.strip())


def test_documented_markup_is_what_renders(alice: Any, bob: Any) -> None:
    html = _render("{% chatter_message_button other %}", alice, other=bob, csrf_token="x" * 64)
    documented = _documented_markup()
    assert 'value="CSRF-TOKEN"' in documented
    assert _markup(html.replace("x" * 64, "CSRF-TOKEN")) == _markup(documented)


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
        messages.send_message(room, bob, text)
    tpl = Template("{% load chatter %}{% chatter_unread_count as n %}[{{ n }}]")
    request = rf.get("/")
    request.user = alice
    assert tpl.render(Context({"request": request})) == "[2]"
    request.user = bob
    assert tpl.render(Context({"request": request})) == "[0]"
    request.user = AnonymousUser()
    assert tpl.render(Context({"request": request})) == "[0]"


# -- avatars ------------------------------------------------------------------------------

AVATAR = re.compile(r'<span class="chatter-avatar[^"]*" aria-hidden="true">.*?</span>')


def _avatar(html: str) -> str:
    found = AVATAR.findall(html)
    assert len(found) == 1, html
    return found[0]


def _hue(html: str) -> int:
    match = re.search(r"chatter-hue-(\d+)", html)
    assert match, html
    return int(match.group(1))


def test_avatar_shows_initials_in_a_stable_colour(alice: Any, bob: Any) -> None:
    html = _avatar(_render("{% chatter_avatar who %}", alice, who=alice))
    assert html.endswith(">AL</span>") and "<img" not in html
    assert _hue(html) == avatars.hue(alice.pk)
    # The same for every render, and computed from the primary key alone (CRC-32, not
    # Python's salted hash()): the same in every server process.
    assert _avatar(_render("{% chatter_avatar who %}", bob, who=alice)) == html
    assert avatars.hue(alice.pk) == zlib.crc32(str(alice.pk).encode()) % avatars.HUES
    assert {avatars.hue(pk) for pk in range(1, 200)} == set(range(avatars.HUES))
    small = _avatar(_render('{% chatter_avatar who "small" %}', alice, who=alice))
    assert "chatter-avatar--small" in small
    assert "chatter-avatar--" not in _avatar(
        _render('{% chatter_avatar who "x" %}', alice, who=alice)
    )
    deleted = _avatar(_render("{% chatter_avatar who %}", alice, who=None))
    assert deleted.endswith(">DU</span>")  # "Deleted user"


def test_avatar_hook_with_a_picture(settings: Any, alice: Any, bob: Any) -> None:
    settings.CHATTER_AVATAR_URL = "tests.avatar_hooks.picture"
    html = _avatar(_render("{% chatter_avatar who %}", alice, who=bob))
    assert '<img class="chatter-avatar-img" alt="" src="https://img.example.com/bob.png"' in html
    assert ">B<" not in html
    assert _hue(html) == avatars.hue(bob.pk)


def test_avatar_hook_returning_none_shows_initials(settings: Any, alice: Any, bob: Any) -> None:
    settings.CHATTER_AVATAR_URL = "tests.avatar_hooks.nobody"
    html = _avatar(_render("{% chatter_avatar who %}", alice, who=bob))
    assert "<img" not in html and html.endswith(">B</span>")


def test_avatar_hook_url_is_escaped(settings: Any, alice: Any, bob: Any) -> None:
    settings.CHATTER_AVATAR_URL = "tests.avatar_hooks.tricky"
    html = _avatar(_render("{% chatter_avatar who %}", alice, who=bob))
    assert "<script>" not in html
    src = re.search(r'<img class="chatter-avatar-img" alt="" src="([^"]*)" loading="lazy">', html)
    assert src, html
    assert src.group(1) == escape(avatar_hooks.tricky(bob))
    assert src.group(1).startswith("https://img.example.com/a.png?x=&quot;&gt;&lt;script&gt;")


def test_avatar_hook_that_fails_shows_initials_and_is_logged(
    settings: Any, alice: Any, bob: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CHATTER_AVATAR_URL = "tests.avatar_hooks.broken"
    with caplog.at_level(logging.ERROR, logger="chatter.avatars"):
        html = _avatar(_render("{% chatter_avatar who %}", alice, who=bob))
    assert html.endswith(">B</span>")
    assert "tests.avatar_hooks.broken" in caplog.text and "picture service is down" in caplog.text


def test_room_avatar_of_two_is_the_other_users(settings: Any, alice: Any, bob: Any) -> None:
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    members = rooms.members(room)
    tag = "{% chatter_room_avatar room people title %}"
    html = _avatar(_render(tag, alice, room=room, people=members, title="bob"))
    assert html == _avatar(_render("{% chatter_avatar who %}", alice, who=bob))
    assert _avatar(_render(tag, bob, room=room, people=members, title="Alice Liddell")) == _avatar(
        _render("{% chatter_avatar who %}", bob, who=alice)
    )
    settings.CHATTER_AVATAR_URL = "tests.avatar_hooks.picture"
    html = _avatar(_render(tag, alice, room=room, people=members, title="bob"))
    assert 'src="https://img.example.com/bob.png"' in html


def test_room_avatar_of_a_group_is_its_initials_in_the_rooms_colour(
    settings: Any, alice: Any, bob: Any, carol: Any
) -> None:
    settings.CHATTER_AVATAR_URL = "tests.avatar_hooks.picture"
    group = Room.objects.get(pk=rooms.create_room([alice, bob, carol]))
    tag = "{% chatter_room_avatar room people title %}"
    html = _avatar(_render(tag, alice, room=group, people=rooms.members(group), title="bob, carol"))
    assert html.endswith(">BC</span>") and "<img" not in html
    assert _hue(html) == avatars.hue(group.pk)
    # A named room of two is a group too; a room of one (notes) has its own colour.
    named = Room.objects.get(pk=rooms.create_room([alice, bob], name="Trip planning"))
    html = _avatar(_render(tag, alice, room=named, people=rooms.members(named), title="Trip"))
    assert html.endswith(">T</span>") and _hue(html) == avatars.hue(named.pk)
    notes = Room.objects.get(pk=rooms.create_room([alice]))
    html = _avatar(_render(tag, alice, room=notes, people=[alice], title="Notes to self"))
    assert html.endswith(">NT</span>") and _hue(html) == avatars.hue(notes.pk)
