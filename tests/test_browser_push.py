"""Web Push in a real browser (Debian's Chromium): the preferences page registers the
service worker in the chat's scope, and a push delivered to it (through the DevTools
protocol: headless Chromium has no push service) shows the notification Chatter sent.

The module serves its own demo site with push on, so it runs alone:
``pytest -m browser -k push``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests import servers
from tests.browser import ARTIFACTS, SCREENSHOTS, log_in
from tests.test_push import push_settings

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

DESKTOP = {"width": 1000, "height": 700}


@pytest.fixture(scope="module")
def site() -> Iterator[dict[str, Any]]:
    """A fresh database with the demo users, served by one Daphne with push on."""
    with servers.database("browserpush") as name:
        env = servers.server_env(
            name, CHATTER_PUSH_JSON=json.dumps(push_settings(BACKEND="chatter.push.thread_backend"))
        )
        servers.manage(env, "migrate", "--noinput")
        servers.manage(env, "demo_users")
        ARTIFACTS.mkdir(exist_ok=True)
        with servers.DaphneProcess(env, log=ARTIFACTS / "daphne-browser-push.log") as server:
            yield {"env": env, "server": server}


@pytest.fixture
def page(site: dict[str, Any], browser: Any) -> Iterator[Any]:
    found = log_in(browser, site["server"].url, "alice", DESKTOP)
    found.context.grant_permissions(["notifications"])
    yield found
    found.context.close()


def test_the_service_worker_shows_a_push_and_the_button_tells_the_state(
    page: Any, site: dict[str, Any]
) -> None:
    page.goto("/chat/preferences/")
    box = page.locator("[data-chatter-push]")
    button = box.get_by_role("button", name="Enable push on this device")
    expect(button).to_be_visible()
    expect(box).to_have_attribute("data-state", "off", timeout=60_000)
    scopes = page.evaluate(
        "navigator.serviceWorker.getRegistrations().then(function (found) {"
        " return found.filter(function (r) { return r.active; }).map(function (r) {"
        " return r.scope; }); })"
    )
    assert scopes == [site["server"].url + "/chat/"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "push-preferences.png"))

    # Headless Chromium has no push service: subscribing fails, and the page says why.
    button.click()
    expect(box).not_to_have_attribute("data-state", "busy", timeout=60_000)
    expect(box).to_have_attribute("data-state", "off")
    expect(box.locator("[data-chatter-push-status]")).not_to_have_text(
        "This device gets no push notifications."
    )
    expect(button).to_be_enabled()

    # A push delivered to the service worker shows Chatter's notification.
    registrations: list[dict[str, Any]] = []
    cdp = page.context.new_cdp_session(page)
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    ours: list[dict[str, Any]] = []
    for _ in range(600):  # the events come when the protocol's loop runs: up to 60 s
        ours = [r for r in registrations if r["scopeURL"].endswith("/chat/")]
        if ours:
            break
        page.wait_for_timeout(100)
    registration = ours[0]
    data = {
        "title": "Team",
        "body": "Bob: lunch, @Alice?",
        "sender": "Bob",
        "url": "/chat/00000000-0000-0000-0000-000000000001/?around=7#chatter-msg-7",
        "tag": "chatter-1",
    }
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": site["server"].url,
            "registrationId": registration["registrationId"],
            "data": json.dumps(data),
        },
    )
    shown = page.wait_for_function(
        "navigator.serviceWorker.getRegistrations().then(function (found) {"
        " return found[0].getNotifications(); }).then(function (list) {"
        " return list.length ? list.map(function (n) {"
        " return [n.title, n.body, n.tag, n.data.url]; }) : null; })",
        timeout=60_000,
    ).json_value()
    assert shown == [["Team", "Bob: lunch, @Alice?", "chatter-1", site["server"].url + data["url"]]]
