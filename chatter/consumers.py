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

from asgiref.sync import sync_to_async
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
    groups,
    language,
    limits,
    live,
    messages,
    protocol,
    rooms,
    socket_actions,
    tenancy,
)
from chatter.live.hub import Hub
from chatter.models import Message, Room
from chatter.types import User

if TYPE_CHECKING:
    from channels.consumer import _ChannelScope

log = logging.getLogger("chatter.live")

# Close codes the client understands (the ws extension retries only 1006/1011/1012/1013).
NO_TENANT = 4400
NOT_LOGGED_IN = 4401
FORBIDDEN = 4403
NOT_FOUND = 4404
TOO_MANY_SOCKETS = 4429

#: Most missed messages a socket is sent; past that the page is asked to reload.
RESUME_LIMIT = 1000
#: Seconds between two "is typing" frames of one socket.
TYPING_INTERVAL = 2.0
#: Seconds between two answers to a resume that asks for messages this socket was sent
#: already (legitimate only after a hole, e.g. a deleted message: chatter.js asks once).
RESEND_INTERVAL = 10.0
#: Frame kinds with a per-user (and per-socket) limit besides "send".
LIMITED = ("resume", "read", "typing", "ping")
#: Message actions: limited per user in chatter.messages, and per socket here first, so a
#: flooding socket is turned away before any database work.
ACTIONS = ("edit", "delete", "react")

T = TypeVar("T")
#: What a socket's slow path works through, in order: ("resume", after), ("event", event),
#: ("upto", seq or None), ("room", event).
Item = tuple[str, Any]


class ChatConsumer(AsyncWebsocketConsumer):
    """One socket of one user, on one room page (``room_id``) or on the room list (none)."""

    user: User  # set by connect() once the scope's user is known to be logged in
    room: Room | None = None
    room_group: str | None = None
    last_sent: int | None = None
    # The room's change number up to which this socket sent changes (None: not resumed).
    last_change: int | None = None
    # The oldest message the page shows: older changes are not sent to it.
    oldest = 0
    is_open = False
    stale = False
    # The last resume answered: (its "after", last_sent after answering it).
    answered: tuple[int, int] | None = None
    resent_at = -RESEND_INTERVAL

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

    # -- events from the hub --------------------------------------------------------------

    async def hub_events(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        """Several events the hub read together: handled in order, written as one frame.

        The page handles a frame of several messages as it handles a page of a resume.
        Anything the socket's worker writes meanwhile joins the frame, after them.
        """
        self.buffer = []
        try:
            for group, event in items:
                await self.hub_event(group, event)
        finally:
            await self.flush()

    async def hub_event(self, group: str, event: dict[str, Any]) -> None:
        """One event of a group this socket joined: write it now, or queue it in order."""
        if not self.is_open:
            return
        kind = event.get("type")
        if kind == "chatter.message":
            if group != self.room_group or self.stale:
                await self.write(event["list"])  # a room in this page's room list
            elif self.worker is None and self.last_sent is not None:
                if event["seq"] == self.last_sent + 1:
                    self.last_sent = event["seq"]
                    await self.write(_both(event))
                elif event["seq"] <= self.last_sent:
                    await self.write(event["list"])
                else:
                    self.enqueue(("event", event))
            elif self.worker is None:
                await self.write(event["list"])  # not resumed yet: the resume reads it
            else:
                self.enqueue(("event", event))
        elif kind == "chatter.change":
            if group != self.room_group or self.stale:
                await self.write(event["list"])
            elif self.worker is None and self.last_change is not None:
                if event["change"] <= self.last_change:
                    await self.write(event["list"])  # sent already, in this state or later
                elif event["change"] == self.last_change + 1 and (
                    self.last_sent is not None and event["seq"] <= self.last_sent
                ):
                    self.last_change = event["change"]
                    await self.write(_both(event))
                else:
                    self.enqueue(("change", event))
            elif self.worker is None:
                await self.write(event["list"])  # not resumed yet: the resume reads it
            else:
                self.enqueue(("change", event))
        elif kind == "chatter.frame":
            if event.get("skip") == str(self.user.pk):
                return
            if group == self.room_group or group == self.user_group:
                await self.write(event["html"])
        elif kind == "chatter.seen":
            if group == self.room_group:
                await self.write(event["html"] + event["list"])
            else:
                await self.write(event["list"])
        elif kind == "chatter.doorbell":
            if group == self.room_group:
                self.enqueue(("upto", event["seq"]))
        elif kind == "chatter.room":
            if str(self.user.pk) in event.get("members", ()):
                self.enqueue(("room", event))
        elif kind == "chatter.removed":
            await self.on_removed(event)
        elif kind == "chatter.logout":
            # The sockets of one session (a logout), or all of the user's (deactivated).
            session = self.scope.get("session")
            key = getattr(session, "session_key", None) if session is not None else None
            if not event["session"] or key == event["session"]:
                await self.close(code=NOT_LOGGED_IN)

    async def on_removed(self, event: dict[str, Any]) -> None:
        """This socket's user left a group or was removed from it: the room's events stop
        coming, room lists drop it, and a page of the room itself is closed with 4403
        (what came before, such as the system line of the removal, is written first)."""
        room_id = uuid.UUID(event["room"])
        group = tenancy.room_group(self.schema_name, room_id)
        if self.hub is not None and group in self.joined:
            self.joined.remove(group)
            self.hub.leave(self, [group])
        await self.write(event["html"])
        if self.room is None or self.room.pk != room_id:
            return
        batched = self.buffer is not None
        await self.flush()
        await self.close(code=FORBIDDEN)
        if batched:
            self.buffer = []  # the rest of the batch goes nowhere: the socket is closed

    def hub_resync(self) -> None:
        """The channel layer may have dropped events: read what was missed."""
        if self.room is not None and self.is_open:
            self.enqueue(("resync", None))

    # -- the slow path: in order, one item at a time ---------------------------------------

    def enqueue(self, item: Item) -> None:
        self.inbox.append(item)
        if self.worker is None:
            self.worker = asyncio.ensure_future(self._work())

    async def _work(self) -> None:
        # A worker may be started from the hub's task, which has no language of its own.
        try:
            with translation.override(self.language):
                await self._drain()
        finally:
            self.worker = None

    async def _drain(self) -> None:
        while self.inbox and self.is_open:
            item = self.inbox.popleft()
            try:
                await self._handle(item)
            except Exception:
                log.exception("Chatter: catching a socket up failed")

    async def _handle(self, item: Item) -> None:
        what = item[0]
        if what == "resume":
            await self._resume(item[1])
        elif what == "event":
            event = item[1]
            if self.last_sent is not None and event["seq"] > self.last_sent and not self.stale:
                if event["seq"] == self.last_sent + 1:
                    self.last_sent = event["seq"]
                    await self.write(_both(event))  # one frame, as on the fast path
                    return
                await self._fill(event["seq"])
            await self.write(event["list"])
        elif what == "change":
            event = item[1]
            if self.last_change is not None and event["change"] > self.last_change:
                if self.last_sent is not None and event["seq"] > self.last_sent:
                    await self._fill(None)  # the message itself is missing: read as it is now
                if event["change"] == self.last_change + 1 and not self.stale:
                    self.last_change = event["change"]
                    await self.write(_both(event))
                    return
                await self._fill_changes(event["change"])
            await self.write(event["list"])
        elif what == "upto":
            await self._fill(item[1])
        elif what == "resync" and self.room is not None:
            # Messages and changes, from one read of the room's two numbers.
            last_seq, last_change = await self.db(messages.last_numbers, self.room)
            await self._fill(last_seq)
            await self._fill_changes(last_change)
        elif what == "room":
            event = item[1]
            group = tenancy.room_group(self.schema_name, uuid.UUID(event["room"]))
            if self.hub is not None and group not in self.joined:
                self.joined.append(group)
                await self.hub.join(self, [group])
            await self.write(event["html"])

    async def _resume(self, frame: protocol.Resume) -> None:
        """Answer a resume: one page of what came after ``after``, and whether more wait.

        A resume asking for messages this socket was sent already (a page's hole, such as
        a deleted message) gets one page again, at most once per RESEND_INTERVAL, and moves
        nothing: alternating "after" values cannot make the server send a room's history
        over and over.

        The first resume of a socket also sends the messages the page shows (up to
        ``after``, from ``oldest``) that changed after the page's change number
        (``changes``), each once, in its current state; the messages after ``after`` come
        in their current state anyway.
        """
        assert self.room is not None
        after = frame.after
        page_size = conf.get("CHATTER_PAGE_SIZE")
        if self.last_sent is not None and after < self.last_sent:
            now = time.monotonic()
            if self.answered == (after, self.last_sent) or now - self.resent_at < RESEND_INTERVAL:
                return
            self.resent_at, self.answered = now, (after, self.last_sent)
            again = await self.db(_missed, self.room, after, self.last_sent, page_size)
            if again:
                await self.write(await self._messages_frame(again, None))
            return
        last, last_change = await self.db(messages.last_numbers, self.room)
        if self.last_change is None:
            await self._catch_up_changes(frame, last, last_change)
            if self.stale:
                return
        if last - after > RESUME_LIMIT:
            await self._go_stale()
            return
        self.stale = False
        self.last_sent = min(after, last)
        missed = await self.db(_missed, self.room, self.last_sent, last, page_size + 1)
        more = len(missed) > page_size
        missed = missed[:page_size]
        if missed:
            more_after = missed[-1].seq if more else None
            await self.write(await self._messages_frame(missed, more_after))
            self.last_sent = missed[-1].seq
        if not more:
            self.last_sent = last
        self.answered = (after, self.last_sent)

    async def _fill(self, upto: int | None) -> None:
        """Send from the database what this socket lacks, up to ``upto`` (or the newest)."""
        if self.room is None or self.last_sent is None or self.stale:
            return
        if upto is None:
            upto = await self.db(messages.last_seq, self.room)
        if upto <= self.last_sent:
            return
        if upto - self.last_sent > RESUME_LIMIT:
            await self._go_stale()
            return
        page_size = conf.get("CHATTER_PAGE_SIZE")
        while self.last_sent < upto and self.is_open:
            missed = await self.db(_missed, self.room, self.last_sent, upto, page_size)
            if not missed:
                break
            await self.write(await self._messages_frame(missed, None))
            self.last_sent = missed[-1].seq
        self.last_sent = max(self.last_sent, upto)

    async def _messages_frame(self, missed: list[Message], more_after: int | None) -> str:
        """Missed messages as one frame; with the room's header as it is now when a group
        change is among them (its live frame carried the header; this page missed it)."""
        html = await _render(frames.messages, missed, more_after)
        if self.room is not None and any(groups.is_group_line(m) for m in missed):
            room, members, active = await self.db(groups.header, self.room.pk)
            html += await _render(frames.group_header, room, members, active)
        return html

    async def _catch_up_changes(
        self, frame: protocol.Resume, last_seq: int, last_change: int
    ) -> None:
        """The changes a resuming page missed, to the messages it has: ``frame.changes``."""
        if frame.changes is None or frame.changes >= last_change:
            self.last_change = last_change  # nothing missed, or a page that cannot say
            return
        self.last_change = frame.changes
        await self._fill_changes(last_change, until_seq=min(frame.after, last_seq))

    async def _fill_changes(self, upto: int, until_seq: int | None = None) -> None:
        """Send the messages changed after ``last_change`` up to change ``upto``, by page.

        Each message once, in its current state (it carries only its latest change). More
        than RESUME_LIMIT changed messages: the page is asked to reload.
        """
        if self.room is None or self.last_change is None or upto <= self.last_change:
            return
        page_size = conf.get("CHATTER_PAGE_SIZE")
        until = self.last_sent if until_seq is None else until_seq
        sent, told = 0, None
        while self.last_change < upto and self.is_open:
            changed = await self.db(
                _changed, self.room, self.last_change, upto, page_size, self.oldest, until
            )
            if not changed:
                break
            sent += len(changed)
            if sent > RESUME_LIMIT:
                await self._go_stale()
                return
            page_upto = upto if len(changed) < page_size else changed[-1].change
            await self.write(await _render(frames.changed, changed, page_upto))
            self.last_change = told = page_upto
        self.last_change = max(self.last_change, upto)
        if told != upto:
            await self.write(frames.changed([], upto))  # the page's change number moves on

    async def _go_stale(self) -> None:
        """Too much was missed to send: ask the page to reload, send no more messages."""
        self.stale = True
        await self.write(frames.too_far_behind())


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


def _both(event: dict[str, Any]) -> str:
    """The message and its room-list update as one frame, joined once per event."""
    both = event.get("both")
    if both is None:
        both = event["both"] = event["html"] + event["list"]
    return str(both)


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


async def _render(func: Callable[..., str], *args: Any) -> str:
    """Render a large frame on a worker thread: the event loop keeps serving sockets."""
    return str(await sync_to_async(func, thread_sensitive=False)(*args))


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


def _missed(room: Room, after: int, upto: int, limit: int) -> list[Message]:
    return messages.messages_after(room, after, limit=limit, upto=upto)


def _changed(
    room: Room, after: int, upto: int, limit: int, since_seq: int, until_seq: int | None
) -> list[Message]:
    return messages.changed_after(
        room, after, upto, limit=limit, since_seq=since_seq, until_seq=until_seq
    )
