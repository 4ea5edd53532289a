"""The demo project's own pages: the login page tells the truth about the demo users."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import reverse

from demo.accounts import PASSWORD, ensure_users


def test_login_page_names_the_demo_users_and_their_real_password(client: Any, db: Any) -> None:
    ensure_users([("bob", "Bob", "Brown"), ("alice", "Alice", "Anders")])
    html = client.get(reverse("login")).content.decode()
    assert PASSWORD == "chatter-demo"
    assert f"Demo users: alice, bob (password: {PASSWORD})." in html
    assert "password: demo)" not in html


def test_the_demo_password_logs_in(client: Any, db: Any) -> None:
    ensure_users([("alice", "Alice", "Anders")])
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/chat/"


def test_login_page_without_users_says_how_to_make_them(
    client: Any, user_factory: Callable[..., Any]
) -> None:
    user_factory("gone", is_active=False)
    html = client.get(reverse("login")).content.decode()
    assert "No users yet: run make demo" in html and "gone" not in html


def test_the_preferences_page_has_the_push_button_when_push_is_on(
    alice_client: Any, settings: Any
) -> None:
    from tests.test_push import PUBLIC, push_settings

    url = reverse("chatter:preferences")
    assert "data-chatter-push" not in alice_client.get(url).content.decode()
    settings.CHATTER_PUSH = push_settings()
    html = alice_client.get(url).content.decode()
    assert f'data-key="{PUBLIC}"' in html
    assert f'data-worker="{reverse("chatter:service_worker")}"' in html
    assert f'data-subscribe="{reverse("chatter:push_subscribe")}"' in html
    assert 'data-csrf="' in html and 'data-csrf=""' not in html
    assert "Enable push on this device" in html
    assert "chatter/push.js" in html
