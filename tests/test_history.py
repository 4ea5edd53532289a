"""Tests of history pages (keyset "load older") and resuming with messages_after."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from chatter import messages, rooms, timeline
from chatter.models import Room
from tests.factories import fill_room, make_users

pytestmark = pytest.mark.django_db


@pytest.fixture
def users() -> list[Any]:
    return make_users("alice", "bob")


def new_room(users: list[Any], size: int) -> Room:
    room = Room.objects.get(pk=rooms.create_room(users))
    fill_room(room, size, sender=users[0])
    return room


def walk(room: Room, limit: int | None = None) -> tuple[list[int], int]:
    """All sequence numbers reached by "load older" from the newest page, and the page count."""
    page = timeline.history(room, limit=limit)
    seqs = [m.seq for m in page.messages]
    pages = 1
    while page.before is not None:
        page = timeline.history(room, before=page.before, limit=limit)
        seqs = [m.seq for m in page.messages] + seqs
        pages += 1
        assert pages < 10_000
    return seqs, pages


def test_empty_room(users: list[Any]) -> None:
    page = timeline.history(new_room(users, 0))
    assert page.messages == []
    assert page.has_more is False
    assert page.before is None


def test_newest_page(users: list[Any]) -> None:
    room = new_room(users, 120)
    page = timeline.history(room)  # CHATTER_PAGE_SIZE defaults to 50
    assert [m.seq for m in page.messages] == list(range(71, 121))
    assert page.has_more is True
    assert page.before == 71


def test_exactly_one_page_has_no_more(users: list[Any]) -> None:
    room = new_room(users, 50)
    page = timeline.history(room)
    assert len(page.messages) == 50
    assert page.has_more is False
    assert page.before is None


@pytest.mark.parametrize("limit", [None, 1, 7, 50, 333, 1000, 1001])
def test_walking_1000_messages_yields_each_once_in_order(users: list[Any], limit: Any) -> None:
    room = new_room(users, 1000)
    seqs, pages = walk(room, limit)
    assert seqs == list(range(1, 1001))
    size = limit or 50
    assert pages == -(-1000 // size)


@override_settings(CHATTER_PAGE_SIZE=30)
def test_page_size_setting(users: list[Any]) -> None:
    room = new_room(users, 100)
    assert len(timeline.history(room).messages) == 30
    assert walk(room)[0] == list(range(1, 101))


def test_new_messages_do_not_disturb_a_walk(users: list[Any]) -> None:
    room = new_room(users, 100)
    page = timeline.history(room, limit=40)
    messages.send_message(room, users[1], "arrives while reading")
    older = timeline.history(room, before=page.before, limit=40)
    assert [m.seq for m in older.messages] == list(range(21, 61))


def test_history_query_count_does_not_grow_with_room_size(users: list[Any]) -> None:
    small = new_room(users, 10)
    big = Room.objects.get(pk=rooms.create_room([*users, *make_users("carol")]))
    fill_room(big, 1000, sender=users[1])
    counts = []
    for room, before in [(small, None), (big, None), (small, 5), (big, 500)]:
        with CaptureQueriesContext(connection) as ctx:
            page = timeline.history(room, before=before)
            [(m.sender.username, m.text) for m in page.messages]  # sender is preloaded
        counts.append(len(ctx.captured_queries))
    assert counts == [counts[0]] * 4
    assert counts[0] == 1  # messages never changed have no reactions to ask for


def test_history_is_per_room(users: list[Any]) -> None:
    one = new_room(users, 5)
    other = Room.objects.get(pk=rooms.create_room(users[:1]))
    fill_room(other, 3)
    assert [m.room_id for m in timeline.history(one).messages] == [one.pk] * 5
    assert [m.seq for m in timeline.history(other).messages] == [1, 2, 3]


def test_messages_after(users: list[Any]) -> None:
    room = new_room(users, 20)
    assert [m.seq for m in timeline.messages_after(room, 15)] == [16, 17, 18, 19, 20]
    assert timeline.messages_after(room, 20) == []
    assert [m.seq for m in timeline.messages_after(room, 0, limit=3)] == [1, 2, 3]
    message, _ = messages.send_message(room, users[1], "new")
    assert timeline.messages_after(room, 20) == [message]


def test_messages_after_takes_one_query(users: list[Any]) -> None:
    room = new_room(users, 30)
    with CaptureQueriesContext(connection) as ctx:
        [m.sender.username for m in timeline.messages_after(room, 10)]  # never changed
    assert len(ctx.captured_queries) == 1
