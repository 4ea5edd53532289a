"""Message search in a real browser: alice types in the room list's search box, moves to a
result with the keyboard, and Enter opens the conversation at that message, marked.

The module serves its own demo site (the fixtures of tests/test_browser.py: a fresh
database, one Daphne), so it runs alone: ``pytest -m browser -k search``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests import browser as b
from tests import servers
from tests.browser import SCREENSHOTS, expect_connected
from tests.test_browser import (  # noqa: F401 (its fixtures serve this module too)
    pages,
    people,
    site,
)

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


def test_search_by_keyboard_opens_the_room_at_the_message(site: Any, pages: Any) -> None:
    rooms = site["rooms"]
    servers.manage(site["env"], "chatter_send", rooms["alice-bob"], "bob", "The budget is done")
    servers.manage(
        site["env"], "chatter_send", rooms["alice-carol"], "carol", "Budget <b>meeting</b> at 3"
    )
    alice = pages("alice")
    alice.goto("/chat/")
    expect_connected(alice)
    box = alice.locator("#chatter-msg-search-q")
    results = alice.locator("#chatter-msg-results")
    box.focus()
    alice.keyboard.type("budget")
    hits = results.locator("a.chatter-hit")
    expect(hits).to_have_count(2, timeout=60_000)
    expect(results.locator("mark").first).to_have_text("budget", ignore_case=True)
    # Times in the reader's locale (en-US here), as in the room list.
    expect(hits.first.locator("time")).to_have_text(re.compile(r"^\d{1,2}:\d{2}\s?[AP]M$"))
    # Markup in a message is text.
    expect(results).to_contain_text("<b>meeting</b>")
    assert results.locator("b").count() == 0
    found = b.axe_violations(alice)
    serious = [v for v in found if v["impact"] in b.AXE_FAILING]
    assert not serious, b.describe_violations(serious)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    alice.screenshot(path=str(SCREENSHOTS / "search-results.png"))

    # Escape clears; a message deep in the history (120 messages from carol) is found,
    # Down moves to it, Enter opens the room there.
    alice.keyboard.press("Escape")
    expect(box).to_have_value("")
    expect(box).to_be_focused()
    expect(hits).to_have_count(0)
    alice.keyboard.type('"history message 10" from:carol')
    expect(hits).to_have_count(1, timeout=60_000)
    alice.keyboard.press("ArrowDown")
    expect(hits.first).to_be_focused()
    alice.keyboard.press("ArrowUp")
    expect(box).to_be_focused()
    alice.keyboard.press("ArrowDown")
    alice.keyboard.press("Enter")
    alice.wait_for_url(f"**/chat/{rooms['alice-carol']}/?around=10*", timeout=60_000)
    expect_connected(alice)
    target = alice.locator("#chatter-msg-10")
    expect(target).to_have_class(re.compile(r"\bis-found\b"), timeout=60_000)
    expect(target).to_be_in_viewport()
    alice.screenshot(path=str(SCREENSHOTS / "search-opened.png"))


def test_search_in_one_room_from_its_header_on_a_phone(site: Any, pages: Any) -> None:
    rooms = site["rooms"]
    servers.manage(site["env"], "chatter_send", rooms["carol-bob"], "carol", "Tickets for Friday")
    servers.manage(site["env"], "chatter_send", rooms["alice-bob"], "alice", "Tickets sold out")
    bob = pages("bob")
    bob.goto(f"/chat/{rooms['carol-bob']}/")
    expect_connected(bob)
    header = bob.locator(".chatter-room-header")
    link = header.get_by_role("link", name="Search", exact=True)
    expect(link).to_be_visible()
    # The header still fits the phone's width with its new link.
    assert header.evaluate("h => h.scrollWidth <= h.clientWidth + 1")
    # ...and so does the page (the demo's nav and the header's actions wrap, not overflow).
    assert bob.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    link.click()
    box = bob.locator("#chatter-msg-search-q")
    expect(box).to_be_focused(timeout=60_000)
    expect(bob.locator("label[for='chatter-msg-search-q']")).to_have_text("Search in Carol Chen")
    bob.keyboard.type("tickets")
    hits = bob.locator("#chatter-msg-results a.chatter-hit")
    expect(hits).to_have_count(1, timeout=60_000)
    expect(hits.first).to_contain_text("Tickets for Friday")
