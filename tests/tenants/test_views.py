"""Chatter's pages inside a tenant: TenantMainMiddleware picks the schema from the Host."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django_tenants.utils import schema_context

from chatter.models import Membership, Message, Room
from tests.tenants.conftest import TenantInfo, alice_room_in_each, login


@pytest.fixture
def client_for() -> Iterator[Any]:
    """``client_for(tenant, user)``: a test client on the tenant's host, logged in there."""

    def make(tenant: TenantInfo, user: Any) -> Client:
        client = Client(HTTP_HOST=tenant.domain)
        client.cookies[settings.SESSION_COOKIE_NAME] = login(tenant.schema_name, user)
        return client

    yield make


def request(client: Client, method: str, path: str, **data: Any) -> HttpResponse:
    """One request; TenantMainMiddleware leaves its tenant on the connection: undo that."""
    try:
        return getattr(client, method)(path, data)
    finally:
        connection.set_schema_to_public()


def counts(schema_name: str) -> tuple[int, int, int]:
    with schema_context(schema_name):
        return Room.objects.count(), Membership.objects.count(), Message.objects.count()


def test_room_of_alpha_is_not_found_on_beta(
    alpha: TenantInfo, beta: TenantInfo, tenant_room: Any, client_for: Any
) -> None:
    """beta's alice has alpha's alice's id, yet alpha's room does not exist on beta."""
    assert alpha.users["alice"].pk == beta.users["alice"].pk
    room = tenant_room("alpha", alpha.users["alice"], alpha.users["bob"])
    on_alpha = client_for(alpha, alpha.users["alice"])
    assert request(on_alpha, "get", f"/chat/{room.pk}/").status_code == 200

    on_beta = client_for(beta, beta.users["alice"])
    before = counts("alpha"), counts("beta")
    assert request(on_beta, "get", f"/chat/{room.pk}/").status_code == 404
    assert request(on_beta, "get", f"/chat/{room.pk}/history/", before=1).status_code == 404
    response = request(on_beta, "post", f"/chat/{room.pk}/send/", text="cross", client_id="x")
    assert response.status_code == 404
    assert (counts("alpha"), counts("beta")) == before


def test_alpha_session_on_beta_is_logged_out(alpha: TenantInfo, beta: TenantInfo) -> None:
    client = Client(HTTP_HOST=beta.domain)
    client.cookies[settings.SESSION_COOKIE_NAME] = login("alpha", alpha.users["alice"])
    response = request(client, "get", "/chat/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_chat_with_creates_the_room_in_its_tenant_only(
    alpha: TenantInfo, beta: TenantInfo, tenant_user: Any, client_for: Any
) -> None:
    creator = tenant_user("alpha")
    client = client_for(alpha, creator)
    beta_before = counts("beta")
    alpha_before = counts("alpha")
    assert request(client, "get", "/chat/with/bob/").status_code == 200  # asks first
    assert counts("alpha") == alpha_before
    response = request(client, "post", "/chat/with/bob/")
    assert response.status_code == 302
    room_id = uuid.UUID(response["Location"].rstrip("/").rsplit("/", 1)[-1])
    try:
        with schema_context("alpha"):
            members = set(Room.objects.get(pk=room_id).members.values_list("pk", flat=True))
        assert members == {creator.pk, alpha.users["bob"].pk}
        assert counts("beta") == beta_before
        with schema_context("beta"):
            assert not Room.objects.filter(pk=room_id).exists()
        # Again: the same room, still nothing in beta.
        assert request(client, "get", "/chat/with/bob/")["Location"] == response["Location"]
        assert request(client, "post", "/chat/with/bob/")["Location"] == response["Location"]
        assert counts("beta") == beta_before
        # beta has no user of the creator's name: chat_with from beta's side is a 404.
        on_beta = client_for(beta, beta.users["bob"])
        for method in ("get", "post"):
            path = f"/chat/with/{creator.username}/"
            assert request(on_beta, method, path).status_code == 404
        assert counts("beta") == beta_before
    finally:
        with schema_context("alpha"):
            Room.objects.filter(pk=room_id).delete()


def test_room_list_shows_only_the_tenants_rooms(
    alpha: TenantInfo, beta: TenantInfo, tenant_user: Any, tenant_room: Any, client_for: Any
) -> None:
    """alice has the same id in both tenants; each alice sees her own tenant's rooms."""
    assert alpha.users["alice"].pk == beta.users["alice"].pk
    tag, rooms = alice_room_in_each(alpha, beta, tenant_user, tenant_room)
    for tenant, other in ((alpha, "beta"), (beta, "alpha")):
        response = request(client_for(tenant, tenant.users["alice"]), "get", "/chat/")
        assert response.status_code == 200
        html = response.content.decode()
        assert f"chatter-room-{rooms[tenant.schema_name].pk.hex}" in html
        assert f"{tenant.schema_name} {tag}" in html
        assert rooms[other].pk.hex not in html and str(rooms[other].pk) not in html
        assert f"{other} {tag}" not in html


def test_message_actions_of_alpha_are_not_found_on_beta(
    alpha: TenantInfo, beta: TenantInfo, tenant_room: Any, client_for: Any
) -> None:
    """Edit, delete, react and the message page: another tenant's message is a 404 there
    (equal user ids and equal sequence numbers notwithstanding), and nothing changes."""
    from chatter import messages

    room = tenant_room("alpha", alpha.users["alice"], alpha.users["bob"])
    with schema_context("alpha"):
        message, _ = messages.send_message(room, alpha.users["alice"], "alpha's own")
    on_beta = client_for(beta, beta.users["alice"])
    base = f"/chat/{room.pk}/m/{message.seq}/"
    assert request(on_beta, "get", base).status_code == 404
    assert request(on_beta, "post", base + "edit/", text="from beta").status_code == 404
    assert request(on_beta, "post", base + "react/", emoji="\N{THUMBS UP SIGN}").status_code == 404
    assert request(on_beta, "post", base + "delete/").status_code == 404
    with schema_context("alpha"):
        message.refresh_from_db()
        assert (message.text, message.change, message.deleted_at) == ("alpha's own", 0, None)
    on_alpha = client_for(alpha, alpha.users["alice"])
    assert request(on_alpha, "post", base + "edit/", text="edited on alpha").status_code == 302
    with schema_context("alpha"):
        message.refresh_from_db()
        assert message.text == "edited on alpha" and message.change == 1
