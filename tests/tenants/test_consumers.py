"""ChatConsumer on real django-tenants schemas: the demo's whole websocket stack.

alice and bob exist in both tenants, made in the same order in fresh schemas, so their
ids are equal: a user id alone never tells the tenant.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import connection
from django_tenants.utils import schema_context

from chatter.consumers import NOT_FOUND, NOT_LOGGED_IN
from chatter.models import Message, Room
from chatter.origin import CLOSE_FORBIDDEN_ORIGIN
from chatter.routing import websocket_urlpatterns
from chatter.utils import ChatterMTMiddlewareStack, SameHostOriginValidator
from tests.clients import message_text
from tests.tenants.conftest import TenantInfo, cookie, login

application = SameHostOriginValidator(ChatterMTMiddlewareStack(URLRouter(websocket_urlpatterns)))
# One message element of a frame: its sequence number and its body (the formatted text).
MESSAGE = re.compile(
    r'id="chatter-msg-(\d+)".*?<div class="chatter-msg-text"[^>]*>(.*?)</div>', re.DOTALL
)


def key_of(tenant: TenantInfo, username: str) -> str:
    return login(tenant.schema_name, tenant.users[username])


async def connect(
    path: str,
    host: str,
    session_key: str | None = None,
    origin: str | None = None,
) -> WebsocketCommunicator:
    """Open a socket on ``host`` (Origin: the same host unless given); assert the handshake."""
    headers = [(b"host", host.encode()), (b"origin", (origin or f"http://{host}").encode())]
    if session_key is not None:
        headers.append((b"cookie", cookie(session_key).encode()))
    comm = WebsocketCommunicator(application, path, headers=headers)
    accepted, _ = await comm.connect(timeout=3)
    assert accepted, "refusals accept first, then close with a 4xxx code"
    return comm


async def close_code(comm: WebsocketCommunicator) -> int:
    out = await comm.receive_output(timeout=3)
    assert out["type"] == "websocket.close", out
    await comm.disconnect()  # the consumer ends when the client's side is closed too
    return out["code"]


async def open_room(
    tenant: TenantInfo, user: Any, room: Room, after: int = 0
) -> WebsocketCommunicator:
    key = await database_sync_to_async(login)(tenant.schema_name, user)
    comm = await connect(f"/ws/chatter/{room.pk}/", tenant.domain, key)
    await comm.send_json_to({"type": "resume", "after": after})
    return comm


async def messages_until(
    comm: WebsocketCommunicator, count: int, stall: float = 60, frames: list | None = None
) -> list[tuple[int, str]]:
    """(seq, text) of every message element received, until ``count`` of them came.

    Waits for progress, not for a duration: it fails only when no frame at all arrives
    for ``stall`` seconds (a loaded machine is slow, a broken one is silent). Every frame
    received is appended to ``frames`` if given.
    """
    got: list[tuple[int, str]] = []
    while len(got) < count:
        frame = await comm.receive_from(timeout=stall)
        got += [(int(seq), message_text(body)) for seq, body in MESSAGE.findall(frame)]
        if frames is not None:
            frames.append(frame)
    return got


async def rest(comm: WebsocketCommunicator, quiet: float = 0.3) -> list[str]:
    """The frames that still come until the socket is quiet for ``quiet`` seconds."""
    frames = []
    while not await comm.receive_nothing(timeout=quiet):
        frames.append(await comm.receive_from())
    return frames


async def connection_is_public() -> bool:
    return await database_sync_to_async(lambda: connection.schema_name)() == "public"


def count_in(schema_name: str, room_id: Any) -> int:
    with schema_context(schema_name):
        return Message.objects.filter(room_id=room_id).count()


def room_exists(schema_name: str, room_id: Any) -> bool:
    with schema_context(schema_name):
        return Room.objects.filter(pk=room_id).exists()


# -- isolation ------------------------------------------------------------------------------


def test_user_ids_repeat_across_schemas(alpha: TenantInfo, beta: TenantInfo) -> None:
    """What the rest of this module relies on: equal ids, different people."""
    for name in ("alice", "bob"):
        assert alpha.users[name].pk == beta.users[name].pk
        assert alpha.users[name].email != beta.users[name].email


async def test_each_tenant_gets_its_own_user_on_its_own_room(
    alpha: TenantInfo, beta: TenantInfo, tenant_room: Any
) -> None:
    """alice and bob of each tenant, with equal ids, talk in their own tenant's room."""
    for tenant in (alpha, beta):
        room = await database_sync_to_async(tenant_room)(
            tenant.schema_name, tenant.users["alice"], tenant.users["bob"]
        )
        a = await open_room(tenant, tenant.users["alice"], room, after=room.last_seq)
        b = await open_room(tenant, tenant.users["bob"], room, after=room.last_seq)
        text = f"hello from {tenant.schema_name} {uuid.uuid4().hex}"
        await a.send_json_to({"text": text, "client_id": str(uuid.uuid4())})
        got = await messages_until(b, 1)
        assert got == [(room.last_seq + 1, text)]
        await a.disconnect()
        await b.disconnect()
    assert await connection_is_public()


async def test_session_of_a_on_bs_host_is_anonymous(alpha: TenantInfo, beta: TenantInfo) -> None:
    key = await database_sync_to_async(key_of)(alpha, "alice")
    comm = await connect("/ws/chatter/", beta.domain, key)
    assert await close_code(comm) == NOT_LOGGED_IN == 4401
    # The same key on its own host is alice.
    comm = await connect("/ws/chatter/", alpha.domain, key)
    assert await comm.receive_nothing(timeout=0.1)
    await comm.disconnect()


async def test_room_of_a_opened_on_b_is_not_found(
    alpha: TenantInfo, beta: TenantInfo, tenant_room: Any
) -> None:
    """beta's alice (same id as alpha's alice, a member there) asks for alpha's room: 4404."""
    room = await database_sync_to_async(tenant_room)(
        "alpha", alpha.users["alice"], alpha.users["bob"]
    )
    assert not await database_sync_to_async(room_exists)("beta", room.pk)
    key = await database_sync_to_async(key_of)(beta, "alice")
    comm = await connect(f"/ws/chatter/{room.pk}/", beta.domain, key)
    assert await close_code(comm) == NOT_FOUND == 4404
    assert await connection_is_public()


async def test_origin_of_b_on_as_host_is_refused(
    alpha: TenantInfo, beta: TenantInfo, tenant_room: Any
) -> None:
    room = await database_sync_to_async(tenant_room)(
        "alpha", alpha.users["alice"], alpha.users["bob"]
    )
    key = await database_sync_to_async(key_of)(alpha, "alice")
    for path in ("/ws/chatter/", f"/ws/chatter/{room.pk}/"):
        comm = await connect(path, alpha.domain, key, origin=f"http://{beta.domain}")
        assert await close_code(comm) == CLOSE_FORBIDDEN_ORIGIN == 4403


async def test_user_frames_never_cross_tenants(
    alpha: TenantInfo, beta: TenantInfo, tenant_room: Any
) -> None:
    """alpha's bob and beta's bob have one id; only alpha's bob hears of alpha's message."""
    a_bob, b_bob = alpha.users["bob"], beta.users["bob"]
    assert a_bob.pk == b_bob.pk
    room = await database_sync_to_async(tenant_room)("alpha", alpha.users["alice"], a_bob)
    alpha_list = await connect(
        "/ws/chatter/", alpha.domain, await database_sync_to_async(key_of)(alpha, "bob")
    )
    beta_list = await connect(
        "/ws/chatter/", beta.domain, await database_sync_to_async(key_of)(beta, "bob")
    )
    sender = await open_room(alpha, alpha.users["alice"], room, after=room.last_seq)
    text = f"for alpha bob {uuid.uuid4().hex}"
    await sender.send_json_to({"text": text, "client_id": str(uuid.uuid4())})

    frame = await alpha_list.receive_from(timeout=10)
    assert f'data-kind="room" data-room="{room.pk.hex}"' in frame and text in frame
    assert await beta_list.receive_nothing(timeout=0.3)

    # A read (unread badges of the reader's own sockets) stays in its tenant too.
    bob_in_room = await open_room(alpha, a_bob, room, after=room.last_seq + 1)
    await bob_in_room.send_json_to({"type": "read", "seq": room.last_seq + 1})
    frame = await alpha_list.receive_from(timeout=10)
    assert f'data-kind="read" data-room="{room.pk.hex}" data-seq="{room.last_seq + 1}"' in frame
    assert await beta_list.receive_nothing(timeout=0.3)
    for comm in (alpha_list, beta_list, sender, bob_in_room):
        await comm.disconnect()


# -- interleaving -----------------------------------------------------------------------


async def test_two_tenants_sending_200_each_at_once(
    alpha: TenantInfo, beta: TenantInfo, tenant_user: Any, tenant_room: Any, settings: Any
) -> None:
    """Sockets of both tenants on one event loop and one database thread, all at once."""
    settings.CHATTER_RATE_LIMIT_MESSAGES = 0
    count = 200

    def setup(tenant: TenantInfo) -> tuple[Any, Any, Room]:
        sender, receiver = tenant_user(tenant.schema_name), tenant_user(tenant.schema_name)
        return sender, receiver, tenant_room(tenant.schema_name, sender, receiver)

    sides = {}
    for tenant in (alpha, beta):
        sender, receiver, room = await database_sync_to_async(setup)(tenant)
        sides[tenant.schema_name] = (
            tenant,
            room,
            await open_room(tenant, sender, room),
            await open_room(tenant, receiver, room),
        )
    # Fresh users in fresh rooms; equal room ids are impossible (UUIDs), so only the
    # schema keeps the two apart.

    def texts(schema_name: str) -> list[str]:
        return [f"{schema_name}-text-{i:03d}" for i in range(count)]

    async def send_all(schema_name: str) -> None:
        comm = sides[schema_name][2]
        for text in texts(schema_name):
            await comm.send_json_to({"text": text, "client_id": str(uuid.uuid4())})

    await asyncio.gather(send_all("alpha"), send_all("beta"))
    frames: dict[str, list[str]] = {"alpha": [], "beta": []}
    received = await asyncio.gather(
        *(messages_until(sides[s][3], count, frames=frames[s]) for s in ("alpha", "beta"))
    )
    for schema_name, other, got in zip(("alpha", "beta"), ("beta", "alpha"), received, strict=True):
        assert [seq for seq, _ in got] == list(range(1, count + 1))
        assert [text for _, text in got] == texts(schema_name)
        # Nothing of the other tenant, in the messages or the room-list frames after them.
        everything = "".join(frames[schema_name] + await rest(sides[schema_name][3]))
        assert f"{other}-text-" not in everything
        assert f"{schema_name}-text-{count - 1:03d}" in everything

    def stored(schema_name: str, room_id: Any) -> list[str]:
        with schema_context(schema_name):
            return list(
                Message.objects.filter(room_id=room_id)
                .order_by("seq")
                .values_list("text", flat=True)
            )

    for schema_name, other in (("alpha", "beta"), ("beta", "alpha")):
        room = sides[schema_name][1]
        assert await database_sync_to_async(stored)(schema_name, room.pk) == texts(schema_name)
        assert not await database_sync_to_async(room_exists)(other, room.pk)
        assert await database_sync_to_async(count_in)(other, room.pk) == 0
    for _tenant, _room, sender, receiver in sides.values():
        await sender.disconnect()
        await receiver.disconnect()
    assert await connection_is_public()
