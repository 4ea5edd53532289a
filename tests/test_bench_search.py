"""``bench/search.py`` at a small size: its SQL fill still matches the tables.

The fill writes rows with SQL alone (no ORM, no model defaults), so a column added to
``chatter_membership`` or ``chatter_message`` without a database default breaks it; this
test, on the pg stage, says so before a ``make bench`` run does. It also measures each of the
bench's queries once: every one answers without errors, in a constant number of statements.
"""

from __future__ import annotations

import pytest
from django.db import connection

from bench import search as bench_search
from chatter.models import Membership, Message, Room

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_the_fill_and_the_queries_run_at_a_small_size() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the bench fills PostgreSQL")
    with connection.cursor() as cursor:
        seconds = bench_search.fill(cursor, messages=4000, rooms=20, member_of=10)
    assert set(seconds) >= {"users_rooms", "messages", "gin_index", "vacuum_analyze"}
    assert Room.objects.count() == 20
    assert Message.objects.count() == 4000
    assert Membership.objects.filter(user__username="user0").count() == 10
    figures = bench_search.measure(runs=1)
    assert figures["visible_messages"] == 10 * 200
    for kind, found in figures["queries"].items():
        assert 1 <= found["statements"] <= 4, (kind, found)
    assert figures["queries"]["no match"]["hits"] == 0
    assert figures["queries"]["common word"]["hits"] > 0
