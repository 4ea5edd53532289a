"""Shared fixtures: users made on demand, and the three regulars alice, bob and carol."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from tests import servers

PASSWORD = "pw"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    """Each test starts with no actions counted: the counters live in the (process-wide)
    local-memory cache, keyed by user id, and ids repeat from one test to the next."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def user_factory(db: Any) -> Callable[..., Any]:
    """Make a user: ``user_factory("dave", first_name="Dave")``; the password is ``pw``."""

    def make(username: str, **fields: Any) -> Any:
        return get_user_model().objects.create_user(username=username, password=PASSWORD, **fields)

    return make


@pytest.fixture
def alice(user_factory: Callable[..., Any]) -> Any:
    return user_factory("alice", first_name="Alice", last_name="Liddell")


@pytest.fixture
def bob(user_factory: Callable[..., Any]) -> Any:
    return user_factory("bob")


@pytest.fixture
def carol(user_factory: Callable[..., Any]) -> Any:
    return user_factory("carol")


@pytest.fixture
def alice_client(client: Any, alice: Any) -> Any:
    """Django's test client, logged in as alice."""
    client.force_login(alice)
    return client


@pytest.fixture
async def live_cleanup() -> Any:
    """End a consumer test clean: close the loop's hubs and let the database thread idle.

    A socket's last database call (presence on disconnect, a paced "Seen by") may still be
    running when the test body ends; the test database must not be flushed under it.
    """
    yield
    from channels.db import database_sync_to_async

    from chatter.live.hub import close_hubs

    await asyncio.wait_for(close_hubs(), 30)
    for _ in range(3):
        await asyncio.sleep(0.05)
        await database_sync_to_async(lambda: None)()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (its own download fails here)."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session", autouse=True)
def _end_other_database_sessions(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Let pytest-django drop the PostgreSQL test database it made, whatever stays open.

    The database thread of ``database_sync_to_async`` keeps a connection of its own; at
    the end of the session it may still be open, and ``DROP DATABASE`` then fails (the
    database stays behind, one per run). Set up after the database, so it ends first.
    """
    yield
    with django_db_blocker.unblock():
        servers.end_other_sessions()


@pytest.fixture(autouse=True)
def _no_open_sockets() -> Iterator[None]:
    """:data:`tests.sockets.OPEN` holds only the sockets of the test that is running."""
    from tests import sockets

    sockets.OPEN.clear()
    yield
    sockets.OPEN.clear()
