"""Tests of the admin pages for rooms and messages."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import include, path, reverse

from chatter import messages, rooms
from chatter.models import Message, Room
from tests.factories import make_users

# The admin alone, so these tests do not depend on the rest of the project's URLs.
# The admin announces moderators' changes as live frames, which link into the chat.
urlpatterns = [path("admin/", admin.site.urls), path("chat/", include("chatter.urls"))]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


@pytest.fixture
def staff(client: Client) -> Client:
    superuser = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(superuser)
    return client


@pytest.fixture
def data() -> dict[str, Any]:
    alice, bob, carol = make_users("alice", "bob", "carol")
    pair = Room.objects.get(pk=rooms.create_room([alice, bob]))
    team = Room.objects.get(pk=rooms.create_room([alice, bob, carol], name="Launch team"))
    rooms.create_room([carol])
    for n in range(30):
        messages.send_message(pair, alice if n % 2 else bob, f"pair message {n}")
    messages.send_message(team, carol, "the launch is on Tuesday " + "x" * 100)
    return {"alice": alice, "bob": bob, "carol": carol, "pair": pair, "team": team}


def changelist(client: Client, model: str, **params: str) -> Any:
    response = client.get(reverse(f"admin:chatter_{model}_changelist"), params)
    assert response.status_code == 200
    return response


def listed(response: Any) -> list[Any]:
    return list(response.context["cl"].result_list)


def test_room_changelist(staff: Client, data: dict[str, Any]) -> None:
    response = changelist(staff, "room")
    assert len(listed(response)) == 3
    content = response.content.decode()
    assert "Launch team" in content
    assert "alice, bob, carol" in content
    assert "Notes" not in content  # a one-user room is titled by its member


def test_room_changelist_queries_do_not_grow_with_rooms(
    staff: Client, data: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(12):
        changelist(staff, "room")
    for n in range(10):
        rooms.create_room(make_users(f"extra{n}"))
    with django_assert_max_num_queries(12):
        changelist(staff, "room")


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("launch", {"team"}),
        ("carol", {"team", "solo"}),
        ("alice", {"pair", "team"}),
        ("nobody", set()),
    ],
)
def test_room_search(staff: Client, data: dict[str, Any], term: str, expected: set[str]) -> None:
    names = {data["pair"].pk: "pair", data["team"].pk: "team"}
    found = {names.get(room.pk, "solo") for room in listed(changelist(staff, "room", q=term))}
    assert found == expected


def test_room_search_by_id(staff: Client, data: dict[str, Any]) -> None:
    for term in (str(data["pair"].pk), data["pair"].pk.hex, f" {str(data['pair'].pk).upper()} "):
        assert listed(changelist(staff, "room", q=term)) == [data["pair"]]


def test_room_change_page(staff: Client, data: dict[str, Any]) -> None:
    url = reverse("admin:chatter_room_change", args=[data["team"].pk])
    response = staff.get(url)
    assert response.status_code == 200
    content = response.content.decode()
    for name in ("alice", "bob", "carol"):
        assert name in content
    response = staff.post(url, {"name": "Renamed", **inline_management(response)})
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    data["team"].refresh_from_db()
    assert data["team"].name == "Renamed"
    assert set(rooms.members(data["team"])) == {data["alice"], data["bob"], data["carol"]}


def inline_management(response: Any) -> dict[str, str]:
    formset = response.context["inline_admin_formsets"][0].formset
    management = formset.management_form
    data = {
        management.add_prefix(name): str(management[name].value() or 0)
        for name in management.fields
    }
    for form in formset.forms:  # the read-only rows still post their hidden keys
        data[form.add_prefix("id")] = str(form.instance.pk)
        data[form.add_prefix("room")] = str(form.instance.room_id)
    return data


def test_rooms_and_messages_cannot_be_added(staff: Client, data: dict[str, Any]) -> None:
    assert staff.get(reverse("admin:chatter_room_add")).status_code == 403
    assert staff.get(reverse("admin:chatter_message_add")).status_code == 403


def test_message_changelist(
    staff: Client, data: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(12):
        response = changelist(staff, "message")
    assert len(listed(response)) == 31
    content = response.content.decode()
    assert "the launch is on Tuesday" in content
    assert "x" * 100 not in content  # long text is shortened


@pytest.mark.parametrize(
    ("term", "count"),
    [("pair message", 30), ("Tuesday", 1), ("carol", 1), ("alice", 15), ("zzz", 0)],
)
def test_message_search(staff: Client, data: dict[str, Any], term: str, count: int) -> None:
    assert len(listed(changelist(staff, "message", q=term))) == count


def test_message_change_page_edits_text_only(staff: Client, data: dict[str, Any]) -> None:
    message = Message.objects.get(room=data["team"])
    url = reverse("admin:chatter_message_change", args=[message.pk])
    assert staff.get(url).status_code == 200
    inline = {f"revisions-{k}": v for k, v in [("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0")]}
    original = message.text
    response = staff.post(
        url, {"text": "moderated", "room": "x", "sender": "y", "seq": "9", **inline}
    )
    assert response.status_code == 302
    message.refresh_from_db()
    assert (message.text, message.room, message.sender, message.seq) == (
        "moderated",
        data["team"],
        data["carol"],
        1,
    )
    # An edit like any other: the earlier text kept, a change number pages resume by.
    assert list(message.revisions.values_list("text", flat=True)) == [original]
    assert message.change == 1 and message.edited_at is not None
    page = staff.get(url).content.decode()
    assert original in page  # the earlier texts are shown to moderators


def test_delete_for_everyone_leaves_a_tombstone(staff: Client, data: dict[str, Any]) -> None:
    message = Message.objects.get(room=data["team"])
    response = staff.post(
        reverse("admin:chatter_message_changelist"),
        {"action": "delete_for_everyone", "_selected_action": [message.pk]},
    )
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.is_deleted and message.text == "" and message.change == 1


@override_settings(LANGUAGE_CODE="en-us")
def test_anonymous_users_are_sent_to_login(client: Client) -> None:
    response = client.get(reverse("admin:chatter_room_changelist"))
    assert response.status_code == 302
