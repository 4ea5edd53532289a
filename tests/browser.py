"""What the browser tests share: Debian's Chromium, logging in, the composer, the status."""

from __future__ import annotations

from typing import Any

from tests import servers

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
PASSWORD = "chatter-demo"
SCREENSHOTS = servers.ROOT / "docs" / "_static" / "screenshots"
ARTIFACTS = servers.ROOT / "test-artifacts"


def log_in(browser: Any, base_url: str, username: str, viewport: dict[str, int]) -> Any:
    """A page of a new context of ``username``, logged in through the login form."""
    context = browser.new_context(base_url=base_url, viewport=viewport)
    context.set_default_timeout(60_000)  # progress, not speed: a loaded machine is slow
    page = context.new_page()
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/chat/")
    return page


def expect_connected(page: Any, timeout: float = 60_000) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#chatter-status")).to_have_attribute(
        "data-state", "connected", timeout=timeout
    )


def say(page: Any, text: str) -> None:
    """Type ``text`` into the composer and press Enter."""
    box = page.locator("#chatter-text")
    box.fill(text)
    box.press("Enter")
