"""Frames: every top-level element says where it goes, and messages render as on the page."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from chatter import formatting, frames, messages, rooms
from chatter.models import Room
from tests.factories import make_user

pytestmark = pytest.mark.django_db


class TopLevel(HTMLParser):
    """Collects the attributes of each top-level element of a fragment."""

    VOID = {"input", "br", "img", "meta", "link", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.tops: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth == 0:
            self.tops.append(dict(attrs))
        if tag not in self.VOID:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        self.depth -= 1


def top_level(html: str) -> list[dict[str, str | None]]:
    parser = TopLevel()
    parser.feed(html)
    return parser.tops


@pytest.fixture
def chat():
    alice, bob = make_user("alice"), make_user("bob")
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    message, _ = messages.send_message(room, alice, "<b>hi</b>\nthere {{ x }}")
    return alice, bob, room, message


def test_every_frame_has_explicit_oob(chat):
    alice, bob, room, message = chat
    rendered = [
        frames.message(message),
        frames.messages([message]),
        frames.messages([message], more_after=1),
        frames.room_update(message),
        frames.room_new(room.pk),
        frames.read(room.pk, 1, [alice.pk, bob.pk]),
        frames.presence([(alice, True), (bob, False)]),
        frames.retry("resume", 1.5),
        frames.composer_error("Too long", "abc"),
        frames.sent("abc"),
        frames.typing(alice),
        frames.seen(1, [bob]),
        frames.too_far_behind(),
    ]
    for html in rendered:
        tops = top_level(html)
        assert tops, html
        for attrs in tops:
            assert attrs.get("hx-swap-oob"), html
            assert attrs.get("id", "x") != "", "an empty id breaks the socket"


def test_live_message_is_the_same_markup_as_after_a_reload(chat, client):
    alice, _, room, message = chat
    client.force_login(alice)
    page = client.get(f"/chat/{room.pk}/").content.decode()
    frame = frames.message(message)
    pattern = re.compile(r'<article class="chatter-msg" id="chatter-msg-1".*?</article>', re.S)
    assert pattern.search(frame).group(0) == pattern.search(page).group(0)
    assert "&lt;b&gt;hi&lt;/b&gt;" in frame and "<b>" not in frame


def test_a_formatted_message_is_the_same_markup_live_and_reloaded(chat, client):
    alice, _, room, _ = chat
    text = '**bold** and `code`\n> quoted\n\nsee https://example.com <b hx-get="/">x</b>'
    message, _ = messages.send_message(room, alice, text)
    client.force_login(alice)
    page = client.get(f"/chat/{room.pk}/").content.decode()
    frame = frames.message(message)
    pattern = re.compile(
        rf'<article class="chatter-msg" id="chatter-msg-{message.seq}".*?</article>', re.S
    )
    live, reloaded = pattern.search(frame).group(0), pattern.search(page).group(0)
    assert live == reloaded
    body = re.search(r'<div class="chatter-msg-text" hx-disable>(.*?)</div>', live, re.S).group(1)
    assert body == str(formatting.render(text))
    assert "<strong>bold</strong>" in body and "<code>code</code>" in body
    assert '<a href="https://example.com" target="_blank"' in body
    assert "&lt;b hx-get" in body and "<b " not in body


def test_typing_frame_carries_the_timeout(chat, settings):
    settings.CHATTER_TYPING_TIMEOUT = 7
    alice, *_ = chat
    assert 'data-timeout="7"' in frames.typing(alice)
