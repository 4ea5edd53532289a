"""Shared fixtures: users made on demand, and the three regulars alice, bob and carol."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model

PASSWORD = "pw"


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
