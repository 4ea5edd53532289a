"""Create the demo users alice, bob and carol, and print their password."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from chatter.rooms import create_room
from demo.accounts import PASSWORD, ensure_users

USERS = [("alice", "Alice", "Anders"), ("bob", "Bob", "Brown"), ("carol", "Carol", "Chen")]


class Command(BaseCommand):
    help = "Create the demo users alice, bob and carol (idempotent) and print their password."

    def handle(self, *args: Any, **options: Any) -> None:
        """Create or reset the demo users and give alice and bob a room."""
        users = ensure_users(USERS)
        create_room(users[:2])
        names = ", ".join(u.username for u in users)
        self.stdout.write(f"Demo users: {names} — password: {PASSWORD}")
