from __future__ import annotations

from django.apps import AppConfig


class CustomersConfig(AppConfig):
    """The tenants of the multi-tenant demo (installed only by ``settings_tenants``)."""

    name = "customers"
    default_auto_field = "django.db.models.BigAutoField"
