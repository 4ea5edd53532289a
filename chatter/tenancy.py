"""Which tenant the current code runs for; everything here is a no-op without django-tenants."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def is_multitenant() -> bool:
    """True when the project runs django-tenants (its router and tenant model are set)."""
    return bool(getattr(settings, "TENANT_MODEL", None)) and hasattr(
        connection, "set_schema_to_public"
    )


def current_schema() -> str:
    """The schema the default connection is set to, or ``""`` without django-tenants."""
    return getattr(connection, "schema_name", "") if is_multitenant() else ""


def group_prefix(schema_name: str = "") -> str:
    """Prefix for channel-layer group names, so equal ids of two tenants never share a group."""
    if not schema_name:
        return "chatter"
    return f"chatter.t{_UNSAFE.sub('-', schema_name)[:40]}"


@contextmanager
def schema(schema_name: str | None) -> Iterator[None]:
    """Run the block in ``schema_name``'s schema (restoring the previous one), or as is."""
    if not schema_name or not is_multitenant():
        yield
        return
    from django_tenants.utils import schema_context

    with schema_context(schema_name):
        yield


def tenant_for_schema(schema_name: str) -> Any | None:
    """The tenant object whose schema is ``schema_name``, or None."""
    from django_tenants.utils import get_tenant_model, schema_context

    with schema_context(get_public_schema_name()):
        return get_tenant_model().objects.filter(schema_name=schema_name).first()


def get_public_schema_name() -> str:
    return getattr(settings, "PUBLIC_SCHEMA_NAME", "public")
