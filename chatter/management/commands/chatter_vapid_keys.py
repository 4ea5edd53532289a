"""``manage.py chatter_vapid_keys [--subject URL]``: a new VAPID key pair for Web Push."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatter import push_input


class Command(BaseCommand):
    help = "Print a new VAPID key pair for Web Push, as a CHATTER_PUSH setting to paste."

    def add_arguments(self, parser: CommandParser) -> None:
        """Add ``--subject``: the contact push services may use."""
        parser.add_argument(
            "--subject",
            default="mailto:admin@example.com",
            help='A "mailto:" address or "https:" URL push services can reach you at.',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Print the setting, with new keys."""
        subject = options["subject"]
        if not push_input.subject_ok(subject):
            raise CommandError(
                f'--subject must be a "mailto:" address or an "https:" URL: {subject!r}'
            )
        try:
            public, private = push_input.generate()
        except ImportError as exc:
            raise CommandError(
                'Install Chatter\'s extra "push" first: pip install "django-chatter-live[push]".'
            ) from exc
        self.stdout.write(
            "CHATTER_PUSH = {\n"
            f'    "VAPID_PUBLIC_KEY": "{public}",\n'
            f'    "VAPID_PRIVATE_KEY": "{private}",  # keep it secret\n'
            f'    "VAPID_SUBJECT": "{subject}",\n'
            "}"
        )
