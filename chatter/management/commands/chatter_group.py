"""``manage.py chatter_group ROOM_ID --as USERNAME [--rename NAME] [--add U ...]
[--remove U ...] [--leave]``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import transaction

from chatter import groups
from chatter.live.members import announce_group
from chatter.management.base import ChatterCommand, get_room, get_user, get_users
from chatter.models import Message
from chatter.templatetags.chatter import chatter_system_line


class Command(ChatterCommand):
    help = (
        "Change the group ROOM_ID as the member USERNAME: rename it, add and remove members, "
        "or leave it. Each change is a line in the room; all of them or none are made."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Add the room id, --as and the changes."""
        super().add_arguments(parser)
        parser.add_argument("room_id", metavar="ROOM_ID")
        parser.add_argument(
            "--as",
            dest="actor",
            metavar="USERNAME",
            required=True,
            help="Who makes the changes (a member of the group, or a user with the permission).",
        )
        parser.add_argument("--rename", metavar="NAME", help="The group's new name.")
        parser.add_argument(
            "--add",
            nargs="+",
            action="extend",
            default=[],
            metavar="USERNAME",
            help="People to add.",
        )
        parser.add_argument(
            "--remove",
            nargs="+",
            action="extend",
            default=[],
            metavar="USERNAME",
            help="Members to remove (the group's creator, or a user with the permission).",
        )
        parser.add_argument("--leave", action="store_true", help="USERNAME leaves the group.")

    def run(self, *args: Any, **options: Any) -> None:
        """Make the changes in one transaction; print one line per change."""
        if options["rename"] is None and not (
            options["add"] or options["remove"] or options["leave"]
        ):
            raise CommandError("Nothing to do: give --rename, --add, --remove or --leave.")
        room = get_room(options["room_id"])
        actor = get_user(options["actor"])
        added = get_users(options["add"]) if options["add"] else []
        removed = get_users(options["remove"]) if options["remove"] else []
        lines: list[Message] = []
        try:
            with transaction.atomic():
                if options["rename"] is not None:
                    line = groups.rename_group(room, actor, options["rename"])
                    if line is not None:
                        lines.append(line)
                if added:
                    lines.append(groups.add_members(room, actor, added))
                if removed:
                    lines.append(groups.remove_members(room, actor, removed))
                if options["leave"]:
                    lines.append(groups.leave_group(room, actor))
                for line in lines:
                    announce_group(line)
        except (groups.GroupRefused, TypeError) as exc:
            raise CommandError(str(exc)) from exc
        for line in lines:
            self.stdout.write(f"#{line.seq} in {room.id}: {chatter_system_line(line)}")
        if not lines:
            self.stdout.write(f"No change in {room.id}.")
