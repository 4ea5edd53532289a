"""Create the demo users alice, bob and carol, and print their password."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from chatter.rooms import create_room

USERS = [("alice", "Alice", "Anders"), ("bob", "Bob", "Brown"), ("carol", "Carol", "Chen")]
PASSWORD = "chatter-demo"


class Command(BaseCommand):
    help = "Create the demo users alice, bob and carol (idempotent) and print their password."

    def handle(self, *args: Any, **options: Any) -> None:
        """Create or reset the demo users and give alice and bob a room."""
        user_model = get_user_model()
        users = []
        for username, first, last in USERS:
            user, _ = user_model.objects.get_or_create(
                username=username, defaults={"first_name": first, "last_name": last}
            )
            user.set_password(PASSWORD)
            user.save()
            users.append(user)
        create_room(users[:2])
        names = ", ".join(u.username for u in users)
        self.stdout.write(f"Demo users: {names} — password: {PASSWORD}")
