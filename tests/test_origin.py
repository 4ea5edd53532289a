"""SameHostOriginValidator: a socket is accepted only from a page of its own host."""

from __future__ import annotations

from typing import Any

import pytest
from channels.testing import HttpCommunicator, WebsocketCommunicator

from chatter.origin import CLOSE_FORBIDDEN_ORIGIN, SameHostOriginValidator, same_host


async def accept(scope: dict, receive: Any, send: Any) -> None:
    """A bare ASGI app that accepts every socket (no consumer: no database access)."""
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while (await receive())["type"] != "websocket.disconnect":
        pass


app = SameHostOriginValidator(accept)


@pytest.fixture(autouse=True)
def _hosts(settings: Any) -> None:
    settings.ALLOWED_HOSTS = [".test.com", "localhost", "[::1]"]


def make_headers(host: str | None, origin: str | None) -> list[tuple[bytes, bytes]]:
    out = []
    if host is not None:
        out.append((b"host", host.encode()))
    if origin is not None:
        out.append((b"origin", origin.encode()))
    return out


async def outcome(host: str | None, origin: str | None, scheme: str = "ws") -> int | str:
    """ "accepted", or the close code of a refusal (which accepts first, then closes)."""
    comm = WebsocketCommunicator(app, "/ws/", headers=make_headers(host, origin))
    comm.scope["scheme"] = scheme
    accepted, _ = await comm.connect()
    assert accepted, "refusals accept first, so the browser sees the close code"
    if await comm.receive_nothing(timeout=0.05):
        await comm.disconnect()
        return "accepted"
    message = await comm.receive_output()
    assert message["type"] == "websocket.close"
    await comm.wait()
    return message["code"]


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("alpha.test.com", "http://alpha.test.com"),
        ("alpha.test.com", "https://alpha.test.com"),  # TLS ended at a proxy: no ports given
        ("ALPHA.test.com", "http://alpha.TEST.com"),
        ("alpha.test.com:8000", "http://alpha.test.com:8000"),
        ("alpha.test.com:80", "http://alpha.test.com"),
        ("alpha.test.com", "http://alpha.test.com:80"),
        ("localhost:8000", "http://localhost:8000"),
        ("[::1]:8000", "http://[::1]:8000"),
    ],
)
async def test_same_host_is_accepted(host: str, origin: str) -> None:
    assert await outcome(host, origin) == "accepted"


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("alpha.test.com", None),  # no Origin (not a browser page, or stripped)
        ("alpha.test.com", "null"),  # sandboxed iframe, file://
        ("alpha.test.com", ""),
        (None, "http://alpha.test.com"),  # no Host
        ("alpha.test.com", "http://beta.test.com"),  # sibling tenant: ALLOWED_HOSTS has both
        ("alpha.test.com", "http://test.com"),
        ("alpha.test.com", "http://evil-alpha.test.com"),
        ("alpha.test.com", "http://alpha.test.com.evil.org"),
        ("alpha.test.com:8000", "http://alpha.test.com"),  # another port
        ("alpha.test.com:8000", "http://alpha.test.com:8001"),
        ("alpha.test.com", "http://alpha.test.com:8000"),
        ("alpha.test.com", "ftp://alpha.test.com"),
        ("alpha.test.com", "http://alpha.test.com:99999"),  # malformed port
        ("evil.org", "http://evil.org"),  # same host, but not in ALLOWED_HOSTS
        (":8000", "http://alpha.test.com"),  # a Host with no host name
        ("alpha test.com", "http://alpha test.com"),  # a malformed Host
    ],
)
async def test_other_origins_are_refused_with_4403(host: str | None, origin: str | None) -> None:
    assert await outcome(host, origin) == CLOSE_FORBIDDEN_ORIGIN == 4403


async def test_default_port_follows_the_scope_scheme() -> None:
    assert await outcome("alpha.test.com", "https://alpha.test.com:443", scheme="wss") == "accepted"
    assert await outcome("alpha.test.com", "https://alpha.test.com:443", scheme="ws") == 4403
    assert await outcome("alpha.test.com:443", "https://alpha.test.com", scheme="wss") == "accepted"


async def test_leading_dot_allowed_hosts_is_not_enough(settings: Any) -> None:
    """The reason this validator exists: channels' one accepts a sibling subdomain."""
    from channels.security.websocket import AllowedHostsOriginValidator

    theirs = AllowedHostsOriginValidator(accept)
    comm = WebsocketCommunicator(
        theirs, "/ws/", headers=make_headers("alpha.test.com", "http://beta.test.com")
    )
    assert (await comm.connect())[0] is True  # channels: accepted
    await comm.disconnect()
    assert await outcome("alpha.test.com", "http://beta.test.com") == 4403  # ours: refused


async def test_client_gone_before_handshake() -> None:
    comm = WebsocketCommunicator(app, "/ws/", headers=make_headers("alpha.test.com", None))
    await comm.send_input({"type": "websocket.disconnect", "code": 1001})
    await comm.wait()


async def test_http_passes_through() -> None:
    async def http_app(scope: dict, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    comm = HttpCommunicator(SameHostOriginValidator(http_app), "GET", "/")
    assert (await comm.get_response())["status"] == 204


def test_debug_default_hosts(settings: Any) -> None:
    settings.ALLOWED_HOSTS = []
    settings.DEBUG = True
    scope = {"type": "websocket", "headers": make_headers("localhost", "http://localhost")}
    assert same_host(scope)
    settings.DEBUG = False
    assert not same_host(scope)
