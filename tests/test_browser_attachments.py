"""Attachments in a real browser: alice drags a picture onto the conversation (a drop with
a DataTransfer built in the page) and sends it; bob's page shows its thumbnail live. A
file chosen with the attach button arrives as a download card; a refused one is said
under the composer.

The module serves its own demo site (a fresh database, one Daphne, its files in a
temporary directory), so it runs alone: ``pytest -m browser -k attachments``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests import servers
from tests.browser import ARTIFACTS, SCREENSHOTS, say
from tests.test_browser import (  # noqa: F401 (its fixtures serve this module too)
    open_room,
    pages,
    people,
    wait_for_message,
)

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

#: Paints a picture in the page, wraps it in a File and drops it on the conversation:
#: dragenter, dragover and drop, as a drag from the desktop fires them.
DROP_PICTURE = """async ([name, where]) => {
    const canvas = document.createElement("canvas");
    canvas.width = 800; canvas.height = 500;
    const ctx = canvas.getContext("2d");
    const sky = ctx.createLinearGradient(0, 0, 0, 500);
    sky.addColorStop(0, "#f97316");
    sky.addColorStop(0.6, "#fb7185");
    sky.addColorStop(1, "#1e3a8a");
    ctx.fillStyle = sky; ctx.fillRect(0, 0, 800, 500);
    ctx.fillStyle = "#fde047"; ctx.beginPath(); ctx.arc(400, 330, 90, 0, Math.PI * 2); ctx.fill();
    ctx.fillStyle = "#1e3a8a"; ctx.fillRect(0, 360, 800, 140);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    const transfer = new DataTransfer();
    transfer.items.add(new File([blob], name, {type: "image/png"}));
    const target = document.querySelector(where);
    for (const type of ["dragenter", "dragover", "drop"]) {
        const init = {bubbles: true, cancelable: true, dataTransfer: transfer};
        target.dispatchEvent(new DragEvent(type, init));
    }
    return blob.size;
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The demo with alice and bob's room, its files in a directory of this module."""
    media = tmp_path_factory.mktemp("media")
    with servers.database("browser_attach") as name:
        env = servers.server_env(
            name,
            CHATTER_RATE_LIMIT_MESSAGES="1000",
            # Taking the docs' screenshots sends more files than ten a minute.
            CHATTER_FRAME_LIMITS_JSON='{"upload": [1000, 60]}',
            CHATTER_MEDIA_ROOT=str(media),
        )
        servers.manage(env, "migrate", "--noinput")
        servers.manage(env, "demo_users")
        room = servers.manage(env, "chatter_create_room", "alice", "bob").strip()
        ARTIFACTS.mkdir(exist_ok=True)
        server = servers.DaphneProcess(env, log=ARTIFACTS / "daphne-browser-attachments.log")
        with server:
            yield {"env": env, "server": server, "rooms": {"alice-bob": room}, "media": media}


def stored(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file()]


def test_a_dragged_picture_reaches_the_other_page_as_a_thumbnail(site, pages):
    room = site["rooms"]["alice-bob"]
    alice, bob = pages("alice"), pages("bob")
    open_room(alice, room)
    open_room(bob, room)

    # A drop beside the conversation (the room list) attaches nothing and opens nothing.
    alice.evaluate(DROP_PICTURE, ["elsewhere.png", ".chatter-sidebar"])
    size = alice.evaluate(DROP_PICTURE, ["sunset.png", "#chatter-messages"])
    assert size > 1000
    chip = alice.locator("#chatter-attach-chips .chatter-attach-chip")
    expect(chip).to_have_count(1)
    expect(chip).to_contain_text("sunset.png")
    assert alice.url.endswith(f"/chat/{room}/")
    say(alice, "The sun going down at the lake")

    picture = bob.locator("#chatter-messages .chatter-file-image img")
    expect(picture).to_have_count(1, timeout=60_000)
    expect(picture).to_have_attribute("width", "320")
    expect(picture).to_have_attribute("height", "200")
    expect(picture).to_have_attribute("alt", "sunset.png")
    bob.wait_for_function(
        "() => { const i = document.querySelector('.chatter-file-image img');"
        " return i && i.complete && i.naturalWidth === 320; }",
        timeout=60_000,
    )
    message = bob.locator("#chatter-messages article.chatter-msg").filter(
        has=bob.locator(".chatter-file-image img")
    )
    expect(message).to_contain_text("The sun going down at the lake")
    expect(message.locator(".chatter-file-meta")).to_contain_text("sunset.png")
    # The sender's composer is empty again, and its own page shows the picture too.
    expect(chip).to_have_count(0)
    expect(alice.locator("#chatter-text")).to_have_value("")
    expect(alice.locator("#chatter-messages .chatter-file-image img")).to_have_count(1)
    assert len(stored(site["media"])) == 2  # the re-encoded picture and its thumbnail
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    alice.screenshot(path=str(SCREENSHOTS / "attachments.png"))
    bob.screenshot(path=str(SCREENSHOTS / "attachments-phone.png"))


#: Pastes a screenshot into the message box: a paste event whose clipboard holds a file.
PASTE_PICTURE = """async () => {
    const canvas = document.createElement("canvas");
    canvas.width = 120; canvas.height = 80;
    canvas.getContext("2d").fillRect(10, 10, 100, 60);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    const clipboard = new DataTransfer();
    clipboard.items.add(new File([blob], "image.png", {type: "image/png"}));
    const box = document.getElementById("chatter-text");
    box.focus();
    const init = {bubbles: true, cancelable: true, clipboardData: clipboard};
    return box.dispatchEvent(new ClipboardEvent("paste", init));
}"""


def test_a_pasted_screenshot_is_attached(site, pages):
    room = site["rooms"]["alice-bob"]
    alice, bob = pages("alice"), pages("bob")
    open_room(alice, room)
    open_room(bob, room)
    assert alice.evaluate(PASTE_PICTURE) is False  # taken by the composer, not typed in
    chip = alice.locator("#chatter-attach-chips .chatter-attach-chip")
    expect(chip).to_have_count(1)
    expect(chip).to_contain_text("image.png")
    alice.locator("#chatter-text").press("Enter")  # a picture needs no words
    picture = bob.locator("#chatter-messages .chatter-file-image img[alt='image.png']")
    expect(picture).to_have_count(1, timeout=60_000)
    expect(picture).to_have_attribute("width", "120")


def test_a_file_chosen_with_the_button_is_a_card_and_a_refusal_is_said(site, pages, tmp_path):
    room = site["rooms"]["alice-bob"]
    alice, bob = pages("alice"), pages("bob")
    open_room(alice, room)
    open_room(bob, room)
    notes = tmp_path / "notes.txt"
    notes.write_text("Bring the tent.\n")
    junk = tmp_path / "photo.png"
    junk.write_bytes(b"\x00\x01\x02 not a picture \xff" * 10)

    alice.locator("#chatter-files").set_input_files([str(junk)])
    chips = alice.locator("#chatter-attach-chips .chatter-attach-chip")
    expect(chips).to_have_count(1)
    alice.locator("#chatter-composer button[type=submit]").click()  # files need no text
    error = alice.locator("#chatter-composer-error")
    expect(error).to_contain_text("photo.png", timeout=60_000)
    expect(error).to_contain_text("not a kind of file this chat accepts")
    expect(chips).to_have_count(1)  # kept, to remove or send again
    alice.locator(".chatter-attach-remove").click()
    expect(chips).to_have_count(0)

    alice.locator("#chatter-files").set_input_files([str(notes)])
    say(alice, "The list")
    card = bob.locator("#chatter-messages .chatter-file-card")
    expect(card).to_have_count(1, timeout=60_000)
    expect(card).to_contain_text("notes.txt")
    expect(card).to_contain_text("text/plain")
    expect(card).to_contain_text("16\xa0bytes")
    expect(alice.locator("#chatter-composer-error")).to_have_text("")


def test_an_upload_shows_its_progress_and_cancel_stops_it(site, pages, tmp_path):
    room = site["rooms"]["alice-bob"]
    alice = pages("alice")
    open_room(alice, room)
    before = len(stored(site["media"]))
    held: list[Any] = []
    alice.route("**/upload/", lambda route: held.append(route))  # the upload hangs
    notes = tmp_path / "plan.txt"
    notes.write_text("Day 1: the lake.\n")
    alice.locator("#chatter-files").set_input_files([str(notes)])
    say(alice, "The plan")
    expect(alice.locator("#chatter-upload")).to_be_visible()
    expect(alice.locator("#chatter-upload-progress")).to_be_visible()
    alice.wait_for_function(
        "() => document.querySelectorAll('.chatter-attach-remove:disabled').length === 1"
    )
    alice.locator("#chatter-upload-cancel").click()
    expect(alice.locator("#chatter-composer-error")).to_have_text(
        "Sending the files was cancelled."
    )
    expect(alice.locator("#chatter-upload")).to_be_hidden()
    # Nothing was sent: the files and the text stay, to send again.
    expect(alice.locator("#chatter-attach-chips .chatter-attach-chip")).to_have_count(1)
    expect(alice.locator("#chatter-text")).to_have_value("The plan")
    assert len(stored(site["media"])) == before
    alice.unroute("**/upload/")
    for route in held:
        with contextlib.suppress(Exception):  # the browser may have dropped it already
            route.abort()


def test_the_attach_button_works_by_keyboard(site, pages, tmp_path):
    room = site["rooms"]["alice-bob"]
    alice = pages("alice")
    open_room(alice, room)
    alice.locator("#chatter-text").focus()
    alice.keyboard.press("Tab")
    assert alice.evaluate("() => document.activeElement.id") == "chatter-files"
    ring = alice.evaluate(
        "() => getComputedStyle(document.querySelector('.chatter-attach-button')).outlineStyle"
    )
    assert ring == "solid"  # the label shows the focus of its hidden input
    notes = tmp_path / "keys.txt"
    notes.write_text("by keyboard\n")
    # Space on the focused input opens the chooser; a loaded browser has been seen to drop
    # the first key press (CI), so it is pressed again, still by keyboard, up to three times.
    for attempt in range(3):
        try:
            with alice.expect_file_chooser(timeout=20_000) as chooser:
                alice.keyboard.press("Space")
            break
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
            assert alice.evaluate("() => document.activeElement.id") == "chatter-files"
    chooser.value.set_files([str(notes)])
    chip = alice.locator("#chatter-attach-chips .chatter-attach-chip")
    expect(chip).to_contain_text("keys.txt")
    alice.keyboard.press("Shift+Tab")
    alice.keyboard.type("Typed, then sent with Enter")
    alice.keyboard.press("Enter")
    card = alice.locator("#chatter-messages .chatter-file-card").filter(has_text="keys.txt")
    expect(card).to_have_count(1, timeout=60_000)


def test_a_file_over_the_limit_is_refused_at_the_door_and_said(site, pages, tmp_path):
    """The demo's asgi.py has UploadLimitMiddleware: its 413 is said under the composer
    like the view's refusals, the file stays chosen, and nothing is stored."""
    room = site["rooms"]["alice-bob"]
    alice = pages("alice")
    open_room(alice, room)
    before = stored(site["media"])
    big = tmp_path / "holiday.txt"
    big.write_bytes(b"a long, long text\n" * (11 * 1024 * 1024 // 18))  # 11 MB > 10 MB

    alice.locator("#chatter-files").set_input_files([str(big)])
    chips = alice.locator("#chatter-attach-chips .chatter-attach-chip")
    expect(chips).to_have_count(1)
    alice.locator("#chatter-composer button[type=submit]").click()
    error = alice.locator("#chatter-composer-error")
    expect(error).to_contain_text("too large", timeout=60_000)
    expect(error).to_contain_text("10.0\xa0MB")
    expect(chips).to_have_count(1)  # kept, to remove
    assert stored(site["media"]) == before
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    alice.locator("#chatter-composer").screenshot(path=str(SCREENSHOTS / "upload-too-large.png"))
