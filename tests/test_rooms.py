"""Tests of chatter.rooms: creating rooms, sending, read state and room lists."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from chatter import messages, rooms
from chatter.models import Membership, Message, Room
from tests.factories import make_user, make_users, summary

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice() -> Any:
    return make_user("alice")


@pytest.fixture
def bob() -> Any:
    return make_user("bob")


@pytest.fixture
def carol() -> Any:
    return make_user("carol")


@pytest.fixture
def room(alice: Any, bob: Any) -> Room:
    return Room.objects.get(pk=rooms.create_room([alice, bob]))


def counts() -> tuple[int, int]:
    return Room.objects.count(), Membership.objects.count()


def member_ids(room_id: uuid.UUID) -> set[Any]:
    return set(Membership.objects.filter(room_id=room_id).values_list("user_id", flat=True))


# -- create_room -------------------------------------------------------------------------


def test_create_room_returns_uuid_and_members(alice: Any, bob: Any) -> None:
    room_id = rooms.create_room([alice, bob])
    assert isinstance(room_id, uuid.UUID)
    assert member_ids(room_id) == {alice.pk, bob.pk}


def test_same_set_in_any_order_is_the_same_room(alice: Any, bob: Any) -> None:
    first = rooms.create_room([alice, bob])
    assert rooms.create_room([bob, alice]) == first
    assert rooms.create_room(u for u in [alice, bob]) == first
    assert counts() == (1, 2)


def test_exact_member_set_distinguishes_rooms(alice: Any, bob: Any, carol: Any) -> None:
    pair = rooms.create_room([alice, bob])
    trio = rooms.create_room([alice, bob, carol])
    other_pair = rooms.create_room([alice, carol])
    assert len({pair, trio, other_pair}) == 3
    assert member_ids(trio) == {alice.pk, bob.pk, carol.pk}
    assert rooms.create_room([carol, bob, alice]) == trio
    assert counts() == (3, 7)


def test_duplicates_are_ignored(alice: Any, bob: Any) -> None:
    room_id = rooms.create_room([alice, bob, alice, bob, bob])
    assert room_id == rooms.create_room([alice, bob])
    assert counts() == (1, 2)


def test_a_fresh_copy_of_a_user_is_the_same_user(alice: Any, bob: Any) -> None:
    user_model = get_user_model()
    room_id = rooms.create_room([alice, bob, user_model.objects.get(pk=alice.pk)])
    assert member_ids(room_id) == {alice.pk, bob.pk}


def test_lazy_user_is_accepted(alice: Any, bob: Any) -> None:
    lazy = SimpleLazyObject(lambda: alice)
    room_id = rooms.create_room([lazy, bob])
    assert room_id == rooms.create_room([alice, bob])
    assert member_ids(room_id) == {alice.pk, bob.pk}


def test_queryset_of_users_works(alice: Any, bob: Any, carol: Any) -> None:
    qs = get_user_model().objects.filter(username__in=["alice", "bob"])
    assert rooms.create_room(qs) == rooms.create_room([bob, alice])


def test_one_user_room(alice: Any) -> None:
    room_id = rooms.create_room([alice])
    assert member_ids(room_id) == {alice.pk}
    assert rooms.create_room([alice, alice]) == room_id
    summary = rooms.rooms_for(alice)[0]
    assert summary.others == []
    assert summary.title == "Notes to self"


def test_name_is_applied_only_on_creation(alice: Any, bob: Any) -> None:
    room_id = rooms.create_room([alice, bob], name="  Project X  ")
    assert Room.objects.get(pk=room_id).name == "Project X"
    assert rooms.create_room([alice, bob], name="Renamed") == room_id
    assert Room.objects.get(pk=room_id).name == "Project X"


@pytest.mark.parametrize(
    ("make_arg", "error"),
    [
        (lambda a, b: a, TypeError),  # a single user, not a list
        (lambda a, b: SimpleLazyObject(lambda: a), TypeError),  # a single lazy user
        (lambda a, b: "alice", TypeError),
        (lambda a, b: b"alice", TypeError),
        (lambda a, b: a.pk, TypeError),
        (lambda a, b: [a.pk, b.pk], TypeError),
        (lambda a, b: [a, "bob"], TypeError),
        (lambda a, b: [a, None], TypeError),
        (lambda a, b: None, TypeError),
        (lambda a, b: [], ValueError),
        (lambda a, b: (), ValueError),
        (lambda a, b: [a, AnonymousUser()], ValueError),
        (lambda a, b: [AnonymousUser()], ValueError),
        (lambda a, b: [a, get_user_model()(username="ghost")], ValueError),
    ],
    ids=[
        "single-user",
        "single-lazy-user",
        "str",
        "bytes",
        "int",
        "list-of-ids",
        "list-with-str",
        "list-with-none",
        "none",
        "empty-list",
        "empty-tuple",
        "anonymous-in-list",
        "only-anonymous",
        "unsaved-user",
    ],
)
def test_bad_input_raises_and_writes_nothing(
    alice: Any, bob: Any, make_arg: Any, error: type[Exception]
) -> None:
    with pytest.raises(error, match="create_room"):
        rooms.create_room(make_arg(alice, bob))
    assert counts() == (0, 0)


def test_deleted_user_raises_and_writes_nothing(alice: Any, bob: Any) -> None:
    get_user_model().objects.filter(pk=bob.pk).delete()
    with pytest.raises(ValueError, match="not in the database"):
        rooms.create_room([alice, bob])
    assert counts() == (0, 0)


def test_too_long_name_raises_and_writes_nothing(alice: Any, bob: Any) -> None:
    with pytest.raises(ValueError, match="longer than 100"):
        rooms.create_room([alice, bob], name="x" * 101)
    assert counts() == (0, 0)


def postgres_only() -> Any:
    return pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL (CHATTER_DATABASE_URL)"
    )


def run_threads(count: int, target: Any) -> list[Any]:
    """Run ``target(index)`` in ``count`` threads started together; return the results."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = target(index)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


@pytest.mark.postgres
@postgres_only()
@pytest.mark.django_db(transaction=True)
def test_concurrent_create_room_makes_one_room() -> None:
    users = make_users("p1", "p2", "p3")
    results = run_threads(8, lambda i: rooms.create_room(users if i % 2 else users[::-1]))
    assert len(set(results)) == 1
    assert Room.objects.count() == 1
    assert Membership.objects.count() == 3
    assert member_ids(results[0]) == {u.pk for u in users}


@pytest.mark.postgres
@postgres_only()
@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_get_gapless_sequences() -> None:
    users = make_users("s1", "s2", "s3", "s4")
    room = Room.objects.get(pk=rooms.create_room(users))

    def send(index: int) -> list[int]:
        mine = Room.objects.get(pk=room.pk)
        return [messages.send_message(mine, users[index], f"{index}-{n}")[0].seq for n in range(25)]

    results = run_threads(4, send)
    assert sorted(seq for seqs in results for seq in seqs) == list(range(1, 101))
    for seqs in results:
        assert seqs == sorted(seqs)
    assert list(Message.objects.filter(room=room).values_list("seq", flat=True)) == list(
        range(1, 101)
    )
    room.refresh_from_db()
    assert room.last_seq == 100
    assert room.last_message.seq == 100


@pytest.mark.postgres
@postgres_only()
@pytest.mark.django_db(transaction=True)
def test_concurrent_resends_of_one_client_id_store_one_message() -> None:
    alice, bob = make_users("r1", "r2")
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    client_id = uuid.uuid4()
    results = run_threads(
        6, lambda i: messages.send_message(Room.objects.get(pk=room.pk), alice, "hi", client_id)
    )
    assert len({message.pk for message, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    room.refresh_from_db()
    assert room.last_seq == 1
    assert Message.objects.count() == 1


# -- send_message ------------------------------------------------------------------------


def test_send_message_stores_numbered_messages(room: Room, alice: Any, bob: Any) -> None:
    first, created = messages.send_message(room, alice, "hello")
    second, _ = messages.send_message(room, bob, "hi")
    assert created is True
    assert (first.seq, second.seq) == (1, 2)
    assert (first.sender, first.text) == (alice, "hello")
    room.refresh_from_db()
    assert room.last_seq == 2
    assert room.last_message == second


def test_send_message_updates_room_activity(room: Room, alice: Any) -> None:
    before = Room.objects.get(pk=room.pk).updated_at
    message, _ = messages.send_message(room, alice, "hello")
    assert room.last_message == message  # the caller's object too
    stored = Room.objects.get(pk=room.pk)
    assert stored.last_message_id == message.pk
    assert stored.updated_at >= before
    assert stored.updated_at >= message.created_at - timedelta(seconds=1)


def test_send_message_advances_the_senders_read_pointer(room: Room, alice: Any, bob: Any) -> None:
    messages.send_message(room, bob, "one")
    messages.send_message(room, bob, "two")
    assert rooms.unread_counts(alice) == {room.pk: 2}
    messages.send_message(room, alice, "three")
    assert rooms.unread_counts(alice) == {room.pk: 0}
    assert rooms.unread_counts(bob) == {room.pk: 1}


def test_client_id_makes_sending_idempotent(room: Room, alice: Any) -> None:
    client_id = uuid.uuid4()
    message, created = messages.send_message(room, alice, "once", client_id=client_id)
    again, created_again = messages.send_message(room, alice, "once", client_id=str(client_id))
    assert created is True and created_again is False
    assert again.pk == message.pk
    assert Message.objects.count() == 1
    room.refresh_from_db()
    assert room.last_seq == 1
    following, _ = messages.send_message(room, alice, "next", client_id=uuid.uuid4())
    assert following.seq == 2  # no number consumed by the resend


def test_client_id_is_per_sender(room: Room, alice: Any, bob: Any) -> None:
    client_id = uuid.uuid4()
    mine, _ = messages.send_message(room, alice, "a", client_id=client_id)
    theirs, created = messages.send_message(room, bob, "b", client_id=client_id)
    assert created is True and theirs.pk != mine.pk


def test_malformed_client_id_is_refused(room: Room, alice: Any) -> None:
    with pytest.raises(messages.MessageRefused) as info:
        messages.send_message(room, alice, "hello", client_id="not-a-uuid")
    assert info.value.code == "invalid"
    assert Message.objects.count() == 0


@pytest.mark.parametrize("text", ["", "   ", "\n\r\n\t ", "\x00"])
def test_empty_text_is_refused(room: Room, alice: Any, text: str) -> None:
    with pytest.raises(messages.MessageRefused) as info:
        messages.send_message(room, alice, text)
    assert info.value.code == "empty"
    assert Message.objects.count() == 0
    room.refresh_from_db()
    assert room.last_seq == 0


def test_non_text_is_refused(room: Room, alice: Any) -> None:
    with pytest.raises(messages.MessageRefused) as info:
        messages.send_message(room, alice, 42)
    assert info.value.code == "invalid"
    assert Message.objects.count() == 0


@override_settings(CHATTER_MESSAGE_MAX_LENGTH=10)
def test_max_length(room: Room, alice: Any) -> None:
    message, _ = messages.send_message(room, alice, "  " + "x" * 10 + "  ")
    assert message.text == "x" * 10
    with pytest.raises(messages.MessageRefused) as info:
        messages.send_message(room, alice, "x" * 11)
    assert info.value.code == "too_long"
    assert "11" in str(info.value) and "10" in str(info.value)
    assert Message.objects.count() == 1
    room.refresh_from_db()
    assert room.last_seq == 1


def test_text_is_stripped_and_line_endings_normalised(room: Room, alice: Any) -> None:
    message, _ = messages.send_message(room, alice, "\r\n  line one\r\nline two\rthree \n\n")
    assert message.text == "line one\nline two\nthree"
    message.refresh_from_db()
    assert message.text == "line one\nline two\nthree"


def test_non_member_is_refused(room: Room, carol: Any) -> None:
    with pytest.raises(messages.MessageRefused) as info:
        messages.send_message(room, carol, "let me in")
    assert info.value.code == "not_member"
    assert Message.objects.count() == 0
    room.refresh_from_db()
    assert room.last_seq == 0


def test_non_member_cannot_replay_a_client_id(room: Room, alice: Any, carol: Any) -> None:
    client_id = uuid.uuid4()
    messages.send_message(room, alice, "mine", client_id=client_id)
    with pytest.raises(messages.MessageRefused) as info:
        messages.send_message(room, carol, "mine", client_id=client_id)
    assert info.value.code == "not_member"


@override_settings(CHATTER_RATE_LIMIT_MESSAGES=3, CHATTER_RATE_LIMIT_SECONDS=60)
def test_rate_limit(room: Room, alice: Any, bob: Any) -> None:
    cache.clear()
    try:
        for n in range(3):
            messages.send_message(room, alice, f"message {n}")
        with pytest.raises(messages.MessageRefused) as info:
            messages.send_message(room, alice, "one too many")
        assert info.value.code == "rate_limited"
        assert Message.objects.filter(sender=alice).count() == 3
        messages.send_message(room, bob, "others are not limited")
        room.refresh_from_db()
        assert room.last_seq == 4
    finally:
        cache.clear()


@override_settings(CHATTER_RATE_LIMIT_MESSAGES=1, CHATTER_RATE_LIMIT_SECONDS=60)
def test_a_resend_over_the_rate_limit_is_not_refused(room: Room, alice: Any) -> None:
    """A page resends what it sent just before its socket dropped: the stored message
    answers it, whatever the limit says; a new message over the limit is refused."""
    cache.clear()
    try:
        client_id = uuid.uuid4()
        first, _ = messages.send_message(room, alice, "hi", client_id=client_id)
        again, created = messages.send_message(room, alice, "hi", client_id=client_id)
        assert created is False and again.pk == first.pk
        with pytest.raises(messages.MessageRefused):
            messages.send_message(room, alice, "new", client_id=uuid.uuid4())
        assert Message.objects.count() == 1
    finally:
        cache.clear()


# -- read state, seen by, room lists -----------------------------------------------------


def test_mark_read(room: Room, alice: Any, bob: Any) -> None:
    for n in range(5):
        messages.send_message(room, bob, f"m{n}")
    assert rooms.unread_counts(alice) == {room.pk: 5}
    assert rooms.mark_read(room, alice, 2) == 2
    assert rooms.unread_counts(alice) == {room.pk: 3}
    assert rooms.mark_read(room, alice, 1) is None  # never moves back
    assert rooms.unread_counts(alice) == {room.pk: 3}
    assert rooms.mark_read(room, alice, 99) == 5  # clamped to the newest
    assert rooms.mark_read(room, alice) is None  # already there
    assert rooms.total_unread(alice) == 0


def test_mark_read_defaults_to_newest(room: Room, alice: Any, bob: Any) -> None:
    messages.send_message(room, bob, "a")
    messages.send_message(room, bob, "b")
    assert rooms.mark_read(room, alice) == 2
    assert rooms.unread_counts(alice) == {room.pk: 0}


def test_mark_read_by_non_member_changes_nothing(room: Room, bob: Any, carol: Any) -> None:
    messages.send_message(room, bob, "a")
    assert rooms.mark_read(room, carol) is None
    assert not Membership.objects.filter(user=carol).exists()


def test_unread_counts_over_rooms(alice: Any, bob: Any, carol: Any) -> None:
    ab = Room.objects.get(pk=rooms.create_room([alice, bob]))
    ac = Room.objects.get(pk=rooms.create_room([alice, carol]))
    messages.send_message(ab, bob, "1")
    messages.send_message(ab, bob, "2")
    messages.send_message(ac, carol, "3")
    assert rooms.unread_counts(alice) == {ab.pk: 2, ac.pk: 1}
    assert rooms.total_unread(alice) == 3
    assert rooms.unread_counts(bob) == {ab.pk: 0}
    assert rooms.total_unread(make_user("nobody")) == 0


def test_seen_by(room: Room, alice: Any, bob: Any, carol: Any) -> None:
    trio = Room.objects.get(pk=rooms.create_room([alice, bob, carol]))
    message, _ = messages.send_message(trio, alice, "did you see this?")
    assert rooms.seen_by(trio, message.seq, exclude=alice) == []
    assert rooms.seen_by(trio, message.seq) == [alice]
    rooms.mark_read(trio, carol)
    assert rooms.seen_by(trio, message.seq, exclude=alice) == [carol]
    rooms.mark_read(trio, bob)
    assert rooms.seen_by(trio, message.seq, exclude=alice) == [bob, carol]
    newer, _ = messages.send_message(trio, bob, "yes")
    assert rooms.seen_by(trio, newer.seq, exclude=bob) == []


def test_rooms_for_orders_by_last_activity(alice: Any, bob: Any, carol: Any) -> None:
    ab = Room.objects.get(pk=rooms.create_room([alice, bob]))
    ac = Room.objects.get(pk=rooms.create_room([alice, carol]))
    group = Room.objects.get(pk=rooms.create_room([alice, bob, carol], name="Team"))
    now = timezone.now()
    for offset, room in enumerate([ab, ac, group]):
        Room.objects.filter(pk=room.pk).update(updated_at=now - timedelta(minutes=10 - offset))
    assert [s.room.pk for s in rooms.rooms_for(alice)] == [group.pk, ac.pk, ab.pk]

    messages.send_message(ab, bob, "news")
    summaries = rooms.rooms_for(alice)
    assert [s.room.pk for s in summaries] == [ab.pk, group.pk, ac.pk]
    first = summaries[0]
    assert first.unread == 1
    assert first.title == "bob"
    assert first.others == [bob]
    assert first.room.last_message.text == "news"
    assert summaries[1].title == "Team"
    assert [s.room.pk for s in rooms.rooms_for(carol)] == [group.pk, ac.pk]


def test_rooms_for_takes_constant_queries(alice: Any, bob: Any, carol: Any) -> None:
    from django.test.utils import CaptureQueriesContext

    for others in ([bob], [carol], [bob, carol]):
        room = Room.objects.get(pk=rooms.create_room([alice, *others]))
        messages.send_message(room, others[0], "hi")
    with CaptureQueriesContext(connection) as ctx:
        summaries = rooms.rooms_for(alice)
        titles = [(s.title, s.unread, s.room.last_message.sender) for s in summaries]
    assert len(titles) == 3
    assert len(ctx.captured_queries) <= 3


def test_titles_use_full_names(alice: Any) -> None:
    dora = make_user("dora", first_name="Dora", last_name="Explorer")
    room = Room.objects.get(pk=rooms.create_room([alice, dora]))
    assert summary(room, alice).title == "Dora Explorer"
    assert summary(room, dora).title == "alice"
    assert rooms.display_name(None) == "Deleted user"


def test_room_for_member(room: Room, alice: Any, carol: Any) -> None:
    assert rooms.room_for_member(room.pk, alice) == room
    assert rooms.room_for_member(str(room.pk), alice) == room
    for room_id, user in [
        (room.pk, carol),
        (room.pk, AnonymousUser()),
        ("not-a-uuid", alice),
        (uuid.uuid4(), alice),
    ]:
        with pytest.raises(Room.DoesNotExist):
            rooms.room_for_member(room_id, user)


def test_members_are_sorted_by_username(alice: Any, bob: Any, carol: Any) -> None:
    room = Room.objects.get(pk=rooms.create_room([carol, alice, bob]))
    assert rooms.members(room) == [alice, bob, carol]


def test_search_users(alice: Any, bob: Any) -> None:
    make_user("alina", first_name="Zed")
    make_user("alfred", is_active=False)
    assert [u.username for u in rooms.search_users("al")] == ["alice", "alina"]
    assert [u.username for u in rooms.search_users("AL", exclude=alice)] == ["alina"]
    assert [u.username for u in rooms.search_users("zed")] == ["alina"]
    assert rooms.search_users("   ") == []
    assert len(rooms.search_users("al", limit=1)) == 1


# -- presence ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_touch_leave_and_active_ids(settings) -> None:
    from django.utils import timezone

    settings.CHATTER_PRESENCE_TIMEOUT = 30
    alice, bob = make_user("p_alice"), make_user("p_bob")
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    assert rooms.active_ids(room) == set()
    assert rooms.touch_many({room.pk: [alice.pk]}) == {room.pk: {alice.pk}}
    assert rooms.touch_many({room.pk: [alice.pk]}) == {}  # already active: nothing to say
    assert rooms.active_ids(room) == {alice.pk}
    room.memberships.filter(user=alice).update(last_seen_at=timezone.now() - timedelta(seconds=31))
    assert rooms.active_ids(room) == set()
    assert rooms.touch_many({room.pk: [alice.pk]}) == {room.pk: {alice.pk}}
    rooms.leave(room, alice)
    assert rooms.active_ids(room) == set()
    outsider = make_user("p_carol")
    assert rooms.touch_many({room.pk: [outsider.pk]}) == {}  # no membership: nothing written
    assert rooms.active_ids(room) == set()


@pytest.mark.postgres
def test_mark_read_many_is_one_statement_for_any_number_of_rooms_and_readers(
    django_assert_num_queries: Any,
) -> None:
    users = make_users(*(f"reader{i}" for i in range(40)))
    room = Room.objects.get(pk=rooms.create_room(users))
    pair = Room.objects.get(pk=rooms.create_room(users[:2]))
    for i in range(5):
        messages.send_message(room, users[0], f"m{i}")
    messages.send_message(pair, users[0], "hello")
    reads: dict[tuple[Any, Any], int | None] = {(room.pk, u.pk): 3 for u in users[1:20]}
    reads.update({(room.pk, u.pk): None for u in users[20:30]})  # to the newest
    reads[room.pk, users[30].pk] = 99  # beyond the last: clamped
    reads[room.pk, users[31].pk] = -4  # below zero: nothing to move
    reads[pair.pk, users[1].pk] = None  # another room, in the same statement
    reads[pair.pk, users[32].pk] = 1  # not a member of that room: nothing
    with django_assert_num_queries(1):
        moved = rooms.mark_read_many(reads)
    assert moved == 19 + 10 + 1 + 1
    positions = dict(Membership.objects.filter(room=room).values_list("user_id", "last_read_seq"))
    assert {positions[u.pk] for u in users[1:20]} == {3}
    assert {positions[u.pk] for u in users[20:31]} == {5}
    assert positions[users[31].pk] == 0 and positions[users[0].pk] == 5  # the sender's own
    assert Membership.objects.get(room=pair, user=users[1]).last_read_seq == 1
    assert not Membership.objects.filter(room=pair, user=users[32]).exists()
    # Read positions only move forward.
    assert rooms.mark_read_many({(room.pk, users[1].pk): 2, (room.pk, users[2].pk): 4}) == 1
    assert Membership.objects.get(room=room, user=users[1]).last_read_seq == 3
    assert rooms.mark_read_many({}) == 0


@pytest.mark.postgres
def test_touch_many_marks_members_of_many_rooms_active_and_names_the_arrivals(
    django_assert_num_queries: Any, settings: Any
) -> None:
    settings.CHATTER_PRESENCE_TIMEOUT = 60
    users = make_users(*(f"pinger{i}" for i in range(6)))
    room = Room.objects.get(pk=rooms.create_room(users))
    pair = Room.objects.get(pk=rooms.create_room(users[:2]))
    Membership.objects.filter(room=room, user__in=users[:2]).update(last_seen_at=timezone.now())
    Membership.objects.filter(room=room, user=users[2]).update(
        last_seen_at=timezone.now() - timedelta(seconds=90)
    )
    with django_assert_num_queries(2):
        arrived = rooms.touch_many({room.pk: [u.pk for u in users[:4]], pair.pk: [users[0].pk]})
    # The lapsed and the new, not the active; per room.
    assert arrived == {room.pk: {users[2].pk, users[3].pk}, pair.pk: {users[0].pk}}
    assert rooms.active_ids(room) == {u.pk for u in users[:4]}
    assert rooms.active_ids(pair) == {users[0].pk}
    assert rooms.touch_many({}) == {} == rooms.touch_many({room.pk: []})


@pytest.mark.postgres
def test_presence_of_many_rooms_is_one_query(django_assert_num_queries: Any, settings: Any) -> None:
    settings.CHATTER_PRESENCE_TIMEOUT = 60
    alice, bob, carol = make_users("p_alice", "p_bob", "p_carol")
    trio = Room.objects.get(pk=rooms.create_room([alice, bob, carol]))
    pair = Room.objects.get(pk=rooms.create_room([alice, bob]))
    rooms.touch_many({trio.pk: [bob.pk]})
    with django_assert_num_queries(1):
        found = rooms.presence({trio.pk: [bob.pk, carol.pk], pair.pk: [bob.pk, alice.pk]})
    assert found == {
        trio.pk: [(bob, True), (carol, False)],
        pair.pk: [(alice, False), (bob, False)],
    }
    assert rooms.presence({}) == {}


@pytest.mark.postgres
def test_seen_lines_of_many_rooms_are_two_queries(django_assert_num_queries: Any) -> None:
    alice, bob, carol = make_users("s_alice", "s_bob", "s_carol")
    trio = Room.objects.get(pk=rooms.create_room([alice, bob, carol]))
    pair = Room.objects.get(pk=rooms.create_room([alice, bob]))
    quiet = Room.objects.get(pk=rooms.create_room([bob, carol]))
    messages.send_message(trio, alice, "one")
    messages.send_message(trio, alice, "two")
    messages.send_message(pair, bob, "hi")
    rooms.mark_read_many({(trio.pk, carol.pk): 2, (trio.pk, bob.pk): 1, (pair.pk, alice.pk): 1})
    with django_assert_num_queries(2):
        lines = rooms.seen_lines([trio.pk, pair.pk, quiet.pk, uuid.uuid4()])
    # The sender is never among the readers of their own message; a gone room is left out.
    assert lines == {
        trio.pk: (2, [carol], alice.pk),
        pair.pk: (1, [alice], bob.pk),
        quiet.pk: (0, [], None),
    }
    assert rooms.seen_lines([]) == {}
