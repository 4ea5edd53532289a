"""ASGI application of the bare broadcast server: ``ws/bare/<room>/`` and an HTTP "ok"."""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.bare.settings")

import django

django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from bench.bare.consumers import BroadcastConsumer  # noqa: E402


async def ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Any HTTP request: 200 "ok" (the harness's readiness check)."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


application = ProtocolTypeRouter(
    {
        "http": ok,
        "websocket": URLRouter([path("ws/bare/<str:room>/", BroadcastConsumer.as_asgi())]),
    }
)
