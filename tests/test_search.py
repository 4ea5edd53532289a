"""Message search (chatter.search): who finds what, the filters, ranking and snippets.

The tests marked ``postgres`` run on SQLite in the unit stage (the substring fallback)
and on PostgreSQL in the pg stage (the full-text search): one interface, both answers.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chatter import messages, moderation, search, search_index
from chatter.models import Message, Room
from chatter.rooms import create_room
from tests.factories import crowd, make_users

pytestmark = pytest.mark.django_db


def only_postgresql(test: Any) -> Any:
    """A test of the full-text search: in the pg stage only."""
    skip = pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the full-text search needs PostgreSQL"
    )
    return pytest.mark.postgres(skip(test))


def send(room_id: Any, user: Any, text: str, days_ago: int = 0) -> Message:
    room = Room.objects.get(pk=room_id)
    message, _created = messages.send_message(room, user, text)
    if days_ago:
        when = timezone.now() - datetime.timedelta(days=days_ago)
        Message.objects.filter(pk=message.pk).update(created_at=when)
    return message


def texts(results: search.Results) -> list[str]:
    return [hit.message.text for hit in results.hits]


def snippet(hit: search.Hit) -> str:
    return "".join(f"[{p.text}]" if p.marked else p.text for p in hit.pieces)


@pytest.mark.postgres
def test_only_messages_of_the_users_rooms(alice: Any, bob: Any, carol: Any) -> None:
    ours = create_room([alice, bob])
    theirs = create_room([bob, carol])
    send(ours, bob, "the picnic is on")
    send(theirs, bob, "picnic secret plans")
    assert texts(search.search(alice, "picnic")) == ["the picnic is on"]
    assert len(search.search(bob, "picnic").hits) == 2


@pytest.mark.postgres
def test_a_member_who_left_finds_nothing_of_the_room(alice: Any, bob: Any, carol: Any) -> None:
    room = create_room([alice, bob, carol], name="Trip")
    send(room, bob, "tickets booked")
    Room.objects.get(pk=room).memberships.filter(user=carol).delete()
    assert search.search(carol, "tickets").hits == []
    assert len(search.search(alice, "tickets").hits) == 1


@pytest.mark.postgres
def test_never_deleted_messages_system_lines_or_blocked_senders(
    alice: Any, bob: Any, carol: Any
) -> None:
    room = create_room([alice, bob, carol], name="Crew")
    gone = send(room, bob, "meeting moved")
    messages.delete_message(Room.objects.get(pk=room), bob, gone.seq)
    Message.objects.create(
        room_id=room, seq=99, kind=Message.Kind.SYSTEM, text="meeting", data={"action": "x"}
    )
    send(room, carol, "meeting at noon")
    send(room, bob, "the meeting notes")
    moderation.block(alice, carol)
    assert texts(search.search(alice, "meeting")) == ["the meeting notes"]


@pytest.mark.postgres
def test_from_filter(alice: Any, bob: Any, carol: Any) -> None:
    room = create_room([alice, bob, carol], name="Crew")
    send(room, bob, "coffee?")
    send(room, carol, "coffee!")
    assert texts(search.search(alice, "coffee from:bob")) == ["coffee?"]
    assert texts(search.search(alice, "from:@CAROL")) == ["coffee!"]
    assert sorted(texts(search.search(alice, "coffee from:bob from:carol"))) == [
        "coffee!",
        "coffee?",
    ]
    results = search.search(alice, "coffee from:nobody")
    assert results.hits == [] and results.errors == ["No one is called “nobody”."]


@pytest.mark.postgres
def test_in_filter_by_group_name_username_and_id(alice: Any, bob: Any, carol: Any) -> None:
    group = create_room([alice, bob, carol], name="Book club")
    pair = create_room([alice, bob])
    other = create_room([alice, carol])
    send(group, bob, "chapter one")
    send(pair, bob, "chapter two")
    send(other, carol, "chapter three")
    assert texts(search.search(alice, 'chapter in:"book club"')) == ["chapter one"]
    assert texts(search.search(alice, "chapter in:bob")) == ["chapter two"]
    assert texts(search.search(alice, f"chapter in:{other}")) == ["chapter three"]
    assert sorted(texts(search.search(alice, "chapter in:bob in:carol"))) == [
        "chapter three",
        "chapter two",
    ]
    # A room the searcher is not in is no room of theirs, by name or by id.
    outside = create_room([bob, carol], name="Secret")
    send(outside, bob, "chapter four")
    for name in ("Secret", str(outside)):
        results = search.search(alice, f"chapter in:{name}")
        assert results.hits == []
        assert results.errors == [f"You have no conversation called “{name}”."]


@pytest.mark.postgres
def test_before_and_after_exclude_the_day_itself(alice: Any, bob: Any) -> None:
    room = create_room([alice, bob])
    for days in (1, 3, 5):
        send(room, bob, f"report {days}", days_ago=days)
    today = timezone.localdate()
    day = (today - datetime.timedelta(days=3)).isoformat()
    assert texts(search.search(alice, f"report before:{day}")) == ["report 5"]
    assert texts(search.search(alice, f"report after:{day}")) == ["report 1"]
    first = (today - datetime.timedelta(days=6)).isoformat()
    assert texts(search.search(alice, f"after:{first} before:{day}")) == ["report 5"]


@pytest.mark.postgres
def test_phrases_and_excluded_words(alice: Any, bob: Any) -> None:
    room = create_room([alice, bob])
    send(room, bob, "the red car is fast")
    send(room, bob, "a car that is red")
    assert texts(search.search(alice, '"red car"')) == ["the red car is fast"]
    assert texts(search.search(alice, "car -fast")) == ["a car that is red"]


@pytest.mark.postgres
def test_a_search_in_one_room(alice: Any, bob: Any, carol: Any) -> None:
    one = create_room([alice, bob])
    two = create_room([alice, carol])
    send(one, bob, "deadline friday")
    send(two, carol, "deadline monday")
    results = search.search(alice, "deadline", room=Room.objects.get(pk=two))
    assert texts(results) == ["deadline monday"]


@pytest.mark.postgres
def test_results_name_the_room_the_sender_and_mentions(alice: Any, bob: Any, carol: Any) -> None:
    pair = create_room([alice, bob])
    send(pair, bob, "ask @carol about the budget")  # carol is no member: stays text
    group = create_room([alice, bob, carol], name="Budget")
    send(group, carol, "@alice the budget is done")
    results = search.search(alice, "budget")
    hits = {hit.title: hit for hit in results.hits}
    assert set(hits) == {"bob", "Budget"}
    assert hits["Budget"].message.sender == carol
    assert "@Alice Liddell the" in snippet(hits["Budget"])
    assert "<@" not in snippet(hits["Budget"])


@pytest.mark.postgres
def test_snippets_mark_the_match_and_keep_markup_as_text(alice: Any, bob: Any) -> None:
    room = create_room([alice, bob])
    send(room, bob, "<script>alert(1)</script> look at this widget")
    [hit] = search.search(alice, "widget").hits
    assert [p.text for p in hit.pieces if p.marked] == ["widget"]
    assert "<script>alert(1)</script>" in snippet(hit)


@pytest.mark.postgres
def test_a_long_message_is_cut_around_the_match(alice: Any, bob: Any) -> None:
    room = create_room([alice, bob])
    send(room, bob, "filler " * 80 + "needle " + "filler " * 80)
    [hit] = search.search(alice, "needle").hits
    text = snippet(hit)
    assert "[needle]" in text and len(text) < 300


@pytest.mark.postgres
def test_the_limit_and_more(alice: Any, bob: Any, settings: Any) -> None:
    settings.CHATTER_SEARCH_LIMIT = 3
    room = create_room([alice, bob])
    for i in range(5):
        send(room, bob, f"item {i}")
    results = search.search(alice, "item")
    assert len(results.hits) == 3 and results.more
    assert not search.search(alice, "item", limit=5).more


@pytest.mark.postgres
def test_errors_and_empty_queries_run_no_query(alice: Any) -> None:
    for raw in ("", "   ", "from:", "before:soon"):
        with CaptureQueriesContext(connection) as ctx:
            results = search.search(alice, raw)
        assert results.hits == [] and len(ctx.captured_queries) == 0


@pytest.mark.postgres
def test_statements_do_not_grow_with_rooms_or_results(alice: Any, user_factory: Any) -> None:
    """One statement for each kind of filter, one for the search, one for the titles."""
    others = make_users(*(f"p{i}" for i in range(40)))

    def measure(raw: str) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            results = search.search(alice, raw, limit=200)
        return len(ctx.captured_queries), len(results.hits)

    room = create_room([alice, others[0]])
    send(room, others[0], f"hello <@{alice.pk}>")
    small = [measure("hello"), measure("hello from:p0 in:p0")]
    for person in others[1:]:
        for _ in range(3):
            send(create_room([alice, person]), person, f"hello <@{alice.pk}>")
    send(create_room([alice, *others], name="All"), others[5], "hello all")
    big = crowd("member", 199)
    send(create_room([alice, *big], name="Two hundred"), big[7], f"hello <@{big[150].pk}>")
    large = [measure("hello"), measure("hello from:p0 in:p0")]
    assert [count for count, _ in small] == [count for count, _ in large] == [2, 4]
    assert large[0][1] == 1 + 39 * 3 + 1 + 1


@pytest.mark.postgres
def test_a_result_of_a_named_group_of_200_names_its_mentions(alice: Any) -> None:
    big = crowd("member", 199)
    room = create_room([alice, *big], name="Two hundred")
    send(room, big[7], f"hello <@{big[150].pk}> and <@nobody> and <@{alice.pk}>")
    [hit] = search.search(alice, "hello").hits
    assert hit.title == "Two hundred" and hit.message.sender == big[7]
    assert snippet(hit) == "[hello] @member150 and <@nobody> and @Alice Liddell"


@only_postgresql
def test_a_better_match_ranks_first(alice: Any, bob: Any) -> None:
    room = create_room([alice, bob])
    send(room, bob, "a plan for later")
    send(room, bob, "plan plan plan: the plan")
    send(room, bob, "nothing to see")
    assert texts(search.search(alice, "plan")) == ["plan plan plan: the plan", "a plan for later"]


@only_postgresql
def test_the_search_configuration_stems_words(alice: Any, bob: Any, settings: Any) -> None:
    room = create_room([alice, bob])
    send(room, bob, "they were running late")
    assert search.search(alice, "run").hits == []
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending trigger events left
        search_index.drop(connection)
        search_index.create(connection, "english")
    settings.CHATTER_SEARCH_CONFIG = "english"
    assert texts(search.search(alice, "run")) == ["they were running late"]
    assert search_index.indexed_config() == "english"


@only_postgresql
def test_the_search_uses_the_gin_index(alice: Any, bob: Any) -> None:
    """A table of 30,000 messages in 300 rooms, alice in 50: the plan reads the GIN index."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO chatter_room (id, name, members_key, last_seq, last_change, "
            "created_at, updated_at) SELECT gen_random_uuid(), 'r' || i, md5('k' || i), 100, "
            "0, now(), now() FROM generate_series(1, 300) i"
        )
        cursor.execute(
            "INSERT INTO chatter_membership (room_id, user_id, joined_at, last_read_seq, muted, "
            "emailed_seq) "
            "SELECT id, %s, now(), 0, false, 0 FROM chatter_room ORDER BY name LIMIT 50",
            [alice.pk],
        )
        cursor.execute(
            "INSERT INTO chatter_message (room_id, sender_id, seq, text, created_at, kind, change, "
            "files) "
            # bigint: an int4 hashtext() plus g * 7919 can pass 2**31 (a random failure).
            "SELECT r.id, %s, g, "
            "'word' || abs((g * 7919 + hashtext(r.id::text)::bigint) %% 3000) || "
            "' common ' || md5(g::text), now(), '', 0, 0 "
            "FROM chatter_room r CROSS JOIN generate_series(1, 100) g",
            [bob.pk],
        )
        # At least one match in alice's rooms, whatever the random words.
        cursor.execute(
            "UPDATE chatter_message SET text = text || ' word42' WHERE seq = 1 AND room_id = "
            "(SELECT room_id FROM chatter_membership WHERE user_id = %s LIMIT 1)",
            [alice.pk],
        )
        # What autovacuum does: new entries move from the GIN's pending list into the index.
        cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [search_index.INDEX])
        for table in ("chatter_message", "chatter_room", "chatter_membership"):
            cursor.execute(f"ANALYZE {table}")
    queryset_sql: list[str] = []
    with CaptureQueriesContext(connection) as ctx:
        results = search.search(alice, "word42 or word43")
    assert results.hits
    queryset_sql = [q["sql"] for q in ctx.captured_queries if "websearch_to_tsquery" in q["sql"]]
    assert len(queryset_sql) == 1
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + queryset_sql[0])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert search_index.INDEX in plan, plan


@only_postgresql
def test_the_column_is_made_with_the_setting(alice: Any) -> None:
    assert search_index.indexed_config() == "simple"
    assert search_index.config_exists("simple") and search_index.config_exists("pg_catalog.english")
    assert not search_index.config_exists("klingon")


def test_sqlite_has_no_column() -> None:
    if connection.vendor == "postgresql":
        pytest.skip("SQLite only")
    assert search_index.indexed_config() is None


def test_config_names_that_are_not_names_are_refused() -> None:
    with pytest.raises(ValueError):
        search_index.config_literal("simple'; DROP TABLE x; --")
    assert search_index.config_literal("pg_catalog.english") == "'pg_catalog.english'::regconfig"


@only_postgresql
@pytest.mark.django_db(transaction=True)
def test_the_reindex_command_and_the_check(alice: Any, bob: Any, settings: Any) -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from chatter.checks import check_search_index

    room = create_room([alice, bob])
    send(room, bob, "they were running late")
    assert check_search_index(databases=["default"]) == []
    settings.CHATTER_SEARCH_CONFIG = "english"
    assert [m.id for m in check_search_index(databases=["default"])] == ["chatter.W031"]
    assert search.search(alice, "run").hits == []
    call_command("chatter_search_reindex")
    assert check_search_index(databases=["default"]) == []
    assert texts(search.search(alice, "run")) == ["they were running late"]
    settings.CHATTER_SEARCH_CONFIG = "klingon"
    assert [m.id for m in check_search_index(databases=["default"])] == ["chatter.E030"]
    with pytest.raises(CommandError, match="no text search configuration"):
        call_command("chatter_search_reindex")
    settings.CHATTER_SEARCH_CONFIG = "simple"
    call_command("chatter_search_reindex")
    assert search_index.indexed_config() == "simple"


def test_the_reindex_command_needs_postgresql() -> None:
    if connection.vendor == "postgresql":
        pytest.skip("SQLite only")
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from chatter.checks import check_search_index

    with pytest.raises(CommandError, match="PostgreSQL only"):
        call_command("chatter_search_reindex")
    assert check_search_index(databases=["default"]) == []


def test_reindexing_every_schema_needs_django_tenants() -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--all-schemas needs django-tenants"):
        call_command("chatter_search_reindex", "--all-schemas")
