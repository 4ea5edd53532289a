"""``manage.py chatter_reports [--all]``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone
from django.utils.text import Truncator

from chatter import moderation, rooms
from chatter.management.base import ChatterCommand
from chatter.models import Report

HEADER = ["id", "reported", "room", "number", "author", "reporter", "reason", "status", "text"]


def _line(report: Report) -> str:
    text = " ".join(report.text.split())  # one line, whatever breaks the message had
    cells = [
        str(report.pk),
        timezone.localtime(report.created_at).strftime("%Y-%m-%d %H:%M"),
        str(report.room_id),
        str(report.seq),
        report.author.get_username() if report.author else rooms.display_name(None),
        report.reporter.get_username() if report.reporter else rooms.display_name(None),
        report.reason,
        "resolved" if report.resolved_at else "open",
        Truncator(text).chars(60),
    ]
    return "\t".join(cells)


class Command(ChatterCommand):
    help = (
        "List the reports nobody resolved yet, oldest first, as tab-separated columns: id, "
        "reported, room, number, author, reporter, reason, status and the text as reported. "
        "With --all: resolved reports too."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Add ``--all``."""
        super().add_arguments(parser)
        parser.add_argument("--all", action="store_true", help="Resolved reports too.")

    def run(self, *args: Any, **options: Any) -> None:
        """Print one line per report."""
        reports = moderation.all_reports() if options["all"] else moderation.open_reports()
        lines = [_line(report) for report in reports]
        if not lines:
            self.stdout.write("No reports." if options["all"] else "No open reports.")
            return
        self.stdout.write("\t".join(HEADER))
        for line in lines:
            self.stdout.write(line)
