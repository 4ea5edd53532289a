"""chatter.routing: unknown websocket paths are closed with 4404 through the documented stack."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import URLRouter
from channels.testing import HttpCommunicator, WebsocketCommunicator
from django.test import Client
from django.urls import path

from chatter.routing import CLOSE_UNKNOWN_PATH, unknown_path, websocket_urlpatterns
from chatter.utils import ChatterMTMiddlewareStack, SameHostOriginValidator

pytestmark = pytest.mark.django_db(transaction=True)

HOST = "testserver"
# The wiring of README.md and the quickstart, unchanged.
application = SameHostOriginValidator(ChatterMTMiddlewareStack(URLRouter(websocket_urlpatterns)))
ROOM = uuid.UUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
BAD_PATHS = [
    "/ws/chatter/zzz/",
    f"/ws/chatter/{str(ROOM).upper()}/",  # the uuid converter takes lower case only
    f"/ws/chatter/{ROOM.hex}/",  # no dashes
    f"/ws/chatter/{ROOM}",  # no trailing slash
    f"/ws/chatter/{ROOM}/extra/",
    "/ws/chatter",
    "/ws/nothing/",
    "/",
    "/ws/chatter/%00/",
    "/ws/chatter/\u00e9/",
]


def _cookie_for(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


async def _cookie(user: Any) -> str:
    return await sync_to_async(_cookie_for)(user)


async def outcome(app: Any, ws_path: str, cookie: str | None = None) -> int | str:
    """ "open" for a socket left open, else the close code of a socket accepted, then closed."""
    headers = [(b"host", HOST.encode()), (b"origin", f"http://{HOST}".encode())]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    comm = WebsocketCommunicator(app, ws_path, headers=headers)
    accepted, _ = await comm.connect(timeout=5)
    assert accepted, "a refusal accepts first, so the browser sees its close code"
    if await comm.receive_nothing(timeout=0.2):
        await comm.disconnect()
        return "open"
    message = await comm.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    await comm.disconnect()
    return message["code"]


@pytest.mark.parametrize("ws_path", BAD_PATHS)
async def test_unknown_path_is_closed_with_4404(
    ws_path: str, alice: Any, caplog: pytest.LogCaptureFixture
) -> None:
    cookie = await _cookie(alice)
    assert await outcome(application, ws_path, cookie) == CLOSE_UNKNOWN_PATH == 4404
    assert await outcome(application, ws_path) == 4404  # anonymous: the same
    assert not [r for r in caplog.records if r.exc_info], "no traceback is logged"


async def test_known_paths_still_reach_the_consumer(alice: Any) -> None:
    assert await outcome(application, "/ws/chatter/", await _cookie(alice)) == "open"
    # An unknown room on a well-formed path is the consumer's own 4404, anonymous its 4401.
    assert await outcome(application, f"/ws/chatter/{ROOM}/", await _cookie(alice)) == 4404
    assert await outcome(application, "/ws/chatter/") == 4401


async def test_origin_check_comes_before_routing() -> None:
    comm = WebsocketCommunicator(
        application, "/ws/nothing/", headers=[(b"host", b"testserver"), (b"origin", b"http://x")]
    )
    assert (await comm.connect())[0]
    assert (await comm.receive_output())["code"] == 4403
    await comm.disconnect()


class Echo(AsyncWebsocketConsumer):
    """A project's own consumer."""

    async def connect(self) -> None:
        await self.accept()
        await self.send("mine")


async def test_project_routes_listed_before_chatters_are_served(alice: Any) -> None:
    """As the docs say: URLRouter([*my_routes, *chatter.routing.websocket_urlpatterns])."""
    mine = [path("ws/mine/", Echo.as_asgi())]
    app = SameHostOriginValidator(
        ChatterMTMiddlewareStack(URLRouter([*mine, *websocket_urlpatterns]))
    )
    comm = WebsocketCommunicator(
        app, "/ws/mine/", headers=[(b"host", b"testserver"), (b"origin", b"http://testserver")]
    )
    assert (await comm.connect())[0]
    assert await comm.receive_from() == "mine"
    await comm.disconnect()
    assert await outcome(app, "/ws/nothing/") == 4404
    assert await outcome(app, "/ws/chatter/", await _cookie(alice)) == "open"
    # Listed after Chatter's, a route is never reached: the catch-all answers first.
    late = SameHostOriginValidator(
        ChatterMTMiddlewareStack(URLRouter([*websocket_urlpatterns, *mine]))
    )
    assert await outcome(late, "/ws/mine/") == 4404


async def test_bare_router_without_middlewares() -> None:
    assert await outcome(URLRouter(websocket_urlpatterns), "/ws/nothing/") == 4404


async def test_client_leaving_before_the_handshake_is_no_error() -> None:
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/nothing/")
    await comm.send_input({"type": "websocket.disconnect", "code": 1001})
    await comm.wait()


async def test_other_scope_types_fail_as_channels_does() -> None:
    comm = HttpCommunicator(unknown_path, "GET", "/nothing/")
    with pytest.raises(ValueError, match="No route found"):
        await comm.get_response()
