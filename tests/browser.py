"""What the browser tests share: Debian's Chromium, logging in, the composer, the status."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
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
ARTIFACTS = servers.ROOT / "test-artifacts"
# Where the room's screenshots go: test-artifacts/ unless told, so a test run leaves the
# work tree as it was; ``make screenshots`` refreshes the documentation's.
SCREENSHOTS = Path(os.environ.get("CHATTER_SCREENSHOTS") or ARTIFACTS / "screenshots")


def log_in(
    browser: Any, base_url: str, username: str, viewport: dict[str, int], **options: Any
) -> Any:
    """A page of a new context of ``username`` (Playwright's context ``options``, e.g. a
    ``locale``), logged in through the login form."""
    context = browser.new_context(base_url=base_url, viewport=viewport, **options)
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


# -- accessibility ------------------------------------------------------------------------

#: axe-core, vendored from the npm package (tests/vendor/README.md): never from a CDN.
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
#: What fails a test; "moderate" and "minor" findings are printed, not failed.
AXE_FAILING = ("serious", "critical")

AXE_RUN = """async () => {
    const results = await axe.run(document, {resultTypes: ["violations"]});
    return results.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary})),
    }));
}"""


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (axe is injected once per page)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(AXE_RUN)


def describe_violations(violations: list[dict[str, Any]]) -> str:
    """One line per violation and affected node, for an assertion message or a log."""
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:5]:
            summary = " ".join((node["summary"] or "").split())
            lines.append(f"    {node['target']}: {summary[:300]}")
    return "\n".join(lines)


def pages_for(
    request: Any, open_one: Callable[[str], Any], close: Callable[[Any], None]
) -> Iterator[Callable[[str], Any]]:
    """The body of a test's ``pages`` fixture (``yield from`` it): yields ``open_page(username)``,
    which opens a page with ``open_one``; when the test failed, every page it opened is
    screenshotted into test-artifacts/; then each is closed with ``close``."""
    opened: list[tuple[str, Any]] = []
    failed_before = request.session.testsfailed

    def open_page(username: str) -> Any:
        page = open_one(username)
        opened.append((username, page))
        return page

    yield open_page
    for number, (username, page) in enumerate(opened):
        if request.session.testsfailed > failed_before:
            name = f"{request.node.name}-{username}-{number}.png"
            try:
                page.screenshot(path=str(ARTIFACTS / name), full_page=True)
            except Exception as exc:  # a screenshot must not hide the failure
                print(f"could not screenshot {name}: {exc}")
        close(page)
