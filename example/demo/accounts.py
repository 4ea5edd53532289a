"""The demo's users: created or reset with a known password, in the current schema."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

PASSWORD = "chatter-demo"


def ensure_users(people: list[tuple[str, str, str]]) -> list[Any]:
    """Create (or reset the password of) each ``(username, first name, last name)``."""
    user_model = get_user_model()
    users = []
    for username, first, last in people:
        user, _ = user_model.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last}
        )
        user.set_password(PASSWORD)
        if not user.email:  # e-mail digests (manage.py chatter_notify) need an address
            user.email = f"{username}@example.com"
        user.save()
        users.append(user)
    return users
