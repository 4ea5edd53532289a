"""The message search page and its htmx partial (chatter.search_views)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatter import messages
from chatter.models import Room
from chatter.rooms import create_room

# On SQLite in the unit stage, on PostgreSQL (full-text search) in the pg stage.
pytestmark = [pytest.mark.django_db, pytest.mark.postgres]
URL = reverse("chatter:search")
HTMX = {"HTTP_HX_REQUEST": "true"}


def send(room_id: Any, user: Any, text: str) -> Any:
    return messages.send_message(Room.objects.get(pk=room_id), user, text)[0]


def test_the_partial_links_each_result_to_its_message(
    alice_client: Any, alice: Any, bob: Any
) -> None:
    room = create_room([alice, bob])
    sent = send(room, bob, "the quarterly numbers")
    response = alice_client.get(URL, {"q": "quarterly"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    link = f'href="/chat/{room}/?around={sent.seq}#chatter-msg-{sent.seq}"'
    assert link in html
    assert "<mark>quarterly</mark>" in html and ">bob<" in html


def test_the_full_page_shows_the_box_filled_and_the_results(
    alice_client: Any, alice: Any, bob: Any
) -> None:
    room = create_room([alice, bob])
    send(room, bob, "lunch at one")
    response = alice_client.get(URL, {"q": "lunch"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="chatter-msg-search-q"' in html and 'value="lunch"' in html
    assert "<mark>lunch</mark>" in html
    assert 'id="chatter-rooms"' in html  # the room list is still there


def test_message_text_is_never_markup(alice_client: Any, alice: Any, bob: Any) -> None:
    room = create_room([alice, bob])
    send(room, bob, '<script>alert("x")</script> <img src=x onerror=alert(1)> payload')
    html = alice_client.get(URL, {"q": "payload"}, **HTMX).content.decode()
    assert "<script>alert" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "<mark>payload</mark>" in html


def test_bad_filters_are_said_in_the_results(alice_client: Any) -> None:
    partial = alice_client.get(URL, {"q": "before:tomorrow"}, **HTMX)
    assert partial.status_code == 200
    assert "before: needs a date written YYYY-MM-DD" in partial.content.decode()
    page = alice_client.get(URL, {"q": "from:nobody hello"})
    assert page.status_code == 400
    assert "No one is called “nobody”." in page.content.decode()


def test_nothing_found_and_nothing_asked(alice_client: Any) -> None:
    assert "No messages found." in alice_client.get(URL, {"q": "zzz"}, **HTMX).content.decode()
    assert alice_client.get(URL, {"q": ""}, **HTMX).content.decode().strip() == ""


def test_unstorable_text_is_a_400(alice_client: Any) -> None:
    assert alice_client.get(URL, {"q": "a\x00b"}).status_code == 400
    assert alice_client.get(URL, {"q": "x", "room": "\x00"}, **HTMX).status_code == 400


def test_a_search_in_one_room(alice_client: Any, alice: Any, bob: Any, carol: Any) -> None:
    one = create_room([alice, bob])
    two = create_room([alice, carol])
    send(one, bob, "plans for one")
    send(two, carol, "plans for two")
    html = alice_client.get(URL, {"q": "plans", "room": str(two)}).content.decode()
    assert "Search in carol" in html and f'name="room" value="{two}"' in html
    partial = alice_client.get(URL, {"q": "plans", "room": str(two)}, **HTMX).content.decode()
    assert "<mark>plans</mark> for two" in partial and "for one" not in partial
    # The room page's header links here.
    room_page = alice_client.get(reverse("chatter:chatroom", args=[two])).content.decode()
    assert f'href="{URL}?room={two}"' in room_page


def test_a_room_of_others_or_no_room_is_a_404(alice_client: Any, bob: Any, carol: Any) -> None:
    theirs = create_room([bob, carol])
    assert alice_client.get(URL, {"q": "x", "room": str(theirs)}).status_code == 404
    assert alice_client.get(URL, {"q": "x", "room": "not-a-uuid"}).status_code == 404


def test_login_required_and_get_only(alice_client: Any) -> None:
    assert Client().get(URL, {"q": "x"}).status_code == 302
    assert alice_client.post(URL, {"q": "x"}).status_code == 405


def test_the_room_list_has_both_boxes(alice_client: Any) -> None:
    html = alice_client.get(reverse("chatter:index")).content.decode()
    assert 'id="chatter-msg-search-q"' in html and 'id="chatter-search-q"' in html
    assert 'hx-trigger="input changed delay:300ms, search"' in html


_QUERIES = st.lists(
    st.sampled_from(["from:", "in:", "before:", "after:", '"', "-", " ", "or", "2025-01-02", "x"])
    | st.text(max_size=8),
    max_size=10,
).map("".join)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=_QUERIES | st.text(max_size=250))
def test_any_query_gets_an_answer_never_a_500(alice_client: Any, raw: str) -> None:
    response = alice_client.get(URL, {"q": raw}, **HTMX)
    assert response.status_code in (200, 400)
    if "\x00" in raw or any("\ud800" <= ch <= "\udfff" for ch in raw):
        assert response.status_code == 400
