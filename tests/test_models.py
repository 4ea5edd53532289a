"""Tests of the models' own behaviour: names, constraints, deletion."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from chatter import messages, rooms, timeline
from chatter.models import Membership, Message, Room
from tests.factories import make_users

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup() -> tuple[Room, Any, Any]:
    alice, bob = make_users("alice", "bob")
    return Room.objects.get(pk=rooms.create_room([alice, bob])), alice, bob


def test_str(setup: tuple[Room, Any, Any]) -> None:
    room, alice, _ = setup
    assert str(room) == str(room.pk)
    room.name = "Team"
    room.save(update_fields=["name"])
    assert str(room) == "Team"
    message, _ = messages.send_message(room, alice, "hi")
    assert str(message) == f"{room.pk}#1"
    assert str(Membership.objects.get(room=room, user=alice)) == "alice in Team"


def test_membership_unread(setup: tuple[Room, Any, Any]) -> None:
    room, alice, bob = setup
    for n in range(3):
        messages.send_message(room, bob, str(n))
    membership = Membership.objects.select_related("room").get(room=room, user=alice)
    assert membership.unread == 3
    membership.last_read_seq = 10  # never negative
    assert membership.unread == 0


def test_seq_is_unique_per_room(setup: tuple[Room, Any, Any]) -> None:
    room, alice, _ = setup
    messages.send_message(room, alice, "one")
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(room=room, sender=alice, seq=1, text="copy")
    other = Room.objects.get(pk=rooms.create_room([alice]))
    Message.objects.create(room=other, sender=alice, seq=1, text="fine")


def test_client_id_is_unique_per_room_and_sender(setup: tuple[Room, Any, Any]) -> None:
    room, alice, bob = setup
    client_id = uuid.uuid4()
    Message.objects.create(room=room, sender=alice, seq=1, text="a", client_id=client_id)
    Message.objects.create(room=room, sender=bob, seq=2, text="b", client_id=client_id)
    Message.objects.create(room=room, sender=alice, seq=3, text="c")  # no id: no limit
    Message.objects.create(room=room, sender=alice, seq=4, text="d")
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(room=room, sender=alice, seq=5, text="e", client_id=client_id)


def test_membership_is_unique(setup: tuple[Room, Any, Any]) -> None:
    room, alice, _ = setup
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(room=room, user=alice)


def test_members_key_is_unique(setup: tuple[Room, Any, Any]) -> None:
    room, _, _ = setup
    with pytest.raises(IntegrityError), transaction.atomic():
        Room.objects.create(members_key=room.members_key)


def test_deleting_a_user_keeps_their_messages(setup: tuple[Room, Any, Any]) -> None:
    room, alice, bob = setup
    message, _ = messages.send_message(room, bob, "still here")
    bob.delete()
    message.refresh_from_db()
    assert message.sender is None
    assert timeline.history(room).messages == [message]
    assert list(Membership.objects.filter(room=room).values_list("user", flat=True)) == [alice.pk]


def test_deleting_a_room_deletes_its_messages_and_memberships(
    setup: tuple[Room, Any, Any],
) -> None:
    room, alice, _ = setup
    messages.send_message(room, alice, "bye")
    room.delete()
    assert (Message.objects.count(), Membership.objects.count()) == (0, 0)


def test_ordering(setup: tuple[Room, Any, Any]) -> None:
    room, alice, bob = setup
    later = Room.objects.get(pk=rooms.create_room([alice]))
    messages.send_message(later, alice, "x")
    assert list(Room.objects.all()) == [later, room]
    messages.send_message(room, bob, "1")
    messages.send_message(room, alice, "2")
    assert [m.seq for m in Message.objects.filter(room=room)] == [1, 2]
