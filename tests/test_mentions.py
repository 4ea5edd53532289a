"""Mentions: "@alice" stored as a token by user id, its rows, its rendering, the room list's
"@" count and the members offered after "@"."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chatter import formatting, frames, mention_text, mentions, messages, rooms
from chatter.models import Mention, Message, Room
from tests.factories import make_user

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def room(alice: Any, bob: Any, carol: Any) -> Room:
    return Room.objects.get(pk=rooms.create_room([alice, bob, carol], name="Team"))


def send(room: Room, user: Any, text: str, **extra: Any) -> Message:
    return messages.send_message(room, user, text, **extra)[0]


def mentioned_ids(message: Message) -> set[Any]:
    return set(Mention.objects.filter(message=message).values_list("user_id", flat=True))


# -- the stored text ---------------------------------------------------------------------


def test_a_members_username_becomes_a_token_and_a_row(room: Room, alice: Any, bob: Any) -> None:
    message = send(room, alice, "hi @bob, lunch?")
    stored = Message.objects.get(pk=message.pk)
    assert stored.text == f"hi <@{bob.pk}>, lunch?"
    assert mentioned_ids(message) == {bob.pk}
    row = Mention.objects.get(message=message)
    assert (row.room_id, row.seq) == (room.pk, message.seq)
    assert message.mentioned == {str(bob.pk): bob}


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("@nobody here", "@nobody here"),  # unknown name
        ("@dave is not in the room", "@dave is not in the room"),  # not a member
        ("mail bob@example.com", "mail bob@example.com"),  # an address
        ("a@b.c and x@bob", "a@b.c and x@bob"),
        ("@BOB and @Bob", "<@B> and <@B>"),  # any case
        (
            "@bob. @bob, @bob! (@bob) @bob's @bob: @bob?",
            "<@B>. <@B>, <@B>! (<@B>) <@B>'s <@B>: <@B>?",
        ),
        ("@bob...", "<@B>..."),
        ("@bob.smith", "@bob.smith"),  # a longer name that is nobody's stays text
        ("@bob-san", "@bob-san"),
        ("@bob@carol", "@bob@carol"),
        ("@bob @bob @carol", "<@B> <@B> <@C>"),
        ("`@bob` and\n```\n@bob\n```\n@carol", "`@bob` and\n```\n@bob\n```\n<@C>"),
        ("@", "@"),
        ("@@bob", "@@bob"),
        ("<@B> typed as a token", "<@B> typed as a token"),
        ("<@999999> and <@x>", "<@999999> and <@x>"),
        ("<@bob>", "<@bob>"),
    ],
)
def test_what_is_a_mention(
    room: Room, alice: Any, bob: Any, carol: Any, user_factory: Any, typed: str, expected: str
) -> None:
    user_factory("dave")  # a user, but not a member
    typed = typed.replace("<@B>", f"<@{bob.pk}>")
    expected = expected.replace("<@B>", f"<@{bob.pk}>").replace("<@C>", f"<@{carol.pk}>")
    message = send(room, alice, typed)
    assert Message.objects.get(pk=message.pk).text == expected
    ids = {int(i) for i in re.findall(r"<@(\d+)>", expected)} & {bob.pk, carol.pk}
    assert mentioned_ids(message) == ids


def test_duplicates_make_one_row_and_the_exact_case_wins(room: Room, alice: Any) -> None:
    bob_upper = make_user("Bob")
    room.memberships.create(user=bob_upper)
    bob = room.members.get(username="bob")
    message = send(room, alice, "@Bob @bob @Bob @BOB")
    stored = Message.objects.get(pk=message.pk).text
    first = min(bob.pk, bob_upper.pk, key=str)
    assert stored == f"<@{bob_upper.pk}> <@{bob.pk}> <@{bob_upper.pk}> <@{first}>"
    assert Mention.objects.filter(message=message).count() == 2


def test_a_message_without_at_costs_no_query_more(room: Room, alice: Any) -> None:
    with CaptureQueriesContext(connection) as plain:
        send(room, alice, "plain words")
    with CaptureQueriesContext(connection) as unknown:
        send(room, alice, "hi @nobody")
    with CaptureQueriesContext(connection) as mention:
        send(room, alice, "hi @bob and @carol")
    print(
        f"\nqueries per send: plain {len(plain)}, @unknown {len(unknown)}, @mention {len(mention)}"
    )
    assert len(unknown) == len(plain) + 1  # the names looked up
    assert len(mention) == len(plain) + 2  # and one bulk insert of the rows
    assert sum("INSERT" in q["sql"] and "chatter_mention" in q["sql"] for q in mention) == 1


def test_the_query_count_of_a_send_does_not_grow_with_the_room(alice: Any) -> None:
    from tests.factories import crowd

    people = crowd("m", 60)
    small = Room.objects.get(pk=rooms.create_room([alice, *people[:2]]))
    large = Room.objects.get(pk=rooms.create_room([alice, *people]))
    counts = []
    for target in (small, large):
        with CaptureQueriesContext(connection) as ctx:
            send(target, alice, "@m000 @m001 hello")
        counts.append(len(ctx))
    assert counts[0] == counts[1]
    assert Mention.objects.filter(room=large).count() == 2


# -- edits and deletions -----------------------------------------------------------------


def test_an_edit_adds_and_removes_mentions_in_its_change(
    room: Room, alice: Any, bob: Any, carol: Any
) -> None:
    plain = send(room, alice, "plain")
    message = send(room, alice, "hi @bob")
    with CaptureQueriesContext(connection) as without:
        messages.edit_message(room, alice, plain.seq, "plain again")
    with CaptureQueriesContext(connection) as ctx:
        edited, changed = messages.edit_message(room, alice, message.seq, "hi @carol")
    print(f"\nqueries per edit: plain {len(without)}, moving a mention {len(ctx)}")
    # The names looked up, the rows removed and added, the mentioned loaded with it again.
    assert len(ctx) == len(without) + 4
    assert changed
    assert Message.objects.get(pk=message.pk).text == f"hi <@{carol.pk}>"
    assert mentioned_ids(message) == {carol.pk}
    assert edited.mentioned == {str(carol.pk): carol}
    room.refresh_from_db()
    assert edited.change == room.last_change
    # Both, then none.
    messages.edit_message(room, alice, message.seq, "@carol and @bob")
    assert mentioned_ids(message) == {bob.pk, carol.pk}
    messages.edit_message(room, alice, message.seq, "nobody now")
    assert mentioned_ids(message) == set()


def test_an_edit_to_the_same_mentions_changes_nothing(room: Room, alice: Any, bob: Any) -> None:
    message = send(room, alice, "hi @bob")
    change = Message.objects.get(pk=message.pk).change
    same, changed = messages.edit_message(room, alice, message.seq, "hi @BOB")
    assert not changed
    assert Message.objects.get(pk=message.pk).change == change
    assert mentioned_ids(message) == {bob.pk}
    assert same.mentioned == {str(bob.pk): bob}


def test_a_refused_edit_leaves_the_mentions(room: Room, alice: Any, bob: Any, carol: Any) -> None:
    message = send(room, alice, "hi @bob")
    with pytest.raises(messages.MessageRefused):
        messages.edit_message(room, bob, message.seq, "hi @carol")
    assert mentioned_ids(message) == {bob.pk}


def test_deleting_a_message_drops_its_mentions(room: Room, alice: Any, bob: Any) -> None:
    message = send(room, alice, "hi @bob")
    messages.delete_message(room, alice, message.seq)
    assert not Mention.objects.filter(message=message).exists()
    assert rooms.rooms_for(bob)[0].mentions == 0


# -- showing them ------------------------------------------------------------------------


def _article(html: str, seq: int) -> str:
    found = re.search(
        rf'<article class="chatter-msg" id="chatter-msg-{seq}".*?</article>', html, re.S
    )
    assert found, html
    return found.group(0)


def test_a_mention_shows_the_current_name(room: Room, alice: Any, bob: Any, client: Any) -> None:
    message = send(room, alice, "hi @bob")
    bob.first_name, bob.last_name, bob.username = "Robert", "Brown", "rob"
    bob.save()
    client.force_login(alice)
    article = _article(client.get(f"/chat/{room.pk}/").content.decode(), message.seq)
    assert f'<span class="chatter-mention" data-user="{bob.pk}">@Robert Brown</span>' in article
    assert f'data-mentions=" {bob.pk} "' in article
    # The edit form shows the username of now.
    form = client.get(reverse("chatter:edit", args=[room.pk, message.seq]), **HTMX)
    assert ">hi @rob</textarea>" in form.content.decode()


def test_a_name_with_markup_is_escaped(room: Room, alice: Any, bob: Any, client: Any) -> None:
    bob.first_name, bob.last_name = '<img src=x onerror="alert(1)">', "& <b>co</b>"
    bob.save()
    message = send(room, alice, "hi @bob")
    html = str(formatting.render(Message.objects.get(pk=message.pk).text, message.mentioned))
    assert "<img" not in html and "<b>" not in html
    assert (
        "@&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &lt;b&gt;co&lt;/b&gt;</span>" in html
    )
    client.force_login(alice)
    page = client.get(f"/chat/{room.pk}/").content.decode()
    assert "<img src=x" not in page and "<b>co</b>" not in page


def test_a_token_without_a_mention_shows_as_typed() -> None:
    html = str(formatting.render("see <@12> and `<@12>`", {}))
    assert html == "<p>see &lt;@12&gt; and <code>&lt;@12&gt;</code></p>\n"
    assert "chatter-mention" not in str(formatting.render("<@12>"))


def test_only_the_parser_makes_mention_spans() -> None:
    """The sanitiser keeps a span's class only as a mention's and data-user only as an id."""
    assert formatting.sanitise('<span class="other" data-user="1">x</span>') == (
        '<span data-user="1">x</span>'
    )
    assert formatting.sanitise('<span data-user="1 x">x</span>') == "<span>x</span>"
    assert "onclick" not in formatting.sanitise(
        '<span class="chatter-mention" onclick="x">x</span>'
    )


def test_the_live_frame_is_the_page_markup(
    room: Room, alice: Any, bob: Any, carol: Any, client: Any
) -> None:
    first = send(room, bob, "hello **@alice** and @carol")
    message = send(room, carol, "@alice see @bob", reply_to=first.seq)
    client.force_login(bob)
    page = client.get(f"/chat/{room.pk}/").content.decode()
    for sent in (first, message):
        assert _article(frames.message(sent), sent.seq) == _article(page, sent.seq)
    quote = _article(page, message.seq)
    assert '<span class="chatter-quote-text">hello **@Alice Liddell** and @carol</span>' in quote
    edited, _ = messages.edit_message(room, carol, message.seq, "@bob only")
    page = client.get(f"/chat/{room.pk}/").content.decode()
    assert _article(frames.changed([edited], edited.change), edited.seq).replace(
        ' hx-swap-oob="true"', ""
    ) == _article(page, edited.seq)
    assert f'data-mentions=" {bob.pk} "' in _article(page, edited.seq)


def test_the_room_list_frame_names_the_mentioned(room: Room, alice: Any, bob: Any) -> None:
    message = send(room, alice, "@bob and @carol, look")
    carol = room.members.get(username="carol")
    frame = frames.room_update(message)
    assert f'data-mentions=" {bob.pk} {carol.pk} "' in frame
    assert ">@bob and @carol, look</i>" in frame
    assert "data-mentions" not in frames.room_update(send(room, alice, "no one"))


def test_the_room_page_marks_the_viewers_mentions(room: Room, bob: Any, client: Any) -> None:
    client.force_login(bob)
    page = client.get(f"/chat/{room.pk}/").content.decode()
    assert f'.chatter-mention[data-user="{bob.pk}"]' in page
    assert f'.chatter-msg[data-mentions~="{bob.pk}"]' in page


def test_previews_and_quotes_name_the_mentioned(room: Room, alice: Any, bob: Any) -> None:
    send(room, alice, "hi @bob")
    summary = rooms.rooms_for(alice)[0]
    from chatter.templatetags.chatter import chatter_preview

    assert chatter_preview(summary.room.last_message) == "hi @bob"
    bob.first_name = "Bobby"
    bob.save()
    assert chatter_preview(rooms.rooms_for(alice)[0].room.last_message) == "hi @Bobby"


# -- the room list's "@" ----------------------------------------------------------------


def test_rooms_for_counts_unread_mentions_in_one_query(
    room: Room, alice: Any, bob: Any, carol: Any
) -> None:
    other = Room.objects.get(pk=rooms.create_room([alice, bob]))
    send(room, alice, "@bob one")
    send(room, carol, "@bob two, @alice")
    send(room, carol, "no one")
    send(other, alice, "@bob three")
    with CaptureQueriesContext(connection) as ctx:
        found = {s.room.pk: s for s in rooms.rooms_for(bob)}
    assert len(ctx) == 3
    assert found[room.pk].mentions == 2 and found[room.pk].unread == 3
    assert found[other.pk].mentions == 1
    rooms.mark_read(room, bob, seq=1)
    assert {s.room.pk: s.mentions for s in rooms.rooms_for(bob)}[room.pk] == 1
    rooms.mark_read(room, bob)
    assert {s.room.pk: s.mentions for s in rooms.rooms_for(bob)}[room.pk] == 0
    # alice's own message mentioning nobody else counts nothing for her.
    assert {s.room.pk: s.mentions for s in rooms.rooms_for(alice)}[room.pk] == 1


def test_the_room_item_shows_the_at_badge(room: Room, alice: Any, bob: Any, client: Any) -> None:
    send(room, alice, "@bob look")
    send(room, alice, "@bob again")
    client.force_login(bob)
    item = client.get(reverse("chatter:room_item", args=[room.pk])).content.decode()
    assert 'data-mention-count="2"' in item
    badge = re.search(r'<span class="chatter-mention-badge"[^>]*>.*?</span></span>', item).group(0)
    assert "hidden" not in badge.split(">")[0]
    assert '<span aria-hidden="true">@</span>' in badge and "2 mentions" in badge
    index = client.get(reverse("chatter:index")).content.decode()
    assert 'data-mention-one="{count} mention"' in index
    assert 'data-mention-other="{count} mentions"' in index


# -- the members offered after "@" --------------------------------------------------------


def test_mention_search_offers_members_only(
    room: Room, alice: Any, bob: Any, client: Any, user_factory: Any
) -> None:
    user_factory("bobby")  # not a member
    client.force_login(alice)
    url = reverse("chatter:mention_search", args=[room.pk])
    html = client.get(url, {"q": "bo"}, **HTMX).content.decode()
    assert 'data-username="bob"' in html and "bobby" not in html
    assert 'role="option"' in html and 'data-status="1 person found."' in html
    everyone = client.get(url, {"q": ""}).content.decode()
    assert 'data-username="bob"' in everyone and 'data-username="carol"' in everyone
    assert 'data-username="alice"' not in everyone  # never the requester
    assert 'data-status="No one found."' in client.get(url, {"q": "zz"}).content.decode()


def test_mention_search_is_bounded(room: Room, alice: Any, settings: Any) -> None:
    from tests.factories import crowd

    settings.CHATTER_USER_SEARCH_LIMIT = 3
    for user in crowd("p", 6):
        room.memberships.create(user=user)
    assert len(mentions.search_members(room, "p", exclude=alice)) == 3


def test_mention_search_refuses_non_members(room: Room, client: Any, user_factory: Any) -> None:
    url = reverse("chatter:mention_search", args=[room.pk])
    assert client.get(url).status_code == 302  # the login page
    client.force_login(user_factory("eve"))
    assert client.get(url, {"q": "a"}).status_code == 404
    assert client.post(url).status_code in (404, 405)


# -- the text functions on their own -------------------------------------------------------


def test_editable_keeps_a_token_a_username_cannot_stand_for() -> None:
    class Person:
        def __init__(self, pk: int, username: str) -> None:
            self.pk, self.username = pk, username

        def get_username(self) -> str:
            return self.username

    people = {"1": Person(1, "alice"), "2": Person(2, "bob"), "3": Person(3, "odd-")}
    assert mention_text.editable("<@1>, <@2>.", people) == "@alice, @bob."
    assert mention_text.editable("<@1><@2>", people) == "@alice<@2>"
    assert mention_text.editable("x<@1> <@1>y <@3>", people) == "x<@1> <@1>y <@3>"
    assert mention_text.editable("<<@1>> `<@1>` <@9>", people) == "<<@1>> `<@1>` <@9>"


class Person:
    """A user as the text functions see one: a primary key and a username."""

    def __init__(self, pk: int, username: str) -> None:
        self.pk, self.username = pk, username

    def get_username(self) -> str:
        return self.username

    def get_full_name(self) -> str:
        return self.username.title()


MEMBERS = [
    Person(1, "alice"),
    Person(2, "Bob"),
    Person(3, "bob"),
    Person(12, "a.b@c-d"),
    Person(4, "odd-"),
]
NAME_PIECES = ["@", "alice", "Alice", "bob", "BOB", "a.b@c-d", "odd-", "<@1>", "<@3>", "<@12>",
               "<@99>", "<@", ">", "<", ".", ",", "-", "+", "_", "`", "```\n", "~~~\n", "\n", " ",
               "x", "é", "1"]  # fmt: skip


def texts() -> Any:
    from hypothesis import strategies as st

    from tests.strategies import MARKUP_PIECES

    piece = st.sampled_from(NAME_PIECES) | st.sampled_from(MARKUP_PIECES) | st.text(max_size=4)
    return st.lists(piece, max_size=30).map("".join)


def test_the_token_parser_round_trips_through_the_edit_form() -> None:
    """Any text: storing never raises; the edit form's text stores as the same text again,
    with the same mentions; a text without "@" is stored as typed."""
    from hypothesis import given, settings

    @settings(max_examples=400, deadline=None)
    @given(texts())
    def check(text: str) -> None:
        stored, found = mention_text.substitute(text, MEMBERS)
        if "@" not in text:
            assert stored == text and not found
        assert set(found) <= {str(m.pk) for m in MEMBERS}
        again, found_again = mention_text.substitute(stored, MEMBERS)
        assert again == stored and found_again.keys() == found.keys()
        shown = mention_text.editable(stored, found)
        back, found_back = mention_text.substitute(shown, MEMBERS)
        assert back == stored, (text, stored, shown)
        assert found_back.keys() == found.keys()
        assert mention_text.ids_in(stored, found) == list(found)
        html = str(formatting.render(stored, found))
        assert html.count('class="chatter-mention"') <= stored.count("<@")
        mention_text.plain(stored, found)

    check()
