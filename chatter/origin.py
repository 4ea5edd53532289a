"""``SameHostOriginValidator``: a websocket is accepted only from a page of its own host.

Why not channels' ``AllowedHostsOriginValidator``: it compares the Origin with
``ALLOWED_HOSTS``, and a leading-dot entry such as ``.example.com`` matches every
subdomain. With one tenant per subdomain, a page on ``beta.example.com`` could then open a
socket to ``alpha.example.com`` (the browser sends alpha's cookies with it). Here the
Origin must name the very host the socket was opened on, and that host must be allowed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

#: Close code of a websocket refused for its Origin (or a Host that is not allowed).
CLOSE_FORBIDDEN_ORIGIN = 4403

_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def header(scope: Mapping[str, Any], name: bytes) -> str | None:
    """The first value of header ``name`` (lowercase bytes) in an ASGI scope, or None."""
    headers: Iterable[tuple[bytes, bytes]] = scope.get("headers") or ()
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin1")
    return None


def allowed_hosts() -> list[str]:
    """``ALLOWED_HOSTS`` as ``HttpRequest.get_host`` applies it (DEBUG's default included)."""
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = [".localhost", "127.0.0.1", "[::1]"]
    return hosts


def host_is_allowed(hostname: str, hosts: Iterable[str] | None = None) -> bool:
    """Whether a lowercased host without port passes ``ALLOWED_HOSTS``."""
    return bool(hostname) and validate_host(
        hostname, list(hosts) if hosts is not None else allowed_hosts()
    )


async def accept_and_close(receive: Receive, send: Send, code: int) -> None:
    """Refuse a websocket the way browsers do not retry: accept it, then close with ``code``.

    A refusal before the handshake completes reaches the browser as 1006, which the htmx
    websocket extension retries forever; a 4xxx close after ``accept`` is final.
    """
    message = await receive()
    if message.get("type") != "websocket.connect":
        return  # the client left before the handshake: nothing to answer
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": code})


def same_host(scope: Mapping[str, Any]) -> bool:
    """True when the scope's Origin names the scope's Host and that host is allowed.

    Host names compare case-insensitively. Ports compare after filling in defaults: the
    Origin's from its scheme (http/ws 80, https/wss 443), the Host's from the scope's
    scheme (ws 80, wss 443). When neither header gives a port, both are the default port
    of their scheme and the hosts alone decide, so a TLS-terminating proxy (Origin
    ``https://...`` on a plain ``ws`` scope) is not refused.
    """
    origin = header(scope, b"origin")
    host = header(scope, b"host")
    if not origin or not host or origin.strip().lower() == "null":
        return False
    try:
        parts = urlsplit(origin.strip())
        origin_host = (parts.hostname or "").lower().removesuffix(".")
        origin_port = parts.port
    except ValueError:  # a malformed port
        return False
    if parts.scheme.lower() not in _DEFAULT_PORTS or not origin_host:
        return False
    host_name, host_port_text = split_domain_port(host.strip())
    if not host_name:
        return False
    if host_name.startswith("[") and host_name.endswith("]"):
        host_name = host_name[1:-1]  # urlsplit gives IPv6 hosts without brackets
    if origin_host != host_name:
        return False
    host_port = int(host_port_text) if host_port_text else None
    if origin_port is not None or host_port is not None:
        scope_scheme = str(scope.get("scheme") or "ws").lower()
        origin_port = origin_port or _DEFAULT_PORTS[parts.scheme.lower()]
        host_port = host_port or _DEFAULT_PORTS.get(scope_scheme, 80)
        if origin_port != host_port:
            return False
    hostname_for_check = split_domain_port(host.strip())[0]
    return host_is_allowed(hostname_for_check)


class SameHostOriginValidator:
    """ASGI middleware: accept a websocket only when its Origin is its own Host.

    Refused sockets (no Origin, another host or port, a host not in ``ALLOWED_HOSTS``) are
    accepted and closed at once with code 4403, without reaching the inner application
    and without a traceback. Other scope types pass through untouched.
    """

    close_code = CLOSE_FORBIDDEN_ORIGIN

    def __init__(self, inner: Callable[..., Awaitable[Any]]) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if scope.get("type") != "websocket" or same_host(scope):
            return await self.inner(scope, receive, send)
        return await accept_and_close(receive, send, self.close_code)
