"""Notifications in a real browser: the title's unread count, mute, and opt-in desktop
notifications (the Notification API, recorded by a wrapper; the tab made "hidden").

The module serves its own demo site (the fixtures of tests/test_browser.py: a fresh
database, one Daphne), so it runs alone: ``pytest -m browser -k notify``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests import browser as b
from tests import servers
from tests.browser import SCREENSHOTS, expect_connected
from tests.test_browser import (  # noqa: F401 (its fixtures serve this module too)
    entry,
    open_room,
    pages,
    people,
    site,
)

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

# Before any script of the page: record every Notification made, and let the test say
# whether the tab is hidden (a headless tab is always "visible").
RECORDER = """
(() => {
  window.__notes = [];
  window.__hidden = false;
  const Real = window.Notification;
  if (typeof Real !== "function") return;
  class Recorder extends Real {
    constructor(title, options) {
      const o = options || {};
      window.__notes.push({title, body: o.body, tag: o.tag, data: o.data});
      super(title, options);
      window.__last = this;
    }
    static get permission() { return Real.permission; }
    static requestPermission(callback) { return Real.requestPermission(callback); }
  }
  window.Notification = Recorder;
  Object.defineProperty(document, "visibilityState", {
    configurable: true, get: () => (window.__hidden ? "hidden" : "visible"),
  });
  Object.defineProperty(document, "hidden", {configurable: true, get: () => window.__hidden});
})();
"""

TITLE = re.compile(r"^\((\d+)\) ")


def title_count(page: Any) -> int:
    found = TITLE.match(page.title())
    return int(found.group(1)) if found else 0


def expect_title_count(page: Any, count: int) -> None:
    if count:
        expect(page).to_have_title(re.compile(rf"^\({count}\) "), timeout=60_000)
    else:
        expect(page).not_to_have_title(TITLE, timeout=60_000)


def send(site: dict[str, Any], room: str, username: str, text: str) -> None:
    servers.manage(site["env"], "chatter_send", room, username, text)


@pytest.fixture(scope="module")
def group(site: dict[str, Any]) -> str:
    """A group of alice, bob and carol, where bob writes."""
    return servers.manage(
        site["env"], "chatter_create_room", "alice", "bob", "carol", "--name", "Book club"
    ).strip()


def set_hidden(page: Any, hidden: bool) -> None:
    page.evaluate(
        "h => { window.__hidden = h; document.dispatchEvent(new Event('visibilitychange')); }",
        hidden,
    )


def test_the_title_counts_unread_outside_muted_rooms(site, pages, group):
    alice = pages("alice")
    open_room(alice, site["rooms"]["alice-bob"])
    expect_connected(alice)
    expect(alice.locator("#chatter-rooms > li[id]")).to_have_count(3)
    before = title_count(alice)
    nav = alice.locator(".demo-nav [data-chatter-unread]")
    # A message in another room: the title and the demo's nav count go up by one.
    send(site, group, "bob", "Chapter three tonight?")
    expect_title_count(alice, before + 1)
    expect(nav).to_have_text(str(before + 1))
    expect(alice).to_have_title(re.compile(r"Bob Brown · Chat"))

    # Mute the group from its header (a plain form): its badge stays, grey, and the title
    # leaves its messages out, new ones too.
    open_room(alice, group)
    alice.locator(".chatter-room-header .chatter-mute-button").click()
    alice.wait_for_url(f"**/chat/{group}/")
    expect(alice.locator(".chatter-room-header .chatter-mute-button")).to_contain_text("Unmute")
    open_room(alice, site["rooms"]["alice-bob"])
    expect_connected(alice)
    muted = entry(alice, group)
    expect(muted).to_have_attribute("data-muted", "1")
    quiet = title_count(alice)
    send(site, group, "bob", "Or chapter four?")
    expect(muted.locator(".chatter-badge-count")).to_have_text("1")  # the frame came
    alice.wait_for_timeout(300)
    assert title_count(alice) == quiet
    grey = muted.locator(".chatter-badge").evaluate("el => getComputedStyle(el).backgroundColor")
    other = entry(alice, site["rooms"]["alice-carol"]).locator(".chatter-badge")
    assert grey != other.evaluate("el => getComputedStyle(el).backgroundColor")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    alice.screenshot(path=str(SCREENSHOTS / "notifications-muted-room.png"))

    # The preferences page lists it, with a way to unmute.
    alice.goto("/chat/preferences/")
    expect(alice.locator(".chatter-muted-list")).to_contain_text("Book club")
    found = b.axe_violations(alice)
    serious = [v for v in found if v["impact"] in b.AXE_FAILING]
    assert not serious, b.describe_violations(serious)
    alice.screenshot(path=str(SCREENSHOTS / "notifications-preferences.png"))
    alice.locator(".chatter-muted-list .chatter-mute-button").click()
    expect(alice.locator(".chatter-muted-list")).to_have_count(0)


def test_desktop_notifications_are_opt_in_and_only_while_hidden(site, pages, people, group):
    people["alice"].grant_permissions(["notifications"], origin=site["server"].url)
    alice = pages("alice")
    alice.add_init_script(RECORDER)
    alice.goto("/chat/")
    expect_connected(alice)
    pair = site["rooms"]["alice-bob"]
    toggle = alice.locator(".chatter-sidebar .chatter-notify-toggle")
    expect(toggle).to_be_visible()
    button = toggle.locator(".chatter-notify-button")
    expect(button).to_have_text("Turn on desktop notifications")

    # Not turned on yet: a hidden tab gets nothing.
    set_hidden(alice, True)
    send(site, pair, "bob", "Before opting in")
    expect(entry(alice, pair).locator(".chatter-room-preview")).to_contain_text("Before opting in")
    assert alice.evaluate("window.__notes.length") == 0

    set_hidden(alice, False)
    button.click()
    expect(button).to_have_text("Turn off desktop notifications")
    expect(toggle.locator(".chatter-notify-state")).to_contain_text("on in this browser")

    # Visible: nothing. Hidden: a message from bob, then a mention of alice in the group.
    send(site, pair, "bob", "While you look")
    expect(entry(alice, pair).locator(".chatter-room-preview")).to_contain_text("While you look")
    assert alice.evaluate("window.__notes.length") == 0
    set_hidden(alice, True)
    send(site, pair, "bob", "Lunch at <b>noon</b>?")
    alice.wait_for_function("window.__notes.length === 1", timeout=60_000)
    note = alice.evaluate("window.__notes[0]")
    assert note["title"] == "Bob Brown"
    assert note["body"] == "Lunch at <b>noon</b>?"  # plain text: shown as written
    assert note["data"]["url"].endswith(f"/chat/{pair}/") and not note["data"]["mention"]
    send(site, group, "bob", "@alice what do you think?")
    alice.wait_for_function("window.__notes.length === 2", timeout=60_000)
    note = alice.evaluate("window.__notes[1]")
    assert note["title"] == "Bob Brown mentioned you in Book club"
    assert note["body"] == "Bob Brown: @Alice Anders what do you think?"
    assert note["data"]["mention"] is True

    # A muted room, and alice's own message (from another tab): nothing.
    servers.manage(
        site["env"], "shell", "-c",
        "from chatter.models import Membership; "
        f"Membership.objects.filter(room_id='{group}', user__username='alice').update(muted=True)",
    )  # fmt: skip
    alice.reload()
    expect_connected(alice)
    set_hidden(alice, True)
    send(site, group, "bob", "Muted news")
    send(site, pair, "alice", "From my phone")
    expect(entry(alice, pair).locator(".chatter-room-preview")).to_contain_text("From my phone")
    expect(entry(alice, group).locator(".chatter-room-preview")).to_contain_text("Muted news")
    assert alice.evaluate("window.__notes.length") == 0

    # Clicking the notification opens its room in this tab.
    send(site, pair, "bob", "Click me")
    alice.wait_for_function("window.__notes.length === 1", timeout=60_000)
    alice.evaluate("window.__last.onclick()")
    alice.wait_for_url(f"**/chat/{pair}/")

    # Turned off: remembered by this browser, and nothing more.
    alice.goto("/chat/")
    expect_connected(alice)
    expect(button).to_have_text("Turn off desktop notifications")
    button.click()
    expect(button).to_have_text("Turn on desktop notifications")
    set_hidden(alice, True)
    send(site, pair, "bob", "After opting out")
    expect(entry(alice, pair).locator(".chatter-room-preview")).to_contain_text("After opting out")
    assert alice.evaluate("window.__notes.length") == 0
