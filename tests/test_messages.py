"""chatter.messages: edit, delete, react, reply, the change counter, history both ways.

Every refusal leaves everything as it was: the message, its change number, the room's
counter, its earlier texts and reactions are compared before and after.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from chatter import messages, rooms, timeline
from chatter.models import Message, Reaction, Revision, Room
from chatter.templatetags.chatter import chatter_preview
from tests.factories import fill_room, make_user
from tests.test_rooms import postgres_only, run_threads

pytestmark = pytest.mark.django_db

THUMBS = "\N{THUMBS UP SIGN}"
HEART = "\N{HEAVY BLACK HEART}\ufe0f"


@pytest.fixture
def chat(alice: Any, bob: Any, carol: Any) -> tuple[Any, Any, Any, Room]:
    """alice and bob in a room; carol outside it."""
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    return alice, bob, carol, room


def state(room: Room) -> tuple[Any, ...]:
    """Everything an action may change, to compare before and after a refusal."""
    room.refresh_from_db()
    rows = list(
        Message.objects.filter(room=room)
        .order_by("seq")
        .values_list("seq", "text", "change", "edited_at", "deleted_at")
    )
    reactions = sorted(Reaction.objects.values_list("message_id", "user_id", "emoji"))
    return room.last_seq, room.last_change, rows, reactions, Revision.objects.count()


def refused(code: str, room: Room, action: Any, *args: Any) -> None:
    before = state(room)
    with pytest.raises(messages.MessageRefused) as caught:
        action(*args)
    assert caught.value.code == code
    assert str(caught.value)
    assert state(room) == before


def moderator(username: str) -> Any:
    user = make_user(username)
    user.user_permissions.add(Permission.objects.get(codename="delete_message"))
    return type(user).objects.get(pk=user.pk)  # permissions are cached per instance


# -- edit ----------------------------------------------------------------------------------


def test_the_author_edits_and_the_old_text_is_kept_for_moderators(chat: Any) -> None:
    alice, _, _, room = chat
    sent, _ = messages.send_message(room, alice, "helo")
    edited, changed = messages.edit_message(room, alice, sent.seq, "  hello  ")
    assert changed and edited.text == "hello" and edited.edited_at is not None
    assert edited.change == 1 and Room.objects.get(pk=room.pk).last_change == 1
    assert list(Revision.objects.values_list("text", flat=True)) == ["helo"]
    again, changed = messages.edit_message(room, alice, sent.seq, "hello")
    assert not changed and again.change == 1  # the same text: nothing to announce


def test_edit_refusals_change_nothing(chat: Any) -> None:
    alice, bob, carol, room = chat
    sent, _ = messages.send_message(room, alice, "mine")
    refused("forbidden", room, messages.edit_message, room, bob, sent.seq, "bob's")
    refused("not_member", room, messages.edit_message, room, carol, sent.seq, "carol's")
    refused("not_found", room, messages.edit_message, room, alice, 99, "nothing there")
    refused("not_found", room, messages.edit_message, room, alice, 2**70, "too far")
    refused("empty", room, messages.edit_message, room, alice, sent.seq, " \u200b ")
    with override_settings(CHATTER_MESSAGE_MAX_LENGTH=5):
        refused("too_long", room, messages.edit_message, room, alice, sent.seq, "x" * 6)
    messages.delete_message(room, alice, sent.seq)
    refused("deleted", room, messages.edit_message, room, alice, sent.seq, "back")


def test_the_edit_window(chat: Any) -> None:
    alice, _, _, room = chat
    sent, _ = messages.send_message(room, alice, "old")
    Message.objects.filter(pk=sent.pk).update(created_at=timezone.now() - timedelta(hours=49))
    refused("too_old", room, messages.edit_message, room, alice, sent.seq, "new")
    with override_settings(CHATTER_EDIT_WINDOW=None):
        assert messages.edit_message(room, alice, sent.seq, "new")[1]
    with override_settings(CHATTER_EDIT_WINDOW=0):
        refused("too_old", room, messages.edit_message, room, alice, sent.seq, "newer")


def test_an_edit_in_another_room_is_not_found(chat: Any, carol: Any) -> None:
    alice, _, _, room = chat
    other = Room.objects.get(pk=rooms.create_room([alice, carol]))
    messages.send_message(other, alice, "elsewhere")
    refused("not_found", room, messages.edit_message, room, alice, 1, "here?")


# -- delete --------------------------------------------------------------------------------


def test_delete_removes_the_text_its_history_and_reactions(chat: Any) -> None:
    alice, bob, _, room = chat
    sent, _ = messages.send_message(room, alice, "secret")
    messages.edit_message(room, alice, sent.seq, "secret, edited")
    messages.toggle_reaction(room, bob, sent.seq, THUMBS)
    gone, changed = messages.delete_message(room, alice, sent.seq)
    assert changed and gone.is_deleted and gone.text == "" and gone.change == 3
    assert not Revision.objects.exists() and not Reaction.objects.exists()
    with connection.cursor() as cursor:  # gone from the table itself, not hidden
        cursor.execute("SELECT text FROM chatter_message WHERE id = %s", [sent.pk])
        assert cursor.fetchone() == ("",)
    room.refresh_from_db()
    assert chatter_preview(room.last_message) == "Message deleted"
    assert rooms.unread_counts(bob)[room.pk] == 1  # the tombstone keeps its place
    again, changed = messages.delete_message(room, alice, sent.seq)
    assert not changed and again.change == 3


def test_who_may_delete(chat: Any) -> None:
    alice, bob, _, room = chat
    sent, _ = messages.send_message(room, alice, "alice's")
    refused("forbidden", room, messages.delete_message, room, bob, sent.seq)
    staff = make_user("staff", is_staff=True)
    refused("not_member", room, messages.delete_message, room, staff, sent.seq)
    mod = moderator("mod")  # not a member, but allowed to moderate
    assert messages.delete_message(room, mod, sent.seq)[1]
    refused("not_found", room, messages.delete_message, room, alice, 42)


# -- reactions -----------------------------------------------------------------------------


def test_a_reaction_toggles_and_each_toggle_is_a_change(chat: Any) -> None:
    alice, bob, _, room = chat
    sent, _ = messages.send_message(room, alice, "react to me")
    m, _ = messages.toggle_reaction(room, bob, sent.seq, THUMBS)
    m, _ = messages.toggle_reaction(room, alice, sent.seq, THUMBS)
    m, _ = messages.toggle_reaction(room, alice, sent.seq, HEART)
    assert [(g.emoji, [u.username for u in g.users]) for g in m.reaction_groups] == [
        (THUMBS, ["bob", "alice"]),
        (HEART, ["alice"]),
    ]
    assert m.reaction_groups[0].user_ids == f"{bob.pk} {alice.pk}"
    m, _ = messages.toggle_reaction(room, bob, sent.seq, THUMBS)
    assert [(g.emoji, g.count) for g in m.reaction_groups] == [(THUMBS, 1), (HEART, 1)]
    assert m.change == 4 and Room.objects.get(pk=room.pk).last_change == 4


@pytest.mark.parametrize(
    "emoji",
    ["\N{THUMBS UP SIGN}\N{EMOJI MODIFIER FITZPATRICK TYPE-4}", "👨\u200d👩\u200d👧", "🇫🇷", "❤️"],
)
def test_emoji_sequences_are_one_emoji(chat: Any, emoji: str) -> None:
    alice, _, _, room = chat
    sent, _ = messages.send_message(room, alice, "x")
    m, _ = messages.toggle_reaction(room, alice, sent.seq, emoji)
    assert [g.emoji for g in m.reaction_groups] == [emoji]


@pytest.mark.parametrize("emoji", ["", "a", "👍👍", ":+1:", "<b>", " ", "👍" * 20, 5, None])
def test_not_an_emoji_is_refused(chat: Any, emoji: Any) -> None:
    alice, _, _, room = chat
    sent, _ = messages.send_message(room, alice, "x")
    refused("invalid", room, messages.toggle_reaction, room, alice, sent.seq, emoji)


def test_reaction_refusals(chat: Any) -> None:
    alice, bob, carol, room = chat
    sent, _ = messages.send_message(room, alice, "x")
    refused("not_member", room, messages.toggle_reaction, room, carol, sent.seq, THUMBS)
    refused("not_found", room, messages.toggle_reaction, room, bob, 7, THUMBS)
    with override_settings(CHATTER_MAX_REACTIONS=2):
        messages.toggle_reaction(room, alice, sent.seq, THUMBS)
        messages.toggle_reaction(room, alice, sent.seq, HEART)
        refused("too_many", room, messages.toggle_reaction, room, bob, sent.seq, "🎉")
        assert messages.toggle_reaction(room, bob, sent.seq, THUMBS)[1]  # one already there
    messages.delete_message(room, alice, sent.seq)
    refused("forbidden", room, messages.toggle_reaction, room, bob, sent.seq, THUMBS)


@override_settings(CHATTER_FRAME_LIMITS={"react": (2, 60), "edit": (1, 60)})
def test_actions_are_rate_limited_per_user(chat: Any) -> None:
    from django.core.cache import cache

    cache.clear()
    alice, bob, _, room = chat
    sent, _ = messages.send_message(room, alice, "x")
    messages.toggle_reaction(room, bob, sent.seq, THUMBS)
    messages.toggle_reaction(room, bob, sent.seq, THUMBS)
    refused("rate_limited", room, messages.toggle_reaction, room, bob, sent.seq, HEART)
    assert messages.toggle_reaction(room, alice, sent.seq, HEART)[1]  # per user
    messages.edit_message(room, alice, sent.seq, "y")
    refused("rate_limited", room, messages.edit_message, room, alice, sent.seq, "z")
    cache.clear()


# -- replies -------------------------------------------------------------------------------


def test_a_reply_quotes_a_message_of_the_same_room(chat: Any, carol: Any) -> None:
    alice, bob, _, room = chat
    first, _ = messages.send_message(room, alice, "question?")
    answer, _ = messages.send_message(room, bob, "answer", reply_to=first.seq)
    assert answer.reply_to == first
    assert timeline.history(room).messages[-1].reply_to.text == "question?"
    other = Room.objects.get(pk=rooms.create_room([alice, carol]))
    refused("not_found", room, messages.send_message, room, bob, "to nowhere", None, 99)
    messages.send_message(other, alice, "other room")
    refused("not_found", other, messages.send_message, other, carol, "x", None, 5)


# -- reading by keyset, both ways, and changes -----------------------------------------------


def test_around_and_after_walk_each_message_once(chat: Any) -> None:
    alice, _, _, room = chat
    fill_room(room, 230, sender=alice)
    window = timeline.around(room, 100, limit=50)
    assert [m.seq for m in window.messages] == list(range(75, 125))
    assert window.has_older and window.has_newer
    assert window.before == 75 and window.after == 124
    seen = [m.seq for m in window.messages]
    after = window.after
    while after is not None:
        page = timeline.history_after(room, after, limit=50)
        seen += [m.seq for m in page.messages]
        after = page.after
    before = window.before
    while before is not None:
        older = timeline.history(room, before=before, limit=50)
        seen = [m.seq for m in older.messages] + seen
        before = older.before
    assert seen == list(range(1, 231))
    edge = timeline.around(room, 1, limit=50)
    assert edge.messages[0].seq == 1 and not edge.has_older


def test_changed_after_gives_each_message_once_in_its_current_state(chat: Any) -> None:
    alice, bob, _, room = chat
    fill_room(room, 10, sender=alice)
    for seq in (3, 5, 3, 7, 3):
        messages.toggle_reaction(room, bob, seq, THUMBS)
    messages.edit_message(room, alice, 5, "five, edited")
    changed = timeline.changed_after(room, 0)
    assert [(m.seq, m.change) for m in changed] == [(7, 4), (3, 5), (5, 6)]
    assert [g.count for g in changed[1].reaction_groups] == [1]  # 3 toggled three times
    assert [m.seq for m in timeline.changed_after(room, 4)] == [3, 5]
    assert [m.seq for m in timeline.changed_after(room, 0, upto=5)] == [7, 3]
    assert [m.seq for m in timeline.changed_after(room, 0, since_seq=4)] == [7, 5]
    assert [m.seq for m in timeline.changed_after(room, 0, until_seq=5)] == [3, 5]
    assert timeline.last_numbers(room) == (10, 6)


def test_queries_per_action(chat: Any, capsys: Any) -> None:
    """Constant statements per action, whatever the room's size; printed for the notes."""
    alice, bob, _, room = chat
    sent, _ = messages.send_message(room, alice, "count me")
    counts = {}
    for name, call in [
        ("edit", lambda: messages.edit_message(room, alice, sent.seq, "counted")),
        ("react", lambda: messages.toggle_reaction(room, bob, sent.seq, THUMBS)),
        ("unreact", lambda: messages.toggle_reaction(room, bob, sent.seq, THUMBS)),
        ("reply", lambda: messages.send_message(room, bob, "re", reply_to=sent.seq)),
        ("delete", lambda: messages.delete_message(room, alice, sent.seq)),
    ]:
        with CaptureQueriesContext(connection) as ctx:
            call()
        counts[name] = len([q for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]])
    with capsys.disabled():
        print(f"\nstatements per action ({connection.vendor}): {counts}")
    assert all(n <= 14 for n in counts.values()), counts


# -- concurrency on PostgreSQL ---------------------------------------------------------------


@pytest.mark.postgres
@postgres_only()
@pytest.mark.django_db(transaction=True)
@override_settings(CHATTER_FRAME_LIMITS={"react": (0, 1), "edit": (0, 1)})
def test_concurrent_reactions_and_edits_each_take_their_own_change_number() -> None:
    """Two users react and edit at once: every change has its own number, none is lost."""
    alice, bob = make_user("ca"), make_user("cb")
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    for text in ("one", "two"):
        messages.send_message(room, alice, text)
    emoji = ["🍎", "🍐", "🍊", "🍋", "🍌", "🍉", "🍇", "🍓"]

    def work(index: int) -> list[int]:
        mine = Room.objects.get(pk=room.pk)
        user = (alice, bob)[index % 2]
        done = []
        for n in range(10):
            if index == 0:
                message, _ = messages.edit_message(mine, alice, 1, f"edit {n}")
            else:
                message, _ = messages.toggle_reaction(mine, user, 2, emoji[(index + n) % 8])
            done.append(message.change)
        return done

    results = run_threads(4, work)
    changes = [c for done in results for c in done]
    assert len(set(changes)) == 40  # every change its own number ...
    room.refresh_from_db()
    assert room.last_change == 40  # ... and none lost
    assert sorted(changes) == list(range(1, 41))
    assert Revision.objects.filter(message__seq=1).count() == 10
    assert Message.objects.get(room=room, seq=1).text == "edit 9"
    expected: Counter[tuple[int, str]] = Counter()
    for index in (1, 2, 3):
        user = (alice, bob)[index % 2]
        for n in range(10):
            expected[user.pk, emoji[(index + n) % 8]] += 1
    on = {pair for pair, toggles in expected.items() if toggles % 2}
    assert set(Reaction.objects.values_list("user_id", "emoji")) == on
    assert Message.objects.get(room=room, seq=2).change == max(max(done) for done in results[1:])
