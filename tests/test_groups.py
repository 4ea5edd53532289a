"""Tests of chatter.groups: who may rename, add, remove and leave, the system lines, and
what create_room does with a group whose members changed."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chatter import groups, messages, rooms, timeline
from chatter.groups import GroupRefused
from chatter.models import Membership, Message, Room
from chatter.templatetags.chatter import chatter_system_line
from tests.factories import crowd, make_user, make_users

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_limits() -> None:
    cache.clear()  # rate limits count in the cache: each test starts with none


@pytest.fixture
def people() -> dict[str, Any]:
    alice, bob, carol, dave = make_users("alice", "bob", "carol", "dave")
    return {"alice": alice, "bob": bob, "carol": carol, "dave": dave}


@pytest.fixture
def group(people: dict[str, Any]) -> Room:
    """A group of alice (its creator), bob and carol, with two messages."""
    room_id = rooms.create_room(
        [people["alice"], people["bob"], people["carol"]], name="Trip", created_by=people["alice"]
    )
    room = Room.objects.get(pk=room_id)
    messages.send_message(room, people["alice"], "hello")
    messages.send_message(room, people["bob"], "hi")
    return room


def member_names(room: Room) -> list[str]:
    return [u.username for u in rooms.members(room)]


def lines(room: Room) -> list[tuple[int, str, str | None]]:
    """The room's system lines: (seq, sentence, sender)."""
    found = Message.objects.filter(room=room, kind="system").select_related("sender")
    return [
        (m.seq, chatter_system_line(m), m.sender.username if m.sender else None)
        for m in found.order_by("seq")
    ]


def staff(username: str, *codenames: str) -> Any:
    user = make_user(username, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return type(user).objects.get(pk=user.pk)  # permissions are cached per instance


def refused(code: str, action: Any, *args: Any) -> GroupRefused:
    """Call ``action``; it must refuse with ``code`` and change nothing in the database."""
    before = (
        list(Room.objects.values_list("pk", "name", "members_key", "last_seq").order_by("pk")),
        sorted(Membership.objects.values_list("room_id", "user_id")),
        Message.objects.count(),
    )
    with pytest.raises(GroupRefused) as info:
        action(*args)
    assert info.value.code == code, str(info.value)
    after = (
        list(Room.objects.values_list("pk", "name", "members_key", "last_seq").order_by("pk")),
        sorted(Membership.objects.values_list("room_id", "user_id")),
        Message.objects.count(),
    )
    assert after == before
    return info.value


# -- the system lines -------------------------------------------------------------------------


def test_each_change_is_a_system_line_with_the_rooms_next_number(
    group: Room, people: dict[str, Any]
) -> None:
    alice, bob, carol, dave = (people[n] for n in ("alice", "bob", "carol", "dave"))
    assert group.last_seq == 2
    renamed = groups.rename_group(group, bob, "  Weekend trip ")
    assert renamed is not None and renamed.seq == 3
    added = groups.add_members(group, carol, [dave])
    removed = groups.remove_member(group, alice, bob)
    left = groups.leave_group(group, carol)
    assert [added.seq, removed.seq, left.seq] == [4, 5, 6]
    assert lines(group) == [
        (3, "bob renamed the group to “Weekend trip”", "bob"),
        (4, "carol added dave", "carol"),
        (5, "alice removed bob", "alice"),
        (6, "carol left the group", "carol"),
    ]
    group.refresh_from_db()
    assert (group.name, group.last_seq, group.last_message_id) == ("Weekend trip", 6, left.pk)
    assert member_names(group) == ["alice", "dave"]
    # They count and resume like messages: a message after them is number 7.
    message, _ = messages.send_message(group, dave, "who is left?")
    assert message.seq == 7
    assert [m.seq for m in timeline.messages_after(group, 2)] == [3, 4, 5, 6, 7]
    # The room's change counter is left alone: nothing a page shows changed.
    assert group.last_change == 0
    assert added.data == {"action": "added", "users": [[dave.pk, "dave"]]}
    assert groups.is_group_line(added) and not groups.is_group_line(message)


def test_the_caller_s_room_object_is_brought_up_to_date(
    group: Room, people: dict[str, Any]
) -> None:
    line = groups.add_members(group, people["bob"], [people["dave"]])
    assert (group.last_seq, group.last_message) == (line.seq, line)
    assert group.members_key == "g:" + group.pk.hex


def test_the_actor_has_read_the_line_and_a_new_member_has_it_unread(
    group: Room, people: dict[str, Any]
) -> None:
    line = groups.add_members(group, people["bob"], [people["dave"]])
    reads = dict(
        Membership.objects.filter(room=group).values_list("user__username", "last_read_seq")
    )
    assert reads["bob"] == line.seq == 3
    assert reads["dave"] == line.seq - 1  # the history is there; only "bob added dave" is new
    assert rooms.unread_counts(people["dave"])[group.pk] == 1


def test_the_same_name_again_changes_nothing(group: Room, people: dict[str, Any]) -> None:
    assert groups.rename_group(group, people["bob"], " Trip ") is None
    assert lines(group) == []


def test_several_at_once_are_one_line(group: Room, people: dict[str, Any]) -> None:
    eve = make_user("eve", first_name="Eve", last_name="Evans")
    groups.add_members(group, people["alice"], [people["dave"], eve, people["dave"]])
    groups.remove_members(group, people["alice"], [people["bob"], eve])
    assert [text for _, text, _ in lines(group)] == [
        "alice added dave, Eve Evans",
        "alice removed bob, Eve Evans",
    ]
    assert member_names(group) == ["alice", "carol", "dave"]


def test_removing_oneself_is_leaving(group: Room, people: dict[str, Any]) -> None:
    line = groups.remove_member(group, people["alice"], people["alice"])
    assert line.data == {"action": "left"}
    assert member_names(group) == ["bob", "carol"]


def test_the_last_member_may_leave_and_the_room_stays(people: dict[str, Any]) -> None:
    room = Room.objects.get(pk=rooms.create_room([people["alice"], people["bob"]], name="Two"))
    groups.leave_group(room, people["bob"])
    groups.leave_group(room, people["alice"])
    assert Room.objects.filter(pk=room.pk).exists()
    assert member_names(room) == []
    assert [text for _, text, _ in lines(room)] == ["bob left the group", "alice left the group"]
    refused("not_member", groups.leave_group, room, people["alice"])


# -- create_room and a group whose members changed ----------------------------------------------


def test_create_room_never_returns_a_group_whose_members_changed(
    group: Room, people: dict[str, Any]
) -> None:
    alice, bob, carol, dave = (people[n] for n in ("alice", "bob", "carol", "dave"))
    assert rooms.create_room([alice, bob, carol]) == group.pk  # as created: found by its people
    groups.add_members(group, alice, [dave])
    group.refresh_from_db()
    assert group.members_key == "g:" + group.pk.hex
    # Neither the old set nor the new one finds it: each gets a room of exactly them.
    assert rooms.find_room([alice, bob, carol]) is None
    assert rooms.find_room([alice, bob, carol, dave]) is None
    new = rooms.create_room([alice, bob, carol, dave])
    assert new != group.pk
    assert Room.objects.get(pk=new).members_key != group.members_key
    # Removing dave again does not make it the room of alice, bob and carol.
    groups.remove_member(group, alice, dave)
    assert rooms.create_room([alice, bob, carol]) != group.pk


def test_a_rename_keeps_the_key(group: Room, people: dict[str, Any]) -> None:
    groups.rename_group(group, people["bob"], "Other")
    assert rooms.create_room([people["alice"], people["bob"], people["carol"]]) == group.pk


def test_create_room_stores_its_creator(people: dict[str, Any]) -> None:
    alice, bob = people["alice"], people["bob"]
    room_id, created = rooms.get_or_create_room([alice, bob], "x", created_by=alice)
    assert created and Room.objects.get(pk=room_id).created_by == alice
    # An existing room keeps its creator; the public signature is unchanged.
    assert rooms.create_room([alice, bob], created_by=bob) == room_id
    assert Room.objects.get(pk=room_id).created_by == alice
    assert Room.objects.get(pk=rooms.create_room([bob])).created_by is None
    with pytest.raises(TypeError):
        rooms.create_room([alice], created_by="alice")  # type: ignore[arg-type]


# -- who may do what ------------------------------------------------------------------------------


def test_one_to_one_and_notes_rooms_are_not_groups(people: dict[str, Any]) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    pair = Room.objects.get(pk=rooms.create_room([alice, bob]))
    notes = Room.objects.get(pk=rooms.create_room([alice]))
    error = refused("not_group", groups.add_members, pair, alice, [carol])
    assert "Start a new group" in str(error)
    refused("not_group", groups.rename_group, pair, alice, "Us")
    refused("not_group", groups.leave_group, pair, bob)
    refused("not_group", groups.remove_member, pair, alice, bob)
    refused("not_group", groups.rename_group, notes, alice, "Mine")
    # A named room of two is a group; so is a room of three.
    named = Room.objects.get(pk=rooms.create_room([bob, carol], name="Duo"))
    assert groups.add_members(named, bob, [alice]).seq == 1


@pytest.mark.parametrize(
    ("actor", "code"),
    [
        ("alice", None),  # the creator
        ("bob", "forbidden"),  # another member
        ("dave", "not_member"),  # not a member
        ("staff", "not_member"),  # staff without the permission
        ("moderator", None),  # chatter.delete_membership, not a member
    ],
)
def test_who_may_remove(group: Room, people: dict[str, Any], actor: str, code: str | None) -> None:
    users = {
        **people,
        "staff": staff("staff", "change_room"),
        "moderator": staff("moderator", "delete_membership"),
    }
    if code is None:
        line = groups.remove_member(group, users[actor], people["carol"])
        assert line.sender == users[actor]
        assert member_names(group) == ["alice", "bob"]
    else:
        refused(code, groups.remove_member, group, users[actor], people["carol"])


def test_a_creator_who_left_may_no_longer_remove(group: Room, people: dict[str, Any]) -> None:
    groups.leave_group(group, people["alice"])
    refused("not_member", groups.remove_member, group, people["alice"], people["bob"])
    assert not groups.can_remove(group, people["bob"])
    assert groups.can_remove(group, people["alice"])  # the role stays, membership decides


@pytest.mark.parametrize(
    ("actor", "allowed"),
    [("alice", True), ("bob", True), ("dave", False), ("staff", False), ("operator", True)],
)
def test_who_may_add_and_rename(
    group: Room, people: dict[str, Any], actor: str, allowed: bool
) -> None:
    users = {
        **people,
        "staff": staff("staff", "delete_membership"),
        "operator": staff("operator", "add_membership", "change_room"),
    }
    eve = make_user("eve")
    if allowed:
        assert groups.add_members(group, users[actor], [eve]).sender == users[actor]
        assert groups.rename_group(group, users[actor], f"By {actor}") is not None
    else:
        refused("not_member", groups.add_members, group, users[actor], [eve])
        refused("not_member", groups.rename_group, group, users[actor], "Mine")


def test_only_members_leave(group: Room, people: dict[str, Any]) -> None:
    refused("not_member", groups.leave_group, group, people["dave"])
    moderator = staff("moderator", "delete_membership")
    refused("not_member", groups.leave_group, group, moderator)


# -- bad input ------------------------------------------------------------------------------------


def test_bad_input_is_refused_with_nothing_changed(group: Room, people: dict[str, Any]) -> None:
    alice, bob, dave = people["alice"], people["bob"], people["dave"]
    error = refused("already_member", groups.add_members, group, alice, [dave, bob])
    assert str(error) == "bob is already a member."
    refused("invalid", groups.add_members, group, alice, [])
    error = refused("not_in_group", groups.remove_members, group, alice, [dave])
    assert str(error) == "dave is not a member of this group."
    refused("invalid", groups.remove_members, group, alice, [alice, bob])
    refused("invalid", groups.remove_members, group, alice, [])
    refused("invalid", groups.rename_group, group, bob, "   ")
    refused("invalid", groups.rename_group, group, bob, None)
    error = refused("too_long", groups.rename_group, group, bob, "x" * 101)
    assert "100" in str(error)
    assert groups.rename_group(group, bob, "x" * 100) is not None


def test_unsaved_and_inactive_users_cannot_be_added(group: Room, people: dict[str, Any]) -> None:
    ghost = type(people["alice"])(username="ghost")
    with pytest.raises(TypeError):
        groups.add_members(group, people["alice"], [ghost])
    with pytest.raises(TypeError):
        groups.add_members(group, people["alice"], ["carol"])  # type: ignore[list-item]
    gone = make_user("gone", is_active=False)
    refused("invalid", groups.add_members, group, people["alice"], [gone])


def test_at_most_the_member_limit(group: Room, people: dict[str, Any], settings: Any) -> None:
    settings.CHATTER_MAX_ROOM_MEMBERS = 4
    eve = make_user("eve")
    error = refused("too_many", groups.add_members, group, people["alice"], [people["dave"], eve])
    assert str(error) == "A group can have at most 4 members."
    groups.add_members(group, people["alice"], [people["dave"]])
    refused("too_many", groups.add_members, group, people["alice"], [eve])


def test_changes_are_rate_limited(group: Room, people: dict[str, Any], settings: Any) -> None:
    settings.CHATTER_FRAME_LIMITS = {"group": (2, 60)}
    groups.rename_group(group, people["bob"], "One")
    groups.rename_group(group, people["bob"], "Two")
    refused("rate_limited", groups.rename_group, group, people["bob"], "Three")
    groups.rename_group(group, people["carol"], "Three")  # per user


def test_a_room_that_is_gone(group: Room, people: dict[str, Any]) -> None:
    Room.objects.filter(pk=group.pk).delete()
    with pytest.raises(GroupRefused) as info:
        groups.rename_group(group, people["alice"], "x")
    assert info.value.code == "not_found"


# -- work per action ------------------------------------------------------------------------------


def test_queries_per_action_do_not_grow_with_the_group(
    people: dict[str, Any], settings: Any
) -> None:
    """Measured: the numbers the docs give (savepoint statements included)."""
    settings.CHATTER_MAX_ROOM_MEMBERS = 500
    counts: dict[int, list[int]] = {}
    for size in (3, 200):
        members = crowd(f"m{size}x", size - 1)
        owner = make_user(f"owner{size}")
        newcomer = make_user(f"new{size}")
        room = Room.objects.get(
            pk=rooms.create_room([owner, *members], name="Big", created_by=owner)
        )
        taken = []
        for action, args in (
            (groups.rename_group, (owner, "Bigger")),
            (groups.add_members, (owner, [newcomer])),
            (groups.remove_member, (owner, newcomer)),
            (groups.leave_group, (members[0],)),
        ):
            cache.clear()
            with CaptureQueriesContext(connection) as ctx:
                action(room, *args)
            taken.append(len(ctx.captured_queries))
        counts[size] = taken
    assert counts[3] == counts[200], counts
    print("queries per action (rename, add, remove, leave):", counts[200])
    assert all(n <= 12 for n in counts[200]), counts


def test_the_docs_example_runs(capsys: Any) -> None:
    """docs/groups.rst's Python, run against this database (the snippet test only builds it)."""
    from tests import docs

    (snippet,) = docs.groups()["groups"]
    make_users("alice", "bob", "carol", "dave")
    exec(compile(snippet.block.code, snippet.block.where, "exec"), {})  # noqa: S102
    assert capsys.readouterr().out.startswith("forbidden ")
    trip = Room.objects.get(name="Ski trip")
    assert member_names(trip) == ["alice", "dave"]
    assert [text for _, text, _ in lines(trip)] == [
        "bob added dave",
        "alice removed carol",
        "dave renamed the group to “Ski trip”",
        "bob left the group",
    ]


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_keep_the_limit_and_gapless_numbers(settings: Any) -> None:
    """Six people added at once to a group with room for one, while four others send:
    one is added, five are refused, and the numbers have no gap and no repeat."""
    from tests.test_rooms import run_threads

    settings.CHATTER_MAX_ROOM_MEMBERS = 8
    cache.clear()
    senders = make_users("s0", "s1", "s2", "s3")
    owner = make_user("owner")
    newcomers = make_users(*(f"n{i}" for i in range(6)))
    room_id = rooms.create_room([owner, *senders, make_user("x"), make_user("y")], name="Busy")

    def work(index: int) -> Any:
        room = Room.objects.get(pk=room_id)
        if index < 6:
            try:
                return groups.add_members(room, owner, [newcomers[index]]).seq
            except GroupRefused as exc:
                return exc.code
        sender = senders[index - 6]
        return [messages.send_message(room, sender, f"{index}-{n}")[0].seq for n in range(10)]

    results = run_threads(10, work)
    adds = results[:6]
    assert sorted(a for a in adds if isinstance(a, str)) == ["too_many"] * 5
    assert len(Membership.objects.filter(room_id=room_id)) == 8
    numbers = [a for a in adds if isinstance(a, int)] + [n for r in results[6:] for n in r]
    assert sorted(numbers) == list(range(1, 42))
    assert list(Message.objects.filter(room_id=room_id).values_list("seq", flat=True)) == list(
        range(1, 42)
    )


def test_someone_who_blocks_the_adder_cannot_be_added(group: Room, people: dict[str, Any]) -> None:
    from chatter import moderation

    moderation.block(people["dave"], people["bob"])
    error = refused("blocked", groups.add_members, group, people["bob"], [people["dave"]])
    assert "blocked" not in str(error)  # the adder is not told why
    groups.add_members(group, people["alice"], [people["dave"]])  # alice is not blocked
    assert "dave" in member_names(group)
