"""Web Push delivery (chatter.push): who gets a push, what it says, and what the push
service's answers do, against a local push service that decrypts every push
(tests/push_endpoint.py)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chatter import messages, moderation, push, push_input, rooms
from chatter.models import Membership, Message, PushSubscription, Room
from tests.factories import crowd, make_user
from tests.push_endpoint import Browser, PushEndpoint, vapid_claims

pytestmark = pytest.mark.django_db

PUBLIC, PRIVATE = push_input.generate()
SUBJECT = "mailto:ops@example.com"
#: The jobs handed to the backend of these tests (tests.test_push.collect).
JOBS: list[dict[str, Any]] = []


def collect(job: dict[str, Any]) -> None:
    JOBS.append(job)


def push_settings(**extra: Any) -> dict[str, Any]:
    return {
        "VAPID_PUBLIC_KEY": PUBLIC,
        "VAPID_PRIVATE_KEY": PRIVATE,
        "VAPID_SUBJECT": SUBJECT,
        "BACKEND": "tests.test_push.collect",
        "INSECURE_HOSTS": ["127.0.0.1"],
        "TIMEOUT": 30,
        **extra,
    }


@pytest.fixture
def endpoint() -> Iterator[PushEndpoint]:
    with PushEndpoint() as running:
        yield running


@pytest.fixture
def push_on(settings: Any) -> Iterator[None]:
    settings.CHATTER_PUSH = push_settings()
    JOBS.clear()
    yield
    JOBS.clear()


def subscribe(user: Any, browser: Browser) -> PushSubscription:
    body = json.dumps(browser.json()).encode()
    return push.subscribe(user, push_input.parse_subscription(body), "Firefox (Linux)")


def send(room: Room, user: Any, text: str, capture: Any) -> Message:
    with capture(execute=True):
        return messages.send_message(room, user, text)[0]


def deliver_all() -> int:
    sent = sum(push.deliver(job) for job in JOBS)
    JOBS.clear()
    return sent


@pytest.fixture
def dm(alice: Any, bob: Any) -> Room:
    return Room.objects.get(pk=rooms.create_room([alice, bob]))


@pytest.fixture
def team(alice: Any, bob: Any, carol: Any) -> Room:
    return Room.objects.get(pk=rooms.create_room([alice, bob, carol], name="Team"))


# -- what arrives -------------------------------------------------------------------------


def test_a_direct_message_reaches_the_other_member_encrypted_and_signed(
    push_on: None,
    endpoint: PushEndpoint,
    dm: Room,
    alice: Any,
    bob: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    browser = endpoint.browser()
    row = subscribe(bob, browser)
    subscribe(alice, endpoint.browser())  # the sender's own browser gets nothing
    message = send(dm, alice, "Lunch at **noon**?\n\nSee you", django_capture_on_commit_callbacks)
    assert [{"schema": "", "room": str(dm.pk), "seq": message.seq}] == JOBS
    assert deliver_all() == 1
    got = endpoint.next()
    assert got.browser is browser
    assert got.data == {
        "title": "Alice Liddell",
        "body": "Lunch at **noon**? See you",
        "sender": "Alice Liddell",
        "url": f"/chat/{dm.pk}/?around=1#chatter-msg-1",
        "tag": f"chatter-{dm.pk}",
    }
    claims = vapid_claims(got.headers["authorization"], PUBLIC)
    assert claims["aud"] == endpoint.origin
    assert claims["sub"] == SUBJECT
    assert claims["exp"] > time.time()
    assert got.headers["ttl"] == str(24 * 60 * 60)
    assert got.headers["urgency"] == "high"
    assert got.headers["content-encoding"] == "aes128gcm"
    assert endpoint.all() == []
    row.refresh_from_db()
    assert row.last_success_at is not None


def test_a_mention_reaches_only_the_mentioned(
    push_on: None,
    endpoint: PushEndpoint,
    team: Room,
    alice: Any,
    bob: Any,
    carol: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    to_bob, to_bob_too = endpoint.browser(), endpoint.browser()
    subscribe(bob, to_bob)
    subscribe(bob, to_bob_too)
    subscribe(carol, endpoint.browser())
    send(team, alice, "hi @bob, ask @alice", django_capture_on_commit_callbacks)
    assert deliver_all() == 2
    got = [endpoint.next(), endpoint.next()]
    assert {p.browser.endpoint for p in got} == {to_bob.endpoint, to_bob_too.endpoint}
    assert got[0].data["title"] == "Team"
    assert got[0].data["body"] == "Alice Liddell: hi @bob, ask @Alice Liddell"
    assert endpoint.all() == []


def test_an_unnamed_group_is_titled_with_the_other_members(
    push_on: None,
    endpoint: PushEndpoint,
    alice: Any,
    bob: Any,
    carol: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    room = Room.objects.get(pk=rooms.create_room([alice, bob, carol]))
    subscribe(bob, endpoint.browser())
    subscribe(carol, endpoint.browser())
    send(room, alice, "hello all", django_capture_on_commit_callbacks)
    assert deliver_all() == 0  # a group of three without a mention: nobody
    send(room, alice, "@bob look", django_capture_on_commit_callbacks)
    assert deliver_all() == 1
    data = endpoint.next().data
    assert data["title"] == "Alice Liddell, carol"
    assert data["body"] == "Alice Liddell: @bob look"


def test_the_payload_stays_small(
    push_on: None,
    endpoint: PushEndpoint,
    dm: Room,
    alice: Any,
    bob: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    alice.first_name = "A" * 150
    alice.save()
    subscribe(bob, endpoint.browser())
    send(dm, alice, "é" * 4000, django_capture_on_commit_callbacks)
    assert deliver_all() == 1
    data = endpoint.next().data
    assert len(json.dumps(data, ensure_ascii=False).encode()) < 1024
    assert data["body"].endswith("…") and len(data["body"]) == push.PREVIEW_CHARS


# -- who does not get one -----------------------------------------------------------------


def test_a_muted_room_sends_no_push(
    push_on: None,
    endpoint: PushEndpoint,
    dm: Room,
    alice: Any,
    bob: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    subscribe(bob, endpoint.browser())
    Membership.objects.filter(room=dm, user=bob).update(muted=True)
    send(dm, alice, "hi", django_capture_on_commit_callbacks)
    assert len(JOBS) == 1
    assert deliver_all() == 0
    assert endpoint.all() == []


def test_an_open_page_in_any_room_means_no_push(
    push_on: None,
    endpoint: PushEndpoint,
    dm: Room,
    team: Room,
    alice: Any,
    bob: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    subscribe(bob, endpoint.browser())
    rooms.touch_many({team.pk: [bob.pk]})  # bob has the team's page open
    send(dm, alice, "hi", django_capture_on_commit_callbacks)
    assert deliver_all() == 0
    # Seen longer ago than CHATTER_PRESENCE_TIMEOUT: the page is gone.
    Membership.objects.filter(user=bob).update(last_seen_at=timezone.now() - timedelta(hours=1))
    send(dm, alice, "still there?", django_capture_on_commit_callbacks)
    assert deliver_all() == 1
    assert endpoint.next().data["body"] == "still there?"


def test_no_push_from_someone_the_user_blocks(
    push_on: None,
    endpoint: PushEndpoint,
    team: Room,
    alice: Any,
    bob: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    subscribe(bob, endpoint.browser())
    moderation.block(bob, alice)
    send(team, alice, "@bob hey", django_capture_on_commit_callbacks)
    assert deliver_all() == 0
    assert endpoint.all() == []


def test_a_message_deleted_before_its_push_is_not_pushed(
    push_on: None,
    endpoint: PushEndpoint,
    dm: Room,
    alice: Any,
    bob: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    subscribe(bob, endpoint.browser())
    message = send(dm, alice, "oops", django_capture_on_commit_callbacks)
    messages.delete_message(dm, alice, message.seq)
    assert deliver_all() == 0
    assert push.deliver({"schema": "", "room": str(dm.pk), "seq": 99}) == 0


def test_push_off_registers_nothing(
    endpoint: PushEndpoint,
    dm: Room,
    alice: Any,
    bob: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.CHATTER_PUSH = None
    JOBS.clear()
    with django_capture_on_commit_callbacks() as callbacks:
        messages.send_message(dm, alice, "hi")
    assert callbacks == [] and JOBS == []


# -- the push service's answers -----------------------------------------------------------


@pytest.mark.parametrize(("status", "kept"), [(410, False), (404, False), (500, True), (429, True)])
def test_a_gone_subscription_is_deleted_and_a_failing_one_kept(
    push_on: None,
    endpoint: PushEndpoint,
    dm: Room,
    alice: Any,
    bob: Any,
    status: int,
    kept: bool,
    django_capture_on_commit_callbacks: Any,
) -> None:
    failing = subscribe(bob, endpoint.browser(status=status))
    working = subscribe(bob, endpoint.browser())
    send(dm, alice, "hi", django_capture_on_commit_callbacks)
    assert deliver_all() == 1
    assert len([endpoint.next(), endpoint.next()]) == 2
    assert PushSubscription.objects.filter(pk=failing.pk).exists() is kept
    failing = PushSubscription.objects.filter(pk=failing.pk).first() or failing
    assert failing.last_success_at is None
    assert PushSubscription.objects.get(pk=working.pk).last_success_at is not None


def test_an_unreachable_push_service_is_logged_and_kept(
    push_on: None,
    dm: Room,
    alice: Any,
    bob: Any,
    django_capture_on_commit_callbacks: Any,
    caplog: Any,
) -> None:
    with PushEndpoint() as closed:
        browser = closed.browser()
    row = subscribe(bob, browser)  # its server is shut: connection refused
    send(dm, alice, "hi", django_capture_on_commit_callbacks)
    assert deliver_all() == 0
    assert PushSubscription.objects.filter(pk=row.pk).exists()
    assert "failed" in caplog.text


def test_a_failing_backend_never_fails_the_send(
    push_on: None,
    dm: Room,
    alice: Any,
    bob: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
    caplog: Any,
) -> None:
    settings.CHATTER_PUSH = push_settings(BACKEND="tests.test_push.missing_backend")
    message = send(dm, alice, "hi", django_capture_on_commit_callbacks)
    assert Message.objects.filter(pk=message.pk).exists()
    assert "Push backend failed" in caplog.text


# -- what it costs ------------------------------------------------------------------------


def _send_statements(room: Room, user: Any, text: str, capture: Any) -> int:
    with CaptureQueriesContext(connection) as queries:
        send(room, user, text, capture)
    return len(queries)


def test_a_send_costs_no_statement_more_with_push_on(
    dm: Room, alice: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    people = crowd("m", 199)
    big = Room.objects.get(pk=rooms.create_room([alice, *people], name="Crowd"))
    JOBS.clear()
    costs = {}
    for setting in (None, push_settings()):
        settings.CHATTER_PUSH = setting
        costs[bool(setting)] = [
            _send_statements(dm, alice, "hi", django_capture_on_commit_callbacks),
            _send_statements(big, alice, "hello all", django_capture_on_commit_callbacks),
            _send_statements(big, alice, "@m001 @m002 see", django_capture_on_commit_callbacks),
        ]
    assert costs[True] == costs[False]
    # A group message without a mention is not even handed over.
    assert [j["room"] for j in JOBS] == [str(dm.pk), str(big.pk)]


def test_delivery_statements_do_not_grow_with_the_room_or_the_mentions(
    push_on: None, endpoint: PushEndpoint, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    people = crowd("p", 199)
    big = Room.objects.get(pk=rooms.create_room([alice, *people]))
    for person in people[:30]:
        subscribe(person, endpoint.browser())
    counts = []
    for names in (people[:1], people[:30]):
        text = " ".join(f"@{p.username}" for p in names) + " news"
        send(big, alice, text, django_capture_on_commit_callbacks)
        with CaptureQueriesContext(connection) as queries:
            assert deliver_all() == len(names)
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 6
    assert len(endpoint.all()) == 31


# -- the default backend: a thread --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_thread_backend_delivers_after_commit(endpoint: PushEndpoint, settings: Any) -> None:
    settings.CHATTER_PUSH = push_settings(BACKEND="chatter.push.thread_backend")
    alice, bob = make_user("alice"), make_user("bob")
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    subscribe(bob, endpoint.browser())
    messages.send_message(room, alice, "from a thread")
    assert endpoint.next(60).data["body"] == "from a thread"
    assert push.queue.drain(60)


def test_a_full_queue_drops_and_logs(settings: Any, monkeypatch: Any, caplog: Any) -> None:
    settings.CHATTER_PUSH = push_settings(QUEUE_SIZE=1)
    release = threading.Event()
    monkeypatch.setattr(push, "_run", lambda job: release.wait(60) and 0)
    job = {"schema": "", "room": "x", "seq": 1}
    try:
        assert push.queue.submit(job) is True
        assert push.queue.submit(job) is False
        assert "Push queue full" in caplog.text
    finally:
        release.set()
    assert push.queue.drain(60)
    assert push.queue.submit(job) is True
    assert push.queue.drain(60)


def test_a_job_that_fails_on_its_thread_is_logged(settings: Any, caplog: Any) -> None:
    settings.CHATTER_PUSH = push_settings()
    assert push._run({"schema": "", "room": "not a room id", "seq": 1}) == 0
    assert "Push of message" in caplog.text
