"""Moderation in Debian's Chromium against a real server: bob reports alice's message from
the message menu and staff find it in the admin's queue; alice blocks bob from their room's
header, bob's message in a group collapses on her page only, and bob cannot write to her.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests import browser as b
from tests import servers
from tests.browser import ARTIFACTS, SCREENSHOTS, expect_connected, say

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

DESKTOP = {"width": 1280, "height": 800}
STAFF_SCRIPT = """
import django
django.setup()
from django.contrib.auth import get_user_model
get_user_model().objects.filter(username="carol").update(is_staff=True, is_superuser=True)
"""


@pytest.fixture(scope="module")
def site() -> Iterator[dict[str, Any]]:
    """The demo users, carol a superuser, a room of alice and bob and a group of three."""
    with servers.database("moderation") as name:
        env = servers.server_env(name, CHATTER_RATE_LIMIT_MESSAGES="1000")
        servers.manage(env, "migrate", "--noinput")
        servers.manage(env, "demo_users")
        rooms = {
            "pair": servers.manage(env, "chatter_create_room", "alice", "bob").strip(),
            "team": servers.manage(
                env, "chatter_create_room", "alice", "bob", "carol", "--name", "Team"
            ).strip(),
        }
        subprocess.run(
            [sys.executable, "-c", STAFF_SCRIPT],
            cwd=servers.EXAMPLE,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        ARTIFACTS.mkdir(exist_ok=True)
        with servers.DaphneProcess(env, log=ARTIFACTS / "daphne-moderation.log") as server:
            yield {"env": env, "server": server, "rooms": rooms}


@pytest.fixture
def pages(site: dict[str, Any], browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """``pages("alice")``: a page of a new logged-in context of alice; screenshotted on failure."""
    yield from b.pages_for(
        request,
        lambda name: b.log_in(browser, site["server"].url, name, DESKTOP),
        lambda page: page.context.close(),
    )


def open_room(page: Any, room: str) -> None:
    page.goto(f"/chat/{room}/")
    expect_connected(page)


def message(page: Any, text: str) -> Any:
    return page.locator("#chatter-messages article.chatter-msg", has_text=text)


def test_bob_reports_alices_message_and_staff_see_it(site: dict[str, Any], pages: Any) -> None:
    room = site["rooms"]["pair"]
    servers.manage(site["env"], "chatter_send", room, "alice", "buy cheap pills")
    bob = pages("bob")
    open_room(bob, room)
    reported = message(bob, "buy cheap pills")
    expect(reported).to_be_visible()
    reported.locator("[data-action='menu']").click()
    menu = reported.locator(".chatter-menu")
    expect(menu.get_by_role("menuitem", name="Report")).to_be_visible()
    menu.get_by_role("menuitem", name="Report").click()

    dialog = bob.locator("#chatter-report-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("buy cheap pills")
    expect(dialog.get_by_label("Spam")).to_be_focused()  # the first choice, by keyboard
    failing = [v for v in b.axe_violations(bob) if v["impact"] in b.AXE_FAILING]
    assert not failing, b.describe_violations(failing)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    bob.screenshot(path=str(SCREENSHOTS / "report-dialog.png"))
    dialog.get_by_label("Spam").check()
    dialog.get_by_label("Anything the moderators should know (optional)").fill("a bot")
    dialog.get_by_role("button", name="Send report").click()
    expect(dialog).to_contain_text("Your report was sent to the moderators.")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    # bob's own messages offer no Report.
    say(bob, "my own words")
    mine = message(bob, "my own words")
    expect(mine).to_be_visible()
    mine.locator("[data-action='menu']").click()
    expect(mine.locator(".chatter-menu [data-action='edit']")).to_be_visible()
    expect(mine.locator(".chatter-menu [data-action='report']")).to_have_count(0)

    carol = pages("carol")
    carol.goto("/admin/chatter/report/")
    row = carol.locator("#result_list tbody tr", has_text="buy cheap pills")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("alice")
    expect(row).to_contain_text("bob")
    expect(row).to_contain_text("Spam")


def test_alice_blocks_bob_from_their_rooms_header(site: dict[str, Any], pages: Any) -> None:
    team, pair = site["rooms"]["team"], site["rooms"]["pair"]
    servers.manage(site["env"], "chatter_send", team, "carol", "Lunch at the usual place?")
    servers.manage(site["env"], "chatter_send", team, "bob", "a word from bob")
    alice = pages("alice")
    open_room(alice, pair)
    alice.get_by_role("button", name="Block bob").click()
    alice.wait_for_url(f"**/chat/{pair}/")
    expect(alice.get_by_role("button", name="Unblock bob")).to_be_visible()

    open_room(alice, team)
    collapsed = message(alice, "a word from bob")
    expect(collapsed.locator(".chatter-msg-text")).to_be_hidden()
    show = collapsed.get_by_role("button", name="Message from a blocked user — show it")
    expect(show).to_be_visible()
    # A live message of bob's collapses too; carol's page shows everything.
    carol = pages("carol")
    open_room(carol, team)
    servers.manage(site["env"], "chatter_send", team, "bob", "another word from bob")
    live = message(alice, "another word from bob")
    expect(live.locator(".chatter-blocked-show")).to_be_visible()
    expect(live.locator(".chatter-msg-text")).to_be_hidden()
    expect(message(carol, "another word from bob").locator(".chatter-msg-text")).to_be_visible()
    expect(message(carol, "a word from bob").locator(".chatter-blocked-show")).to_have_count(0)
    # The room list's preview of a last message of bob's is collapsed too, for alice only.
    entry = f"#chatter-room-{team.replace('-', '')}"
    expect(alice.locator(f"{entry} .chatter-room-preview")).to_be_hidden()
    expect(alice.locator(f"{entry} .chatter-room-blocked")).to_have_text(
        "Message from a blocked user"
    )
    expect(alice.locator(f"{entry} .chatter-room-blocked")).to_be_visible()
    expect(carol.locator(f"{entry} .chatter-room-preview")).to_contain_text("another word")
    expect(carol.locator(f"{entry} .chatter-room-blocked")).to_be_hidden()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    alice.screenshot(path=str(SCREENSHOTS / "blocked-collapsed.png"))
    show.click()
    expect(collapsed.locator(".chatter-msg-text")).to_be_visible()

    # bob cannot write to alice any more; he is told so under his composer.
    bob = pages("bob")
    open_room(bob, pair)
    say(bob, "are you there?")
    expect(bob.locator("#chatter-composer-error")).to_have_text("You cannot message this person.")
    expect(message(bob, "are you there?")).to_have_count(0)

    # Unblocked from the blocked list, his messages show again.
    alice.goto("/chat/blocked/")
    alice.get_by_role("button", name="Unblock bob").click()
    expect(alice.locator(".chatter-empty")).to_have_text("You have not blocked anyone.")
    open_room(alice, team)
    expect(message(alice, "a word from bob").locator(".chatter-msg-text")).to_be_visible()
