"""The pages of moderation: blocking from a profile or a room, what the blocker's pages
hide, the blocked list, and reporting a message with and without JavaScript."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.cache import cache
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.urls import reverse

from chatter import messages, moderation, rooms
from chatter.models import Block, Message, Report, Room
from chatter.templatetags.chatter import chatter_css

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _fresh_limits() -> None:
    cache.clear()


def room_of(*people: Any, name: str = "") -> Room:
    return Room.objects.get(pk=rooms.create_room(list(people), name=name))


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def style_of(html: str) -> str:
    """The page's blocked-people style rules (empty when it has none)."""
    found = re.search(r"<style>\s*\.chatter-msg:is\(.*?</style>", html, re.S)
    return found.group(0) if found else ""


def sender_rule(user: Any) -> str:
    return f'[data-sender="{chatter_css(user.pk)}"]'


# -- blocking ------------------------------------------------------------------------------


def test_block_and_unblock_go_back_where_they_came_from(alice: Any, bob: Any) -> None:
    client = logged_in(alice)
    response = client.post(reverse("chatter:block", args=["bob"]), {"next": "/chat/somewhere/"})
    assert response.status_code == 302 and response["Location"] == "/chat/somewhere/"
    assert moderation.is_blocked(alice, bob)
    # Another site is not a place to go back to: the blocked list instead.
    response = client.post(
        reverse("chatter:unblock", args=["bob"]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("chatter:blocked")
    assert not moderation.is_blocked(alice, bob)


def test_block_needs_a_post_a_login_and_a_real_person(client: Client, alice: Any) -> None:
    url = reverse("chatter:block", args=["bob"])
    assert client.post(url).status_code == 302  # to the login page
    client.force_login(alice)
    assert client.get(url).status_code == 405
    assert client.post(reverse("chatter:block", args=["nobody"])).status_code == 404
    response = client.post(reverse("chatter:block", args=["alice"]))
    assert response.status_code == 400
    assert "You cannot block yourself." in response.content.decode()
    assert not Block.objects.exists()


def test_blocking_too_fast_is_429(alice: Any, user_factory: Any, settings: Any) -> None:
    settings.CHATTER_FRAME_LIMITS = {"block": (1, 60)}
    user_factory("x1")
    user_factory("x2")
    client = logged_in(alice)
    assert client.post(reverse("chatter:block", args=["x1"])).status_code == 302
    assert client.post(reverse("chatter:block", args=["x2"])).status_code == 429
    assert Block.objects.count() == 1


def test_the_blocked_list(alice: Any, bob: Any, carol: Any) -> None:
    client = logged_in(alice)
    html = client.get(reverse("chatter:blocked")).content.decode()
    assert "You have not blocked anyone." in html
    moderation.block(alice, bob)
    html = client.get(reverse("chatter:blocked")).content.decode()
    assert 'aria-label="Unblock bob"' in html and "carol" not in html
    assert f'action="{reverse("chatter:unblock", args=["bob"])}"' in html
    # The room list links to it once there is someone in it.
    assert reverse("chatter:blocked") in client.get(reverse("chatter:index")).content.decode()
    assert reverse("chatter:blocked") not in logged_in(bob).get("/chat/").content.decode()


def test_block_button_tag(alice: Any, bob: Any) -> None:
    template = Template("{% load chatter %}{% chatter_block_button person %}")
    request = RequestFactory().get("/profile/bob/")
    request.user = alice
    html = template.render(Context({"person": bob, "request": request, "user": alice}))
    assert 'aria-label="Block bob"' in html and 'name="next" value="/profile/bob/"' in html
    assert "csrfmiddlewaretoken" in html
    moderation.block(alice, bob)
    html = template.render(Context({"person": bob, "request": request, "user": alice}))
    assert 'aria-label="Unblock bob"' in html
    # Nothing for oneself or nobody.
    assert "form" not in template.render(Context({"person": alice, "request": request}))
    assert "form" not in template.render(Context({"person": None, "request": request}))


def test_chat_with_someone_who_blocks_you_is_403(alice: Any, bob: Any) -> None:
    moderation.block(alice, bob)
    client = logged_in(bob)
    url = reverse("chatter:chat_with", args=["alice"])
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        assert response.status_code == 403
        html = response.content.decode()
        assert "You cannot message this person." in html
        assert "blocked" not in html.lower()  # not told why
    assert not Room.objects.exists()
    # The blocker may still start it; then the blocked one opens it (to read).
    assert logged_in(alice).post(reverse("chatter:chat_with", args=["bob"])).status_code == 302
    assert client.get(url).status_code == 302
    # create_room, the projects' API, is not refused.
    assert rooms.create_room([alice, bob]) == Room.objects.get().pk


def test_new_group_with_someone_who_blocks_you_is_refused(alice: Any, bob: Any, carol: Any) -> None:
    moderation.block(alice, bob)
    client = logged_in(bob)
    for usernames in ("alice", "alice, carol"):
        response = client.post(reverse("chatter:create_group"), {"usernames": usernames})
        assert response.status_code == 400
        assert "You cannot start a conversation with alice." in response.content.decode()
    assert not Room.objects.exists()
    assert client.post(reverse("chatter:create_group"), {"usernames": "carol"}).status_code == 302


def test_http_send_of_the_blocked_is_refused(alice: Any, bob: Any) -> None:
    pair = room_of(alice, bob)
    moderation.block(alice, bob)
    client = logged_in(bob)
    url = reverse("chatter:send", args=[pair.id])
    response = client.post(url, {"text": "hello?"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "You cannot message this person." in html and "hello?" in html  # text kept
    response = client.post(url, {"text": "hello?"}, **HTMX)
    assert "You cannot message this person." in response.content.decode()
    assert not Message.objects.exists()
    moderation.unblock(alice, bob)
    assert client.post(url, {"text": "hello!"}).status_code == 302
    assert Message.objects.get().text == "hello!"


def test_the_blockers_pages_collapse_the_blocked_and_no_one_elses(
    alice: Any, bob: Any, carol: Any
) -> None:
    group = room_of(alice, bob, carol, name="Team")
    messages.send_message(group, bob, "from bob")
    moderation.block(alice, bob)
    room_url = reverse("chatter:chatroom", args=[group.id])
    html = logged_in(alice).get(room_url).content.decode()
    rules = style_of(html)
    assert sender_rule(bob) in rules
    assert 'content: "Message from a blocked user"' in rules
    assert f'data-blocked=" {bob.pk} "' in html
    assert 'data-last-sender="' + str(bob.pk) + '"' in html  # the room list item
    assert "from bob" in html  # in the page, hidden by the rules (the reader may show it)
    # Carol's page and Bob's page have no such rules; the room list page has them too.
    assert style_of(logged_in(carol).get(room_url).content.decode()) == ""
    assert style_of(logged_in(bob).get(room_url).content.decode()) == ""
    assert sender_rule(bob) in style_of(logged_in(alice).get("/chat/").content.decode())
    moderation.unblock(alice, bob)
    assert style_of(logged_in(alice).get(room_url).content.decode()) == ""


def test_the_room_header_of_a_room_of_two_offers_block(alice: Any, bob: Any, carol: Any) -> None:
    pair, group = room_of(alice, bob), room_of(alice, bob, carol, name="Team")
    client = logged_in(alice)
    html = client.get(reverse("chatter:chatroom", args=[pair.id])).content.decode()
    assert 'aria-label="Block bob"' in html
    assert f'name="next" value="{reverse("chatter:chatroom", args=[pair.id])}"' in html
    html = client.get(reverse("chatter:chatroom", args=[group.id])).content.decode()
    assert "chatter-block-form" not in html
    moderation.block(alice, bob)
    html = client.get(reverse("chatter:chatroom", args=[pair.id])).content.decode()
    assert 'aria-label="Unblock bob"' in html


def test_css_escape_leaves_nothing_that_closes_a_string_or_the_style() -> None:
    evil = "x\" } </style><script>alert(1)</script> \\ '"
    escaped = chatter_css(evil)
    assert re.fullmatch(r"[A-Za-z0-9 \\]*", escaped)
    assert chatter_css(12) == "12"
    assert chatter_css("a-b") == "a\\2d b"


# -- reporting -----------------------------------------------------------------------------


@pytest.fixture
def chat(alice: Any, bob: Any, carol: Any) -> dict[str, Any]:
    group = room_of(alice, bob, carol, name="Team")
    messages.send_message(group, alice, "hello")
    messages.send_message(group, alice, "<b>rude</b>")
    messages.send_message(group, bob, "bob's own")
    return {"group": group}


def report_url(room: Room, seq: int) -> str:
    return reverse("chatter:report", args=[room.id, seq])


def test_the_menu_offers_report_on_others_messages(chat: dict[str, Any], bob: Any) -> None:
    html = logged_in(bob).get(reverse("chatter:chatroom", args=[chat["group"].id])).content.decode()
    assert 'data-action="report" data-only="others"' in html
    assert f'data-report-url="{report_url(chat["group"], 0)}"' in html
    assert '<dialog id="chatter-report-dialog"' in html


def test_report_with_javascript_answers_fragments(chat: dict[str, Any], bob: Any) -> None:
    client = logged_in(bob)
    url = report_url(chat["group"], 2)
    form = client.get(url, **HTMX)
    assert form.status_code == 200
    html = form.content.decode()
    assert html.startswith('<form id="chatter-report"') and "&lt;b&gt;rude&lt;/b&gt;" in html
    for value, label in Report.Reason.choices:
        assert f'value="{value}"' in html and str(label) in html
    done = client.post(url, {"reason": "abuse", "details": "not nice"}, **HTMX)
    assert done.status_code == 200 and "Your report was sent" in done.content.decode()
    report = Report.objects.get()
    assert (report.seq, report.text, report.reason, report.details) == (
        2,
        "<b>rude</b>",
        "abuse",
        "not nice",
    )
    again = client.post(url, {"reason": "spam"}, **HTMX)
    assert again.status_code == 409
    assert "You have reported this message already." in again.content.decode()
    assert Report.objects.count() == 1


def test_report_without_javascript_on_the_message_page(chat: dict[str, Any], bob: Any) -> None:
    client = logged_in(bob)
    page = client.get(reverse("chatter:message", args=[chat["group"].id, 2])).content.decode()
    assert f'action="{report_url(chat["group"], 2)}"' in page
    response = client.post(report_url(chat["group"], 2), {"reason": "spam"})
    assert response.status_code == 302
    assert response["Location"].endswith("/m/2/#chatter-report")
    page = client.get(response["Location"]).content.decode()
    assert "You have reported this message." in page and 'class="chatter-report-form"' not in page
    # A bad form comes back with the reason.
    response = client.post(report_url(chat["group"], 1), {"reason": "", "details": "x" * 1001})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert Report.objects.count() == 1
    # Twice: the page says it was reported (in place of the form).
    response = client.post(report_url(chat["group"], 2), {"reason": "spam"})
    assert response.status_code == 409
    assert "You have reported this message." in response.content.decode()
    # Another action's refusal is said once, not again in the report form.
    response = client.post(reverse("chatter:delete", args=[chat["group"].id, 1]))
    assert response.status_code == 403
    assert response.content.decode().count("You can only delete your own messages.") == 1
    # Without a form to put it in (one's own message), the refusal is the page's.
    response = client.get(report_url(chat["group"], 3))
    assert response.status_code == 403
    assert "You cannot report your own message." in response.content.decode()


def test_report_permission_matrix(
    chat: dict[str, Any], alice: Any, bob: Any, user_factory: Any
) -> None:
    group = chat["group"]
    messages.delete_message(group, alice, 1)
    seq = group.last_seq + 1
    Message.objects.create(room=group, sender=alice, seq=seq, kind="system", data={})
    Room.objects.filter(pk=group.pk).update(last_seq=seq)
    dave = user_factory("dave")
    cases = [
        (dave, 2, 404),  # not a member
        (bob, 3, 403),  # own message
        (bob, 1, 403),  # deleted
        (bob, seq, 403),  # a system line
        (bob, 99, 404),  # no such message
    ]
    for user, number, status in cases:
        client = logged_in(user)
        assert client.post(report_url(group, number), {"reason": "spam"}).status_code == status
        assert client.get(report_url(group, number), **HTMX).status_code == status
    other = room_of(alice, dave)
    messages.send_message(other, alice, "elsewhere")
    assert logged_in(bob).post(report_url(other, 1), {"reason": "spam"}).status_code == 404
    assert not Report.objects.exists()
    assert logged_in(bob).post(report_url(group, 2), {"reason": "spam"}).status_code == 302


def test_reporting_too_fast_is_429(chat: dict[str, Any], carol: Any, settings: Any) -> None:
    settings.CHATTER_FRAME_LIMITS = {"report": (1, 60)}
    client = logged_in(carol)
    assert client.post(report_url(chat["group"], 2), {"reason": "spam"}).status_code == 302
    assert client.post(report_url(chat["group"], 3), {"reason": "spam"}).status_code == 429
    assert Report.objects.count() == 1


def test_report_queries(
    chat: dict[str, Any], carol: Any, django_assert_max_num_queries: Any
) -> None:
    client = logged_in(carol)
    client.get("/chat/")  # the session, read once
    with django_assert_max_num_queries(12):
        client.post(report_url(chat["group"], 2), {"reason": "spam"}, **HTMX)
    assert Report.objects.count() == 1
