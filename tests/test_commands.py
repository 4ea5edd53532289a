"""Tests of the chatter_create_room, chatter_send and chatter_rooms management commands."""

from __future__ import annotations

import os
import subprocess
import uuid
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from chatter import messages, rooms
from chatter.models import Membership, Message, Room
from tests import servers
from tests.factories import make_users

pytestmark = pytest.mark.django_db

ROOT, EXAMPLE = servers.ROOT, servers.EXAMPLE


def run(*args: Any) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def users() -> list[Any]:
    return make_users("alice", "bob", "carol")


# -- chatter_create_room -----------------------------------------------------------------


def test_create_room_prints_the_id(users: list[Any]) -> None:
    out = run("chatter_create_room", "alice", "bob")
    room_id = uuid.UUID(out.strip())
    assert out == f"{room_id}\n"
    assert set(Room.objects.get(pk=room_id).members.values_list("username", flat=True)) == {
        "alice",
        "bob",
    }


def test_create_room_again_prints_the_same_id(users: list[Any]) -> None:
    first = run("chatter_create_room", "alice", "bob")
    assert run("chatter_create_room", "bob", "alice") == first
    assert run("chatter_create_room", "bob", "alice", "bob") == first
    assert run("chatter_create_room", "alice", "bob", "carol") != first
    assert Room.objects.count() == 2


def test_create_room_with_name(users: list[Any]) -> None:
    room_id = run("chatter_create_room", "alice", "bob", "carol", "--name", "Team").strip()
    assert Room.objects.get(pk=room_id).name == "Team"
    assert run("chatter_create_room", "alice", "bob", "carol", "--name", "Other").strip() == (
        room_id
    )
    assert Room.objects.get(pk=room_id).name == "Team"


def test_create_room_matches_create_room(users: list[Any]) -> None:
    assert run("chatter_create_room", "carol").strip() == str(rooms.create_room(users[2:]))


def test_create_room_unknown_users(users: list[Any]) -> None:
    with pytest.raises(CommandError, match=r"Unknown users: nobody, ghost\.") as info:
        run("chatter_create_room", "alice", "nobody", "ghost", "nobody")
    assert info.value.returncode == 1
    with pytest.raises(CommandError, match=r"Unknown user: nobody\."):
        run("chatter_create_room", "nobody")
    assert (Room.objects.count(), Membership.objects.count()) == (0, 0)


def test_create_room_name_too_long(users: list[Any]) -> None:
    with pytest.raises(CommandError, match="longer than 100"):
        run("chatter_create_room", "alice", "--name", "x" * 101)
    assert Room.objects.count() == 0


def test_usernames_with_special_characters() -> None:
    make_users("a.b@example.com", "c+d-e_f")
    room_id = run("chatter_create_room", "a.b@example.com", "c+d-e_f").strip()
    assert run("chatter_send", room_id, "c+d-e_f", "hi") == f"#1 in {room_id}\n"
    assert "a.b@example.com, c+d-e_f" in run("chatter_rooms", "a.b@example.com")


def test_usernames_are_case_sensitive(users: list[Any]) -> None:
    with pytest.raises(CommandError, match="Unknown user: Alice"):
        run("chatter_create_room", "Alice")


# -- chatter_send ------------------------------------------------------------------------


@pytest.fixture
def room(users: list[Any]) -> Room:
    return Room.objects.get(pk=rooms.create_room(users[:2]))


def test_send(room: Room) -> None:
    assert run("chatter_send", str(room.pk), "alice", "  hello\r\nthere ") == f"#1 in {room.pk}\n"
    assert run("chatter_send", str(room.pk).upper(), "bob", "hi") == f"#2 in {room.pk}\n"
    assert list(Message.objects.values_list("seq", "sender__username", "text")) == [
        (1, "alice", "hello\nthere"),
        (2, "bob", "hi"),
    ]


@pytest.mark.parametrize(
    ("room_id", "username", "text", "error"),
    [
        ("not-a-uuid", "alice", "hi", "'not-a-uuid' is not a room id"),
        ("", "alice", "hi", "'' is not a room id"),
        (str(uuid.UUID(int=1)), "alice", "hi", "No room has the id"),
        (None, "nobody", "hi", "Unknown user: nobody"),
        (None, "carol", "hi", "You are not a member of this room"),
        (None, "alice", "   ", "Write something first"),
        (None, "alice", "x" * 11, "This message is too long: 11 characters, at most 10"),
    ],
    ids=["malformed-id", "empty-id", "unknown-room", "unknown-user", "not-member", "empty", "long"],
)
@override_settings(CHATTER_MESSAGE_MAX_LENGTH=10)
def test_send_refused(room: Room, room_id: Any, username: str, text: str, error: str) -> None:
    with pytest.raises(CommandError, match=error) as info:
        run("chatter_send", room_id if room_id is not None else str(room.pk), username, text)
    assert info.value.returncode == 1
    assert "\n" not in str(info.value)
    assert Message.objects.count() == 0
    room.refresh_from_db()
    assert room.last_seq == 0


# -- chatter_rooms -----------------------------------------------------------------------


def test_rooms_empty(users: list[Any]) -> None:
    assert run("chatter_rooms") == "No rooms.\n"
    assert run("chatter_rooms", "alice") == "No rooms.\n"


def test_rooms_lists_all_rooms(users: list[Any]) -> None:
    alice, bob, _ = users
    pair = Room.objects.get(pk=rooms.create_room([alice, bob]))
    team = Room.objects.get(pk=rooms.create_room(users, name="Team"))
    messages.send_message(pair, bob, "latest")
    lines = run("chatter_rooms").splitlines()
    assert lines[0] == "id\tname\tmembers\tlast activity"
    assert [line.split("\t")[:3] for line in lines[1:]] == [
        [str(pair.pk), "alice, bob", "alice, bob"],
        [str(team.pk), "Team", "alice, bob, carol"],
    ]
    assert all(len(line.split("\t")) == 4 for line in lines)


def test_rooms_for_a_user_with_unread_counts(users: list[Any]) -> None:
    alice, bob, carol = users
    pair = Room.objects.get(pk=rooms.create_room([alice, bob]))
    team = Room.objects.get(pk=rooms.create_room(users, name="Team"))
    rooms.create_room([bob, carol])
    messages.send_message(team, carol, "one")
    messages.send_message(team, carol, "two")
    messages.send_message(pair, bob, "three")
    lines = run("chatter_rooms", "alice").splitlines()
    assert lines[0] == "id\tname\tmembers\tlast activity\tunread"
    rows = [line.split("\t") for line in lines[1:]]
    assert [(r[0], r[1], r[2], r[4]) for r in rows] == [
        (str(pair.pk), "bob", "alice, bob", "1"),
        (str(team.pk), "Team", "alice, bob, carol", "2"),
    ]
    bob_rows = run("chatter_rooms", "bob").splitlines()[1:]
    assert len(bob_rows) == 3
    assert bob_rows[0].split("\t")[4] == "0"  # bob sent the latest message in the pair


def test_rooms_unknown_user(users: list[Any]) -> None:
    with pytest.raises(CommandError, match="Unknown user: nobody"):
        run("chatter_rooms", "nobody")


# -- as a real process: exit status and output -------------------------------------------


def test_exit_status_in_a_real_process(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "settings",
        "CHATTER_SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "PYTHONPATH": os.pathsep.join([str(EXAMPLE), str(ROOT)]),
    }
    env.pop("CHATTER_DATABASE_URL", None)

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return servers.run_manage(env, *args)

    assert manage("migrate", "--noinput", "-v0").returncode == 0
    made = manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User;"
        "User.objects.create_user('ann.lee@example.com');User.objects.create_user('b+o-b')",
    )
    assert made.returncode == 0, made.stderr

    unknown = manage("chatter_create_room", "ann.lee@example.com", "nobody")
    assert unknown.returncode == 1
    assert unknown.stdout == ""
    assert "CommandError: Unknown user: nobody." in unknown.stderr
    assert "Traceback" not in unknown.stderr

    created = manage("chatter_create_room", "ann.lee@example.com", "b+o-b")
    assert created.returncode == 0, created.stderr
    room_id = str(uuid.UUID(created.stdout.strip()))
    again = manage("chatter_create_room", "b+o-b", "ann.lee@example.com")
    assert again.stdout.strip() == room_id

    sent = manage("chatter_send", room_id, "b+o-b", "hello from the shell")
    assert (sent.returncode, sent.stdout.strip()) == (0, f"#1 in {room_id}")
    refused = manage("chatter_send", "nope", "b+o-b", "x")
    assert refused.returncode == 1
    assert "is not a room id" in refused.stderr

    listed = manage("chatter_rooms", "ann.lee@example.com")
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[1].split("\t")[-1] == "1"
    assert manage("chatter_rooms", "nobody").returncode == 1


@pytest.mark.django_db
def test_a_chatter_command_without_run_says_so() -> None:
    from chatter.management.base import ChatterCommand

    with pytest.raises(NotImplementedError, match="must implement run"):
        call_command(ChatterCommand())


def test_the_missing_tables_message_says_what_to_do() -> None:
    """In the public schema: pick a tenant's schema; in a tenant's: migrate it."""
    from chatter.management.base import _no_tables_message

    assert "migrate_schemas --schema beta" in _no_tables_message("beta")
    assert "public schema" in _no_tables_message("public")
