"""The staff's report queue: listing, the context around a report, and the actions, each
offered and allowed only with its permission."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.test import Client
from django.urls import path, reverse
from django.utils import timezone

from chatter import messages, moderation, rooms
from chatter.models import Membership, Message, Report, Room
from tests.factories import make_users

urlpatterns = [path("admin/", admin.site.urls)]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

CHANGELIST = "admin:chatter_report_changelist"
ALL_PERMISSIONS = (
    "chatter.view_report",
    "chatter.change_report",
    "chatter.delete_message",
    "chatter.delete_membership",
    "auth.change_user",
)


@pytest.fixture(autouse=True)
def _fresh_limits() -> None:
    cache.clear()


def staff_client(*codenames: str, username: str = "mod") -> Client:
    user = get_user_model().objects.create_user(username, password="pw", is_staff=True)
    for name in codenames:
        app, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app, codename=codename)
        )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def data() -> dict[str, Any]:
    alice, bob, carol = make_users("alice", "bob", "carol")
    team = Room.objects.get(pk=rooms.create_room([alice, bob, carol], name="Team"))
    for n in range(1, 9):
        messages.send_message(team, alice if n != 5 else carol, f"line {n}")
    messages.send_message(team, alice, '<script>alert("x")</script> rude')  # seq 9
    old = moderation.report_message(team, carol, 2, "spam")
    Report.objects.filter(pk=old.pk).update(resolved_at=timezone.now())
    xss = moderation.report_message(team, bob, 9, "abuse", "<img src=x onerror=alert(1)>")
    moderation.report_message(team, bob, 5, "other")
    return {"alice": alice, "bob": bob, "carol": carol, "team": team, "old": old, "xss": xss}


def listed(client: Client, **params: str) -> list[Report]:
    response = client.get(reverse(CHANGELIST), params)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def offered(client: Client) -> set[str]:
    form = client.get(reverse(CHANGELIST)).context["action_form"]
    if form is None:  # no action at all
        return set()
    return {name for name, _ in form.fields["action"].choices if name}


def act(client: Client, action: str, *reports: Report) -> Any:
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [r.pk for r in reports]},
        follow=True,
    )


def test_open_reports_first_then_newest(
    data: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    client = staff_client("chatter.view_report")
    with django_assert_max_num_queries(12):
        found = listed(client)
    assert [r.seq for r in found] == [5, 9, 2]  # open (newest first), then resolved
    assert [r.seq for r in listed(client, status="open")] == [5, 9]
    assert [r.seq for r in listed(client, status="resolved")] == [2]
    assert [r.seq for r in listed(client, q="script")] == [9]


def test_the_report_page_shows_the_context_escaped(data: dict[str, Any]) -> None:
    client = staff_client("chatter.view_report")
    page = client.get(reverse("admin:chatter_report_change", args=[data["xss"].pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; rude" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    # Three before (6, 7, 8) and none after: the room's newest.
    for n in (6, 7, 8):
        assert f"#{n} ·" in html
    assert "#5 ·" not in html


def test_reports_cannot_be_added_or_deleted_in_bulk(data: dict[str, Any]) -> None:
    client = staff_client(*ALL_PERMISSIONS, "chatter.add_report", "chatter.delete_report")
    assert client.get(reverse("admin:chatter_report_add")).status_code == 403
    assert "delete_selected" not in offered(client)


def test_actions_are_offered_by_permission(data: dict[str, Any]) -> None:
    assert offered(staff_client("chatter.view_report", username="viewer")) == set()
    assert offered(staff_client(*ALL_PERMISSIONS)) == {
        "delete_reported_message",
        "remove_author",
        "deactivate_author",
        "mark_resolved",
    }
    only = staff_client("chatter.view_report", "chatter.delete_message", username="deleter")
    assert offered(only) == {"delete_reported_message"}


@pytest.mark.parametrize(
    "action",
    ["delete_reported_message", "remove_author", "deactivate_author", "mark_resolved"],
)
def test_an_action_without_its_permission_changes_nothing(
    data: dict[str, Any], action: str
) -> None:
    client = staff_client("chatter.view_report")
    before = (
        list(Message.objects.order_by("pk").values_list("text", flat=True)),
        Membership.objects.count(),
        get_user_model().objects.filter(is_active=True).count(),
        Report.objects.filter(resolved_at__isnull=True).count(),
    )
    response = act(client, action, data["xss"])
    assert response.status_code == 200  # "No action selected": the action is not offered
    after = (
        list(Message.objects.order_by("pk").values_list("text", flat=True)),
        Membership.objects.count(),
        get_user_model().objects.filter(is_active=True).count(),
        Report.objects.filter(resolved_at__isnull=True).count(),
    )
    assert after == before


def test_delete_the_message(data: dict[str, Any], django_capture_on_commit_callbacks: Any) -> None:
    client = staff_client(*ALL_PERMISSIONS)
    with django_capture_on_commit_callbacks() as announced:
        response = act(client, "delete_reported_message", data["xss"])
    assert "Done for 1 report." in response.content.decode()
    assert Message.objects.get(room=data["team"], seq=9).is_deleted
    assert len(announced) == 1  # the change, live
    data["xss"].refresh_from_db()
    assert data["xss"].resolved_at is not None and data["xss"].text.startswith("<script>")


def test_remove_the_author(data: dict[str, Any]) -> None:
    client = staff_client(*ALL_PERMISSIONS)
    act(client, "remove_author", data["xss"])
    assert not Membership.objects.filter(room=data["team"], user=data["alice"]).exists()
    assert Report.objects.get(pk=data["xss"].pk).resolved_at is not None


def test_deactivate_the_author(data: dict[str, Any]) -> None:
    client = staff_client(*ALL_PERMISSIONS)
    act(client, "deactivate_author", data["xss"])
    data["alice"].refresh_from_db()
    assert not data["alice"].is_active


def test_mark_resolved_several(data: dict[str, Any]) -> None:
    client = staff_client(*ALL_PERMISSIONS)
    open_ = list(Report.objects.filter(resolved_at__isnull=True))
    response = act(client, "mark_resolved", *open_)
    assert "Done for 2 reports." in response.content.decode()
    assert not Report.objects.filter(resolved_at__isnull=True).exists()


def test_a_refused_action_is_said_not_a_500(data: dict[str, Any], settings: Any) -> None:
    settings.CHATTER_FRAME_LIMITS = {"delete": (1, 60)}
    client = staff_client(*ALL_PERMISSIONS)
    reports = list(Report.objects.filter(resolved_at__isnull=True))
    response = act(client, "delete_reported_message", *reports)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Done for 1 report." in html and "too often" in html
    assert Report.objects.filter(resolved_at__isnull=True).count() == 1
