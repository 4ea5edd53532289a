"""``manage.py chatter_notify [--dry-run] [--schema NAME | --all-schemas]``: e-mail digests.

Meant for cron: prints nothing unless ``-v 2`` (or ``--dry-run``), and exits 0 when there
is nothing to send. Each message is e-mailed at most once, however the runs overlap.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from chatter import notify_mail, tenancy
from chatter.management.base import ChatterCommand


class Command(ChatterCommand):
    help = (
        "E-mail each user one digest of their unread messages older than "
        "CHATTER_NOTIFY_DELAY (muted rooms and users who opted out get none)."
    )

    takes_all_schemas = True

    def add_arguments(self, parser: CommandParser) -> None:
        """Add --dry-run to --schema and --all-schemas."""
        super().add_arguments(parser)
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print who would get a digest; send nothing and mark nothing as e-mailed.",
        )

    def run_each(self, schema_names: list[str], *args: Any, **options: Any) -> None:
        """--all-schemas: every tenant's digests, one after another; a tenant whose
        digests failed does not stop the others."""
        failed = 0
        for schema_name in schema_names:
            with tenancy.schema(schema_name):
                failed += self._send(schema_name, options)
        if failed:
            raise CommandError(f"{failed} digest(s) could not be sent; see the log.")

    def run(self, *args: Any, **options: Any) -> None:
        """Send this schema's digests."""
        if self._send(options.get("schema") or "", options):
            raise CommandError("Some digests could not be sent; see the log.")

    def _send(self, schema_name: str, options: dict[str, Any]) -> int:
        """One schema's digests; the number that failed to send."""
        try:
            outcome, lines = notify_mail.run(schema_name, dry_run=options["dry_run"])
        except notify_mail.NoSiteURL as exc:
            raise CommandError(str(exc)) from exc
        where = f"[{schema_name}] " if schema_name else ""
        if options["dry_run"] or options["verbosity"] >= 2:
            verb = "Would send" if options["dry_run"] else "Sent"
            for line in lines:
                self.stdout.write(f"{where}{verb}: {line}")
            if options["verbosity"] >= 2:
                self.stdout.write(
                    f"{where}{outcome.sent} digest(s) sent, {outcome.failed} failed, "
                    f"{outcome.messages} message(s)."
                )
        return outcome.failed
