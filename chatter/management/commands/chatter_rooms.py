"""``manage.py chatter_rooms [USERNAME]``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandParser
from django.db.models import Prefetch
from django.utils import timezone

from chatter import rooms
from chatter.management.base import ChatterCommand, get_user
from chatter.models import Membership, Room
from chatter.types import User


def _when(value: datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


class Command(ChatterCommand):
    help = (
        "List rooms, most recent activity first, as tab-separated columns: id, name, members "
        "and last activity. With USERNAME: only that user's rooms, with an unread column."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Add the optional username."""
        super().add_arguments(parser)
        parser.add_argument("username", nargs="?", metavar="USERNAME")

    def run(self, *args: Any, **options: Any) -> None:
        """Print one line per room."""
        if options["username"]:
            self._for_user(get_user(options["username"]))
        else:
            self._all()

    def _all(self) -> None:
        order = "user__" + get_user_model().USERNAME_FIELD
        qs = Room.objects.order_by("-updated_at", "-created_at").prefetch_related(
            Prefetch(
                "memberships",
                queryset=Membership.objects.select_related("user").order_by(order),
            )
        )
        lines = []
        for room in qs:
            users = [m.user for m in room.memberships.all()]
            names = ", ".join(u.get_username() for u in users)
            title = rooms.room_title(room, users)
            lines.append(f"{room.id}\t{title}\t{names}\t{_when(room.updated_at)}")
        self._print(["id", "name", "members", "last activity"], lines)

    def _for_user(self, user: User) -> None:
        lines = []
        for summary in rooms.rooms_for(user):
            names = ", ".join(u.get_username() for u in [user, *summary.others])
            lines.append(
                f"{summary.room.id}\t{summary.title}\t{names}\t"
                f"{_when(summary.room.updated_at)}\t{summary.unread}"
            )
        self._print(["id", "name", "members", "last activity", "unread"], lines)

    def _print(self, header: list[str], lines: list[str]) -> None:
        if not lines:
            self.stdout.write("No rooms.")
            return
        self.stdout.write("\t".join(header))
        for line in lines:
            self.stdout.write(line)
