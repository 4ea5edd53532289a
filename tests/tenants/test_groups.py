"""Group changes inside a tenant: another tenant's user (with the same id) cannot make
them, and leaving closes sockets of the right tenant only."""

from __future__ import annotations

from io import StringIO
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django_tenants.utils import schema_context

from chatter import rooms, tenancy
from chatter.models import Message, Room
from tests.tenants.conftest import TenantInfo, login
from tests.tenants.test_commands import nothing_for, receive_within
from tests.tenants.test_views import request


def state(schema_name: str, room: Room) -> tuple[Any, ...]:
    with schema_context(schema_name):
        fresh = Room.objects.get(pk=room.pk)
        names = sorted(u.username for u in rooms.members(fresh))
        return fresh.name, names, Message.objects.filter(room=fresh).count()


def test_a_group_of_alpha_cannot_be_changed_from_beta(
    alpha: TenantInfo, beta: TenantInfo, tenant_user: Any, tenant_room: Any
) -> None:
    cache.clear()
    guest = tenant_user("alpha")
    room = tenant_room("alpha", alpha.users["alice"], alpha.users["bob"], guest, name="Trip")
    before = state("alpha", room)
    # beta's alice has alpha's alice's id: none of the group's forms finds the room.
    on_beta = Client(HTTP_HOST=beta.domain)
    on_beta.cookies[settings.SESSION_COOKIE_NAME] = login("beta", beta.users["alice"])
    for path, data in (
        ("rename", {"name": "Hijacked"}),
        ("add", {"usernames": "bob"}),
        ("remove", {"user": str(guest.pk)}),
        ("leave", {}),
    ):
        response = request(on_beta, "post", f"/chat/{room.pk}/group/{path}/", **data)
        assert response.status_code == 404, path
    assert state("alpha", room) == before


def test_leaving_in_alpha_is_announced_to_alpha_only(
    alpha: TenantInfo, beta: TenantInfo, tenant_user: Any, tenant_room: Any
) -> None:
    cache.clear()
    guest = tenant_user("alpha")
    room = tenant_room("alpha", alpha.users["alice"], alpha.users["bob"], guest, name="Trip")
    layer = get_channel_layer()
    groups = {
        "alpha": tenancy.user_group("alpha", guest.pk),
        "beta": tenancy.user_group("beta", guest.pk),
    }
    listen = {name: async_to_sync(layer.new_channel)() for name in groups}
    for name, channel in listen.items():
        async_to_sync(layer.group_add)(groups[name], channel)
    try:
        out = StringIO()
        call_command(
            "chatter_group",
            str(room.pk),
            "--as",
            guest.username,
            "--leave",
            "--schema",
            "alpha",
            stdout=out,
            stderr=StringIO(),
        )
        assert f"{guest.first_name} left the group" in out.getvalue()
        event = async_to_sync(receive_within)(layer, listen["alpha"])
        assert (event["type"], event["room"]) == ("chatter.removed", room.pk.hex)
        assert async_to_sync(nothing_for)(layer, listen["beta"])
    finally:
        for name, channel in listen.items():
            async_to_sync(layer.group_discard)(groups[name], channel)
    assert guest.username not in state("alpha", room)[1]
