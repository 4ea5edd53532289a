"""What a person does, in Debian's Chromium driven by Playwright, against a real server.

One Daphne process serves the demo project on the real PostgreSQL and Redis for the whole
module; alice and bob (and carol) log in through the real login form. Screenshots of the
room page go to ``test-artifacts/screenshots/`` (``make screenshots`` writes the docs'); a
failing test leaves screenshots of its open pages in ``test-artifacts/``.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import time
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
PHONE = {"width": 390, "height": 844}
HISTORY_COUNT = 120

FILL_SCRIPT = """
import django
django.setup()
from django.contrib.auth import get_user_model
from chatter.models import Room
from tests.factories import fill_room
room = Room.objects.get(pk={room!r})
users = get_user_model().objects
fill_room(room, {count}, sender=users.get(username="carol"), text="history message {{seq}}")
Room.objects.filter(pk=room.pk).update(last_message=room.messages.get(seq=room.last_seq))
"""


# -- the server ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site() -> Iterator[dict[str, Any]]:
    """A fresh database with the demo users and three rooms, served by one Daphne."""
    with servers.database("browser") as name:
        yield from _site(name)


def _site(name: str) -> Iterator[dict[str, Any]]:
    # The tests send more than the default 20 messages in 10 s between them.
    env = servers.server_env(name, CHATTER_RATE_LIMIT_MESSAGES="1000")
    servers.manage(env, "migrate", "--noinput")
    servers.manage(env, "demo_users")
    rooms = {
        "alice-bob": servers.manage(env, "chatter_create_room", "alice", "bob").strip(),
        "carol-bob": servers.manage(env, "chatter_create_room", "carol", "bob").strip(),
        "alice-carol": servers.manage(env, "chatter_create_room", "alice", "carol").strip(),
    }
    subprocess.run(
        [sys.executable, "-c", FILL_SCRIPT.format(room=rooms["alice-carol"], count=HISTORY_COUNT)],
        cwd=servers.EXAMPLE,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    server = servers.DaphneProcess(env, log=ARTIFACTS / "daphne-browser.log")
    with server:
        yield {"env": env, "server": server, "rooms": rooms}


# -- the browser --------------------------------------------------------------------------


def log_in(browser: Any, base_url: str, username: str, viewport: dict[str, int]) -> Any:
    """A browser context of ``username``, logged in through the login form."""
    page = b.log_in(browser, base_url, username, viewport)
    page.close()
    return page.context


@pytest.fixture(scope="module")
def people(site: dict[str, Any], browser: Any) -> Iterator[dict[str, Any]]:
    """Logged-in browser contexts: alice on a desktop, bob on a phone."""
    base_url = site["server"].url
    contexts = {
        "alice": log_in(browser, base_url, "alice", DESKTOP),
        "bob": log_in(browser, base_url, "bob", PHONE),
    }
    try:
        yield contexts
    finally:
        for context in contexts.values():
            context.close()


@pytest.fixture
def pages(people: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[Any]:
    """``pages("alice")`` opens a page for alice; all are screenshotted on failure, closed after."""
    yield from b.pages_for(request, lambda name: people[name].new_page(), lambda page: page.close())


# -- helpers ------------------------------------------------------------------------------


def open_room(page: Any, room: str) -> None:
    """Open a room page and wait until its socket is connected."""
    page.goto(f"/chat/{room}/")
    expect_connected(page)


def count_messages(page: Any, text: str) -> int:
    """How many messages on the page have exactly this text."""
    return page.evaluate(
        """text => Array.from(document.querySelectorAll('#chatter-messages .chatter-msg'))
            .filter(m => m.querySelector('.chatter-msg-text').textContent.trim() === text)
            .length""",
        text,
    )


def wait_for_message(page: Any, text: str, timeout: float = 60) -> None:
    """Wait until the message list shows ``text`` (without reloading the page)."""
    deadline = time.monotonic() + timeout
    while count_messages(page, text) == 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} did not appear within {timeout} s")
        page.wait_for_timeout(50)


def seqs(page: Any) -> list[int]:
    """The data-seq of every message in the list, in page order."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('#chatter-messages .chatter-msg'))
            .map(m => parseInt(m.getAttribute('data-seq'), 10))"""
    )


def assert_ordered(page: Any) -> None:
    numbers = seqs(page)
    assert numbers == sorted(set(numbers)), numbers


def room_hex(room: str) -> str:
    return room.replace("-", "")


# -- the tests ----------------------------------------------------------------------------


def test_message_from_profile_reaches_the_other_page_live(site, pages):
    room = site["rooms"]["alice-bob"]
    bob = pages("bob")
    open_room(bob, room)

    alice = pages("alice")
    alice.goto("/users/bob/")
    alice.get_by_role("button", name=re.compile(r"^Message")).click()
    alice.wait_for_url(f"**/chat/{room}/")
    expect_connected(alice)

    say(alice, "hello")
    wait_for_message(bob, "hello")
    wait_for_message(alice, "hello")
    expect(alice.locator("#chatter-text")).to_have_value("")
    # Give a late duplicate (the live frame and a resume) the chance to show up.
    bob.wait_for_timeout(500)
    assert count_messages(bob, "hello") == 1
    assert count_messages(alice, "hello") == 1
    assert_ordered(alice)
    assert_ordered(bob)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    say(bob, "Hi Alice! How are you?")
    wait_for_message(alice, "Hi Alice! How are you?")
    say(alice, "Fine, thanks. Lunch at noon?")
    wait_for_message(bob, "Fine, thanks. Lunch at noon?")
    # The typist's message clears "is typing"; the screenshots show the room at rest.
    for page in (alice, bob):
        expect(page.locator("#chatter-typing")).to_have_text("", timeout=8_000)
        expect_connected(page)
    alice.screenshot(path=str(SCREENSHOTS / "room-desktop.png"))
    bob.screenshot(path=str(SCREENSHOTS / "room-phone.png"))


def test_unread_badge_for_another_room_appears_live(site, pages):
    bob = pages("bob")
    open_room(bob, site["rooms"]["alice-bob"])
    entry = bob.locator(f"#chatter-rooms #chatter-room-{room_hex(site['rooms']['carol-bob'])}")
    expect(entry).to_be_attached()
    # bob is on a phone: the room list is off screen, so look at the badge's own state.
    shown = entry.locator(".chatter-badge:not([hidden])")
    expect(shown).to_have_count(0)

    servers.manage(site["env"], "chatter_send", site["rooms"]["carol-bob"], "carol", "psst, bob")

    expect(shown).to_have_count(1, timeout=10_000)
    expect(shown).to_have_text(re.compile(r"^\s*1\b"))
    expect(entry).to_contain_text("psst, bob")
    # The room being viewed has no badge.
    active = bob.locator(f"#chatter-room-{room_hex(site['rooms']['alice-bob'])} .chatter-badge")
    expect(active).to_be_hidden()


def test_pages_reconnect_after_a_server_restart_and_get_what_they_missed(site, pages):
    room = site["rooms"]["alice-bob"]
    server = site["server"]
    alice, bob = pages("alice"), pages("bob")
    open_room(alice, room)
    open_room(bob, room)
    say(alice, "before the restart")
    wait_for_message(bob, "before the restart")

    server.stop()
    for page in (alice, bob):
        expect(page.locator("#chatter-status")).to_have_attribute(
            "data-state", "reconnecting", timeout=15_000
        )
    text = "while you were away"
    servers.manage(site["env"], "chatter_send", room, "alice", text)

    server.start()
    restarted = time.monotonic()
    seen: dict[str, float] = {}
    deadline = restarted + 90
    while len(seen) < 2 and time.monotonic() < deadline:
        for name, page in (("alice", alice), ("bob", bob)):
            if name not in seen and count_messages(page, text):
                seen[name] = time.monotonic() - restarted
        alice.wait_for_timeout(100)
    timings = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in sorted(seen.items()))
    print(f"\nreconnect: message visible after restart: {timings}")
    assert len(seen) == 2, f"only {timings or 'nobody'} saw the message within 90 s"

    for page in (alice, bob):
        expect_connected(page)
        page.wait_for_timeout(300)
        assert count_messages(page, text) == 1
        assert count_messages(page, "before the restart") == 1
        assert_ordered(page)
        last = page.locator("#chatter-messages .chatter-msg").last
        expect(last.locator(".chatter-msg-text")).to_have_text(text)


def test_markup_in_messages_is_shown_as_text(site, pages):
    room = site["rooms"]["alice-bob"]
    alice, bob = pages("alice"), pages("bob")
    open_room(alice, room)
    open_room(bob, room)
    texts = [
        """<img src=x onerror="document.title='pwned'">""",
        '<b hx-get="/chat/">bold</b>',
    ]
    for text in texts:
        say(alice, text)
        wait_for_message(bob, text)
    bob.wait_for_timeout(500)
    for page in (alice, bob):
        for text in texts:
            assert count_messages(page, text) == 1
        assert page.locator(".chatter-msg-text img, .chatter-msg-text b").count() == 0
        assert page.title() != "pwned"
    # After a reload the stored messages are still text.
    bob.reload()
    expect_connected(bob)
    for text in texts:
        assert count_messages(bob, text) == 1
    assert bob.locator(".chatter-msg-text img, .chatter-msg-text b").count() == 0
    assert bob.title() != "pwned"


def test_refused_send_shows_the_error_and_keeps_the_text(site, pages):
    alice = pages("alice")
    open_room(alice, site["rooms"]["alice-bob"])
    before = seqs(alice)
    text = "x" * 4001
    say(alice, text)
    expect(alice.locator("#chatter-composer-error")).to_contain_text("too long")
    expect(alice.locator("#chatter-text")).to_have_value(text)
    expect(alice.locator("#chatter-status")).to_have_attribute("data-state", "connected")
    assert seqs(alice) == before

    # The socket still works: the next message goes through and clears the error.
    say(alice, "shorter, then")
    wait_for_message(alice, "shorter, then")
    expect(alice.locator("#chatter-text")).to_have_value("")


SCROLLER = """() => {
    const list = document.getElementById('chatter-messages');
    return list.closest('[data-chatter-scroll]') || list;
}"""


def test_history_opens_scrolled_to_the_newest_message(site, pages):
    alice = pages("alice")
    open_room(alice, site["rooms"]["alice-carol"])
    expect(alice.locator(f"#chatter-msg-{HISTORY_COUNT}")).to_be_in_viewport()
    assert alice.locator("#chatter-msg-1").count() == 0
    below = alice.evaluate(
        f"() => {{ const s = ({SCROLLER})(); "
        "return s.scrollHeight - s.scrollTop - s.clientHeight; }"
    )
    assert below < 40
    numbers = seqs(alice)
    assert numbers == list(range(numbers[0], HISTORY_COUNT + 1))


def test_scrolling_to_the_top_loads_older_pages_until_the_first(site, pages):
    alice = pages("alice")
    open_room(alice, site["rooms"]["alice-carol"])
    expect(alice.locator(f"#chatter-msg-{HISTORY_COUNT}")).to_be_in_viewport()
    deadline = time.monotonic() + 15
    while alice.locator("#chatter-msg-1").count() == 0:
        assert time.monotonic() < deadline, f"older pages did not load: {seqs(alice)[:3]}..."
        alice.evaluate(f"() => {{ ({SCROLLER})().scrollTop = 0; }}")
        alice.wait_for_timeout(200)
    alice.wait_for_timeout(300)
    assert seqs(alice) == list(range(1, HISTORY_COUNT + 1))
    expect(alice.locator("#chatter-older")).to_have_count(0)


HOLE_SCRIPT = """
import django
django.setup()
from django.contrib.auth import get_user_model
from chatter import messages, rooms
from chatter.models import Room
room = Room.objects.get(pk={room!r})
carol = get_user_model().objects.get(username="carol")
deleted, _ = messages.send_message(room, carol, "deleted by a moderator")
messages.send_message(room, carol, "after the deleted one")
deleted.delete()
"""


def test_a_deleted_message_leaves_a_hole_without_a_resume_storm(site, pages):
    """A hole the server cannot fill is asked for once, not after every answer."""
    room = site["rooms"]["carol-bob"]
    bob = pages("bob")
    resumes: list[str] = []
    bob.on(
        "websocket",
        lambda ws: ws.on(
            "framesent",
            lambda payload: resumes.append(payload) if '"resume"' in str(payload) else None,
        ),
    )
    open_room(bob, room)
    bob.wait_for_timeout(300)
    resumes.clear()
    subprocess.run(
        [sys.executable, "-c", HOLE_SCRIPT.format(room=room)],
        cwd=servers.EXAMPLE,
        env=site["env"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    servers.manage(site["env"], "chatter_send", room, "carol", "the doorbell")
    wait_for_message(bob, "the doorbell")
    bob.wait_for_timeout(1500)
    assert count_messages(bob, "after the deleted one") == 1
    assert count_messages(bob, "deleted by a moderator") == 0
    assert len(resumes) <= 1, f"{len(resumes)} resumes for one hole"
    assert_ordered(bob)


# -- the room list: computed by each page from room-level updates --------------------------


def entry(page: Any, room: str) -> Any:
    return page.locator(f"#chatter-rooms #chatter-room-{room_hex(room)}")


def test_room_list_order_badges_and_the_newest_preview(site, pages):
    bob = pages("bob")
    bob.goto("/chat/")
    expect_connected(bob)
    carol_bob, alice_bob = site["rooms"]["carol-bob"], site["rooms"]["alice-bob"]
    servers.manage(site["env"], "chatter_send", carol_bob, "carol", "list one")
    expect(entry(bob, carol_bob)).to_contain_text("list one", timeout=60_000)
    servers.manage(site["env"], "chatter_send", alice_bob, "alice", "list two")
    expect(entry(bob, alice_bob)).to_contain_text("list two", timeout=60_000)
    # The room of the newest message is on top; each badge is the page's own count.
    first = bob.locator("#chatter-rooms > li").first
    expect(first).to_have_attribute("id", f"chatter-room-{room_hex(alice_bob)}")
    unread = entry(bob, carol_bob).locator(".chatter-badge-count")
    before = int(unread.inner_text())
    servers.manage(site["env"], "chatter_send", carol_bob, "carol", "list three")
    expect(entry(bob, carol_bob)).to_contain_text("list three", timeout=60_000)
    expect(unread).to_have_text(str(before + 1))
    expect(first).to_have_attribute("id", f"chatter-room-{room_hex(carol_bob)}")
    # A late update (an older sequence) never overwrites a newer preview.
    seq = int(entry(bob, carol_bob).get_attribute("data-seq"))
    bob.evaluate(
        """([hex, seq]) => {
            const item = document.createElement("i");
            item.setAttribute("data-kind", "room");
            item.setAttribute("data-room", hex);
            item.setAttribute("data-seq", String(seq - 1));
            item.setAttribute("data-sender", "0");
            item.setAttribute("data-time", new Date().toISOString());
            item.textContent = "stale preview";
            document.getElementById("chatter-feed").appendChild(item);
            document.dispatchEvent(new CustomEvent("htmx:wsAfterMessage"));
        }""",
        [room_hex(carol_bob), seq],
    )
    expect(entry(bob, carol_bob)).to_contain_text("list three")
    expect(entry(bob, carol_bob)).not_to_contain_text("stale preview")
    expect(unread).to_have_text(str(before + 1))


def test_reading_in_one_tab_clears_the_badge_in_another(site, pages):
    room = site["rooms"]["carol-bob"]
    lobby = pages("bob")
    lobby.goto("/chat/")
    expect_connected(lobby)
    servers.manage(site["env"], "chatter_send", room, "carol", "read me elsewhere")
    badge = entry(lobby, room).locator(".chatter-badge")
    expect(badge).to_be_visible(timeout=60_000)
    reader = pages("bob")
    open_room(reader, room)  # the page marks the room read: the other tab learns it
    expect(badge).to_be_hidden(timeout=60_000)


def test_a_new_group_appears_in_the_members_lists_live(site, pages):
    bob = pages("bob")
    bob.goto("/chat/")
    expect_connected(bob)
    alice = pages("alice")
    alice.goto("/chat/")
    alice.locator("summary", has_text="New group").click()
    alice.fill("#id_name", "Live group")
    # With the mouse this time: type, click the option.
    for query, username in (("bob", "bob"), ("carol", "carol")):
        alice.locator("#chatter-picker-input").fill(query)
        alice.locator(f"#chatter-picker-listbox [data-username='{username}']").click()
    expect(alice.locator("#chatter-picker-chips .chatter-chip")).to_have_count(2)
    alice.get_by_role("button", name="Create group").click()
    alice.wait_for_url(re.compile(r".*/chat/[0-9a-f-]{36}/$"))
    room = alice.url.rstrip("/").rsplit("/", 1)[1]
    expect(entry(bob, room)).to_contain_text("Live group", timeout=60_000)
    say(alice, "welcome to the group")
    expect(entry(bob, room)).to_contain_text("Alice Anders: welcome to the group", timeout=60_000)
    expect(entry(bob, room).locator(".chatter-badge-count")).to_have_text("1")


def test_new_group_members_picked_with_the_keyboard_only(site, pages):
    """The "New group" picker by keyboard: type, Down, Enter picks; Backspace in the empty
    input removes the last person; Escape closes the options; Enter in the empty input
    creates the group, which opens with the people picked."""
    alice = pages("alice")
    alice.goto("/chat/")
    expect_connected(alice)
    summary = alice.locator(".chatter-new-group summary")
    summary.focus()
    alice.keyboard.press("Enter")
    expect(alice.locator("#chatter-group-form")).to_be_visible()
    # chatter.js put the picker in the place of the usernames text field.
    box = alice.locator("#chatter-picker-input")
    expect(box).to_be_visible()
    expect(alice.locator("#id_usernames")).to_be_hidden()
    expect(alice.locator("#id_usernames")).to_be_disabled()
    alice.keyboard.press("Tab")
    expect(alice.locator("#id_name")).to_be_focused()
    alice.keyboard.type("Picked by keyboard")
    alice.keyboard.press("Tab")
    expect(box).to_be_focused()
    listbox = alice.locator("#chatter-picker-listbox")
    chips = alice.locator("#chatter-picker-chips .chatter-chip")

    def options_for(text: str, username: str) -> Any:
        alice.keyboard.type(text)
        option = listbox.locator(f"[role='option'][data-username='{username}']")
        expect(option).to_be_visible(timeout=30_000)
        expect(box).to_have_attribute("aria-expanded", "true")
        return option

    def choose(option: Any) -> None:
        alice.keyboard.press("ArrowDown")
        expect(option).to_have_attribute("aria-selected", "true")
        expect(box).to_have_attribute("aria-activedescendant", option.get_attribute("id"))
        alice.keyboard.press("Enter")
        expect(listbox).to_be_hidden()
        expect(box).to_have_value("")
        expect(box).to_be_focused()

    choose(options_for("car", "carol"))
    expect(chips).to_have_count(1)
    expect(chips.first).to_contain_text("Carol Chen")
    alice.keyboard.press("Backspace")
    expect(chips).to_have_count(0)

    bob = options_for("bo", "bob")
    alice.keyboard.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).to_have_value("bo")
    choose(bob)  # Down opens the options again
    choose(options_for("car", "carol"))
    expect(chips).to_have_count(2)
    values = alice.locator("#chatter-picker-chips input[type='hidden'][name='usernames']")
    assert [values.nth(i).input_value() for i in range(2)] == ["bob", "carol"]
    remove = chips.first.get_by_role("button")
    expect(remove).to_have_attribute("aria-label", "Remove Bob Brown")

    alice.keyboard.press("Enter")  # the input is empty: the form is sent
    alice.wait_for_url(re.compile(r".*/chat/[0-9a-f-]{36}/$"), timeout=30_000)
    expect_connected(alice)
    members = alice.locator("#chatter-members")
    for name in ("Alice Anders", "Bob Brown", "Carol Chen"):
        expect(members).to_contain_text(name)


POST_GROUP = """usernames => {
    // What the form without JavaScript would send: the usernames as text.
    const form = document.getElementById('chatter-group-form');
    const field = document.getElementById('id_usernames');
    field.disabled = false;
    field.value = usernames;
    form.querySelectorAll("#chatter-picker input").forEach(i => { i.disabled = true; });
    form.submit();
}"""


def test_new_group_form_shown_again_keeps_its_people_as_chips(site, pages):
    """A form sent back with an error (here an unknown username) shows the people it
    named as chips of the picker, and the error."""
    alice = pages("alice")
    alice.goto("/chat/")
    expect(alice.locator("#chatter-picker")).to_be_attached()
    alice.evaluate(POST_GROUP, "bob, ghost")
    expect(alice.locator("#chatter-picker-error")).to_have_text("No such user: ghost.")
    chips = alice.locator("#chatter-picker-chips .chatter-chip")
    expect(chips).to_have_count(2)
    expect(chips.nth(1)).to_contain_text("ghost")
    expect(alice.locator("#id_usernames")).to_be_hidden()
    # Remove the unknown one by its button; bob stays.
    chips.nth(1).get_by_role("button", name="Remove ghost").click()
    expect(chips).to_have_count(1)
    expect(alice.locator("#chatter-picker-input")).to_be_focused()
    expect(chips.first.locator("input[name='usernames']")).to_have_value("bob")


def test_reads_are_sent_at_most_once_a_second(site, pages):
    room = site["rooms"]["alice-bob"]
    bob = pages("bob")
    # Timestamps taken in the page when each frame leaves (Playwright's own events are
    # delivered late, whenever the test calls into it).
    bob.add_init_script(
        """(() => {
            window.__sent = [];
            const send = WebSocket.prototype.send;
            WebSocket.prototype.send = function (data) {
                window.__sent.push([performance.now(), String(data)]);
                return send.call(this, data);
            };
        })();"""
    )
    open_room(bob, room)
    for i in range(12):
        servers.manage(site["env"], "chatter_send", room, "alice", f"burst {i}")
    wait_for_message(bob, "burst 11")
    newest = bob.locator("#chatter-messages > .chatter-msg").last.get_attribute("data-seq")
    expect(bob.locator("#chatter-messages")).to_have_attribute("data-read-seq", newest)
    sent = bob.evaluate("window.__sent")
    reads = [at for at, data in sent if '"type":"read"' in data]
    assert reads, sent
    gaps = [later - earlier for earlier, later in itertools.pairwise(reads)]
    assert all(gap >= 990 for gap in gaps), gaps  # milliseconds, by the page's clock
    seqs_read = [json.loads(data)["seq"] for _, data in sent if '"type":"read"' in data]
    assert seqs_read == sorted(set(seqs_read))  # only when the position moved


# -- accessibility ------------------------------------------------------------------------

VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}


@pytest.fixture(scope="module")
def a11y_room(site: dict[str, Any]) -> str:
    """alice and bob's room with a message of each (own and others' messages both show)."""
    room = site["rooms"]["alice-bob"]
    servers.manage(site["env"], "chatter_send", room, "bob", "Are you there, Alice?")
    servers.manage(site["env"], "chatter_send", room, "alice", "Yes, reading along.")
    return room


def check_axe(page: Any, what: str, found: dict[str, list[dict[str, Any]]]) -> None:
    """Run axe on the page as it is now and keep its violations under ``what``."""
    found[what] = b.axe_violations(page)


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_room_page_and_room_list_pass_axe(site, a11y_room, pages, scheme, viewport):
    """No serious or critical axe-core violation, in both colour schemes, on a phone and a
    desktop: the room list (with search results and the new-group form open), a room with
    messages of both people, and a room with a long history (older-page loader)."""
    page = pages("alice")
    page.set_viewport_size(VIEWPORTS[viewport])
    page.emulate_media(color_scheme=scheme)
    found: dict[str, list[dict[str, Any]]] = {}

    page.goto("/chat/")
    expect_connected(page)
    check_axe(page, "room list", found)
    page.locator("#chatter-search-q").fill("bo")
    expect(page.locator("#chatter-user-results .chatter-person")).not_to_have_count(0)
    page.locator(".chatter-new-group summary").click()
    expect(page.locator("#chatter-group-form")).to_be_visible()
    check_axe(page, "room list, search and new group", found)

    open_room(page, a11y_room)
    wait_for_message(page, "Yes, reading along.")
    check_axe(page, "room", found)

    open_room(page, site["rooms"]["alice-carol"])
    check_axe(page, "room with history", found)

    report = "\n".join(
        f"{what}:\n{b.describe_violations(violations)}" for what, violations in found.items()
    )
    print(f"\naxe ({scheme}, {viewport}):\n{report}")
    failing = {
        what: [v for v in violations if v["impact"] in b.AXE_FAILING]
        for what, violations in found.items()
    }
    assert not any(failing.values()), "\n".join(
        f"{what}:\n{b.describe_violations(violations)}"
        for what, violations in failing.items()
        if violations
    )


def test_opening_a_room_focuses_the_composer(site, pages):
    page = pages("alice")
    page.goto("/chat/")
    page.locator(f"#chatter-room-{room_hex(site['rooms']['alice-carol'])} a").click()
    page.wait_for_url(f"**/chat/{site['rooms']['alice-carol']}/")
    expect(page.locator("#chatter-text")).to_be_focused()
    expect_connected(page)
    expect(page.locator("#chatter-text")).to_be_focused()


FOCUS_RING = """() => {
    const el = document.activeElement, style = getComputedStyle(el);
    return {id: el.id, outline: style.outlineStyle, width: parseFloat(style.outlineWidth),
            color: style.outlineColor};
}"""


def tab_to(page: Any, selector: str, presses: int = 15) -> None:
    """Press Tab until the element ``selector`` has the focus (at most ``presses`` times)."""
    target = page.locator(selector)
    for _ in range(presses):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"{selector} not reached in {presses} presses of Tab")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_keyboard_only_skip_link_focus_ring_and_send_with_enter(site, a11y_room, pages, scheme):
    """From the top of the page: the skip link, then the message list, then the composer,
    each with a visible focus ring; Enter sends."""
    page = pages("alice")
    page.emulate_media(color_scheme=scheme)
    open_room(page, a11y_room)
    page.evaluate("() => document.activeElement.blur()")

    tab_to(page, ".chatter-skip")
    skip = page.locator(".chatter-skip")
    expect(skip).to_be_in_viewport()
    box = skip.bounding_box()
    assert box and box["width"] > 20 and box["height"] > 10, box
    assert_focus_ring(page)
    page.keyboard.press("Enter")
    expect(page.locator("#chatter-messages")).to_be_focused()
    assert_focus_ring(page)

    tab_to(page, "#chatter-text", presses=5)
    assert_focus_ring(page)
    text = f"sent by keyboard ({scheme})"
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    wait_for_message(page, text)
    expect(page.locator("#chatter-text")).to_have_value("")
    expect(page.locator("#chatter-text")).to_be_focused()


def assert_focus_ring(page: Any) -> None:
    """The focused element has a solid outline at least 2 px wide (the focus colour)."""
    ring = page.evaluate(FOCUS_RING)
    assert ring["outline"] != "none" and ring["width"] >= 2, ring


WATCH_LOG = """() => {
    // What changes in the message list, except inside the elements added since watching
    // began (a new message's time is set as it arrives, before anything is announced).
    const log = document.getElementById('chatter-messages');
    const added = new Set();
    window.__logChanges = [];
    new MutationObserver(records => {
        for (const r of records) {
            const node = r.target.nodeType === 1 ? r.target : r.target.parentNode;
            const owner = node === log ? log : node.closest('.chatter-msg, .chatter-day') || node;
            if (owner !== log && added.has(owner)) continue;
            if (r.type === 'characterData') {
                window.__logChanges.push(['text', owner.className, r.target.textContent]);
                continue;
            }
            for (const n of r.addedNodes) {
                if (owner === log && n.nodeType === 1) {
                    added.add(n);
                    window.__logChanges.push(['added', n.className, n.textContent.trim()]);
                } else if (n.nodeType === 1 || n.textContent.trim()) {
                    window.__logChanges.push(['rewritten', owner.className, n.textContent.trim()]);
                }
            }
            for (const n of r.removedNodes) {
                if (n.nodeType === 1) window.__logChanges.push(['removed', n.className]);
            }
        }
    }).observe(log, {childList: true, subtree: true, characterData: true});
}"""


def test_message_log_announces_each_new_message_once(site, a11y_room, pages):
    """The list is a log that announces additions only, and a new message adds just its own
    element: nothing already there is removed, re-added or rewritten (which a screen reader
    would read out again)."""
    room = a11y_room
    alice, bob = pages("alice"), pages("bob")
    open_room(alice, room)
    open_room(bob, room)
    log = alice.locator("#chatter-messages")
    expect(log).to_have_attribute("role", "log")
    expect(log).to_have_attribute("aria-relevant", "additions")
    expect(log).to_have_attribute("aria-label", re.compile(r"\S"))
    alice.wait_for_timeout(500)  # let the page's first decoration settle
    alice.evaluate(WATCH_LOG)

    texts = ["first of two", "second of two"]
    for text in texts:
        say(bob, text)
        wait_for_message(alice, text)
    alice.wait_for_timeout(1_000)  # "Seen by", presence and typing frames come and go

    changes = alice.evaluate("() => window.__logChanges")
    added = [c for c in changes if c[0] == "added" and "chatter-msg" in c[1]]
    assert [c[2].endswith(t) for c, t in zip(added, texts, strict=True)] == [True, True], changes
    others = [c for c in changes if c not in added]
    # A new day (the test ran over midnight) may add its separator; nothing else may change.
    assert all(c[0] == "added" and c[1] == "chatter-day" for c in others), others


def test_a_german_page_in_an_english_browser_speaks_german(site, a11y_room, browser):
    """The language cookie picks German (LocaleMiddleware); chatter.js writes days and
    times in the page's language (<html lang="de">), not in the browser's (en-US)."""
    url = site["server"].url
    page = b.log_in(browser, url, "alice", DESKTOP, locale="en-US")
    try:
        page.context.add_cookies([{"name": "django_language", "value": "de", "url": url}])
        open_room(page, a11y_room)
        assert page.evaluate("() => navigator.language") == "en-US"
        expect(page.locator("html")).to_have_attribute("lang", "de")
        expect(page.locator("#chatter-status")).to_have_text("Verbunden")
        expect(page.locator("#chatter-text")).to_have_attribute(
            "placeholder", "Nachricht schreiben…"
        )
        expect(page.locator(".chatter-skip")).to_have_text("Zur Unterhaltung springen")
        days = page.locator("#chatter-messages > .chatter-day")
        expect(days.last).to_have_text(re.compile(r"^(Heute|Gestern)$"))
        times = page.locator("#chatter-messages .chatter-msg time").all_inner_texts()
        assert times and all(re.fullmatch(r"\d{1,2}:\d\d", t) for t in times), times
    finally:
        page.context.close()


SET_TIMES = """() => {
    // Today at 02:31 UTC, on the newest message and on the room's entry in the list; then
    // what chatter.js does after a frame (decorate the messages, tidy the room list).
    const when = new Date();
    when.setUTCHours(2, 31, 0, 0);
    const iso = when.toISOString();
    const messages = document.querySelectorAll('#chatter-messages > .chatter-msg');
    messages[messages.length - 1].setAttribute('data-time', iso);
    const hex = document.getElementById('chatter-room').getAttribute('data-room').replace(/-/g, '');
    const entry = document.getElementById('chatter-room-' + hex);
    entry.querySelector('.chatter-room-time').setAttribute('datetime', iso);
    document.dispatchEvent(new CustomEvent('htmx:wsAfterMessage'));
}"""


def test_times_follow_the_readers_locale(site, a11y_room, browser):
    """Message and room-list times as the locale writes them: "2:31 AM" in en-US, no
    leading zero."""
    url = site["server"].url
    page = b.log_in(browser, url, "alice", DESKTOP, locale="en-US", timezone_id="UTC")
    try:
        open_room(page, a11y_room)
        page.evaluate(SET_TIMES)
        hex_id = room_hex(a11y_room)
        for time in (
            page.locator("#chatter-messages > .chatter-msg").last.locator("time"),
            page.locator(f"#chatter-room-{hex_id} .chatter-room-time"),
        ):
            expect(time).to_have_text(re.compile(r"^2:31\sAM$"))
    finally:
        page.context.close()
