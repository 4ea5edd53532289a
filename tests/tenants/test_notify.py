"""``chatter_notify --schema`` / ``--all-schemas`` on real django-tenants schemas: each
tenant's users get their tenant's messages, with links to their tenant's domain."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django_tenants.utils import schema_context

from chatter import messages
from chatter.models import Membership
from tests.tenants.conftest import TenantInfo


def run(*args: Any) -> str:
    out = StringIO()
    call_command("chatter_notify", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture(autouse=True)
def _now() -> Any:
    with override_settings(CHATTER_NOTIFY_DELAY=0, CHATTER_SITE_URL="https://{domain}"):
        yield


@pytest.fixture
def unread(
    tenants: dict[str, TenantInfo],
    tenant_user: Callable[[str], Any],
    tenant_room: Callable[..., Any],
) -> dict[str, tuple[Any, Any]]:
    """In each tenant, a reader with one unread message, and the room it is in."""
    made = {}
    for schema_name in ("alpha", "beta"):
        reader, writer = tenant_user(schema_name), tenant_user(schema_name)
        room = tenant_room(schema_name, reader, writer)
        with schema_context(schema_name):
            messages.send_message(room, writer, f"news of {schema_name}")
        made[schema_name] = (reader, room)
    return made


def to(user: Any) -> list[Any]:
    return [m for m in mail.outbox if m.to == [user.email]]


def test_all_schemas(unread: dict[str, tuple[Any, Any]]) -> None:
    out = run("--all-schemas", "-v", "2")
    for schema_name, domain in (("alpha", "alpha.test.com"), ("beta", "beta.test.com")):
        reader, room = unread[schema_name]
        [message] = to(reader)
        assert f"news of {schema_name}" in message.body
        other = "beta" if schema_name == "alpha" else "alpha"
        assert f"news of {other}" not in message.body
        assert f"https://{domain}/chat/{room.pk}/" in message.body
        assert f"https://{domain}/chat/preferences/" in message.body
        assert f"[{schema_name}] Sent: {reader.email}: 1 message(s)" in out
    run("--all-schemas")  # marked in each schema: nothing twice
    assert all(len(to(reader)) == 1 for reader, _ in unread.values())


def test_one_schema(unread: dict[str, tuple[Any, Any]]) -> None:
    assert run("--schema", "beta") == ""
    assert len(to(unread["beta"][0])) == 1
    assert to(unread["alpha"][0]) == []
    with schema_context("alpha"):
        reader, room = unread["alpha"]
        assert Membership.objects.get(room=room, user=reader).emailed_seq == 0
    run("--schema", "alpha")
    assert len(to(unread["alpha"][0])) == 1


def test_dry_run_in_every_schema(unread: dict[str, tuple[Any, Any]]) -> None:
    out = run("--all-schemas", "--dry-run")
    for schema_name, (reader, _room) in unread.items():
        assert f"[{schema_name}] Would send: {reader.email}: 1 message(s) in 1 room(s)" in out
        assert to(reader) == []


def test_refusals(tenants: dict[str, TenantInfo], public: TenantInfo) -> None:
    with pytest.raises(CommandError, match="Unknown schema: nowhere"):
        run("--schema", "nowhere")
    with pytest.raises(CommandError, match="public schema"):
        run("--schema", "public")
    with pytest.raises(CommandError, match="pass --schema"):
        run()
    with pytest.raises(CommandError, match="either --schema or --all-schemas"):
        run("--all-schemas", "--schema", "alpha")


def test_links_default_to_the_tenants_primary_domain(tenants: dict[str, TenantInfo]) -> None:
    from chatter import notify_mail

    with override_settings(CHATTER_SITE_URL=None):
        assert notify_mail.site_url("alpha") == "https://alpha.test.com"
    with override_settings(CHATTER_SITE_URL="http://{domain}:8000/"):
        assert notify_mail.site_url("beta") == "http://beta.test.com:8000"
