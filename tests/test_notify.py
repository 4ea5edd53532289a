"""Tests of chatter.notify and chatter.notify_mail: mute, preferences and the e-mail digest.

The once-only rule under two overlapping runs is tested on PostgreSQL (row locks) at the
end; the rest runs on any database.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chatter import messages, notify, notify_mail, rooms
from chatter.models import Membership, Message, Preferences, Room
from tests.factories import crowd, make_user

pytestmark = pytest.mark.django_db

SITE = "https://chat.example.com"
LATER = timedelta(minutes=11)


@pytest.fixture(autouse=True)
def _site() -> Any:
    with override_settings(CHATTER_SITE_URL=SITE, DEFAULT_FROM_EMAIL="chat@example.com"):
        yield


def person(name: str, **extra: Any) -> Any:
    return make_user(name, email=f"{name}@example.com", **extra)


def room_of(*users: Any, name: str = "") -> Room:
    return Room.objects.get(pk=rooms.create_room(list(users), name=name))


def say(room: Room, user: Any, text: str) -> Message:
    return messages.send_message(room, user, text)[0]


def later() -> Any:
    return timezone.now() + LATER


def send_now(at: Any = None) -> list[Any]:
    """Run the digest as chatter_notify does, ``at`` a time (default: 11 minutes on)."""
    digests = notify.collect(now=at or later())
    for digest in digests:
        notify_mail.render(digest, notify_mail.site_url()).send()
    return digests


@pytest.fixture
def people() -> dict[str, Any]:
    return {name: person(name) for name in ("alice", "bob", "carol")}


# -- mute and preferences ----------------------------------------------------------------


def test_mute_and_unmute(people: dict[str, Any]) -> None:
    alice, bob, carol = people.values()
    room = room_of(alice, bob)
    assert notify.set_muted(room, alice, True) is True
    assert notify.is_muted(room, alice) and not notify.is_muted(room, bob)
    assert notify.muted_room_ids(alice) == {room.pk}
    assert notify.set_muted(room, alice, False) is True
    assert notify.muted_room_ids(alice) == set()
    assert notify.set_muted(room, carol, True) is False  # not a member: nothing changes
    assert not Membership.objects.filter(muted=True).exists()


def test_unread_total_leaves_muted_rooms_out(people: dict[str, Any]) -> None:
    alice, bob, carol = people.values()
    one, two = room_of(alice, bob), room_of(alice, carol)
    say(one, bob, "a")
    say(one, bob, "b")
    say(two, carol, "c")
    assert notify.unread_total(alice) == 3 == rooms.total_unread(alice)
    notify.set_muted(one, alice, True)
    assert notify.unread_total(alice) == 1
    assert rooms.total_unread(alice) == 3  # the room list's own count keeps muted rooms


def test_preferences_are_created_lazily(people: dict[str, Any]) -> None:
    alice = people["alice"]
    prefs = notify.preferences_for(alice)
    assert prefs.email_digest is True and prefs._state.adding
    assert not Preferences.objects.exists()
    notify.save_preferences(alice, email_digest=False)
    assert notify.preferences_for(alice).email_digest is False
    notify.save_preferences(alice, email_digest=True)
    assert Preferences.objects.get().email_digest is True


def test_delay_takes_seconds_or_a_timedelta() -> None:
    assert notify.delay() == timedelta(minutes=10)
    with override_settings(CHATTER_NOTIFY_DELAY=30):
        assert notify.delay() == timedelta(seconds=30)
    with override_settings(CHATTER_NOTIFY_DELAY=timedelta(hours=1)):
        assert notify.delay() == timedelta(hours=1)


# -- the digest's content ----------------------------------------------------------------


def test_one_digest_per_user_grouped_by_room_with_links(people: dict[str, Any]) -> None:
    alice, bob, carol = people.values()
    pair = room_of(alice, bob)
    team = room_of(alice, bob, carol, name="Team <dev> & ops")
    say(pair, bob, "first from bob")
    say(pair, bob, "second from bob")
    say(team, carol, "<b>bold</b> & <script>alert(1)</script> for @alice")
    send_now()
    to_alice = [m for m in mail.outbox if m.to == ["alice@example.com"]]
    assert len(to_alice) == 1
    message = to_alice[0]
    assert message.subject == "3 unread chat messages"
    assert message.from_email == "chat@example.com"
    text = message.body
    for words in ("first from bob", "second from bob", "bob", "carol", "Team <dev> & ops"):
        assert words in text
    # Plain text is plain: the message as written, mentions as names.
    assert "<b>bold</b> & <script>alert(1)</script> for @alice" in text
    assert f"{SITE}/chat/{pair.pk}/" in text and f"{SITE}/chat/{team.pk}/" in text
    assert f"{SITE}/chat/preferences/" in text
    [(html, kind)] = message.alternatives
    assert kind == "text/html"
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html and "<b>bold" not in html
    assert "Team &lt;dev&gt; &amp; ops" in html
    assert f'href="{SITE}/chat/{pair.pk}/"' in html
    assert "mentioned you" in html  # carol's message names alice
    # bob gets carol's message only (not his own); carol gets nothing she can read.
    to_bob = [m for m in mail.outbox if m.to == ["bob@example.com"]]
    assert len(to_bob) == 1 and "for @alice" in to_bob[0].body
    assert "first from" not in to_bob[0].body
    assert not [m for m in mail.outbox if m.to == ["carol@example.com"]]


def test_a_long_room_shows_the_newest_and_counts_the_rest(people: dict[str, Any]) -> None:
    alice, bob, _ = people.values()
    room = room_of(alice, bob)
    for i in range(17):
        say(room, bob, f"number {i:02d}")
    with override_settings(CHATTER_NOTIFY_MAX_MESSAGES=5):
        [digest] = send_now()
    assert digest.total == 17
    assert [m.text for m in digest.rooms[0].messages] == [f"number {i:02d}" for i in range(12, 17)]
    [message] = mail.outbox
    assert "number 11" not in message.body and "number 16" in message.body
    assert "and 12 more" in message.body
    assert "and 12 more" in message.alternatives[0][0]
    assert message.subject == "17 unread chat messages"


def test_only_messages_older_than_the_delay(people: dict[str, Any]) -> None:
    alice, bob, _ = people.values()
    room = room_of(alice, bob)
    say(room, bob, "old")
    Message.objects.update(created_at=timezone.now() - timedelta(minutes=20))
    say(room, bob, "new")
    [digest] = notify.collect()
    assert [m.text for m in digest.rooms[0].messages] == ["old"]
    assert notify.collect() == []  # "old" is e-mailed; "new" is not old enough yet
    [digest] = notify.collect(now=later())
    assert [m.text for m in digest.rooms[0].messages] == ["new"]


def test_each_message_is_emailed_once(people: dict[str, Any]) -> None:
    alice, bob, _ = people.values()
    room = room_of(alice, bob)
    say(room, bob, "one")
    assert len(send_now()) == 1
    assert send_now() == []
    say(room, bob, "two")
    [digest] = send_now()
    assert [m.text for m in digest.rooms[0].messages] == ["two"]
    assert Membership.objects.get(room=room, user=alice).emailed_seq == room_last(room)


def room_last(room: Room) -> int:
    return Room.objects.values_list("last_seq", flat=True).get(pk=room.pk)


def test_read_messages_are_not_emailed(people: dict[str, Any]) -> None:
    alice, bob, _ = people.values()
    room = room_of(alice, bob)
    say(room, bob, "one")
    say(room, bob, "two")
    rooms.mark_read(room, alice, seq=1)
    [digest] = send_now()
    assert [m.text for m in digest.rooms[0].messages] == ["two"]
    rooms.mark_read(room, alice)
    say(room, alice, "mine")
    assert [d.user for d in send_now()] == [bob]  # alice's own message: only for bob


def test_nothing_for_muted_opted_out_inactive_or_addressless(people: dict[str, Any]) -> None:
    alice, bob, carol = people.values()
    dave = person("dave", is_active=False)
    erin = make_user("erin")  # no e-mail address
    room = room_of(alice, bob, carol, dave, erin, name="All")
    notify.set_muted(room, alice, True)
    notify.save_preferences(carol, email_digest=False)
    say(room, bob, "hello all")
    assert send_now() == []
    assert mail.outbox == []
    notify.set_muted(room, alice, False)
    [digest] = send_now()  # unmuted: alice gets what she has not read
    assert digest.user == alice


def test_no_deleted_messages_system_lines_or_own_messages(people: dict[str, Any]) -> None:
    alice, bob, carol = people.values()
    room = room_of(alice, bob, carol, name="Group")
    gone = say(room, bob, "deleted later")
    messages.delete_message(room, bob, gone.seq)
    Message.objects.create(room=room, sender=bob, seq=room_last(room) + 1, kind="system")
    Room.objects.filter(pk=room.pk).update(last_seq=room_last(room) + 1)
    say(room, alice, "alice's own")
    assert [d.user for d in send_now()] == [bob, carol]  # alice's message, for the others
    for digest in mail.outbox:
        assert "deleted later" not in digest.body


def test_a_deleted_sender_is_named_and_the_room_titled(people: dict[str, Any]) -> None:
    alice, bob, _ = people.values()
    room = room_of(alice, bob)
    say(room, bob, "from a user who leaves")
    bob.delete()
    send_now()
    [message] = mail.outbox
    assert "Deleted user" in message.body and "from a user who leaves" in message.body
    assert "Notes to self" in message.body  # alice is the room's only member now


def test_dry_run_marks_nothing(people: dict[str, Any]) -> None:
    alice, bob, _ = people.values()
    room = room_of(alice, bob)
    say(room, bob, "one")
    assert len(notify.collect(now=later(), dry_run=True)) == 1
    assert Membership.objects.get(room=room, user=alice).emailed_seq == 0
    assert len(notify.collect(now=later())) == 1


def test_site_url() -> None:
    assert notify_mail.site_url() == SITE
    with override_settings(CHATTER_SITE_URL="https://example.org/base/"):
        assert notify_mail.site_url() == "https://example.org/base"
    with override_settings(CHATTER_SITE_URL=None), pytest.raises(notify_mail.NoSiteURL):
        notify_mail.site_url()


# -- statements at size ------------------------------------------------------------------


def _statements(run: Any) -> int:
    with CaptureQueriesContext(connection) as queries:
        run()
    return len(queries)


def test_statements_do_not_grow_with_rooms_or_messages(people: dict[str, Any]) -> None:
    alice, bob, _ = people.values()
    small = room_of(alice, bob)
    say(small, bob, "hi")
    few = _statements(lambda: notify.collect(now=later()))
    # Now alice has 20 more rooms, unnamed (their titles name the other member), with 30
    # unread messages each, some of them mentioning her.
    others = crowd("member", 20)
    for other in others:
        room = room_of(alice, other)
        for i in range(30):
            say(room, other, f"<@{alice.pk}> hello {i}" if i % 5 == 0 else f"hello {i}")
    many = _statements(lambda: notify.collect(now=later()))
    assert many == few + 1  # the one query that names the mentioned users
    assert Membership.objects.filter(emailed_seq__gt=0).count() == 21


def test_statements_are_bounded_per_user() -> None:
    sender = person("sender")
    readers = [person(f"reader{i:02d}") for i in range(10)]
    for reader in readers:
        say(room_of(sender, reader), sender, "hello")
    with CaptureQueriesContext(connection) as queries:
        digests = notify.collect(now=later())
    assert len(digests) == 10
    # Candidates and titles once, two per user, one UPDATE (and the savepoint, its release).
    assert len(queries) <= 5 + 2 * len(readers)


def test_a_room_of_200_is_one_candidate_query(people: dict[str, Any]) -> None:
    alice = people["alice"]
    members = crowd("m", 199)
    room = Room.objects.get(pk=rooms.create_room([alice, *members], name="Big"))
    get = type(members[0]).objects
    get.filter(pk__in=[u.pk for u in members]).update(email="someone@example.com")
    say(room, alice, "to everyone")
    with CaptureQueriesContext(connection) as queries:
        digests = notify.collect(now=later())
    assert len(digests) == 199
    assert len(queries) <= 5 + 2 * 199


# -- sending ---------------------------------------------------------------------------------


class BrokenBackend:
    """An e-mail backend whose server refuses the first message it is given (and, with
    ``closed``, any connection)."""

    refused: list[str] = []
    closed = False

    def __init__(self, **kwargs: Any) -> None:
        pass

    def open(self) -> None:
        if BrokenBackend.closed:
            raise ConnectionRefusedError("no mail server")

    def close(self) -> None:
        pass

    def send_messages(self, messages: list[Any]) -> int:
        if not BrokenBackend.refused:
            BrokenBackend.refused.append(messages[0].to[0])
            raise ConnectionError("the mail server went away")
        mail.outbox.extend(messages)
        return len(messages)


def test_a_failed_send_is_counted_and_not_sent_again(people: dict[str, Any]) -> None:
    alice, bob, carol = people.values()
    say(room_of(alice, bob), bob, "to alice")
    say(room_of(carol, bob), bob, "to carol")
    BrokenBackend.refused = []
    with override_settings(EMAIL_BACKEND="tests.test_notify.BrokenBackend", CHATTER_NOTIFY_DELAY=0):
        outcome, lines = notify_mail.run()
        assert (outcome.sent, outcome.failed, outcome.messages) == (1, 1, 2)
        assert len(mail.outbox) == 1 and mail.outbox[0].to != BrokenBackend.refused
        assert len(lines) == 2
        # Marked before sending: the refused digest is lost, never sent twice.
        assert notify_mail.run()[0].sent == 0


def test_a_refused_connection_still_tries_each_digest(people: dict[str, Any]) -> None:
    alice, bob, _ = people.values()
    say(room_of(alice, bob), bob, "to alice")
    BrokenBackend.refused, BrokenBackend.closed = ["nobody"], True
    try:
        with override_settings(
            EMAIL_BACKEND="tests.test_notify.BrokenBackend", CHATTER_NOTIFY_DELAY=0
        ):
            outcome, _ = notify_mail.run()
    finally:
        BrokenBackend.closed = False
    assert (outcome.sent, outcome.failed) == (1, 0)
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


# -- two runs at the same time, on PostgreSQL --------------------------------------------


def _in_thread(work: Any, results: list[Any], barrier: threading.Barrier) -> threading.Thread:
    def target() -> None:
        try:
            barrier.wait(timeout=60)
            results.append(work())
        finally:
            connection.close()

    return threading.Thread(target=target)


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_email_each_message_once() -> None:
    sender = person("sender")
    readers = [person(f"reader{i:02d}") for i in range(40)]
    rooms_made = []
    for reader in readers:
        room = room_of(sender, reader)
        rooms_made.append(room)
        for i in range(3):
            say(room, sender, f"for {reader.username} #{i}")
    results: list[Any] = []
    barrier = threading.Barrier(2)
    with override_settings(CHATTER_NOTIFY_DELAY=0):
        threads = [_in_thread(notify_mail.run, results, barrier) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert len(results) == 2
    assert sum(outcome.sent for outcome, _ in results) == 40
    bodies = [m.body for m in mail.outbox]
    for reader in readers:
        for i in range(3):
            assert sum(f"for {reader.username} #{i}" in body for body in bodies) == 1
    assert sorted(m.to[0] for m in mail.outbox) == sorted(r.email for r in readers)


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_run_skips_memberships_another_run_holds() -> None:
    alice, bob = person("alice"), person("bob")
    room = room_of(alice, bob)
    say(room, bob, "held")
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                assert len(list(notify.candidates(later()))) == 1
                held.set()
                release.wait(timeout=60)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(timeout=60)
        assert notify.collect(now=later()) == []  # locked by the other run: skipped
    finally:
        release.set()
        holder.join(timeout=60)
    [digest] = notify.collect(now=later())  # the other run marked nothing: now it is ours
    assert digest.user == alice
