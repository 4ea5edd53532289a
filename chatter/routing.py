"""Chatter's websocket routes: ``URLRouter(chatter.routing.websocket_urlpatterns)``.

The list ends with a catch-all: a websocket path no route knows (``/ws/chatter/zzz/``, a
room id in upper case, ``/ws/nothing/``) is accepted and closed with code 4404, where
channels' ``URLRouter`` alone fails the handshake with ``ValueError: No route found``,
which a browser sees as 1006 and the htmx websocket extension retries forever. A project
with websocket routes of its own lists them BEFORE Chatter's::

    URLRouter([*my_routes, *chatter.routing.websocket_urlpatterns])
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path, re_path

from chatter import consumers
from chatter.origin import Receive, Scope, Send, accept_and_close

#: Close code of a websocket whose path no route knows.
CLOSE_UNKNOWN_PATH = 4404


async def unknown_path(scope: Scope, receive: Receive, send: Send) -> Any:
    """ASGI app of the catch-all route: accept a websocket, then close it with 4404.

    Only websockets are answered; any other scope fails as channels' ``URLRouter`` fails
    for a path it does not know.
    """
    if scope.get("type") != "websocket":
        raise ValueError(f"No route found for path {scope.get('path')!r}.")
    await accept_and_close(receive, send, CLOSE_UNKNOWN_PATH)


# django-stubs' path() takes Django views only; channels routes ASGI applications with it.
websocket_urlpatterns: list[URLPattern] = [
    path("ws/chatter/", consumers.ChatConsumer.as_asgi()),  # type: ignore[arg-type]
    path("ws/chatter/<uuid:room_id>/", consumers.ChatConsumer.as_asgi()),  # type: ignore[arg-type]
    # Last: everything else. Projects list their own routes before these.
    re_path(r"", unknown_path, name="chatter-unknown-path"),
]
