"""The room admin changes a group through chatter.groups: system lines, announced."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.urls import path, reverse

from chatter import rooms
from chatter.models import Message, Room
from tests.factories import make_users
from tests.test_admin import inline_management

urlpatterns = [path("admin/", admin.site.urls)]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


@pytest.fixture
def staff(client: Client) -> Client:
    cache.clear()
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)
    return client


@pytest.fixture
def users() -> list[Any]:
    return make_users("alice", "bob", "carol", "dave")


def change(client: Client, room: Room, **fields: Any) -> Any:
    url = reverse("admin:chatter_room_change", args=[room.pk])
    page = client.get(url)
    assert page.status_code == 200
    data = {"name": room.name, **inline_management(page), **fields}
    return client.post(url, data)


def lines(room: Room) -> list[Any]:
    return list(
        Message.objects.filter(room=room, kind="system")
        .order_by("seq")
        .values_list("data", flat=True)
    )


def test_rename_add_and_remove_are_system_lines(staff: Client, users: list[Any]) -> None:
    alice, bob, carol, dave = users
    group = Room.objects.get(pk=rooms.create_room([alice, bob, carol], name="Trip"))
    page = staff.get(reverse("admin:chatter_room_change", args=[group.pk])).content.decode()
    assert 'name="add_members"' in page and 'name="remove_members"' in page
    response = change(staff, group, name="Ski", add_members="dave", remove_members=[bob.pk])
    assert response.status_code == 302
    assert [u.username for u in rooms.members(group)] == ["alice", "carol", "dave"]
    assert lines(group) == [
        {"action": "renamed", "name": "Ski"},
        {"action": "added", "users": [[dave.pk, "dave"]]},
        {"action": "removed", "users": [[bob.pk, "bob"]]},
    ]
    assert Message.objects.filter(room=group, sender__username="root").count() == 3
    group.refresh_from_db()
    assert group.members_key == "g:" + group.pk.hex


def test_a_pair_keeps_its_members(staff: Client, users: list[Any]) -> None:
    alice, bob, _carol, _ = users
    pair = Room.objects.get(pk=rooms.create_room([alice, bob]))
    response = change(staff, pair, add_members="carol")
    assert response.status_code == 200
    assert "The members of a conversation of two cannot change." in response.content.decode()
    assert [u.username for u in rooms.members(pair)] == ["alice", "bob"]
    # Naming a pair stays a plain rename, as before (no system line).
    assert change(staff, pair, name="Us").status_code == 302
    pair.refresh_from_db()
    assert pair.name == "Us" and lines(pair) == []


def test_unknown_and_existing_members(staff: Client, users: list[Any]) -> None:
    alice, bob, carol, _ = users
    group = Room.objects.get(pk=rooms.create_room([alice, bob, carol]))
    response = change(staff, group, add_members="ghost")
    assert response.status_code == 200 and "No such user: ghost." in response.content.decode()
    response = change(staff, group, add_members="bob, dave")
    assert response.status_code == 200 and "Already members: bob." in response.content.decode()
    assert lines(group) == []


def test_a_refusal_at_saving_is_shown_as_a_message(
    staff: Client, users: list[Any], settings: Any
) -> None:
    alice, bob, carol, _dave = users
    group = Room.objects.get(pk=rooms.create_room([alice, bob, carol]))
    settings.CHATTER_FRAME_LIMITS = {"group": (1, 60)}
    response = change(staff, group, add_members="dave", remove_members=[bob.pk])
    assert response.status_code == 302
    shown = [str(m) for m in response.wsgi_request._messages]
    assert "You are doing that too often. Wait a few seconds and try again." in shown
    assert [u.username for u in rooms.members(group)] == ["alice", "bob", "carol", "dave"]
