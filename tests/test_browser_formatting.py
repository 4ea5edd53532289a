"""Message formatting in a real browser: bob sends Markdown from his phone and alice's page
shows it formatted (bold, code, a code block, a quote and a link that opens a new tab).

The module serves its own demo site (the fixtures of tests/test_browser.py: a fresh
database, one Daphne), so it runs alone: ``pytest -m browser -k formatting``.
"""

from __future__ import annotations

import pytest

from tests.browser import SCREENSHOTS, say
from tests.test_browser import (  # noqa: F401 (its fixtures serve this module too)
    open_room,
    pages,
    people,
    site,
    wait_for_message,
)

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

QUESTION = "Anything to do before the release?"
FORMATTED = "\n".join(
    [
        "**Yes**: run `make docs` first, then:",
        "```",
        "git tag v1.2",
        "git push --tags",
        "```",
        "> Never release on a Friday.",
        "",
        "The checklist: https://example.com/release",
    ]
)


def test_markdown_is_shown_formatted_on_the_other_page(site, pages):
    room = site["rooms"]["alice-bob"]
    alice, bob = pages("alice"), pages("bob")
    open_room(alice, room)
    open_room(bob, room)
    say(alice, QUESTION)
    wait_for_message(bob, QUESTION)
    say(bob, FORMATTED)

    text = alice.locator("#chatter-messages article.chatter-msg .chatter-msg-text").filter(
        has_text="The checklist"
    )
    expect(text).to_have_count(1, timeout=60_000)
    expect(text.locator("strong")).to_have_text("Yes")
    expect(text.locator("code").first).to_have_text("make docs")
    expect(text.locator("pre")).to_contain_text("git tag v1.2")
    expect(text.locator("pre")).to_contain_text("git push --tags")
    expect(text.locator("blockquote")).to_have_text("Never release on a Friday.")
    link = text.locator("a[rel~='noopener'][target='_blank']")
    expect(link).to_have_attribute("href", "https://example.com/release")
    expect(link).to_have_text("https://example.com/release")
    # Nothing of the Markdown is left as typed.
    expect(text).not_to_contain_text("**")
    expect(text).not_to_contain_text("```")
    expect(text.locator("pre")).to_be_in_viewport()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    alice.screenshot(path=str(SCREENSHOTS / "message-formatting.png"))
