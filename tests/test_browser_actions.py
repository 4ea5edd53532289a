"""Message actions in a real browser: edit with the Up arrow, delete, react, reply, and
jump to an old quoted message. Two people, two contexts, one Daphne (the demo project)."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from tests import servers
from tests.browser import SCREENSHOTS, say
from tests.test_browser import (  # noqa: F401 (fixtures)
    assert_ordered,
    count_messages,
    open_room,
    pages,
    people,
    seqs,
    site,
    wait_for_message,
)

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

THUMBS = "\N{THUMBS UP SIGN}"

REPLY_SCRIPT = """
import django
django.setup()
from django.contrib.auth import get_user_model
from chatter import live, messages
from chatter.models import Room
room = Room.objects.get(pk={room!r})
carol = get_user_model().objects.get(username="carol")
message, _ = messages.send_message(room, carol, {text!r}, reply_to={seq})
live.announce_message(message)
"""


def message(page: Any, text: str) -> Any:
    """The article on ``page`` whose text is ``text``."""
    return page.locator("#chatter-messages article.chatter-msg").filter(
        has=page.locator(".chatter-msg-text", has_text=re.compile(rf"^\s*{re.escape(text)}\s*$"))
    )


def shot(page: Any, name: str) -> None:
    """A screenshot for the docs (``make screenshots``) or test-artifacts/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


def open_menu(page: Any, article: Any) -> Any:
    article.hover()
    article.locator("[data-action='menu']").click()
    menu = article.locator(".chatter-menu")
    expect(menu).to_be_visible()
    return menu


def test_edit_the_last_message_with_the_up_arrow(site: Any, pages: Any) -> None:
    room = site["rooms"]["alice-bob"]
    alice, bob = pages("alice"), pages("bob")
    open_room(alice, room)
    open_room(bob, room)
    say(alice, "helo wrold")
    wait_for_message(bob, "helo wrold")

    box = alice.locator("#chatter-text")
    box.press("ArrowUp")
    editor = alice.locator(".chatter-edit-form textarea")
    expect(editor).to_be_focused()
    expect(editor).to_have_value("helo wrold")
    editor.press("Escape")  # cancel: nothing changes, the composer has the focus again
    expect(alice.locator(".chatter-edit-form")).to_have_count(0)
    expect(box).to_be_focused()

    box.press("ArrowUp")
    editor.fill("hello world")
    shot(alice, "message-edit.png")
    editor.press("Enter")
    wait_for_message(bob, "hello world")
    expect(message(bob, "hello world").locator(".chatter-edited")).to_be_visible()
    wait_for_message(alice, "hello world")
    assert count_messages(bob, "helo wrold") == 0
    assert count_messages(alice, "hello world") == 1


def test_delete_from_the_menu_leaves_a_tombstone_everywhere(site: Any, pages: Any) -> None:
    room = site["rooms"]["alice-bob"]
    alice, bob = pages("alice"), pages("bob")
    open_room(alice, room)
    open_room(bob, room)
    say(alice, "sent by mistake")
    wait_for_message(bob, "sent by mistake")
    alice.on("dialog", lambda dialog: dialog.accept())
    menu = open_menu(alice, message(alice, "sent by mistake"))
    expect(menu.get_by_role("menuitem", name="Edit")).to_be_visible()  # her own
    menu.get_by_role("menuitem", name="Delete").click()
    for page in (alice, bob):
        expect(page.locator(".chatter-tombstone").last).to_have_text("Message deleted")
        assert count_messages(page, "sent by mistake") == 0
    shot(alice, "message-deleted.png")
    theirs = open_menu(bob, bob.locator("article.chatter-msg:not(.is-deleted)").last)
    expect(theirs.get_by_role("menuitem", name="Delete")).to_have_count(0)


def test_a_reaction_shows_its_count_in_the_other_window(site: Any, pages: Any) -> None:
    room = site["rooms"]["alice-bob"]
    alice, bob = pages("alice"), pages("bob")
    open_room(alice, room)
    open_room(bob, room)
    say(alice, "pizza tonight?")
    wait_for_message(bob, "pizza tonight?")
    open_menu(bob, message(bob, "pizza tonight?")).get_by_role(
        "menuitem", name=f"React with {THUMBS}"
    ).click()
    chip = message(alice, "pizza tonight?").locator(".chatter-reaction")
    expect(chip).to_have_count(1, timeout=30_000)
    expect(chip.locator(".chatter-reaction-count")).to_have_text("1")
    expect(chip).to_have_attribute("title", "Bob Brown")  # who reacted, by name
    open_menu(alice, message(alice, "pizza tonight?"))
    shot(alice, "message-reactions.png")
    alice.keyboard.press("Escape")
    # bob takes it back by clicking his own reaction
    message(bob, "pizza tonight?").locator(".chatter-reaction").click()
    expect(chip).to_have_count(0, timeout=30_000)


def test_reply_and_jump_to_an_old_quoted_message(site: Any, pages: Any) -> None:
    room = site["rooms"]["alice-carol"]
    alice = pages("alice")
    open_room(alice, room)
    newest = max(seqs(alice))
    assert min(seqs(alice)) > 5  # the old message is not on the page

    # A reply from the page: the menu's "Reply", a quote in the composer, Enter.
    latest = alice.locator(f"#chatter-msg-{newest}")
    open_menu(alice, latest).get_by_role("menuitem", name="Reply").click()
    expect(alice.locator("#chatter-replying")).to_be_visible()
    expect(alice.locator("#chatter-text")).to_be_focused()
    say(alice, "answering the newest")
    wait_for_message(alice, "answering the newest")
    quote = message(alice, "answering the newest").locator(".chatter-quote")
    expect(quote).to_have_attribute("data-seq", str(newest))
    expect(alice.locator("#chatter-replying")).to_be_hidden()

    # carol answers message 5, long scrolled away; alice clicks the quote.
    subprocess.run(
        [sys.executable, "-c", REPLY_SCRIPT.format(room=room, text="about number five", seq=5)],
        cwd=servers.EXAMPLE,
        env=site["env"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    wait_for_message(alice, "about number five")
    message(alice, "about number five").locator(".chatter-quote").click()
    target = alice.locator("#chatter-msg-5")
    expect(target).to_be_in_viewport(timeout=30_000)
    expect(target).to_have_class(re.compile(r"\bis-target\b"))
    numbers = seqs(alice)
    assert numbers == list(range(numbers[0], numbers[-1] + 1))  # loaded without a hole
    assert_ordered(alice)
    shot(alice, "reply-jump.png")
