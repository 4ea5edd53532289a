"""ChatConsumer through the real ASGI stack (origin check, sessions, auth), on committed data."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from chatter import live, messages, rooms
from chatter.consumers import FORBIDDEN, NOT_FOUND, NOT_LOGGED_IN, TOO_MANY_SOCKETS
from chatter.models import Message, Room
from tests.factories import fill_room
from tests.sockets import (
    HOST,
    application,
    close_code,
    connect,
    cookie_for,
    drain,
    frames_until,
    make_user,
    open_room,
    quiet,
    seqs,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_cleanup")]


@pytest.fixture
def pair(db):
    alice, bob = make_user("alice"), make_user("bob")
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    return alice, bob, room


async def test_anonymous_is_closed_4401(pair):
    _, _, room = pair
    comm, accepted, _ = await connect(f"/ws/chatter/{room.pk}/")
    assert accepted
    assert await close_code(comm) == NOT_LOGGED_IN


async def test_unknown_room_is_closed_4404(pair):
    alice, _, _ = pair
    cookie = await sync_to_async(cookie_for)(alice)
    comm, accepted, _ = await connect(f"/ws/chatter/{uuid.uuid4()}/", cookie)
    assert accepted
    assert await close_code(comm) == NOT_FOUND


async def test_non_member_is_closed_4403(pair):
    _, _, room = pair
    carol = await sync_to_async(make_user)("carol")
    cookie = await sync_to_async(cookie_for)(carol)
    comm, accepted, _ = await connect(f"/ws/chatter/{room.pk}/", cookie)
    assert accepted
    assert await close_code(comm) == FORBIDDEN


async def test_foreign_origin_is_refused(pair):
    alice, _, room = pair
    cookie = await sync_to_async(cookie_for)(alice)
    comm, _, _ = await connect(f"/ws/chatter/{room.pk}/", cookie, origin="http://evil.example")
    assert await close_code(comm) == FORBIDDEN


async def test_send_reaches_both_members_once(pair):
    alice, bob, room = pair
    a, b = await open_room(alice, room), await open_room(bob, room)
    cid = str(uuid.uuid4())
    await a.send_json_to({"text": "hello bob", "client_id": cid, "HEADERS": {}})
    got_b = "".join(await frames_until(b, lambda t: "chatter-msg-1" in t))
    assert "hello bob" in got_b
    got_a = "".join(await frames_until(a, lambda t: "chatter-msg-1" in t))
    assert f'data-sent="{cid}"' in got_a
    assert seqs(got_a) == [1]
    assert await sync_to_async(Message.objects.filter(room=room).count)() == 1
    await a.disconnect()
    await b.disconnect()


async def test_frames_are_inert(pair):
    alice, bob, room = pair
    a, b = await open_room(alice, room), await open_room(bob, room)
    evil = '<script>alert(1)</script><img src=x onerror=alert(2)> <b hx-get="/x">{{ 7*7 }}</b>'
    await a.send_json_to({"text": evil, "client_id": str(uuid.uuid4())})
    text = "".join(await frames_until(b, lambda t: "chatter-msg-1" in t))
    assert "<script>" not in text and "<img" not in text and '<b hx-get="/x">' not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(2)&gt;" in text
    assert "{{ 7*7 }}" in text
    assert "hx-disable" in text
    await a.disconnect()
    await b.disconnect()


@pytest.mark.parametrize(
    ("text", "needle"), [("   ", "Write something first"), ("x" * 5000, "too long")]
)
async def test_refused_send_keeps_the_socket(pair, text, needle):
    alice, _, room = pair
    a = await open_room(alice, room)
    cid = str(uuid.uuid4())
    await a.send_json_to({"text": text, "client_id": cid})
    frame = await a.receive_from(timeout=2)
    assert needle in frame and f'data-client-id="{cid}"' in frame
    await a.send_json_to({"text": "still here", "client_id": str(uuid.uuid4())})
    await frames_until(a, lambda t: "still here" in t)
    assert await sync_to_async(Message.objects.filter(room=room).count)() == 1
    await a.disconnect()


async def test_oversized_frame_is_refused_not_closed(pair, settings):
    settings.CHATTER_MAX_FRAME_BYTES = 100
    alice, _, room = pair
    a = await open_room(alice, room)
    await a.send_json_to({"text": "y" * 200})
    assert "too large" in await a.receive_from(timeout=2)
    await a.disconnect()


async def test_resend_of_a_client_id_stores_and_shows_once(pair):
    alice, bob, room = pair
    a, b = await open_room(alice, room), await open_room(bob, room)
    frame = {"text": "once", "client_id": str(uuid.uuid4())}
    await a.send_json_to(frame)
    await frames_until(b, lambda t: "chatter-msg-1" in t and 'data-kind="room"' in t)
    await a.send_json_to(frame)
    await a.send_json_to(frame)
    got = "".join(await frames_until(a, lambda t: t.count("data-sent") == 3))
    assert seqs(got) == [1]
    await quiet(b)
    assert await sync_to_async(Message.objects.filter(room=room).count)() == 1
    await a.disconnect()
    await b.disconnect()


async def test_resume_after_a_gap_of_50(pair):
    alice, bob, room = pair

    def fill() -> None:
        for i in range(55):
            messages.send_message(room, alice, f"m{i}")

    await sync_to_async(fill)()
    b = await open_room(bob, room, after=5)
    got = "".join(await frames_until(b, lambda t: "chatter-msg-55" in t))
    assert seqs(got) == list(range(6, 56))
    await quiet(b)
    await b.disconnect()


async def store_silently(room: Room, sender: object, count: int) -> None:
    """Store messages without announcing them: as if every group send of theirs was lost."""

    def store() -> None:
        for i in range(count):
            messages.send_message(room, sender, f"silent {i}")

    await sync_to_async(store)()


async def test_dropped_doorbell_is_filled_from_the_database(pair):
    """Messages whose group send never came arrive, in order, before the next one."""
    alice, bob, room = pair
    b = await open_room(bob, room)
    await quiet(b)

    await store_silently(room, alice, 3)
    a = await open_room(alice, room, after=3)
    await a.send_json_to({"text": "loud", "client_id": str(uuid.uuid4())})
    got = "".join(await frames_until(b, lambda t: "chatter-msg-4" in t))
    assert seqs(got) == [1, 2, 3, 4]
    await a.disconnect()
    await b.disconnect()


async def test_a_doorbell_brings_a_socket_up_to_the_rooms_newest_message(pair):
    """What a publish that failed rings later: the socket reads what it lacks, in order."""
    alice, bob, room = pair
    b = await open_room(bob, room)
    await quiet(b)

    await store_silently(room, alice, 3)
    await quiet(b)
    await live.publish([live.doorbell_event(room.pk, 3)])
    got = "".join(await frames_until(b, lambda t: "chatter-msg-3" in t))
    assert seqs(got) == [1, 2, 3]
    await live.publish([live.doorbell_event(room.pk, 2)])  # nothing it lacks
    await quiet(b)
    await b.disconnect()


async def test_without_a_channel_layer_a_socket_still_gets_its_own_answers(pair, settings):
    """No CHANNEL_LAYERS: the socket opens, stores and confirms its sends, joins no hub."""
    settings.CHANNEL_LAYERS = {}
    alice, _bob, room = pair
    a = await open_room(alice, room)
    client_id = str(uuid.uuid4())
    await a.send_json_to({"text": "hello", "client_id": client_id})
    got = "".join(await frames_until(a, lambda t: client_id in t))
    assert client_id in got
    assert await sync_to_async(Message.objects.filter(room=room, text="hello").count)() == 1
    await a.disconnect()


async def test_room_list_and_unread_reach_the_other_member(pair):
    alice, bob, room = pair
    cookie = await sync_to_async(cookie_for)(bob)
    lobby, accepted, _ = await connect("/ws/chatter/", cookie)
    assert accepted
    a = await open_room(alice, room)
    await a.send_json_to({"text": "ping", "client_id": str(uuid.uuid4())})
    got = "".join(await frames_until(lobby, lambda t: f'data-room="{room.pk.hex}"' in t))
    # One update for every member's list; each page computes its own badge from data-seq.
    assert 'hx-swap-oob="beforeend:#chatter-feed"' in got
    assert f'data-kind="room" data-room="{room.pk.hex}" data-seq="1"' in got
    assert f'data-sender="{alice.pk}"' in got and ">ping</i>" in got
    await a.disconnect()
    await lobby.disconnect()


async def test_read_updates_seen_by_and_badges(pair):
    alice, bob, room = pair
    a, b = await open_room(alice, room), await open_room(bob, room)
    await a.send_json_to({"text": "did you see", "client_id": str(uuid.uuid4())})
    await frames_until(b, lambda t: "chatter-msg-1" in t)
    await b.send_json_to({"type": "read", "seq": 1})
    got = "".join(await frames_until(a, lambda t: 'data-say="seen-by"' in t))
    assert 'id="chatter-seen"' in got and ">bob<" in got
    membership = await sync_to_async(room.memberships.get)(user=bob)
    assert membership.last_read_seq == 1
    await a.disconnect()
    await b.disconnect()


async def test_typing_is_shown_to_others_not_self(pair):
    alice, bob, room = pair
    a, b = await open_room(alice, room), await open_room(bob, room)
    await a.send_json_to({"type": "typing"})
    got = await b.receive_from(timeout=2)
    assert 'id="chatter-typing"' in got and 'data-name="alice"' in got
    await quiet(a)
    await a.disconnect()
    await b.disconnect()


async def test_logout_closes_the_sessions_sockets(pair):
    alice, _, room = pair
    client = Client()
    await sync_to_async(client.force_login)(alice)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    comm, accepted, _ = await connect(f"/ws/chatter/{room.pk}/", cookie)
    assert accepted
    await sync_to_async(client.post)("/logout/")
    assert await close_code(comm) == NOT_LOGGED_IN


async def test_garbage_frames_are_ignored(pair):
    alice, _, room = pair
    a = await open_room(alice, room)
    await a.send_to(text_data="not json")
    await a.send_to(text_data="[1,2]")
    await a.send_json_to({"type": "resume", "after": "x"})
    await a.send_json_to({"type": "read", "seq": "x"})
    await quiet(a)
    await a.send_json_to({"text": "fine", "client_id": "not-a-uuid"})
    assert "malformed" in await a.receive_from(timeout=2)
    await a.disconnect()


async def test_http_fallback_send_reaches_open_sockets(pair):
    alice, bob, room = pair
    b = await open_room(bob, room)
    client = Client()
    await sync_to_async(client.force_login)(alice)
    response = await sync_to_async(client.post)(
        f"/chat/{room.pk}/send/", {"text": "posted without js", "client_id": str(uuid.uuid4())}
    )
    assert response.status_code == 302
    got = "".join(await frames_until(b, lambda t: "posted without js" in t))
    assert seqs(got) == [1]
    await b.disconnect()


async def test_opening_the_page_tells_the_sender_it_was_seen(pair):
    alice, bob, room = pair
    a = await open_room(alice, room)
    await a.send_json_to({"text": "are you there", "client_id": str(uuid.uuid4())})
    await frames_until(a, lambda t: "chatter-msg-1" in t)
    client = Client()
    await sync_to_async(client.force_login)(bob)
    response = await sync_to_async(client.get)(f"/chat/{room.pk}/")
    assert response.status_code == 200
    got = "".join(await frames_until(a, lambda t: 'data-say="seen-by"' in t))
    assert ">bob<" in got
    await a.disconnect()


async def test_presence_follows_open_sockets(pair):
    alice, bob, room = pair
    a = await open_room(alice, room)
    cookie = await sync_to_async(cookie_for)(bob)
    b, accepted, _ = await connect(f"/ws/chatter/{room.pk}/", cookie)
    assert accepted
    arrived = "".join(await frames_until(a, lambda t: f"chatter-member-{bob.pk}" in t))
    assert f'class="chatter-member chatter-member--active" data-user="{bob.pk}"' in arrived
    assert f"chatter-member-{alice.pk}" not in arrived  # only the member that changed
    await b.send_json_to({"type": "ping"})
    await quiet(a)  # still active: nothing to tell
    await b.disconnect()
    left = "".join(await frames_until(a, lambda t: f"chatter-member-{bob.pk}" in t))
    assert f'class="chatter-member" data-user="{bob.pk}" hx-swap-oob="true">' in left
    await a.disconnect()


async def test_presence_expires_without_pings(pair, settings):
    settings.CHATTER_PRESENCE_TIMEOUT = 10
    alice, bob, room = pair
    b = await open_room(bob, room)

    def age() -> None:
        room.memberships.filter(user=bob).update(
            last_seen_at=timezone.now() - timedelta(seconds=11)
        )

    await sync_to_async(age)()
    assert bob.pk not in await sync_to_async(rooms.active_ids)(room)
    a = await open_room(alice, room)
    await b.send_json_to({"type": "ping"})
    back = "".join(await frames_until(a, lambda t: f"chatter-member-{bob.pk}" in t))
    assert f'chatter-member--active" data-user="{bob.pk}"' in back
    await a.disconnect()
    await b.disconnect()


async def test_rate_limited_send_is_refused_without_closing(pair, settings):
    settings.CHATTER_RATE_LIMIT_MESSAGES = 2
    settings.CHATTER_RATE_LIMIT_SECONDS = 60
    await sync_to_async(cache.clear)()
    alice, _, room = pair
    a = await open_room(alice, room)
    for i in range(2):
        await a.send_json_to({"text": f"ok {i}", "client_id": str(uuid.uuid4())})
    await frames_until(a, lambda t: "chatter-msg-2" in t)
    await drain(a)
    cid = str(uuid.uuid4())
    await a.send_json_to({"text": "one too many", "client_id": cid})
    frame = await a.receive_from(timeout=2)
    assert "too fast" in frame and f'data-client-id="{cid}"' in frame
    assert await sync_to_async(Message.objects.filter(room=room).count)() == 2
    await a.disconnect()


async def test_a_repeated_resume_is_answered_once(pair):
    alice, _, room = pair

    def fill() -> None:
        for i in range(3):
            messages.send_message(room, alice, f"m{i}")

    await sync_to_async(fill)()
    a = await open_room(alice, room, after=1)
    got = "".join(await frames_until(a, lambda t: "chatter-msg-3" in t))
    assert seqs(got) == [2, 3]
    for _ in range(5):
        await a.send_json_to({"type": "resume", "after": 1})
    await quiet(a)
    await a.send_json_to({"type": "resume", "after": 2})
    assert seqs(await a.receive_from(timeout=2)) == [3]
    await a.disconnect()


async def test_one_socket_too_many_is_closed_4429(pair, settings):
    settings.CHATTER_MAX_SOCKETS_PER_USER = 2
    alice, _, room = pair
    cookie = await sync_to_async(cookie_for)(alice)
    first, _, _ = await connect(f"/ws/chatter/{room.pk}/", cookie)
    second, _, _ = await connect("/ws/chatter/", cookie)
    third, accepted, _ = await connect(f"/ws/chatter/{room.pk}/", cookie)
    assert accepted
    assert await close_code(third) == TOO_MANY_SOCKETS == 4429
    await second.disconnect()  # a place is free again
    fourth, _, _ = await connect(f"/ws/chatter/{room.pk}/", cookie)
    await fourth.send_json_to({"type": "resume", "after": 0})
    assert await fourth.receive_nothing(timeout=0.3)  # open, nothing to send
    for comm in (first, fourth):
        await comm.disconnect()


async def test_too_far_behind_updates_the_status_text_and_keeps_the_element(pair):
    alice, bob, room = pair
    await sync_to_async(fill_room)(room, 1200, sender=alice)
    b = await open_room(bob, room, after=0)
    frame = await b.receive_from(timeout=10)
    assert 'data-kind="stale"' in frame
    assert 'hx-swap-oob="innerHTML:#chatter-status"' in frame
    assert 'id="chatter-status"' not in frame  # the element (and its data-text-*) stays
    await b.send_json_to({"text": "new", "client_id": str(uuid.uuid4())})
    got = "".join(await frames_until(b, lambda t: 'data-kind="room"' in t))
    assert "chatter-msg-" not in got  # a stale page gets no more messages, only its list
    await b.disconnect()


async def test_invisible_only_messages_are_empty(pair):
    alice, _, room = pair
    a = await open_room(alice, room)
    cid = str(uuid.uuid4())
    await a.send_json_to({"text": "\u200b\u200d\ufeff \u2060\u00ad", "client_id": cid})
    frame = await a.receive_from(timeout=5)
    assert "Write something first" in frame and f'data-client-id="{cid}"' in frame
    assert await sync_to_async(Message.objects.filter(room=room).count)() == 0
    await a.disconnect()


async def test_a_client_over_the_resume_limit_is_told_when_to_retry(pair, settings):
    settings.CHATTER_FRAME_LIMITS = {"resume": (1, 60)}
    alice, _, room = pair
    a = await open_room(alice, room)  # the one resume allowed
    await quiet(a)
    await a.send_json_to({"type": "resume", "after": 0})
    frame = await a.receive_from(timeout=5)
    assert 'data-kind="retry" data-frame="resume"' in frame
    match = re.search(r'data-after="(\d+)"', frame)
    assert match and 0 < int(match.group(1)) <= 60_000
    await a.send_json_to({"type": "resume", "after": 0})
    await quiet(a)  # told once per window, not once per frame
    await a.disconnect()


async def test_room_list_updates_carry_the_rooms_sequence(pair):
    alice, bob, room = pair
    lobby, _, _ = await connect("/ws/chatter/", await sync_to_async(cookie_for)(bob))
    a = await open_room(alice, room)
    for i in range(3):
        await a.send_json_to({"text": f"m{i}", "client_id": str(uuid.uuid4())})
    got = "".join(await frames_until(lobby, lambda t: t.count('data-kind="room"') == 3))
    assert re.findall(r'data-kind="room" data-room="[0-9a-f]{32}" data-seq="(\d+)"', got) == [
        "1",
        "2",
        "3",
    ]
    await a.disconnect()
    await lobby.disconnect()


async def test_a_sockets_own_answers_speak_its_pages_language(pair):
    """Like LocaleMiddleware for the page: the language cookie, else Accept-Language."""
    alice, _, room = pair
    cookie = await sync_to_async(cookie_for)(alice)
    for extra, expected in (
        ([(b"accept-language", b"de-DE,de;q=0.9,en;q=0.5")], "Schreib zuerst etwas."),
        ([(b"accept-language", b"de"), (b"cookie", b"django_language=en")], "Write something"),
        ([(b"accept-language", b"xx, *")], "Write something"),
    ):
        headers = [(b"host", HOST.encode()), (b"origin", f"http://{HOST}".encode())]
        cookies = "; ".join([cookie] + [v.decode() for k, v in extra if k == b"cookie"])
        headers += [(b"cookie", cookies.encode())] + [(k, v) for k, v in extra if k != b"cookie"]
        comm = WebsocketCommunicator(application, f"/ws/chatter/{room.pk}/", headers=headers)
        assert (await comm.connect())[0]
        cid = str(uuid.uuid4())
        await comm.send_json_to({"text": "   ", "client_id": cid})
        frames = await frames_until(comm, lambda t, cid=cid: f'data-client-id="{cid}"' in t)
        assert expected in frames[-1], frames
        await comm.disconnect()


async def test_a_socket_opened_while_redis_is_down_is_refused_so_the_page_retries(pair, settings):
    """Trouble of the server's refuses the handshake (the browser sees 1006 and reopens
    with backoff); a 44xx close would be final, and Daphne cannot send 1013."""
    from tests.servers import free_port

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": f"redis://127.0.0.1:{free_port()}/0"}]},
        }
    }
    alice, _, room = pair
    _comm, accepted, _ = await connect(
        f"/ws/chatter/{room.pk}/", await sync_to_async(cookie_for)(alice)
    )
    assert not accepted


async def test_a_frame_for_a_socket_that_has_gone_is_dropped_quietly() -> None:
    """The server may raise when a socket closed while its answer was on the way."""
    from chatter.consumers import ChatConsumer

    consumer = ChatConsumer()

    async def closed(message: dict[str, object]) -> None:
        raise ConnectionResetError("Attempt to send on a closed protocol")

    consumer.base_send = consumer.frame_send = closed
    consumer.buffer = None
    await consumer.write("<div>late</div>")  # no exception: disconnect() cleans up


async def test_frames_skip_the_session_wrappers() -> None:
    """SessionMiddleware's send only acts on http.response.start: frames go past it."""
    from channels.sessions import InstanceSessionWrapper

    from chatter.consumers import _frame_send

    async def server_send(message: dict[str, object]) -> None:
        pass

    outer = InstanceSessionWrapper({"type": "websocket", "cookies": {}}, server_send)
    inner_twice = InstanceSessionWrapper({"type": "websocket", "cookies": {}}, outer.send)
    assert _frame_send(inner_twice.send) is server_send
    assert _frame_send(server_send) is server_send


async def test_events_handed_on_together_are_one_frame_in_order() -> None:
    """Under load the hub hands a socket several events at once: one frame for them."""
    from chatter.consumers import ChatConsumer

    consumer = ChatConsumer()
    frames_sent: list[str] = []

    async def server_send(message: dict[str, str]) -> None:
        frames_sent.append(message["text"])

    consumer.base_send = consumer.frame_send = server_send
    consumer.buffer = None
    consumer.worker = None
    consumer.is_open, consumer.room_group, consumer.last_sent = True, "room", 4
    events = [
        {"type": "chatter.message", "seq": seq, "html": f"<m{seq}>", "list": f"<l{seq}>"}
        for seq in (5, 6)
    ]
    await consumer.hub_events([("room", events[0]), ("other-room", events[1])])
    assert frames_sent == ["<m5><l5><l6>"]  # the open room's message, then a list update
    assert consumer.last_sent == 5 and consumer.buffer is None
    await consumer.write("<after>")
    assert frames_sent[-1] == "<after>"
