"""Which tenant the current code runs for; everything here is a no-op without django-tenants.

The rule every caller follows: a database touch for a tenant is ONE sync function that runs
wholly inside :func:`schema` (or django-tenants' ``schema_context``). All consumers of a
process share one database thread and connection, so setting the schema in one
``database_sync_to_async`` call and querying in the next can read another tenant's rows.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django.http.request import split_domain_port

# Characters a schema name may keep as is inside a channel-layer group name (the layers
# accept ``[A-Za-z0-9._-]``; "." is kept out so it only ever separates the parts).
_SAFE = re.compile(r"[A-Za-z0-9_-]+")
# Longest schema name used verbatim: "chatter.t" + 40 + ".u" + 40 (an id) stays < 100.
_MAX_PLAIN_SCHEMA = 40
_MAX_PLAIN_ID = 40


def is_multitenant() -> bool:
    """True when the project runs django-tenants (its router and tenant model are set)."""
    return bool(getattr(settings, "TENANT_MODEL", None)) and hasattr(
        connection, "set_schema_to_public"
    )


def current_schema() -> str:
    """The schema the default connection is set to, or ``""`` without django-tenants."""
    return (getattr(connection, "schema_name", "") or "") if is_multitenant() else ""


def get_public_schema_name() -> str:
    return getattr(settings, "PUBLIC_SCHEMA_NAME", "public")


def scope_schema(scope: Mapping[str, Any]) -> str:
    """The schema a websocket scope belongs to (set by ``MTSchemaMiddleware``), or ``""``."""
    return scope.get("schema_name") or ""


def scope_is_served(scope: Mapping[str, Any]) -> bool:
    """Whether Chatter may serve a websocket of this scope: the one tenant rule.

    Without django-tenants, always. With it, only when a middleware put a tenant's schema
    into the scope and that schema is not the public one: a scope without a tenant would
    run in whatever schema the shared connection last held, and the public schema has no
    chat tables. Such sockets are refused (code 4400), never served.
    """
    if not is_multitenant():
        return True
    schema_name = scope_schema(scope)
    return bool(schema_name) and schema_name != get_public_schema_name()


def _short_hash(value: str, length: int = 20) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:length]


def group_prefix(schema_name: str = "") -> str:
    """Prefix for channel-layer group names, so equal ids of two tenants never share a group.

    ``""`` gives ``chatter``; a schema of ``[A-Za-z0-9_-]`` of at most 40 characters gives
    ``chatter.t<schema>``; any other schema (PostgreSQL allows up to 63 characters and
    more symbols) gives ``chatter.t.<20 hex of its SHA-256>``, which no verbatim schema
    can produce because a verbatim one never starts with ".".
    """
    if not schema_name:
        return "chatter"
    if len(schema_name) <= _MAX_PLAIN_SCHEMA and _SAFE.fullmatch(schema_name):
        return f"chatter.t{schema_name}"
    return f"chatter.t.{_short_hash(schema_name)}"


def _room_hex(room_id: object) -> str:

    if isinstance(room_id, uuid.UUID):
        return room_id.hex
    try:
        return uuid.UUID(str(room_id)).hex
    except ValueError:
        raise ValueError(f"Not a room id (a UUID): {room_id!r}") from None


def room_group(schema_name: str | None, room_id: object) -> str:
    """The channel-layer group of one room: ``chatter[.t<schema>].r<32 hex>``."""
    return f"{group_prefix(schema_name or '')}.r{_room_hex(room_id)}"


def rooms_group(schema_name: str | None) -> str:
    """The channel-layer group announcing a tenant's new rooms: ``chatter[.t<schema>].rooms``."""
    return f"{group_prefix(schema_name or '')}.rooms"


def user_group(schema_name: str | None, user_id: Hashable) -> str:
    """The channel-layer group of one user's sockets: ``chatter[.t<schema>].u<id>``.

    An id that is not ``[A-Za-z0-9_-]`` of at most 40 characters is replaced by
    ``h<20 hex>`` of its SHA-256, so the name stays valid and under 100 characters.
    """
    if user_id is None or user_id == "":
        raise ValueError("user_group() needs a user id.")
    text = str(user_id)
    if not (len(text) <= _MAX_PLAIN_ID and _SAFE.fullmatch(text)):
        text = "h" + _short_hash(text)
    return f"{group_prefix(schema_name or '')}.u{text}"


@contextmanager
def schema(schema_name: str | None) -> Iterator[None]:
    """Run the block in ``schema_name``'s schema (restoring the previous one), or as is."""
    if not schema_name or not is_multitenant():
        yield
        return
    from django_tenants.utils import schema_context

    with schema_context(schema_name):
        yield


T = TypeVar("T")
#: A django-tenants tenant (a ``TenantMixin`` model): django-tenants ships no types.
Tenant = Any

# When the database thread last checked its connection (see in_schema).
_checked_at = 0.0


def _run_in_schema(schema_name: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    global _checked_at
    now = time.monotonic()
    if now - _checked_at > 1.0:
        # What channels does before every event, once a second: drop a connection that
        # is too old or broken, so the next query opens a fresh one.
        _checked_at = now
        close_old_connections()
    try:
        with schema(schema_name):
            return func(*args, **kwargs)
    except (InterfaceError, OperationalError):
        if connection.in_atomic_block:
            raise
        # The server may have closed the connection (a restart, pg_terminate_backend):
        # reconnect and try once more. Every function run here is safe to repeat (sends
        # are idempotent on their client id).
        _checked_at = time.monotonic()
        connection.close()
        with schema(schema_name):
            return func(*args, **kwargs)


async def in_schema(schema_name: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run the sync ``func`` on the database thread, wholly inside ``schema_name``.

    The one way websocket code touches the database: setting a schema in one call and
    querying in the next could read another tenant's rows, since every socket of the
    process shares the database thread and its connection.
    """
    return await database_sync_to_async(_run_in_schema)(schema_name, func, *args, **kwargs)


def tenant_for_schema(schema_name: str) -> Tenant | None:
    """The tenant object whose schema is ``schema_name``, or None."""
    from django_tenants.utils import get_tenant_model, schema_context

    with schema_context(get_public_schema_name()):
        return get_tenant_model().objects.filter(schema_name=schema_name).first()


def hostname_from_host(host: str | bytes | None) -> str:
    """The tenant lookup key of a Host header, as django-tenants' ``TenantMainMiddleware``.

    Lowercased, port removed, and one leading ``www.`` removed. ``""`` for a missing or
    malformed header.
    """
    if isinstance(host, bytes):
        host = host.decode("latin1")
    domain, _port = split_domain_port((host or "").strip())
    if domain.startswith("www."):
        domain = domain[4:]
    return domain


def tenant_for_host(host: str | bytes | None) -> Tenant | None:
    """The tenant whose domain is the Host header ``host``, or None. Sync: one DB query.

    Looked up in the public schema (where django-tenants keeps its domain table), inside
    ``schema_context`` so the connection's schema is restored on return.
    """
    hostname = hostname_from_host(host)
    if not hostname or not is_multitenant():
        return None
    from django_tenants.utils import get_tenant_domain_model, schema_context

    domain_model = get_tenant_domain_model()
    with schema_context(get_public_schema_name()):
        domain = domain_model.objects.select_related("tenant").filter(domain=hostname).first()
    if domain is None:
        return None
    tenant = domain.tenant
    tenant.domain_url = hostname
    return tenant
