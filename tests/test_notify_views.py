"""Tests of the mute view, the preferences page and the room page's notification parts."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template
from django.test import RequestFactory, override_settings
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatter import messages, notify, rooms
from chatter.models import Membership, Preferences, Room

pytestmark = pytest.mark.django_db

FIXTURES = [HealthCheck.function_scoped_fixture]
#: Form text as a browser sends it (UTF-8 has no lone surrogates).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)


@pytest.fixture
def room(alice: Any, bob: Any) -> Room:
    return Room.objects.get(pk=rooms.create_room([alice, bob]))


def muted(room: Room, user: Any) -> bool:
    return Membership.objects.get(room=room, user=user).muted


# -- mute ------------------------------------------------------------------------------------


def test_mute_and_unmute_come_back_to_the_room(alice_client: Any, alice: Any, room: Room) -> None:
    url = reverse("chatter:mute", args=[room.pk])
    response = alice_client.post(url, {"muted": "1"})
    assert response.status_code == 302 and response["Location"] == f"/chat/{room.pk}/"
    assert muted(room, alice)
    response = alice_client.post(url, {"muted": "0", "next": "/chat/"})
    assert response.status_code == 302 and response["Location"] == "/chat/"
    assert not muted(room, alice)


def test_mute_never_redirects_off_site(alice_client: Any, room: Room) -> None:
    url = reverse("chatter:mute", args=[room.pk])
    response = alice_client.post(url, {"muted": "1", "next": "https://evil.example/"})
    assert response["Location"] == f"/chat/{room.pk}/"


def test_mute_refusals(client: Any, alice_client: Any, alice: Any, carol: Any, room: Room) -> None:
    url = reverse("chatter:mute", args=[room.pk])
    assert alice_client.get(url).status_code == 405
    assert alice_client.post(url, {}).status_code == 400
    assert alice_client.post(url, {"muted": "\x00"}).status_code == 400
    other = Room.objects.get(pk=rooms.create_room([carol]))
    assert (
        alice_client.post(reverse("chatter:mute", args=[other.pk]), {"muted": "1"}).status_code
        == 404
    )
    assert not Membership.objects.filter(muted=True).exists()
    client.logout()
    assert client.post(url, {"muted": "1"}).status_code == 302  # to the login page
    assert not muted(room, alice)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=TEXT.filter(lambda v: v not in {"0", "1"}))
def test_any_other_mute_value_is_a_400_that_changes_nothing(
    alice_client: Any, alice: Any, room: Room, value: str
) -> None:
    response = alice_client.post(reverse("chatter:mute", args=[room.pk]), {"muted": value})
    assert response.status_code == 400
    assert not muted(room, alice)


def test_the_room_header_has_the_toggle_and_the_list_shows_muted_rooms(
    alice_client: Any, alice: Any, bob: Any, room: Room
) -> None:
    page = alice_client.get(reverse("chatter:chatroom", args=[room.pk])).content.decode()
    assert f'action="/chat/{room.pk}/mute/"' in page and 'name="muted" value="1"' in page
    notify.set_muted(room, alice, True)
    messages.send_message(room, bob, "psst")
    page = alice_client.get(reverse("chatter:index")).content.decode()
    assert 'data-muted="1"' in page and "is-muted" in page
    page = alice_client.get(reverse("chatter:chatroom", args=[room.pk])).content.decode()
    assert 'name="muted" value="0"' in page and "Unmute" in page
    assert "notify.js" in page and "chatter-notify-toggle" in page
    assert reverse("chatter:preferences") in page


def test_the_mute_button_reads_the_room_list_not_the_database(
    alice_client: Any, alice: Any, room: Room
) -> None:
    url = reverse("chatter:chatroom", args=[room.pk])
    with mock.patch.object(notify, "is_muted", wraps=notify.is_muted) as asked:
        page = alice_client.get(url).content.decode()
    assert asked.call_count == 0 and 'name="muted" value="1"' in page
    # Where a page has no room list, the tag asks (one query).
    template = Template("{% load chatter_notify %}{% chatter_mute_button room %}")
    request = RequestFactory().get("/")
    request.user = alice
    notify.set_muted(room, alice, True)
    with mock.patch.object(notify, "is_muted", wraps=notify.is_muted) as asked:
        html = template.render(Context({"request": request, "room": room}))
    assert asked.call_count == 1 and 'name="muted" value="0"' in html
    assert template.render(Context({"room": room})).strip() == ""  # no viewer: no button


# -- preferences -----------------------------------------------------------------------------


def test_preferences_page_saves_the_digest_choice(alice_client: Any, alice: Any) -> None:
    url = reverse("chatter:preferences")
    page = alice_client.get(url).content.decode()
    assert 'name="email_digest"' in page and " checked" in page
    assert not Preferences.objects.exists()  # created when first saved
    response = alice_client.post(url, {})
    assert response.status_code == 302 and response["Location"] == url + "?saved=1"
    assert Preferences.objects.get(user=alice).email_digest is False
    page = alice_client.get(url + "?saved=1").content.decode()
    assert "Your preferences are saved." in page and " checked" not in page
    alice_client.post(url, {"email_digest": "on"})
    assert notify.preferences_for(alice).email_digest is True


def test_preferences_lists_muted_rooms_with_unmute(
    alice_client: Any, alice: Any, room: Room
) -> None:
    url = reverse("chatter:preferences")
    assert "No conversation is muted" in alice_client.get(url).content.decode()
    notify.set_muted(room, alice, True)
    page = alice_client.get(url).content.decode()
    assert f'href="/chat/{room.pk}/"' in page and "bob" in page
    assert f'action="/chat/{room.pk}/mute/"' in page and 'name="muted" value="0"' in page


def test_preferences_refusals(client: Any, alice_client: Any) -> None:
    url = reverse("chatter:preferences")
    assert alice_client.put(url).status_code == 405
    assert alice_client.post(url, {"email_digest": "\x00"}).status_code == 400
    assert not Preferences.objects.exists()
    client.logout()
    assert client.get(url).status_code == 302


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.dictionaries(st.sampled_from(["email_digest", "other", ""]), TEXT))
def test_any_preferences_form_is_saved_as_a_yes_or_no(
    alice_client: Any, alice: Any, data: dict[str, str]
) -> None:
    response = alice_client.post(reverse("chatter:preferences"), data)
    if any(
        "\x00" in k or "\x00" in v or any(0xD800 <= ord(c) <= 0xDFFF for c in v)
        for k, v in data.items()
    ):
        assert response.status_code == 400
        return
    assert response.status_code == 302
    assert Preferences.objects.get(user=alice).email_digest in (True, False)
    if not data.get("email_digest"):
        assert Preferences.objects.get(user=alice).email_digest is False


def test_the_push_preferences_are_included_only_where_installed(
    alice_client: Any, tmp_path: Path
) -> None:
    url = reverse("chatter:preferences")
    assert "push-marker" not in alice_client.get(url).content.decode()
    (tmp_path / "chatter").mkdir()
    (tmp_path / "chatter" / "_push_preferences.html").write_text(
        '<section id="push-marker">Push</section>'
    )
    from django.conf import settings as django_settings

    templates = [{**django_settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    with override_settings(TEMPLATES=templates):
        assert 'id="push-marker"' in alice_client.get(url).content.decode()


# -- the demo's count --------------------------------------------------------------------------


def test_the_demo_nav_counts_unread_outside_muted_rooms(
    alice_client: Any, alice: Any, bob: Any, carol: Any, room: Room
) -> None:
    other = Room.objects.get(pk=rooms.create_room([alice, carol]))
    messages.send_message(room, bob, "one")
    messages.send_message(other, carol, "two")
    messages.send_message(other, carol, "three")
    page = alice_client.get(reverse("chatter:preferences")).content.decode()
    assert "data-chatter-unread>3</span>" in page
    notify.set_muted(other, alice, True)
    page = alice_client.get(reverse("chatter:preferences")).content.decode()
    assert "data-chatter-unread>1</span>" in page


def test_the_count_tag_is_0_for_visitors(alice: Any) -> None:
    template = Template("{% load chatter_notify %}{% chatter_notify_count %}")
    assert template.render(Context({})) == "0"
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    assert template.render(Context({"request": request})) == "0"
