"""Every websocket stack the docs show, run as written, on real django-tenants schemas.

The stacks are taken from the docs' own code blocks (the three of the Utilities page, the
quickstart's and the multi-tenancy guide's), so a stack the docs show is a stack tested
here. What must hold in each:

* alpha's alice opens her room and gets her messages, whatever schema the shared database
  connection last sat in;
* beta's alice (the same user id) never receives alpha's room-list or message frames;
* the public tenant's host, and a host of no tenant, are refused with 4400, on the room
  socket and on the room-list socket: never a 500 handshake, never left open;
* an unknown path is refused with 4404;
* the stack without auth (``MTSchemaMiddleware`` under ``SessionMiddlewareStack``) gives a
  clean 4401 to everyone.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection
from django_tenants.utils import schema_context

from chatter import messages
from tests.tenants.conftest import TenantInfo, cookie, login
from tests.test_utils import python_blocks, run_block

ROOT = Path(__file__).resolve().parents[2]


def documented_stacks() -> dict[str, Any]:
    """``{name: the websocket application}`` of every routing example in the docs."""
    found: dict[str, Any] = {}
    for page in ("utilities.rst", "quickstart.rst", "multitenancy.rst"):
        blocks = [b for b in python_blocks(page) if "ProtocolTypeRouter(" in b]
        for index, block in enumerate(blocks):
            router = run_block(block)["application"]
            found[f"{page.removesuffix('.rst')}-{index + 1}"] = router.application_mapping[
                "websocket"
            ]
    return found


STACKS = documented_stacks()
WITH_AUTH = {name: app for name, app in STACKS.items() if name != "utilities-1"}
SCHEMA_ONLY = STACKS["utilities-1"]


def _websocket_expression(text: str) -> str:
    """The websocket entry of the first ``ProtocolTypeRouter`` in ``text``, without spaces."""
    match = re.search(r'"websocket":\s*(.*?\)\s*)\s*,?\s*\}\)', text, re.DOTALL)
    assert match, "no websocket entry found"
    return re.sub(r"\s+", "", match.group(1)).rstrip(",")


def test_the_stacks_are_the_documented_ones() -> None:
    """What the tests below cover: the Utilities page's three and the quickstart's.

    The multi-tenancy guide keeps the quickstart's route (it says so); the README shows the
    quickstart's too.
    """
    assert sorted(STACKS) == ["quickstart-1", "utilities-1", "utilities-2", "utilities-3"]
    assert "stays as the quickstart made it" in (ROOT / "docs" / "multitenancy.rst").read_text(
        encoding="utf-8"
    )
    assert "MTAuthMiddleware" not in _source("utilities.rst", 0)
    assert "MTSchemaMiddleware" not in _source("utilities.rst", 1)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = _source("quickstart.rst", 0)
    assert _websocket_expression(readme) == _websocket_expression(quickstart)
    assert _websocket_expression(quickstart) == (
        "SameHostOriginValidator(ChatterMTMiddlewareStack("
        "URLRouter(chatter.routing.websocket_urlpatterns)))"
    )


def _source(page: str, index: int) -> str:
    return [b for b in python_blocks(page) if "ProtocolTypeRouter(" in b][index]


# -- helpers --------------------------------------------------------------------------------


async def connect(
    application: Any, path: str, host: str, session_key: str | None = None
) -> WebsocketCommunicator:
    """A socket on ``host`` from a page of the same host; the handshake must succeed."""
    headers = [(b"host", host.encode()), (b"origin", f"http://{host}".encode())]
    if session_key is not None:
        headers.append((b"cookie", cookie(session_key).encode()))
    comm = WebsocketCommunicator(application, path, headers=headers)
    accepted, _ = await comm.connect(timeout=10)
    assert accepted, "refusals accept first, then close with a 4xxx code"
    return comm


async def refusal(application: Any, path: str, host: str, session_key: str | None = None) -> Any:
    """The close code of a socket that is accepted, then closed; "open" if left open."""
    comm = await connect(application, path, host, session_key)
    if await comm.receive_nothing(timeout=0.5):
        await comm.disconnect()
        return "open"
    out = await comm.receive_output(timeout=10)
    assert out["type"] == "websocket.close", f"a refused socket got {out}"
    await comm.disconnect()
    return out["code"]


async def frames_with(comm: WebsocketCommunicator, *texts: str, timeout: float = 30) -> str:
    """Frames received until every one of ``texts`` came (bounded by a generous timeout)."""
    got = ""
    async with asyncio.timeout(timeout):
        while not all(text in got for text in texts):
            got += await comm.receive_from(timeout=timeout)
    return got


async def rest(comm: WebsocketCommunicator, quiet: float = 0.5) -> str:
    """What still comes until the socket has been quiet for ``quiet`` seconds."""
    got = ""
    while not await comm.receive_nothing(timeout=quiet):
        got += await comm.receive_from()
    return got


async def set_connection_schema(schema_name: str) -> None:
    """Leave ``schema_name`` set on the database thread's connection, as HTTP requests do."""
    await database_sync_to_async(lambda: connection.set_schema(schema_name))()


async def connection_schema() -> str:
    return await database_sync_to_async(lambda: connection.schema_name)()


@pytest.fixture
async def public_connection_after() -> AsyncIterator[None]:
    """Whatever a test leaves set on the database thread's connection, reset it after."""
    yield
    await set_connection_schema("public")


def send(schema_name: str, room: Any, user: Any, text: str) -> None:
    with schema_context(schema_name):
        messages.send_message(room, user, text)


def no_logged_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


# -- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", sorted(WITH_AUTH))
async def test_alice_gets_her_messages_whatever_schema_the_connection_holds(
    stack: str,
    alpha: TenantInfo,
    beta: TenantInfo,
    tenant_user: Any,
    tenant_room: Any,
    public_connection_after: None,
) -> None:
    application = WITH_AUTH[stack]
    other = await database_sync_to_async(tenant_user)("alpha")
    room = await database_sync_to_async(tenant_room)("alpha", alpha.users["alice"], other)
    texts = [f"alpha {stack} {n} {uuid.uuid4().hex}" for n in range(2)]
    for text in texts:
        await database_sync_to_async(send)("alpha", room, alpha.users["alice"], text)
    key = await database_sync_to_async(login)("alpha", alpha.users["alice"])

    await set_connection_schema("beta")  # as the measurement in issue 7 did
    comm = await connect(application, f"/ws/chatter/{room.pk}/", alpha.domain, key)
    await comm.send_json_to({"type": "resume", "after": 0})
    got = await frames_with(comm, *texts)
    assert got.index(texts[0]) < got.index(texts[1])
    # A send over the socket lands in alpha's schema, not in the connection's.
    sent = f"sent {uuid.uuid4().hex}"
    await set_connection_schema("beta")
    await comm.send_json_to({"text": sent, "client_id": str(uuid.uuid4())})
    await frames_with(comm, sent)
    await comm.disconnect()

    def stored(schema_name: str) -> bool:
        from chatter.models import Message

        with schema_context(schema_name):
            return Message.objects.filter(text=sent).exists()

    assert await database_sync_to_async(stored)("alpha")
    assert not await database_sync_to_async(stored)("beta")
    assert await connection_schema() == "beta", "the middlewares leave the connection as is"


@pytest.mark.parametrize("stack", sorted(WITH_AUTH))
@pytest.mark.parametrize("left_in", ["alpha", "beta", "public"])
async def test_beta_alice_never_gets_alphas_frames(
    stack: str,
    left_in: str,
    alpha: TenantInfo,
    beta: TenantInfo,
    tenant_user: Any,
    tenant_room: Any,
    public_connection_after: None,
) -> None:
    """alice has one id in both tenants; beta's alice hears nothing of alpha's alice's room."""
    application = WITH_AUTH[stack]
    assert alpha.users["alice"].pk == beta.users["alice"].pk
    sender = await database_sync_to_async(tenant_user)("alpha")
    alpha_room = await database_sync_to_async(tenant_room)("alpha", alpha.users["alice"], sender)
    beta_room = await database_sync_to_async(tenant_room)(
        "beta", beta.users["alice"], await database_sync_to_async(tenant_user)("beta")
    )
    keys = {
        t.schema_name: await database_sync_to_async(login)(t.schema_name, t.users["alice"])
        for t in (alpha, beta)
    }
    sender_key = await database_sync_to_async(login)("alpha", sender)

    await set_connection_schema(left_in)
    alpha_list = await connect(application, "/ws/chatter/", alpha.domain, keys["alpha"])
    beta_list = await connect(application, "/ws/chatter/", beta.domain, keys["beta"])
    beta_in_room = await connect(
        application, f"/ws/chatter/{beta_room.pk}/", beta.domain, keys["beta"]
    )
    await beta_in_room.send_json_to({"type": "resume", "after": beta_room.last_seq})
    alpha_sender = await connect(
        application, f"/ws/chatter/{alpha_room.pk}/", alpha.domain, sender_key
    )
    await alpha_sender.send_json_to({"type": "resume", "after": alpha_room.last_seq})
    await rest(beta_in_room)  # its own arrival frames

    text = f"for alpha alice only {uuid.uuid4().hex}"
    await set_connection_schema(left_in)
    await alpha_sender.send_json_to({"text": text, "client_id": str(uuid.uuid4())})
    got = await frames_with(alpha_list, text)
    assert f'data-kind="room" data-room="{alpha_room.pk.hex}"' in got

    for comm in (beta_list, beta_in_room):
        leaked = await rest(comm)
        assert text not in leaked
        assert alpha_room.pk.hex not in leaked and str(alpha_room.pk) not in leaked
    # And alpha's room id is no room at all on beta's host.
    assert (
        await refusal(application, f"/ws/chatter/{alpha_room.pk}/", beta.domain, keys["beta"])
        == 4404
    )
    for comm in (alpha_list, beta_list, beta_in_room, alpha_sender):
        await comm.disconnect()


@pytest.mark.parametrize("stack", sorted(STACKS))
async def test_public_tenants_host_is_refused_with_4400(
    stack: str,
    public: TenantInfo,
    alpha: TenantInfo,
    tenant_room: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """django-tenants' public tenant has a domain and users, but no chat: 4400, no 500."""
    application = STACKS[stack]
    room = await database_sync_to_async(tenant_room)(
        "alpha", alpha.users["alice"], alpha.users["bob"]
    )
    key = await database_sync_to_async(login)("public", public.users["alice"])
    for session_key in (key, None):
        for path in ("/ws/chatter/", f"/ws/chatter/{room.pk}/", f"/ws/chatter/{uuid.uuid4()}/"):
            assert await refusal(application, path, public.domain, session_key) == 4400, path
    assert await connection_schema() == "public"
    no_logged_tracebacks(caplog)


@pytest.mark.parametrize("stack", sorted(STACKS))
@pytest.mark.parametrize("host", ["gamma.test.com", "evil.example.org", ""])
async def test_host_of_no_tenant_is_refused_with_4400(
    stack: str, host: str, alpha: TenantInfo, caplog: pytest.LogCaptureFixture
) -> None:
    key = await database_sync_to_async(login)("alpha", alpha.users["alice"])
    for path in ("/ws/chatter/", f"/ws/chatter/{uuid.uuid4()}/", "/ws/nothing/"):
        # Origin: the same host, so the origin check passes where the host is allowed.
        code = await refusal(STACKS[stack], path, host, key)
        assert code == (4403 if host != "gamma.test.com" else 4400), (path, code)
    no_logged_tracebacks(caplog)


@pytest.mark.parametrize("stack", sorted(STACKS))
async def test_unknown_paths_are_refused_with_4404(
    stack: str, alpha: TenantInfo, caplog: pytest.LogCaptureFixture
) -> None:
    key = await database_sync_to_async(login)("alpha", alpha.users["alice"])
    room = uuid.uuid4()
    for path in ("/ws/chatter/zzz/", f"/ws/chatter/{str(room).upper()}/", "/ws/nothing/"):
        for session_key in (key, None):
            assert await refusal(STACKS[stack], path, alpha.domain, session_key) == 4404, path
    no_logged_tracebacks(caplog)


async def test_the_stack_without_auth_refuses_cleanly_with_4401(
    alpha: TenantInfo, tenant_room: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """``SessionMiddlewareStack(MTSchemaMiddleware(...))`` puts no user in the scope."""
    room = await database_sync_to_async(tenant_room)(
        "alpha", alpha.users["alice"], alpha.users["bob"]
    )
    key = await database_sync_to_async(login)("alpha", alpha.users["alice"])
    for path in ("/ws/chatter/", f"/ws/chatter/{room.pk}/"):
        for session_key in (key, None):
            assert await refusal(SCHEMA_ONLY, path, alpha.domain, session_key) == 4401
    no_logged_tracebacks(caplog)
