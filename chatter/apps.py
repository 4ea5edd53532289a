from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatterConfig(AppConfig):
    name = "chatter"
    verbose_name = _("Chatter")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register the system checks and signal receivers."""
        from chatter import attachments, checks, checks_asgi, checks_push, signals  # noqa: F401
