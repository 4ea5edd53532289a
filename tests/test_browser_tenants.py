"""``make demo-tenants`` in a browser: two tenants chatting side by side, kept apart.

One Daphne serves ``settings_tenants`` (django-tenants) on a fresh PostgreSQL database
prepared by ``manage.py demo_tenants`` (tenants alpha and beta, each with alice and bob),
with the real Redis channel layer. One Chromium holds four logged-in contexts: alice and
bob of ``alpha.localhost`` and of ``beta.localhost``. The users of both tenants have the
same ids, so this checks that equal ids of two tenants never meet. Screenshots of bob's
room on each tenant go to ``test-artifacts/screenshots/`` (``make screenshots``: the
docs'); a failure leaves screenshots of
every page in ``test-artifacts/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests import servers
from tests.browser import ARTIFACTS, SCREENSHOTS, expect_connected, log_in, say

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

TENANTS = ("alpha", "beta")
USERS = ("alice", "bob")
VIEWPORT = {"width": 1024, "height": 700}


# -- the server ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site() -> Iterator[servers.DaphneProcess]:
    """The multi-tenant demo on a fresh database, served by one Daphne."""
    with servers.database("browser_tenants") as name:
        env = servers.server_env(name, CHATTER_RATE_LIMIT_MESSAGES="1000")
        env["DJANGO_SETTINGS_MODULE"] = "settings_tenants"
        servers.manage(env, "demo_tenants")
        ARTIFACTS.mkdir(exist_ok=True)
        log = ARTIFACTS / "daphne-browser-tenants.log"
        with servers.DaphneProcess(env, log=log, host="alpha.localhost") as server:
            yield server


def tenant_url(server: servers.DaphneProcess, tenant: str) -> str:
    return f"http://{tenant}.localhost:{server.port}"


# -- the browser --------------------------------------------------------------------------


@pytest.fixture
def pages(
    site: servers.DaphneProcess, browser: Any, request: pytest.FixtureRequest
) -> Iterator[dict[str, Any]]:
    """``pages["alpha-alice"]`` etc.: a page of each user of each tenant, logged in."""
    contexts: list[Any] = []
    opened: dict[str, Any] = {}
    failed_before = request.session.testsfailed
    try:
        for tenant in TENANTS:
            for username in USERS:
                page = log_in(browser, tenant_url(site, tenant), username, VIEWPORT)
                contexts.append(page.context)
                opened[f"{tenant}-{username}"] = page
        yield opened
    finally:
        if request.session.testsfailed > failed_before:
            for name, page in opened.items():
                path = ARTIFACTS / f"{request.node.name}-{name}.png"
                try:
                    page.screenshot(path=str(path), full_page=True)
                except Exception as exc:  # a screenshot must not hide the failure
                    print(f"could not screenshot {path.name}: {exc}")
        for context in contexts:
            context.close()


# -- helpers ------------------------------------------------------------------------------


def message(page: Any, text: str) -> Any:
    """The messages on the page whose text is exactly ``text``."""
    return page.locator("#chatter-messages .chatter-msg-text").filter(
        has_text=re.compile(rf"^\s*{re.escape(text)}\s*$")
    )


def message_bob(page: Any) -> str:
    """From bob's profile, click "Message"; return the room id the button led to."""
    page.goto("/users/bob/")
    page.get_by_role("button", name=re.compile(r"^Message")).click()
    page.wait_for_url(re.compile(r"/chat/[0-9a-f-]{36}/$"))
    expect_connected(page)
    return page.locator("#chatter-room").get_attribute("data-room")


def room_entry(page: Any, room: str) -> Any:
    return page.locator(f"#chatter-rooms #chatter-room-{room.replace('-', '')}")


def assert_never_shows(page: Any, *texts: str) -> None:
    body = page.locator("body").inner_text()
    for text in texts:
        assert text not in body, f"{page.url} shows {text!r}"


# -- the test -----------------------------------------------------------------------------


def test_two_tenants_chat_side_by_side_without_meeting(site, browser, pages):
    # Bob opens his room with alice from his room list, on each tenant.
    rooms: dict[str, str] = {}
    for tenant in TENANTS:
        bob = pages[f"{tenant}-bob"]
        entries = bob.locator("#chatter-rooms li[id^='chatter-room-']")
        expect(entries).to_have_count(1)
        entries.first.locator("a.chatter-room-link").click()
        bob.wait_for_url(re.compile(r"/chat/[0-9a-f-]{36}/$"))
        expect_connected(bob)
        rooms[tenant] = bob.locator("#chatter-room").get_attribute("data-room")
    assert rooms["alpha"] != rooms["beta"]

    # Alice messages bob from his profile, on each tenant; it is the same room.
    for tenant in TENANTS:
        assert message_bob(pages[f"{tenant}-alice"]) == rooms[tenant]

    # The ids are per schema: alice (and bob) have the same id on both tenants.
    me = {
        name: page.locator("#chatter-room").get_attribute("data-me") for name, page in pages.items()
    }
    assert me["alpha-alice"] == me["beta-alice"], me
    assert me["alpha-bob"] == me["beta-bob"], me
    assert me["alpha-alice"] != me["alpha-bob"], me

    say(pages["alpha-alice"], "hello from alpha")
    say(pages["beta-alice"], "hello from beta")
    for tenant in TENANTS:
        for username in USERS:
            expect(message(pages[f"{tenant}-{username}"], f"hello from {tenant}")).to_have_count(
                1, timeout=10_000
            )
    # Give a stray frame of the other tenant the chance to show up.
    pages["alpha-bob"].wait_for_timeout(500)
    for tenant, other in zip(TENANTS, reversed(TENANTS), strict=True):
        for username in USERS:
            page = pages[f"{tenant}-{username}"]
            expect(message(page, f"hello from {tenant}")).to_have_count(1)
            assert_never_shows(page, f"hello from {other}")
            expect_connected(page)

    # Bob's room on each tenant, at rest, for the docs.
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for tenant in TENANTS:
        bob = pages[f"{tenant}-bob"]
        expect(bob.locator("#chatter-typing")).to_have_text("", timeout=8_000)
        expect_connected(bob)
        bob.screenshot(path=str(SCREENSHOTS / f"tenants-{tenant}.png"))

    # Bob goes to his room list; a new message of his tenant, and only that, gets a badge.
    # The list page has no #chatter-status; the flag set on htmx:wsOpen says it is live.
    for tenant in TENANTS:
        bob = pages[f"{tenant}-bob"]
        bob.goto("/chat/")
        expect(bob.locator("#chatter-status")).to_have_attribute("data-state", "connected")
        expect(room_entry(bob, rooms[tenant]).locator(".chatter-badge")).to_be_hidden()
    say(pages["alpha-alice"], "again from alpha")
    say(pages["beta-alice"], "again from beta")
    for tenant in TENANTS:
        bob = pages[f"{tenant}-bob"]
        entry = room_entry(bob, rooms[tenant])
        expect(entry).to_contain_text(f"again from {tenant}", timeout=10_000)
        expect(entry.locator(".chatter-badge")).to_be_visible()
        expect(entry.locator(".chatter-badge")).to_have_text(re.compile(r"^\s*1\b"))
    pages["alpha-bob"].wait_for_timeout(500)
    for tenant, other in zip(TENANTS, reversed(TENANTS), strict=True):
        bob = pages[f"{tenant}-bob"]
        entries = bob.locator("#chatter-rooms li[id^='chatter-room-']")
        expect(entries).to_have_count(1)
        expect(room_entry(bob, rooms[other])).to_have_count(0)
        expect(room_entry(bob, rooms[tenant]).locator(".chatter-badge")).to_have_text(
            re.compile(r"^\s*1\b")
        )
        assert_never_shows(bob, f"again from {other}", f"hello from {other}")
    # Back in the room, bob has both messages of his tenant, and his socket is connected.
    for tenant, other in zip(TENANTS, reversed(TENANTS), strict=True):
        bob = pages[f"{tenant}-bob"]
        room_entry(bob, rooms[tenant]).locator("a.chatter-room-link").click()
        bob.wait_for_url(f"**/chat/{rooms[tenant]}/")
        for text in (f"hello from {tenant}", f"again from {tenant}"):
            expect(message(bob, text)).to_have_count(1)
        assert_never_shows(bob, f"hello from {other}", f"again from {other}")
    for page in pages.values():
        expect_connected(page)

    # Beta's room id on alpha's host, opened by alpha's alice (same user id as beta's): 404.
    alice = pages["alpha-alice"]
    response = alice.goto(f"/chat/{rooms['beta']}/")
    assert response is not None and response.status == 404
    assert_never_shows(alice, "hello from beta", "again from beta")

    # Alpha's session cookie presented on beta's host means nothing there: the login page.
    session = next(c for c in alice.context.cookies() if c["name"] == "sessionid")
    assert session["domain"] == "alpha.localhost"
    stranger = browser.new_context(base_url=tenant_url(site, "beta"), viewport=VIEWPORT)
    try:
        stranger.add_cookies([{**session, "domain": "beta.localhost", "path": "/"}])
        page = stranger.new_page()
        page.goto(f"/chat/{rooms['beta']}/")
        assert re.search(r"/login/\?next=", page.url), page.url
        expect(page.locator("#id_username")).to_be_visible()
        page.goto("/chat/")
        assert "/login/" in page.url, page.url
    finally:
        stranger.close()
