"""Tests of the chatter_group management command: the same rules as the pages, all or none."""

from __future__ import annotations

import uuid
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError

from chatter import rooms
from chatter.models import Message, Room
from tests.factories import make_users

pytestmark = pytest.mark.django_db


def run(*args: Any) -> str:
    out = StringIO()
    call_command("chatter_group", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def group() -> Room:
    cache.clear()
    alice, bob, carol, _dave = make_users("alice", "bob", "carol", "dave")
    room_id = rooms.create_room([alice, bob, carol], name="Trip", created_by=alice)
    return Room.objects.get(pk=room_id)


def state(room: Room) -> tuple[Any, ...]:
    room.refresh_from_db()
    names = [u.username for u in rooms.members(room)]
    return room.name, names, room.last_seq, Message.objects.count()


def test_all_changes_in_one_call(group: Room) -> None:
    out = run(str(group.pk), "--as", "alice", "--rename", "Ski", "--add", "dave", "--remove", "bob")
    assert out == (
        f"#1 in {group.pk}: alice renamed the group to “Ski”\n"
        f"#2 in {group.pk}: alice added dave\n"
        f"#3 in {group.pk}: alice removed bob\n"
    )
    assert state(group) == ("Ski", ["alice", "carol", "dave"], 3, 3)
    assert run(str(group.pk), "--as", "carol", "--leave") == (
        f"#4 in {group.pk}: carol left the group\n"
    )
    assert run(str(group.pk), "--as", "alice", "--rename", "Ski") == f"No change in {group.pk}.\n"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--as", "alice"], "Nothing to do"),
        (["--as", "nobody", "--leave"], "Unknown user: nobody."),
        (["--as", "alice", "--add", "ghost"], "Unknown user: ghost."),
        (["--as", "bob", "--remove", "carol"], "Only the person who made the group"),
        (["--as", "dave", "--rename", "Mine"], "You are not a member of this room."),
        (["--as", "alice", "--add", "bob"], "bob is already a member."),
        (["--as", "alice", "--remove", "dave"], "dave is not a member of this group."),
        (["--as", "alice", "--rename", "x" * 101], "at most 100 characters"),
        # The rename and the add would work: nothing is written when the removal fails.
        (["--as", "bob", "--rename", "Ski", "--add", "dave", "--remove", "carol"], "Only the"),
    ],
)
def test_refusals_write_nothing(group: Room, args: list[str], error: str) -> None:
    before = state(group)
    with pytest.raises(CommandError, match=error) as info:
        run(str(group.pk), *args)
    assert info.value.returncode == 1
    assert state(group) == before


def test_a_room_that_is_not_a_group_or_not_there(group: Room) -> None:
    alice, bob = (rooms.members(group)[i] for i in (0, 1))
    pair = rooms.create_room([alice, bob])
    with pytest.raises(CommandError, match="conversation of two"):
        run(str(pair), "--as", "alice", "--add", "carol")
    with pytest.raises(CommandError, match="No room has the id"):
        run(str(uuid.UUID(int=7)), "--as", "alice", "--leave")
    with pytest.raises(CommandError):
        call_command(
            "chatter_group", str(group.pk), "--leave", stdout=StringIO(), stderr=StringIO()
        )


def test_an_operator_with_the_permissions(group: Room) -> None:
    (root,) = make_users("root")
    root.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_membership", "delete_membership"])
    )
    out = run(str(group.pk), "--as", "root", "--add", "dave", "--remove", "alice", "bob")
    assert "root added dave" in out and "root removed alice, bob" in out
    assert state(group)[1] == ["carol", "dave"]
