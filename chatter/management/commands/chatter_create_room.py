"""``manage.py chatter_create_room USERNAME [USERNAME ...] [--name NAME]``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from chatter import rooms
from chatter.management.base import ChatterCommand, get_users


class Command(ChatterCommand):
    help = (
        "Print the id of the room whose members are exactly the given users, "
        "creating the room if it does not exist yet."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Add the usernames and --name."""
        super().add_arguments(parser)
        parser.add_argument("usernames", nargs="+", metavar="USERNAME")
        parser.add_argument(
            "--name", default="", help="Name of the room, used only if it is created now."
        )

    def run(self, *args: Any, **options: Any) -> None:
        """Find or create the room and print its id."""
        users = get_users(options["usernames"])
        try:
            room_id = rooms.create_room(users, name=options["name"])
        except (TypeError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(str(room_id))
