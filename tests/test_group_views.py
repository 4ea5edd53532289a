"""Tests of the group panel: its forms without JavaScript, the statuses of refusals, the
"Add people" picker's search, and what the room page shows to whom."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from chatter import rooms
from chatter.models import Membership, Message, Room
from tests.factories import make_user

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _fresh_limits() -> None:
    cache.clear()


@pytest.fixture
def group(alice: Any, bob: Any, carol: Any) -> Room:
    """alice's group with bob and carol, made as the "New group" form makes it."""
    client = Client()
    client.force_login(alice)
    response = client.post(
        reverse("chatter:create_group"), {"name": "Trip", "usernames": "bob carol"}
    )
    assert response.status_code == 302
    room = Room.objects.get(name="Trip")
    assert room.created_by == alice
    return room


def client_of(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(name: str, room: Room) -> str:
    return reverse(f"chatter:group_{name}", args=[room.pk])


def member_names(room: Room) -> list[str]:
    return [u.username for u in rooms.members(room)]


def panel(html: str) -> str:
    found = re.search(r'<details id="chatter-group".*?</details>', html, re.S)
    return found.group() if found else ""


def test_the_creator_sees_remove_buttons_for_the_others(group: Room, alice: Any) -> None:
    html = client_of(alice).get(reverse("chatter:chatroom", args=[group.pk])).content.decode()
    shown = panel(html)
    assert shown and " open" not in shown.split(">", 1)[0]
    assert f'action="{url("rename", group)}"' in shown and 'value="Trip"' in shown
    assert f'action="{url("add", group)}"' in shown and f'action="{url("leave", group)}"' in shown
    removes = re.findall(r'<input type="hidden" name="user" value="(\d+)">', shown)
    assert sorted(removes) == sorted(str(u.pk) for u in rooms.members(group) if u != alice)
    assert 'aria-label="Remove bob from the group"' in shown
    assert "made the group" in shown
    # The "Add people" picker: its own ids, its search leaves the members out.
    assert '<div id="chatter-add-picker" class="chatter-field chatter-picker"' in shown
    assert 'data-field="id_add_usernames"' in shown
    assert f'hx-get="/chat/users/?picker=add&amp;room={group.pk}"' in shown
    assert 'hx-target="#chatter-add-picker-listbox"' in shown
    # The "New group" picker of the same page keeps its own.
    assert html.count('id="chatter-picker"') == 1 and html.count('id="chatter-add-picker"') == 1


def test_other_members_see_no_remove_buttons(group: Room, bob: Any) -> None:
    shown = panel(client_of(bob).get(reverse("chatter:chatroom", args=[group.pk])).content.decode())
    assert shown and 'name="user"' not in shown
    assert f'action="{url("add", group)}"' in shown


def test_a_moderator_member_sees_them(group: Room, bob: Any) -> None:
    bob.user_permissions.add(Permission.objects.get(codename="delete_membership"))
    shown = panel(client_of(bob).get(reverse("chatter:chatroom", args=[group.pk])).content.decode())
    assert 'aria-label="Remove carol from the group"' in shown
    assert 'aria-label="Remove bob from the group"' not in shown


def test_a_one_to_one_room_has_no_panel(alice: Any, bob: Any) -> None:
    pair = rooms.create_room([alice, bob])
    client = client_of(alice)
    assert panel(client.get(reverse("chatter:chatroom", args=[pair])).content.decode()) == ""
    assert client.get(reverse("chatter:group", args=[pair])).status_code == 404
    carol = make_user("carol")
    response = client.post(reverse("chatter:group_add", args=[pair]), {"usernames": "carol"})
    assert response.status_code == 400
    assert "Start a new group" in response.content.decode()
    assert not Membership.objects.filter(user=carol).exists()


def test_the_group_page_and_its_htmx_panel(group: Room, alice: Any) -> None:
    client = client_of(alice)
    page = client.get(reverse("chatter:group", args=[group.pk]))
    assert page.status_code == 200
    assert re.search(r'<details id="chatter-group"[^>]* open>', page.content.decode())
    partial = client.get(reverse("chatter:group", args=[group.pk]), **HTMX).content.decode()
    assert "<html" not in partial and 'name="csrfmiddlewaretoken"' in partial
    assert 'id="chatter-add-picker"' in partial and 'name="user"' in partial


def test_rename_add_remove_leave_by_forms(
    group: Room, alice: Any, bob: Any, carol: Any, user_factory: Any
) -> None:
    dave = user_factory("dave")
    room_url = reverse("chatter:chatroom", args=[group.pk])
    alice_client, bob_client = client_of(alice), client_of(bob)
    response = bob_client.post(url("rename", group), {"name": "Weekend"})
    assert (response.status_code, response["Location"]) == (302, room_url)
    # The picker posts one "usernames" per person, and its own search box's "q".
    response = bob_client.post(url("add", group), {"usernames": ["dave"], "q": ""})
    assert response.status_code == 302
    response = alice_client.post(url("remove", group), {"user": str(carol.pk)})
    assert response.status_code == 302
    response = bob_client.post(url("leave", group))
    assert (response.status_code, response["Location"]) == (302, reverse("chatter:index"))
    assert member_names(group) == ["alice", "dave"]
    texts = [m.data for m in Message.objects.filter(room=group, kind="system").order_by("seq")]
    assert [d["action"] for d in texts] == ["renamed", "added", "removed", "left"]
    # bob is out: the room is a 404 for him now, and gone from his list.
    assert bob_client.get(room_url).status_code == 404
    assert str(group.pk) not in bob_client.get(reverse("chatter:index")).content.decode()
    page = client_of(dave).get(room_url).content.decode()
    assert "bob added dave" in page and "Alice Liddell removed carol" in page


@pytest.mark.parametrize(
    ("who", "name", "data", "status", "says"),
    [
        ("bob", "remove", {"user": "CAROL"}, 403, "Only the person who made the group"),
        ("alice", "remove", {"user": "nobody"}, 400, "No such user."),
        ("alice", "remove", {"user": ""}, 400, "No such user."),
        ("alice", "remove", {"user": "DAVE"}, 400, "dave is not a member of this group."),
        ("alice", "add", {"usernames": "ghost"}, 400, "No such user: ghost."),
        ("alice", "add", {"usernames": ""}, 400, "This field is required."),
        ("alice", "add", {"usernames": "bob"}, 400, "bob is already a member."),
        ("alice", "rename", {"name": "  "}, 400, "A group needs a name."),
        ("alice", "rename", {"name": "x" * 101}, 400, "at most 100 characters"),
        ("dave", "rename", {"name": "Mine"}, 404, ""),
        ("dave", "add", {"usernames": "dave"}, 404, ""),
        ("dave", "remove", {"user": "CAROL"}, 404, ""),
        ("dave", "leave", {}, 404, ""),
    ],
)
def test_refusals_change_nothing(
    group: Room,
    people: dict[str, Any],
    who: str,
    name: str,
    data: dict[str, str],
    status: int,
    says: str,
) -> None:
    ids = {"CAROL": str(people["carol"].pk), "DAVE": str(people["dave"].pk)}
    data = {key: ids.get(value, value) for key, value in data.items()}
    before = (member_names(group), Message.objects.count(), Room.objects.get(pk=group.pk).name)
    response = client_of(people[who]).post(url(name, group), data)
    assert response.status_code == status
    if says:
        html = response.content.decode()
        assert says in html
        assert re.search(r'<details id="chatter-group"[^>]* open>', html)
    after = (member_names(group), Message.objects.count(), Room.objects.get(pk=group.pk).name)
    assert after == before


@pytest.fixture
def people(alice: Any, bob: Any, carol: Any, user_factory: Any) -> dict[str, Any]:
    return {"alice": alice, "bob": bob, "carol": carol, "dave": user_factory("dave")}


def test_too_fast_is_429(group: Room, bob: Any, settings: Any) -> None:
    settings.CHATTER_FRAME_LIMITS = {"group": (1, 60)}
    client = client_of(bob)
    assert client.post(url("rename", group), {"name": "One"}).status_code == 302
    response = client.post(url("rename", group), {"name": "Two"})
    assert response.status_code == 429
    assert Room.objects.get(pk=group.pk).name == "One"


def test_only_posts_change_and_anonymous_users_log_in(group: Room, alice: Any) -> None:
    for name in ("rename", "add", "remove", "leave"):
        assert client_of(alice).get(url(name, group)).status_code == 405
        response = Client().post(url(name, group))
        assert response.status_code == 302 and "login" in response["Location"]
    assert Client().get(reverse("chatter:group", args=[group.pk])).status_code == 302


def test_the_add_pickers_search_leaves_members_out(
    group: Room, alice: Any, user_factory: Any
) -> None:
    user_factory("carla")
    client = client_of(alice)
    search = reverse("chatter:user_search")
    html = client.get(f"{search}?picker=add&room={group.pk}&q=car", **HTMX).content.decode()
    assert re.findall(r'data-username="([^"]+)"', html) == ["carla"]
    assert '<li id="chatter-add-picker-option-1"' in html
    assert '<p id="chatter-add-picker-status" hx-swap-oob="innerHTML">1 person found.</p>' in html
    # Without the room (or for a room one is not in) nobody is left out but oneself.
    outsider = client_of(user_factory("eve"))
    html = outsider.get(f"{search}?picker=add&room={group.pk}&q=car", **HTMX).content.decode()
    assert re.findall(r'data-username="([^"]+)"', html) == ["carla", "carol"]
    html = client.get(f"{search}?picker=add&room=nonsense&q=car", **HTMX).content.decode()
    assert re.findall(r'data-username="([^"]+)"', html) == ["carla", "carol"]
    # An unknown picker is the "New group" one.
    html = client.get(f"{search}?picker=zzz&q=car", **HTMX).content.decode()
    assert '<li id="chatter-picker-option-1"' in html


def test_a_renamed_group_shows_its_name_and_members(group: Room, alice: Any, bob: Any) -> None:
    client_of(bob).post(url("rename", group), {"name": "<b>Ski</b>"})
    html = client_of(alice).get(reverse("chatter:chatroom", args=[group.pk])).content.decode()
    assert '<h1 id="chatter-room-title">&lt;b&gt;Ski&lt;/b&gt;</h1>' in html
    assert "bob renamed the group to “&lt;b&gt;Ski&lt;/b&gt;”" in html
    assert "<b>Ski</b>" not in html
