"""The websocket side of a room page (and of the room list): thin, all work in rooms.py."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils.translation import gettext as _

from chatter import conf, frames, live, rooms, tenancy
from chatter.models import Room

# Close codes the client understands (the ws extension retries only 1006/1011/1012/1013).
NO_TENANT = 4400
NOT_LOGGED_IN = 4401
FORBIDDEN = 4403
NOT_FOUND = 4404

# Most missed messages a resume sends; past that the client is asked to reload.
RESUME_LIMIT = 1000
TYPING_INTERVAL = 2.0


class ChatConsumer(AsyncWebsocketConsumer):
    """One socket of one user, on one room page (``room_id``) or on the room list (none)."""

    room: Room | None = None
    last_sent: int | None = None

    # -- plumbing -------------------------------------------------------------------------

    @property
    def schema_name(self) -> str:
        return self.scope.get("schema_name") or ""

    async def db(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``func`` on the database thread, wholly inside this socket's tenant."""
        schema_name = self.schema_name

        def run() -> Any:
            with tenancy.schema(schema_name):
                return func(*args, **kwargs)

        return await database_sync_to_async(run)()

    async def refuse(self, code: int) -> None:
        """Accept, then close with a 4xxx code, so the browser does not retry forever."""
        await self.accept()
        await self.close(code=code)

    # -- lifecycle ------------------------------------------------------------------------

    async def connect(self) -> None:
        """Check login and membership, then join the room's and the user's groups."""
        self.user = self.scope.get("user")
        self.groups = []
        self.typing_at = 0.0
        self.last_resume: tuple[int, float] = (-1, 0.0)
        if not tenancy.scope_is_served(self.scope):
            await self.refuse(NO_TENANT)
            return
        if self.user is None or not self.user.is_authenticated:
            await self.refuse(NOT_LOGGED_IN)
            return
        room_id = self.scope["url_route"]["kwargs"].get("room_id")
        if room_id is not None:
            status, room = await self.db(_load_room, room_id, self.user)
            if room is None:
                await self.refuse(status)
                return
            self.room = room
            self.groups.append(tenancy.room_group(self.schema_name, room.pk))
        self.groups.append(tenancy.user_group(self.schema_name, self.user.pk))
        for group in self.groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        if self.room is not None:
            await live.publish(await self.db(_arrive, self.room, self.user, self.schema_name))

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        if self.room is not None:
            await live.publish(await self.db(_depart, self.room, self.user, self.schema_name))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Dispatch one client frame: a send (has ``text``), ``resume``, ``read`` or ``typing``."""
        if text_data is None or len(text_data.encode()) > conf.get("CHATTER_MAX_FRAME_BYTES"):
            await self.send(frames.composer_error(_("This message is too large to send.")))
            return
        try:
            data = json.loads(text_data)
        except ValueError:
            data = None
        if not isinstance(data, dict) or self.room is None:
            return
        kind = data.get("type") or ("send" if "text" in data else "")
        handler = {
            "send": self.on_send,
            "resume": self.on_resume,
            "read": self.on_read,
            "typing": self.on_typing,
            "ping": self.on_ping,
        }.get(kind)
        if handler is not None:
            await handler(data)

    # -- client actions -------------------------------------------------------------------

    async def on_send(self, data: dict[str, Any]) -> None:
        """Store the message once and announce it; a refusal is shown under the composer."""
        client_id = str(data.get("client_id") or "")[:64]
        try:
            message, created, events = await self.db(
                _send, self.room, self.user, data.get("text"), client_id, self.schema_name
            )
        except rooms.MessageRefused as exc:
            await self.send(frames.composer_error(str(exc), client_id))
            return
        await self.send(frames.sent(client_id))
        if not created:
            await self.deliver_upto(message.seq)
            return
        # The message first (what the room's readers wait for), then the room lists.
        await live.publish(events)
        await live.publish(await self.db(live.room_list_events, self.room, self.schema_name))

    async def on_resume(self, data: dict[str, Any]) -> None:
        """Send what came after the client's last sequence, in order."""
        try:
            after = max(int(data.get("after") or 0), 0)
        except (TypeError, ValueError):
            return
        now = time.monotonic()
        if after == self.last_resume[0] and now - self.last_resume[1] < 2:
            return  # the same question again at once: its answer is on its way
        self.last_resume = (after, now)
        self.last_sent = min(after, await self.db(rooms.last_seq, self.room))
        await self.deliver_upto(None)

    async def on_read(self, data: dict[str, Any]) -> None:
        """Mark the room read; the room's "Seen by" and the user's other tabs follow."""
        try:
            seq = int(data["seq"]) if data.get("seq") is not None else None
        except (TypeError, ValueError):
            return
        events = await self.db(_read, self.room, self.user, seq, self.schema_name)
        await live.publish(events)

    async def on_ping(self, data: dict[str, Any]) -> None:
        """The page is still open: keep its user active in the room."""
        await live.publish(await self.db(_arrive, self.room, self.user, self.schema_name))

    async def on_typing(self, data: dict[str, Any]) -> None:
        """Tell the other members, at most once every two seconds per socket."""
        now = time.monotonic()
        if now - self.typing_at < TYPING_INTERVAL:
            return
        self.typing_at = now
        await self.channel_layer.group_send(
            self.groups[0],
            {"type": "chatter.frame", "html": frames.typing(self.user), "skip": self.user.pk},
        )

    # -- delivery -------------------------------------------------------------------------

    async def deliver_upto(self, seq: int | None) -> None:
        """Send from the database what this socket has not yet got, up to ``seq`` (or all)."""
        if self.last_sent is None:
            return
        missed = await self.db(_missed, self.room, self.last_sent, seq)
        if missed is None:
            await self.send(frames.too_far_behind())
            return
        if missed:
            await self.send(frames.messages(missed))
            self.last_sent = missed[-1].seq

    # -- channel-layer events ---------------------------------------------------------------

    async def chatter_message(self, event: dict[str, Any]) -> None:
        """A new message in the room: send its frame, or first what was missed before it."""
        seq = event["seq"]
        if self.last_sent is None or seq <= self.last_sent:
            return  # not resumed yet (the resume will read it), or already sent
        if seq == self.last_sent + 1:
            await self.send(event["html"])
            self.last_sent = seq
        else:
            await self.deliver_upto(seq)

    async def chatter_frame(self, event: dict[str, Any]) -> None:
        """A ready frame (room list, typing, seen by)."""
        if event.get("skip") is not None and event["skip"] == self.user.pk:
            return
        await self.send(event["html"])

    async def chatter_logout(self, event: dict[str, Any]) -> None:
        """The session this socket was opened with logged out: close it."""
        session = self.scope.get("session")
        if session is not None and getattr(session, "session_key", None) == event["session"]:
            await self.close(code=NOT_LOGGED_IN)


# -- database work, each run wholly inside the socket's tenant ----------------------------


def _load_room(room_id: Any, user: Any) -> tuple[int, Room | None]:
    try:
        return 0, rooms.room_for_member(room_id, user)
    except Room.DoesNotExist:
        return (FORBIDDEN if rooms.room_exists(room_id) else NOT_FOUND), None


def _send(
    room: Room, user: Any, text: Any, client_id: str, schema_name: str
) -> tuple[Any, bool, list[live.Event]]:
    message, created = rooms.send_message(room, user, text, client_id)
    events = [live.message_event(message, schema_name)] if created else []
    return message, created, events


def _arrive(room: Room, user: Any, schema_name: str) -> list[live.Event]:
    return live.presence_events(room, schema_name) if rooms.touch(room, user) else []


def _depart(room: Room, user: Any, schema_name: str) -> list[live.Event]:
    rooms.leave(room, user)
    return live.presence_events(room, schema_name)


def _read(room: Room, user: Any, seq: int | None, schema_name: str) -> list[live.Event]:
    if rooms.mark_read(room, user, seq) is None:
        return []
    return live.read_events(room, user, schema_name)


def _missed(room: Room, after: int, upto: int | None) -> list[Any] | None:
    missed = rooms.messages_after(room, after, limit=RESUME_LIMIT + 1, upto=upto)
    return None if len(missed) > RESUME_LIMIT else missed
