"""Mentions in a real browser: bob picks alice after "@" with the keyboard and sends; alice's
room list shows the "@" badge live, and in the room the message is marked for her.

The module serves its own demo site (the fixtures of tests/test_browser.py: a fresh
database, one Daphne), so it runs alone: ``pytest -m browser -k mentions``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests import browser as b
from tests import servers
from tests.browser import SCREENSHOTS, expect_connected
from tests.test_browser import (  # noqa: F401 (its fixtures serve this module too)
    count_messages,
    entry,
    open_room,
    pages,
    people,
    site,
    wait_for_message,
)

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


def user_pk(page: Any) -> str:
    return page.locator(".chatter-app").get_attribute("data-me")


def test_a_mention_picked_by_keyboard_reaches_the_mentioned_live(site, pages):
    room = site["rooms"]["alice-bob"]
    lobby = pages("alice")
    lobby.goto("/chat/")
    expect_connected(lobby)
    badge = entry(lobby, room).locator(".chatter-mention-badge")
    expect(badge).to_be_hidden()
    # Something to answer, for the documentation's screenshot of the list.
    servers.manage(site["env"], "chatter_send", room, "alice", "Are you free tomorrow?")

    bob = pages("bob")
    open_room(bob, room)
    box = bob.locator("#chatter-text")
    listbox = bob.locator("#chatter-mention-listbox")
    box.focus()
    bob.keyboard.type("Lunch, @al")
    option = listbox.locator("[role='option'][data-username='alice']")
    expect(option).to_be_visible(timeout=30_000)
    # The first option is active at once; the textarea keeps the focus and points at it.
    expect(option).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", option.get_attribute("id"))
    expect(box).to_be_focused()
    expect(bob.locator("#chatter-mention-status")).to_have_text("1 person found.")
    found = b.axe_violations(bob)
    serious = [v for v in found if v["impact"] in b.AXE_FAILING]
    assert not serious, b.describe_violations(serious)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    bob.screenshot(path=str(SCREENSHOTS / "mention-autocomplete.png"))

    # Escape closes the list (and the composer keeps the text); Down and Up do not move the
    # caret or edit the last message while the list is open.
    bob.keyboard.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_value("Lunch, @al")
    bob.keyboard.press("Backspace")
    bob.keyboard.type("l")  # the same "@": the list stays closed after Escape
    bob.wait_for_timeout(500)
    expect(listbox).to_be_hidden()
    bob.keyboard.type(" ")
    bob.keyboard.type("@Al")
    expect(option).to_be_visible(timeout=30_000)
    bob.keyboard.press("ArrowDown")
    bob.keyboard.press("ArrowUp")
    expect(option).to_have_attribute("aria-selected", "true")
    expect(bob.locator("#chatter-edit-form, .chatter-edit-form")).to_have_count(0)
    text = "Lunch, @al @Alice Anders at noon?"
    before = count_messages(bob, text)
    bob.keyboard.press("Enter")  # picks: nothing is sent
    expect(listbox).to_be_hidden()
    expect(box).to_have_value("Lunch, @al @alice ")
    expect(box).not_to_have_attribute("aria-activedescendant", re.compile(".+"))
    bob.keyboard.type("at noon?")
    bob.keyboard.press("Enter")  # the list is closed: this sends
    wait_for_message(bob, text)
    assert count_messages(bob, text) == before + 1
    expect(box).to_have_value("")

    # alice's room list, on another page, shows the "@" badge beside the unread count.
    expect(badge).to_be_visible(timeout=30_000)
    expect(badge.locator(".chatter-visually-hidden")).to_have_text("1 mention")
    expect(entry(lobby, room).locator(".chatter-badge")).to_be_visible()
    lobby.screenshot(path=str(SCREENSHOTS / "mention-badge.png"))

    # In the room the message and alice's name in it are marked for her, not for bob.
    alice = pages("alice")
    open_room(alice, room)
    wait_for_message(alice, text)
    me = user_pk(alice)
    message = alice.locator(f"#chatter-messages .chatter-msg[data-mentions~='{me}']").last
    expect(message).to_contain_text(text)
    mention = message.locator(f".chatter-mention[data-user='{me}']")
    expect(mention).to_have_text("@Alice Anders")
    marked = message.evaluate("el => getComputedStyle(el).boxShadow")
    assert marked != "none", marked
    background = mention.evaluate("el => getComputedStyle(el).backgroundColor")
    bob_sees = bob.locator(f".chatter-mention[data-user='{me}']").last
    assert background != bob_sees.evaluate("el => getComputedStyle(el).backgroundColor")
    # Reading the room clears the badge on the other page.
    expect(badge).to_be_hidden(timeout=30_000)
