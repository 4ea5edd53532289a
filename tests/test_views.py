"""Tests of Chatter's pages: access, rooms, sending, history pages and escaping."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.http import Http404
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chatter import avatars, messages, rooms, views
from chatter.models import Message, Room
from tests.factories import fill_room, summary

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _room(*users: Any, name: str = "") -> Room:
    return Room.objects.get(pk=rooms.create_room(list(users), name=name))


def _seqs(html: str) -> list[int]:
    return [int(s) for s in re.findall(r'<article class="chatter-msg"[^>]*data-seq="(\d+)"', html)]


def _urls(room_id: uuid.UUID) -> list[tuple[str, str]]:
    return [
        ("get", reverse("chatter:index")),
        ("post", reverse("chatter:create_group")),
        ("get", reverse("chatter:user_search") + "?q=b"),
        ("get", reverse("chatter:chat_with", args=["bob"])),
        ("post", reverse("chatter:chat_with", args=["bob"])),
        ("get", reverse("chatter:chatroom", args=[room_id])),
        ("get", reverse("chatter:history", args=[room_id]) + "?before=5"),
        ("get", reverse("chatter:room_item", args=[room_id])),
        ("post", reverse("chatter:send", args=[room_id])),
    ]


def test_every_view_redirects_anonymous_users_to_login(client: Any, alice: Any, bob: Any) -> None:
    room = _room(alice, bob)
    for method, url in _urls(room.id):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login") + "?next="), url
    assert not Message.objects.exists()


def test_non_members_and_unknown_rooms_get_404(
    client: Any, alice: Any, bob: Any, carol: Any
) -> None:
    room = _room(alice, bob)
    client.force_login(carol)
    for method, url in _urls(room.id)[5:]:
        assert getattr(client, method)(url).status_code == 404, url
    unknown = uuid.uuid4()
    assert client.get(reverse("chatter:chatroom", args=[unknown])).status_code == 404
    assert client.post(reverse("chatter:send", args=[unknown]), {"text": "x"}).status_code == 404
    assert not Message.objects.exists()


def test_index_lists_rooms_newest_first_with_unread_badge(
    alice_client: Any, alice: Any, bob: Any, carol: Any
) -> None:
    old = _room(alice, bob)
    new = _room(alice, carol, name="Lunch")
    messages.send_message(old, bob, "first " + "x" * 200)
    messages.send_message(new, carol, "hi alice")
    messages.send_message(new, carol, "are you there?")
    html = alice_client.get(reverse("chatter:index")).content.decode()
    assert html.index(f'id="chatter-room-{new.id.hex}"') < html.index(
        f'id="chatter-room-{old.id.hex}"'
    )
    assert 'id="chatter-rooms"' in html
    assert re.search(r'class="chatter-badge"><span class="chatter-badge-count">2<', html)
    assert 'data-seq="2" data-read-seq="0"' in html  # what the page computes badges from
    assert "x" * 200 not in html  # the preview is truncated
    assert "Lunch" in html and "are you there?" in html
    assert 'hx-trigger="input changed delay:300ms, search"' in html
    assert 'name="htmx-config"' in html and "chatter/chatter.js" in html
    assert 'ws-connect="/ws/chatter/"' in html


def test_room_page_shows_latest_page_and_marks_read(
    settings: Any, alice_client: Any, alice: Any, bob: Any
) -> None:
    settings.CHATTER_PAGE_SIZE = 10
    room = _room(alice, bob)
    fill_room(room, 25, sender=bob)
    response = alice_client.get(reverse("chatter:chatroom", args=[room.id]))
    html = response.content.decode()
    assert response.status_code == 200
    assert _seqs(html) == list(range(16, 26))
    assert f'data-last-seq="{room.last_seq}"' in html
    assert 'id="chatter-older"' in html and "?before=16" in html
    assert f'data-me="{alice.pk}"' in html and 'id="chatter-composer"' in html
    assert f'ws-connect="/ws/chatter/{room.id}/"' in html and "ws-send" in html
    assert rooms.unread_counts(alice)[room.id] == 0
    older = alice_client.get(reverse("chatter:chatroom", args=[room.id]) + "?before=16")
    assert _seqs(older.content.decode()) == list(range(6, 16))


def test_room_page_empty_state_and_title(alice_client: Any, alice: Any, bob: Any) -> None:
    room = _room(alice, bob)
    html = alice_client.get(reverse("chatter:chatroom", args=[room.id])).content.decode()
    assert "No messages yet — say hello" in html
    assert '<h1 id="chatter-room-title">bob</h1>' in html
    assert 'id="chatter-older"' not in html


def test_room_page_lists_members_with_a_comma_and_no_space_before_it(
    alice_client: Any, alice: Any, bob: Any
) -> None:
    room = _room(alice, bob)
    html = alice_client.get(reverse("chatter:chatroom", args=[room.id])).content.decode()
    line = re.search(r'<p id="chatter-members".*?</p>', html, re.S)
    assert line is not None
    assert re.search(r"</span>, <span", line.group()), line.group()
    assert not re.search(r"\s,", line.group())


def test_seen_by_under_own_last_message(alice_client: Any, alice: Any, bob: Any) -> None:
    room = _room(alice, bob)
    messages.send_message(room, alice, "hello")
    rooms.mark_read(room, bob)
    html = alice_client.get(reverse("chatter:chatroom", args=[room.id])).content.decode()
    assert re.search(r'id="chatter-seen"[^>]*>Seen by <span[^>]*>bob</span></div>', html)
    messages.send_message(room, alice, "again")
    html = alice_client.get(reverse("chatter:chatroom", args=[room.id])).content.decode()
    assert re.search(r'id="chatter-seen"[^>]* hidden></div>', html)


def test_bad_before_is_400(alice_client: Any, alice: Any, bob: Any) -> None:
    room = _room(alice, bob)
    for value in ["0", "-1", "x", "1.5", "", "\u00b2", "9" * 30]:
        url = reverse("chatter:history", args=[room.id]) + f"?before={value}"
        assert alice_client.get(url).status_code == 400, value
    assert alice_client.get(reverse("chatter:history", args=[room.id])).status_code == 400
    page = reverse("chatter:chatroom", args=[room.id])
    assert alice_client.get(page + "?before=" + "9" * 30).status_code == 400


def test_history_pages_walk_every_message_once_in_order(
    settings: Any, alice_client: Any, alice: Any, bob: Any
) -> None:
    settings.CHATTER_PAGE_SIZE = 25
    room = _room(alice, bob)
    fill_room(room, 120, sender=bob)
    html = alice_client.get(reverse("chatter:chatroom", args=[room.id])).content.decode()
    seen = _seqs(html)
    pages = 1
    while match := re.search(r'id="chatter-older"[^>]*hx-get="([^"]+)"', html):
        html = alice_client.get(match.group(1).replace("&amp;", "&"), **HTMX).content.decode()
        seen = _seqs(html) + seen
        pages += 1
    assert seen == list(range(1, 121))
    assert pages == 5


def _count(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_query_count_does_not_grow_with_room_size(
    alice_client: Any, alice: Any, bob: Any, carol: Any
) -> None:
    small, large = _room(alice, bob), _room(alice, carol)
    fill_room(small, 10, sender=bob)
    fill_room(large, 300, sender=carol)
    for name, query in [("chatter:chatroom", ""), ("chatter:history", "?before=10")]:
        a = _count(alice_client, reverse(name, args=[small.id]) + query)
        b = _count(alice_client, reverse(name, args=[large.id]) + query)
        assert a == b, name
        # The first view also announces the read (4 more); the room page asks the user's
        # permissions (2) to offer "Delete" on others' messages to moderators; the room list
        # counts the unread mentions (1); whom the user blocks (1) to collapse their messages.
        assert b <= 17, name


def _chat_with(username: str) -> str:
    return reverse("chatter:chat_with", args=[username])


def test_chat_with_get_creates_nothing_and_asks(alice_client: Any, alice: Any, bob: Any) -> None:
    response = alice_client.get(_chat_with("bob"))
    assert response.status_code == 200
    assert response.templates[0].name == "chatter/chat_with.html"
    html = response.content.decode()
    assert "Start a conversation with bob" in html
    form = re.search(r'<form id="chatter-start"[^>]*>', html)
    assert form and 'method="post"' in form.group(0)
    assert f'action="{_chat_with("bob")}"' in form.group(0)
    assert 'name="csrfmiddlewaretoken"' in html
    assert re.search(r'<button type="submit"[^>]*>Start conversation</button>', html)
    assert not Room.objects.exists()
    # Asking again still creates nothing.
    assert alice_client.get(_chat_with("bob")).status_code == 200
    assert not Room.objects.exists()


def test_chat_with_post_creates_one_room_and_get_then_redirects(
    alice_client: Any, alice: Any, bob: Any
) -> None:
    first = alice_client.post(_chat_with("bob"))
    second = alice_client.post(_chat_with("bob"))
    assert first.status_code == 302 and first["Location"] == second["Location"]
    room = Room.objects.get()
    assert first["Location"] == reverse("chatter:chatroom", args=[room.id])
    assert {u.username for u in rooms.members(room)} == {"alice", "bob"}
    # Now the room exists: a GET goes straight to it, and still creates nothing.
    got = alice_client.get(_chat_with("bob"))
    assert got.status_code == 302 and got["Location"] == first["Location"]
    assert Room.objects.count() == 1


def test_chat_with_get_finds_the_room_bob_started(client: Any, alice: Any, bob: Any) -> None:
    room = _room(bob, alice)
    client.force_login(alice)
    response = client.get(_chat_with("bob"))
    assert response["Location"] == reverse("chatter:chatroom", args=[room.id])


def test_chat_with_ignores_groups_with_more_members(
    alice_client: Any, alice: Any, bob: Any, carol: Any
) -> None:
    _room(alice, bob, carol, name="Trio")
    assert alice_client.get(_chat_with("bob")).status_code == 200
    assert Room.objects.count() == 1


def test_chat_with_needs_the_csrf_token(alice: Any, bob: Any) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(_chat_with("bob")).status_code == 403
    assert not Room.objects.exists()
    page = strict.get(_chat_with("bob")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = strict.post(_chat_with("bob"), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Room.objects.count() == 1


def test_chat_with_self_is_the_notes_room(alice_client: Any, alice: Any) -> None:
    page = alice_client.get(_chat_with("alice"))
    assert page.status_code == 200 and "Start your notes to self" in page.content.decode()
    assert not Room.objects.exists()
    response = alice_client.post(_chat_with("alice"))
    room = Room.objects.get()
    assert rooms.members(room) == [alice]
    html = alice_client.get(response["Location"]).content.decode()
    assert "Notes to self" in html
    assert alice_client.get(_chat_with("alice"))["Location"] == response["Location"]


def test_chat_with_unknown_user_is_404(alice_client: Any) -> None:
    assert alice_client.get(_chat_with("nobody")).status_code == 404
    assert alice_client.post(_chat_with("nobody")).status_code == 404
    assert not Room.objects.exists()


def test_chat_with_other_methods_are_405(alice_client: Any, bob: Any) -> None:
    for method in ("put", "delete", "patch"):
        assert getattr(alice_client, method)(_chat_with("bob")).status_code == 405
    assert not Room.objects.exists()


@pytest.mark.parametrize("username", ["a.b@example.com", "x+y", "dash-name", "under_score"])
def test_usernames_with_special_characters(
    alice_client: Any, alice: Any, user_factory: Any, username: str
) -> None:
    other = user_factory(username)
    url = _chat_with(username)
    assert alice_client.get(url).status_code == 200
    response = alice_client.post(url)
    assert response.status_code == 302
    assert rooms.members(Room.objects.get()) == sorted([alice, other], key=lambda u: u.username)
    profile = alice_client.get(reverse("profile", args=[username])).content.decode()
    assert f'action="{url}"' in profile


def test_create_group(alice_client: Any, alice: Any, bob: Any, carol: Any) -> None:
    response = alice_client.post(
        reverse("chatter:create_group"), {"name": "Trip", "usernames": "bob, carol bob"}
    )
    room = Room.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("chatter:chatroom", args=[room.id])
    assert room.name == "Trip"
    assert [u.username for u in rooms.members(room)] == ["alice", "bob", "carol"]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "x", "usernames": ""}, "This field is required."),
        ({"name": "x", "usernames": "alice"}, "Add at least one other person."),
        ({"name": "x", "usernames": "bob, ghost"}, "No such user: ghost."),
        ({"name": "x" * 101, "usernames": "bob"}, "at most 100 characters"),
    ],
)
def test_create_group_bad_input(alice_client: Any, bob: Any, data: dict, error: str) -> None:
    before = Room.objects.count()
    response = alice_client.post(reverse("chatter:create_group"), data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert Room.objects.count() == before


def test_create_group_too_many(settings: Any, alice_client: Any, bob: Any, carol: Any) -> None:
    settings.CHATTER_MAX_ROOM_MEMBERS = 2
    response = alice_client.post(reverse("chatter:create_group"), {"usernames": "bob carol"})
    assert response.status_code == 400
    assert "at most 2 members" in response.content.decode()
    assert not Room.objects.exists()


def test_send_plain_post_redirects_and_is_idempotent(
    alice_client: Any, alice: Any, bob: Any
) -> None:
    room = _room(alice, bob)
    url = reverse("chatter:send", args=[room.id])
    data = {"text": "hello\nthere", "client_id": str(uuid.uuid4())}
    for _ in range(2):
        response = alice_client.post(url, data)
        assert response.status_code == 302
        assert response["Location"] == reverse("chatter:chatroom", args=[room.id])
    message = Message.objects.get()
    assert (message.text, message.sender) == ("hello\nthere", alice)


def test_send_with_htmx_returns_message_and_fresh_composer(
    alice_client: Any, alice: Any, bob: Any
) -> None:
    room = _room(alice, bob)
    client_id = str(uuid.uuid4())
    response = alice_client.post(
        reverse("chatter:send", args=[room.id]), {"text": "hi", "client_id": client_id}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'hx-swap-oob="beforeend:#chatter-messages"' in html
    assert 'id="chatter-msg-1"' in html and 'id="chatter-composer"' in html
    assert client_id not in html
    assert Message.objects.get().text == "hi"


def test_send_get_is_405(alice_client: Any, alice: Any, bob: Any) -> None:
    room = _room(alice, bob)
    assert alice_client.get(reverse("chatter:send", args=[room.id])).status_code == 405


@pytest.mark.parametrize("text", ["", "   \n ", "y" * 4001])
def test_send_refused_keeps_text_and_stores_nothing(
    alice_client: Any, alice: Any, bob: Any, text: str
) -> None:
    room = _room(alice, bob)
    url = reverse("chatter:send", args=[room.id])
    response = alice_client.post(url, {"text": text, "client_id": str(uuid.uuid4())})
    html = response.content.decode()
    assert response.status_code == 400
    assert re.search(r'id="chatter-composer-error"[^>]*>\S', html)
    if text.strip():
        assert text in html
    fragment = alice_client.post(url, {"text": text}, **HTMX)
    assert fragment.status_code == 200
    assert 'id="chatter-composer-error"' in fragment.content.decode()
    assert "<html" not in fragment.content.decode()
    assert not Message.objects.exists()


def test_user_search_is_bounded_and_excludes_self(
    settings: Any, alice_client: Any, user_factory: Any
) -> None:
    settings.CHATTER_USER_SEARCH_LIMIT = 3
    for i in range(6):
        user_factory(f"alfred{i}")
    url = reverse("chatter:user_search")
    html = alice_client.get(url + "?q=al", **HTMX).content.decode()
    assert html.count('class="chatter-person"') == 3
    assert "/with/alice/" not in html
    assert alice_client.get(url + "?q=", **HTMX).content.decode().strip() == ""
    page = alice_client.get(url + "?q=alfred")
    assert page.status_code == 200 and "<html" in page.content.decode()


def test_message_text_is_escaped(alice_client: Any, alice: Any, bob: Any) -> None:
    room = _room(alice, bob)
    messages.send_message(room, bob, "<script>alert(1)</script>")
    messages.send_message(room, bob, "<img src=x onerror=alert(1)>")
    html = alice_client.get(reverse("chatter:chatroom", args=[room.id])).content.decode()
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def _request(user: Any) -> Any:
    request = RequestFactory().get("/my/own/view/")
    request.user = user
    request.session = SessionStore()
    request.htmx = False
    return request


def test_utilities_page_pattern_from_a_project_view(alice: Any, bob: Any) -> None:
    def my_view(request: Any) -> Any:
        room_id = rooms.create_room([request.user, bob])
        return views.chatroom(request, room_id)

    response = my_view(_request(alice))
    assert response.status_code == 200
    assert b'id="chatter-room"' in response.content
    room_id = rooms.create_room([alice, bob])
    assert views.chatroom(_request(alice), str(room_id)).status_code == 200
    post = _request(alice)
    post.method = "POST"
    assert views.chatroom(post, room_id).status_code == 200


def test_chatroom_called_directly_refuses_outsiders(alice: Any, bob: Any, carol: Any) -> None:
    room_id = rooms.create_room([alice, bob])
    with pytest.raises(Http404):
        views.chatroom(_request(carol), room_id)
    response = views.chatroom(_request(AnonymousUser()), room_id)
    assert response.status_code == 302


def test_project_base_template(settings: Any, alice_client: Any, alice: Any, bob: Any) -> None:
    settings.CHATTER_BASE_TEMPLATE = "demo/base.html"
    room = _room(alice, bob)
    for url in [reverse("chatter:index"), reverse("chatter:chatroom", args=[room.id])]:
        html = alice_client.get(url).content.decode()
        assert 'class="demo-nav"' in html and "chatter/chatter.css" in html


def test_demo_pages_need_login_and_list_people(client: Any, alice: Any, bob: Any) -> None:
    for url in [reverse("user_list"), reverse("profile", args=["bob"])]:
        assert client.get(url)["Location"].startswith(reverse("login"))
    client.force_login(alice)
    assert reverse("profile", args=["bob"]) in client.get(reverse("user_list")).content.decode()
    assert client.get(reverse("profile", args=["nobody"])).status_code == 404
    assert "/chat/with/" not in client.get(reverse("profile", args=["alice"])).content.decode()
    assert client.get(reverse("login")).status_code == 200


def test_room_item_partial_renders_without_request(alice: Any, bob: Any) -> None:
    from django.template.loader import render_to_string

    room = _room(alice, bob)
    messages.send_message(room, alice, "mine")
    html = render_to_string(
        "chatter/_room_item.html", {"summary": summary(room, alice), "active": False}
    )
    assert f'id="chatter-room-{room.id.hex}"' in html and "You:" in html


# -- text the database refuses -------------------------------------------------------------


def _unstorable_requests(room_id: uuid.UUID) -> list[tuple[str, str, dict[str, str]]]:
    room = str(room_id)
    return [
        ("get", "/chat/with/%00/", {}),
        ("post", "/chat/with/%00/", {}),
        ("get", "/chat/with/bob%00/", {}),
        ("get", "/chat/users/?q=%00", {}),
        ("get", "/chat/users/?q=bo%00b", {}),
        ("get", "/chat/?x=%00", {}),
        ("get", f"/chat/{room}/?before=%00", {}),
        ("get", f"/chat/{room}/history/?before=%00", {}),
        ("get", f"/chat/{room}/history/?before=5&day=2026-01-01%00", {}),
        ("post", "/chat/new/", {"name": "trip\x00", "usernames": "bob"}),
        ("post", "/chat/new/", {"name": "trip", "usernames": "bob\x00"}),
        ("post", f"/chat/{room}/send/", {"text": "hi\x00there", "client_id": str(uuid.uuid4())}),
        ("post", f"/chat/{room}/send/", {"text": "hi", "client_id": "\x00"}),
        ("post", f"/chat/{room}/send/", {"text": "hi", "\x00": "field name"}),
        ("post", "/chat/with/bob/", {"x": "\x00"}),
    ]


@pytest.mark.postgres  # runs on SQLite too; on PostgreSQL a NUL that got through is a 500
@pytest.mark.parametrize("index", range(15))
def test_text_the_database_refuses_is_a_400(
    alice_client: Any, alice: Any, bob: Any, index: int
) -> None:
    room = _room(alice, bob)
    method, path, data = _unstorable_requests(room.id)[index]
    before = (Room.objects.count(), Message.objects.count())
    response = getattr(alice_client, method)(path, data)
    assert response.status_code == 400, (method, path, data)
    assert (Room.objects.count(), Message.objects.count()) == before


def test_text_the_database_refuses_is_refused_before_the_login_check(client: Any) -> None:
    assert client.get("/chat/with/%00/").status_code == 400


def test_text_the_database_can_store_is_served(alice_client: Any, alice: Any, bob: Any) -> None:
    """The same requests without the NUL are answered by the views as usual."""
    room = _room(alice, bob)
    assert alice_client.get("/chat/users/?q=b%C3%B6b").status_code == 200
    response = alice_client.post(f"/chat/{room.id}/send/", {"text": "h\u00e9\U0001f600 \ufffd"})
    assert response.status_code == 302
    assert Message.objects.get().text == "h\u00e9\U0001f600 \ufffd"


def test_room_item_is_the_requesters_own_entry(alice_client: Any, alice: Any, bob: Any) -> None:
    """What a page fetches for a room it does not list yet: the entry as alice sees it."""
    room = _room(alice, bob)
    messages.send_message(room, bob, "hey alice")
    response = alice_client.get(reverse("chatter:room_item", args=[room.id]))
    html = response.content.decode()
    assert html.startswith(f'<li id="chatter-room-{room.id.hex}"')
    assert 'data-seq="1" data-read-seq="0"' in html
    assert '<span class="chatter-room-title">bob</span>' in html and "hey alice" in html
    assert re.search(r'class="chatter-badge"><span class="chatter-badge-count">1<', html)


# -- the member picker, avatars, the connection state ---------------------------------------


def test_user_search_as_picker_options(alice_client: Any, alice: Any, bob: Any, carol: Any) -> None:
    """``?picker=1``: options of the "New group" picker, not links; a count for screen readers."""
    url = reverse("chatter:user_search") + "?picker=1&q="
    html = alice_client.get(url + "bo", **HTMX).content.decode()
    options = re.findall(r'<li id="chatter-picker-option-\d+" [^>]*role="option"[^>]*>', html)
    assert len(options) == 1, html
    assert 'data-username="bob"' in options[0] and 'aria-selected="false"' in options[0]
    assert "href=" not in html and "<a " not in html
    assert '<p id="chatter-picker-status" hx-swap-oob="innerHTML">1 person found.</p>' in html
    both = alice_client.get(url + "o", **HTMX).content.decode()  # bob, carol (never alice)
    assert re.findall(r'data-username="([^"]+)"', both) == ["bob", "carol"]
    assert "2 people found." in both
    none = alice_client.get(url + "zzz", **HTMX).content.decode()
    assert 'role="option"' not in none and ">No one found.</p>" in none
    empty = alice_client.get(url, **HTMX).content.decode()
    assert 'role="option"' not in empty
    assert '<p id="chatter-picker-status" hx-swap-oob="innerHTML"></p>' in empty
    # Without htmx, the search is the page, as without ?picker.
    page = alice_client.get(url + "bo")
    assert page.status_code == 200 and "<html" in page.content.decode()


def test_user_search_options_escape_names(alice_client: Any, user_factory: Any) -> None:
    user_factory("eve", first_name='<b>"Eve"</b>')
    html = alice_client.get(
        reverse("chatter:user_search") + "?picker=1&q=eve", **HTMX
    ).content.decode()
    assert "<b>" not in html
    assert 'data-name="&lt;b&gt;&quot;Eve&quot;&lt;/b&gt;"' in html


def test_group_form_has_the_picker_and_keeps_the_text_field(alice_client: Any) -> None:
    html = alice_client.get(reverse("chatter:index")).content.decode()
    form = re.search(r'<form id="chatter-group-form".*?</form>', html, re.S)
    assert form, html
    form_html = form.group()
    # Without JavaScript: the text field. chatter.js shows the picker (hidden) in its place.
    assert '<input type="text" name="usernames"' in form_html
    picker = re.search(r'<div id="chatter-picker" [^>]*>', form_html)
    assert picker and " hidden>" in picker.group() and 'data-field="id_usernames"' in picker.group()
    assert 'data-remove="Remove {name}"' in picker.group()
    box = re.search(r'<input [^>]*id="chatter-picker-input"[^>]*>', form_html)
    assert box, form_html
    for attribute in (
        'role="combobox"',
        'aria-expanded="false"',
        'aria-controls="chatter-picker-listbox"',
        'aria-autocomplete="list"',
        'hx-get="/chat/users/?picker=1"',
        'hx-trigger="input changed delay:300ms"',
        'hx-target="#chatter-picker-listbox"',
    ):
        assert attribute in box.group(), attribute
    assert '<ul id="chatter-picker-listbox" class="chatter-picker-listbox" role="listbox"' in (
        form_html
    )
    assert '<label id="chatter-picker-label" for="chatter-picker-input">People</label>' in (
        form_html
    )


def test_create_group_from_the_pickers_hidden_inputs(
    alice_client: Any, alice: Any, bob: Any, carol: Any
) -> None:
    """The picker submits one ``usernames`` per person (and its search box's ``q``)."""
    response = alice_client.post(
        reverse("chatter:create_group"),
        {"name": "Picked", "usernames": ["bob", "carol"], "q": ""},
    )
    room = Room.objects.get()
    assert response["Location"] == reverse("chatter:chatroom", args=[room.id])
    assert [u.username for u in rooms.members(room)] == ["alice", "bob", "carol"]


def test_group_form_errors_show_in_the_picker_too(alice_client: Any, bob: Any) -> None:
    response = alice_client.post(
        reverse("chatter:create_group"), {"name": "x", "usernames": ["bob", "ghost"]}
    )
    html = response.content.decode()
    assert response.status_code == 400
    # The text field keeps what was sent (chatter.js makes chips of it) and both show why.
    assert 'value="bob, ghost"' in html
    assert '<ul id="chatter-picker-error" class="errorlist"><li>No such user: ghost.</li></ul>' in (
        html
    )
    box = re.search(r'<input [^>]*id="chatter-picker-input"[^>]*>', html)
    assert box and 'aria-invalid="true"' in box.group()
    assert 'aria-describedby="chatter-picker-help chatter-picker-error"' in box.group()


def _status_count(html: str) -> int:
    return html.count('id="chatter-status"')


def test_the_connection_state_is_in_one_header(alice_client: Any, alice: Any, bob: Any) -> None:
    """One #chatter-status per page: the room list's header, or the room's header."""
    index = alice_client.get(reverse("chatter:index")).content.decode()
    assert _status_count(index) == 1
    header = re.search(r'<header class="chatter-sidebar-header">.*?</header>', index, re.S)
    assert header and 'id="chatter-status"' in header.group()
    assert 'role="status"' in header.group() and 'data-text-connected="Connected"' in header.group()
    main = re.search(r"<main .*?</main>", index, re.S)
    assert main and "chatter-status" not in main.group()

    room = _room(alice, bob)
    page = alice_client.get(reverse("chatter:chatroom", args=[room.id])).content.decode()
    assert _status_count(page) == 1
    header = re.search(r'<header class="chatter-room-header">.*?</header>', page, re.S)
    assert header and 'id="chatter-status"' in header.group()
    search = alice_client.get(reverse("chatter:user_search") + "?q=bo").content.decode()
    assert _status_count(search) == 1


AVATAR = re.compile(r'<span class="chatter-avatar[^"]*" aria-hidden="true">.*?</span>')


def _first_avatar(html: str, within: str) -> str:
    """The first avatar inside the first match of the pattern ``within``."""
    part = re.search(within, html, re.S)
    assert part, html
    avatar = AVATAR.search(part.group())
    assert avatar, part.group()
    return avatar.group()


def test_avatars_are_the_same_in_the_page_and_in_live_frames(
    settings: Any, alice_client: Any, alice: Any, bob: Any
) -> None:
    from chatter import frames

    room = _room(alice, bob)
    message, _ = messages.send_message(room, bob, "hi")
    url = reverse("chatter:chatroom", args=[room.id])
    page = alice_client.get(url).content.decode()
    author = r'<span class="chatter-msg-author">.*?</span>bob</span>'
    in_page = _first_avatar(page, author)
    assert in_page == _first_avatar(frames.message(message), author)
    assert "chatter-avatar--small" in in_page and in_page.endswith(">B</span>")
    # The room's avatar (header, room list, the entry a page fetches) is bob's colour.
    bobs = f"chatter-hue-{avatars.hue(bob.pk)}"
    assert bobs in in_page
    assert bobs in _first_avatar(page, r'<header class="chatter-room-header">.*?</header>')
    entry = _first_avatar(page, rf'<li id="chatter-room-{room.id.hex}".*?</li>')
    assert bobs in entry
    item = alice_client.get(reverse("chatter:room_item", args=[room.id])).content.decode()
    assert _first_avatar(item, r".*") == entry
    # With a picture hook, the page and the frame show the same picture.
    settings.CHATTER_AVATAR_URL = "tests.avatar_hooks.picture"
    page = alice_client.get(url).content.decode()
    picture = '<img class="chatter-avatar-img" alt="" src="https://img.example.com/bob.png"'
    assert picture in _first_avatar(frames.message(message), author)
    assert page.count(picture) == 3  # the header, the room list, the message
