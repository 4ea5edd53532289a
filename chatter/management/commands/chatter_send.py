"""``manage.py chatter_send ROOM_ID USERNAME TEXT``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from chatter import live, messages
from chatter.management.base import ChatterCommand, get_room, get_user


class Command(ChatterCommand):
    help = "Store a message from USERNAME in the room ROOM_ID (the user must be a member)."

    def add_arguments(self, parser: CommandParser) -> None:
        """Add the room id, the sender's username and the text."""
        super().add_arguments(parser)
        parser.add_argument("room_id", metavar="ROOM_ID")
        parser.add_argument("username", metavar="USERNAME")
        parser.add_argument("text", metavar="TEXT", help="The message; quote it.")

    def run(self, *args: Any, **options: Any) -> None:
        """Store the message and print its number and room."""
        room = get_room(options["room_id"])
        user = get_user(options["username"])
        try:
            message, created = messages.send_message(room, user, options["text"])
        except messages.MessageRefused as exc:
            raise CommandError(str(exc)) from exc
        if created:
            live.announce_message(message)
        self.stdout.write(f"#{message.seq} in {room.id}")
