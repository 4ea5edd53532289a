"""The websocket side of a room page (and of the room list): thin, all work elsewhere.

Frames are read by :mod:`chatter.protocol`, database work runs in :mod:`chatter.rooms`
through :func:`chatter.tenancy.in_schema`, what to announce is decided in
:mod:`chatter.live`, and events reach this socket through the process's hub
(:mod:`chatter.live.hub`): a socket has no channel of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch
from django.utils import translation

from chatter import (
    conf,
    frames,
    language,
    limits,
    live,
    messages,
    protocol,
    rooms,
    socket_actions,
    tenancy,
)
from chatter.catchup import CatchUp, Item
from chatter.live.hub import Hub
from chatter.models import Message, Room
from chatter.protocol import (
    FORBIDDEN,
    NO_TENANT,
    NOT_FOUND,
    NOT_LOGGED_IN,
    TOO_MANY_SOCKETS,
)
from chatter.types import User

if TYPE_CHECKING:
    from channels.consumer import _ChannelScope

log = logging.getLogger("chatter.live")

#: Seconds between two "is typing" frames of one socket.
TYPING_INTERVAL = 2.0
#: Frame kinds with a per-user (and per-socket) limit besides "send".
LIMITED = ("resume", "read", "typing", "ping")
#: Message actions: limited per user in chatter.messages, and per socket here first, so a
#: flooding socket is turned away before any database work.
ACTIONS = ("edit", "delete", "react")

T = TypeVar("T")


class ChatConsumer(CatchUp, AsyncWebsocketConsumer):
    """One socket of one user, on one room page (``room_id``) or on the room list (none).

    This class reads: the handshake's checks and the client's frames. What the socket
    writes to the page (the hub's events, resumes, catching up) is :class:`CatchUp`.
    """

    user: User  # set by connect() once the scope's user is known to be logged in

    # -- plumbing -------------------------------------------------------------------------

    async def __call__(
        self, scope: _ChannelScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        """As channels' ``AsyncConsumer``, but without a channel of its own.

        Events come from the process's hub, which reads one channel for every socket of
        the process; a channel per socket would cost a channel-layer copy and a dispatch
        per recipient.
        """
        self.scope = scope
        # types-channels declares channel_layer without None: channels sets None when no
        # layer is configured, and connect() checks for it.
        self.channel_layer = get_channel_layer(self.channel_layer_alias)  # type: ignore[assignment]
        self.base_send = send
        self.frame_send = _frame_send(send)
        self.buffer: list[str] | None = None
        # The socket's own answers speak its page's language (shared frames have no words).
        self.language = language.of_scope(scope)
        with translation.override(self.language), contextlib.suppress(StopConsumer):
            # types-channels types the receive callables as returning a receive callable;
            # they return the event, which is what channels passes to dispatch.
            await await_many_dispatch([receive], self.dispatch)  # type: ignore[list-item]

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Call the handler of a websocket message (connections are checked in in_schema)."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def db(self, func: Callable[..., T], *args: Any) -> T:
        """Run ``func`` on the database thread, wholly inside this socket's tenant."""
        return await tenancy.in_schema(self.schema_name, func, *args)

    async def write(self, text: str) -> None:
        """Send a text frame straight to the websocket; nothing if it has gone.

        A socket can close while its answer is on the way (the server says so by raising,
        e.g. Daphne's ``Disconnected``): the socket is done, the work it asked for is not
        undone (a stored message stays stored; the page gets it when it reconnects).

        While the hub hands this socket several events at once (:meth:`hub_events`), the
        texts are gathered and written as one frame at the end.
        """
        if self.buffer is not None:
            self.buffer.append(text)
            return
        try:
            # asgiref.typing requires "bytes" too; the ASGI spec makes it optional (as
            # channels' own send() leaves it out).
            await self.frame_send({"type": "websocket.send", "text": text})  # type: ignore[arg-type]
        except Exception as exc:  # disconnect() follows and cleans up
            log.debug("Chatter: a frame for a closed socket was dropped (%r).", exc)

    async def flush(self) -> None:
        """Write what :meth:`hub_events` gathered, as one frame."""
        buffer, self.buffer = self.buffer, None
        if buffer:
            await self.write("".join(buffer))

    async def refuse(self, code: int) -> None:
        """Accept, then close with a 4xxx code, so the browser does not retry forever."""
        await self.accept()
        await self.close(code=code)

    # -- lifecycle ------------------------------------------------------------------------

    async def connect(self) -> None:
        """Check tenant, login, the socket cap and membership; then join the hub."""
        user = self.scope.get("user")
        self.schema_name = tenancy.scope_schema(self.scope)
        self.socket_id = uuid.uuid4().hex
        self.registered = False
        self.joined: list[str] = []
        self.hub: Hub | None = None
        self.inbox: deque[Item] = deque()
        self.worker: asyncio.Future[None] | None = None
        self.typing_at = 0.0
        self.told: dict[str, float] = {}
        self.windows = {
            kind: limits.Window(limits.frame_limit(kind))
            for kind in LIMITED + ACTIONS + socket_actions.LIMITED
        }
        if not tenancy.scope_is_served(self.scope):
            await self.refuse(NO_TENANT)
            return
        if user is None or not user.is_authenticated:
            await self.refuse(NOT_LOGGED_IN)
            return
        # The project's user (channels' AuthMiddleware gives a lazy proxy of it).
        self.user = cast(User, user)
        try:
            allowed = await limits.open_socket(self.user.pk, self.schema_name, self.socket_id)
        except Exception as exc:
            log.warning("Chatter: the socket limit could not be checked (%r).", exc)
            await self.retry_later()
            return
        if not allowed:
            await self.refuse(TOO_MANY_SOCKETS)
            return
        self.registered = True
        room_id = self.scope["url_route"]["kwargs"].get("room_id")
        try:
            status, room, room_ids = await self.db(_open, room_id, self.user)
        except Exception as exc:  # the database is down: not the client's fault
            log.warning("Chatter: a socket could not be opened (%r).", exc)
            await self.retry_later()
            return
        if room_id is not None and room is None:
            await self.refuse(status)
            return
        self.room = room
        user_group = tenancy.user_group(self.schema_name, self.user.pk)
        self.user_group = user_group
        groups = [user_group, tenancy.rooms_group(self.schema_name)]
        groups += [tenancy.room_group(self.schema_name, rid) for rid in room_ids]
        if room is not None:
            self.room_group = tenancy.room_group(self.schema_name, room.pk)
        if self.channel_layer is not None:
            # Joined before the handshake completes, so a layer that is down refuses the
            # handshake (events that come meanwhile are ignored: is_open is still False).
            self.hub = live.hub_for(self.channel_layer)
            self.joined = groups
            try:
                await self.hub.join(self, groups)
            except Exception as exc:
                log.warning("Chatter: joining the channel layer failed (%r).", exc)
                await self.retry_later()
                return
        await self.accept()
        self.is_open = True
        if room is not None:
            # Active in the room from now: written with the pings of this second (one
            # statement for every socket that opened meanwhile), announced if it is news.
            live.still_here(self.schema_name, room, self.user.pk)

    async def retry_later(self) -> None:
        """Refuse the handshake itself: the browser sees 1006 and retries with backoff.

        For trouble of the server's (Redis or the database down), not of the client's.
        Close code 1013 would say so after an ``accept()``, but Daphne (autobahn) can only
        send 1000 or 3000-4999.
        """
        if self.hub is not None:
            self.hub.leave(self, self.joined)
            self.hub = None
        if self.registered:
            self.registered = False
            with contextlib.suppress(Exception):
                await limits.close_socket(self.user.pk, self.schema_name, self.socket_id)
        await self.close()

    async def disconnect(self, code: int) -> None:
        """Leave the hub, free the socket's place, and tell the room if the user left."""
        was_open, self.is_open = self.is_open, False
        if self.worker is not None:
            self.worker.cancel()
        hub = getattr(self, "hub", None)
        if hub is not None:
            hub.leave(self, self.joined)
        if getattr(self, "registered", False):
            with contextlib.suppress(Exception):
                await limits.close_socket(self.user.pk, self.schema_name, self.socket_id)
        if self.room is None or not was_open:
            return
        # Another socket of the same user on this room's page in this process: still here.
        group = self.room_group
        if hub is not None and group and any(_same_page(o, self) for o in hub.local(group)):
            return
        live.gone(self.schema_name, self.room, self.user.pk)
        with contextlib.suppress(Exception):
            await self.db(rooms.leave, self.room, self.user)
            live.presence_changed(self.schema_name, self.room, self.user.pk)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Read one client frame strictly and hand it to its handler; nothing raises."""
        frame = protocol.parse(text_data, bytes_data, conf.get("CHATTER_MAX_FRAME_BYTES"))
        if frame is None or self.room is None or not self.is_open:
            return
        try:
            if isinstance(frame, protocol.Invalid):
                await self.write(frames.composer_error(frame.message, frame.client_id))
            elif isinstance(frame, protocol.Send):
                await self.on_send(frame)
            elif isinstance(frame, protocol.Resume):
                await self.on_resume(frame)
            elif isinstance(frame, protocol.Read):
                await self.on_read(frame)
            elif isinstance(frame, protocol.Typing):
                await self.on_typing()
            elif isinstance(frame, protocol.Ping):
                await self.on_ping()
            elif isinstance(frame, protocol.Edit):
                await self.on_action("edit", messages.edit_message, frame.seq, frame.text)
            elif isinstance(frame, protocol.Delete):
                await self.on_action("delete", messages.delete_message, frame.seq)
            elif isinstance(frame, protocol.React):
                await self.on_action("react", messages.toggle_reaction, frame.seq, frame.emoji)
            elif isinstance(frame, protocol.ROOM_ACTIONS):
                await self.on_room_action(frame)
        except Exception:
            # The database or Redis failed under this frame: log it, keep the socket.
            log.exception("Chatter: a %s frame failed", type(frame).__name__)

    # -- limits ---------------------------------------------------------------------------

    async def allowed(self, kind: str) -> bool:
        """Whether one more ``kind`` frame is within the socket's and the user's limits.

        A client over a limit of "resume" or "read" is told (once per window) when to
        ask again; other frames are dropped quietly.
        """
        window = self.windows[kind]
        if window.hit():
            try:
                if await limits.ahit(kind, self.user.pk, self.schema_name):
                    return True
            except Exception as exc:  # the shared counter is down: the socket's limit holds
                log.warning("Chatter: a rate limit could not be checked (%r).", exc)
                return True
        now = time.monotonic()
        if kind in ("resume", "read") and now - self.told.get(kind, -1e9) >= window.limit.seconds:
            self.told[kind] = now
            await self.write(frames.retry(kind, window.retry_after() or window.limit.seconds))
        return False

    # -- client actions -------------------------------------------------------------------

    async def on_send(self, frame: protocol.Send) -> None:
        """Store the message once and announce it; a refusal is shown under the composer."""
        # A server-made id still makes the send idempotent if the database call is retried.
        client_id = frame.client_id or str(uuid.uuid4())
        try:
            message, _created, event = await self.db(
                _send,
                self.room,
                self.user,
                frame.text,
                client_id,
                frame.reply_to,
                self.schema_name,
            )
        except messages.MessageRefused as exc:
            await self.write(frames.composer_error(str(exc), frame.client_id))
            return
        await self.write(frames.sent(frame.client_id))
        if event is not None:  # stored now
            await live.publish([event])
        else:
            self.enqueue(("upto", message.seq))  # a resend: this socket may lack it

    async def on_action(
        self, kind: str, action: Callable[..., tuple[Message, bool]], *args: Any
    ) -> None:
        """Edit, delete or react (``action`` of :mod:`chatter.messages`), then announce it.

        A refusal, or a frame over this socket's own window of ``kind``, is shown under the
        composer; nothing changed.
        """
        if not self.windows[kind].hit():
            await self.write(frames.composer_error(str(socket_actions.TOO_OFTEN)))
            return
        try:
            event = await self.db(_act, action, self.room, self.user, args, self.schema_name)
        except messages.MessageRefused as exc:
            await self.write(frames.composer_error(str(exc)))
            return
        if event is not None:
            await live.publish([event])

    async def on_room_action(self, frame: Any) -> None:
        """A group change or a report (:mod:`chatter.socket_actions`), then its events.

        A refusal, or a frame over this socket's own window, is shown under the composer;
        a success clears it (a report says it was sent).
        """
        if not self.windows[socket_actions.kind(frame)].hit():
            await self.write(frames.composer_error(str(socket_actions.TOO_OFTEN)))
            return
        try:
            events, notice = await self.db(
                socket_actions.apply, frame, self.room, self.user, self.schema_name
            )
        except messages.MessageRefused as exc:
            await self.write(frames.composer_error(str(exc)))
            return
        await self.write(frames.notice(notice) if notice else frames.sent(""))
        await live.publish(events)

    async def on_resume(self, frame: protocol.Resume) -> None:
        """Send what came after the client's last sequence (a page at a time), and the
        changes to the messages it shows."""
        if await self.allowed("resume"):
            self.oldest = frame.oldest
            self.enqueue(("resume", frame))

    async def on_read(self, frame: protocol.Read) -> None:
        """Mark the room read (batched per room); "Seen by" and room lists follow, paced."""
        if await self.allowed("read") and self.room is not None:
            live.read(self.schema_name, self.room, self.user.pk, frame.seq)

    async def on_ping(self) -> None:
        """The page is still open: keep its user active in the room and its socket counted."""
        if not await self.allowed("ping") or self.room is None:
            return
        live.still_here(self.schema_name, self.room, self.user.pk)
        with contextlib.suppress(Exception):
            await limits.refresh_socket(self.user.pk, self.schema_name, self.socket_id)

    async def on_typing(self) -> None:
        """Tell the other members, at most once every two seconds per socket."""
        now = time.monotonic()
        if now - self.typing_at < TYPING_INTERVAL or not await self.allowed("typing"):
            return
        self.typing_at = now
        assert self.room is not None
        await live.publish([live.typing_event(self.room.pk, self.user, self.schema_name)])


def _frame_send(send: ASGISendCallable) -> ASGISendCallable:
    """The send to use for ``websocket.send``: ``send`` without channels' session wrappers.

    ``SessionMiddleware`` wraps ``send`` to save the session and set its cookie on
    ``http.response.start``; for every other message it only reads the session's state
    and passes the message on, a cost paid per frame of a fan-out. Frames skip it; accept
    and close keep the full chain.
    """
    from channels.sessions import InstanceSessionWrapper

    while isinstance(getattr(send, "__self__", None), InstanceSessionWrapper):
        real = getattr(send.__self__, "real_send", None)  # type: ignore[attr-defined]
        if real is None:
            break
        send = real
    return send


def _same_page(other: object, me: ChatConsumer) -> bool:
    return (
        isinstance(other, ChatConsumer)
        and other is not me
        and other.is_open
        and other.room is not None
        and me.room is not None
        and other.room.pk == me.room.pk
        and other.user.pk == me.user.pk
    )


# -- database work, each run wholly inside the socket's tenant ----------------------------


def _open(room_id: Any, user: Any) -> tuple[int, Room | None, list[Any]]:
    """The room (if a member) and the ids of the user's rooms."""
    room = None
    if room_id is not None:
        try:
            room = rooms.room_for_member(room_id, user)
        except Room.DoesNotExist:
            return (FORBIDDEN if rooms.room_exists(room_id) else NOT_FOUND), None, []
    return 0, room, rooms.room_ids_for(user)


def _send(
    room: Room,
    user: User,
    text: str,
    client_id: str,
    reply_to: int | None,
    schema_name: str,
) -> tuple[Message, bool, live.Event | None]:
    """Store a message: it, whether this call stored it, and then its event."""
    message, created = messages.send_message(room, user, text, client_id, reply_to)
    return message, created, live.message_event(message, schema_name) if created else None


def _act(
    action: Callable[..., tuple[Message, bool]],
    room: Room,
    user: User,
    args: tuple[Any, ...],
    schema_name: str,
) -> live.Event | None:
    """Apply a message action; the event that announces it, if it changed anything."""
    message, changed = action(room, user, *args)
    return live.change_event(message, schema_name) if changed else None
