"""Message search inside a tenant: another tenant's messages cannot be found."""

from __future__ import annotations

from typing import Any

from django_tenants.utils import schema_context

from chatter import messages, search
from tests.tenants.conftest import TenantInfo
from tests.tenants.test_views import client_for, request  # noqa: F401  (the fixture)


def test_a_search_finds_its_tenants_messages_only(
    alpha: TenantInfo,
    beta: TenantInfo,
    tenant_room: Any,
    client_for: Any,  # noqa: F811
) -> None:
    """alice of beta has alice of alpha's id and a room of the same people: she finds
    beta's message, never alpha's, by the page and by the domain function."""
    rooms = {}
    for tenant in (alpha, beta):
        room = tenant_room(tenant.schema_name, tenant.users["alice"], tenant.users["bob"])
        rooms[tenant.schema_name] = room
        with schema_context(tenant.schema_name):
            messages.send_message(
                room, tenant.users["bob"], f"zebra crossing in {tenant.schema_name}"
            )
    with schema_context("beta"):
        found = search.search(beta.users["alice"], "zebra")
    assert [hit.message.text for hit in found.hits] == ["zebra crossing in beta"]
    page = request(client_for(beta, beta.users["alice"]), "get", "/chat/search/", q="zebra")
    assert page.status_code == 200
    assert b"zebra</mark> crossing in beta" in page.content
    assert b"in alpha" not in page.content
    # Naming alpha's room by its id in beta: no such conversation there.
    page = request(
        client_for(beta, beta.users["alice"]), "get", "/chat/search/", q=f"in:{rooms['alpha'].pk}"
    )
    assert page.status_code == 400 and b"You have no conversation called" in page.content


def test_the_reindex_command_works_in_one_tenants_schema(alpha: TenantInfo) -> None:
    from io import StringIO

    from django.core.management import call_command
    from django.db import connection

    from chatter import search_index

    out = StringIO()
    call_command("chatter_search_reindex", "--schema", "alpha", stdout=out)
    assert "Search index rebuilt with 'simple' (it was 'simple')." in out.getvalue()
    connection.set_schema_to_public()
    assert search_index.indexed_config() is None  # the public schema has no messages
    with schema_context("alpha"):
        assert search_index.indexed_config() == "simple"


def test_the_reindex_command_works_in_every_tenants_schema(alpha: TenantInfo) -> None:
    from io import StringIO

    from django.core.management import call_command

    from chatter import search_index
    from chatter.management.base import tenant_schemas

    out = StringIO()
    call_command("chatter_search_reindex", "--all-schemas", stdout=out)
    schemas = tenant_schemas()
    assert "alpha" in schemas and len(schemas) >= 2
    lines = out.getvalue().splitlines()
    assert [line.split("]")[0].lstrip("[") for line in lines] == schemas
    for name in schemas:
        with schema_context(name):
            assert search_index.indexed_config() == "simple"
