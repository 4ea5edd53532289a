"""The bare broadcast consumer: group_add on connect, group_send on receive."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer


class BroadcastConsumer(AsyncWebsocketConsumer):
    """Every text frame a socket sends goes to every socket of its room, itself included."""

    group = ""

    async def connect(self) -> None:
        self.group = "bench." + self.scope["url_route"]["kwargs"]["room"]
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None:
            await self.channel_layer.group_send(
                self.group, {"type": "bench.message", "text": text_data}
            )

    async def bench_message(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])
