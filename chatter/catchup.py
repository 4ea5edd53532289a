"""What a socket is sent: the hub's events, and catching a page up from the database.

:class:`CatchUp` is the half of :class:`chatter.consumers.ChatConsumer` that writes to the
page; the consumer itself (connect, the client's frames, limits) is the other half. The
rule it keeps is DESIGN's "the database is the truth, the channel layer only a doorbell":

* the fast path writes an event at once when it is the next message (or change) this
  socket lacks;
* anything else (a gap, a resume, a doorbell, a resync after the layer dropped events)
  goes through one queue per socket, worked in order by one task: what is missing is read
  from the database a page at a time, each message once, and past :data:`RESUME_LIMIT`
  the page is asked to reload instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from asgiref.sync import sync_to_async
from django.utils import translation

from chatter import conf, frames, groups, protocol, tenancy, timeline
from chatter.models import Message, Room
from chatter.protocol import FORBIDDEN, NOT_LOGGED_IN

if TYPE_CHECKING:
    from channels.consumer import _ChannelScope

    from chatter.live.hub import Hub
    from chatter.types import User

#: Most missed messages a socket is sent; past that the page is asked to reload.
RESUME_LIMIT = 1000
#: Seconds between two answers to a resume that asks for messages this socket was sent
#: already (legitimate only after a hole, e.g. a deleted message: chatter.js asks once).
RESEND_INTERVAL = 10.0

log = logging.getLogger("chatter.live")

T = TypeVar("T")
#: What a socket's slow path works through, in order: ("resume", frame), ("event", event),
#: ("change", event), ("upto", seq or None), ("resync", None), ("room", event).
Item = tuple[str, Any]


class CatchUp:
    """The writing half of a room page's socket (a mixin of ``ChatConsumer``)."""

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

    if TYPE_CHECKING:  # set or defined by the consumer
        user: User
        user_group: str
        schema_name: str
        language: str
        scope: _ChannelScope
        hub: Hub | None
        joined: list[str]
        buffer: list[str] | None
        inbox: deque[Item]
        worker: asyncio.Future[None] | None

        async def db(self, func: Callable[..., T], *args: Any) -> T: ...
        async def write(self, text: str) -> None: ...
        async def flush(self) -> None: ...
        async def close(self, code: int | None = None, reason: str | None = None) -> None: ...

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
            last_seq, last_change = await self.db(timeline.last_numbers, self.room)
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
        last, last_change = await self.db(timeline.last_numbers, self.room)
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
            upto = await self.db(timeline.last_seq, self.room)
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


def _both(event: dict[str, Any]) -> str:
    """The message and its room-list update as one frame, joined once per event."""
    both = event.get("both")
    if both is None:
        both = event["both"] = event["html"] + event["list"]
    return str(both)


async def _render(func: Callable[..., str], *args: Any) -> str:
    """Render a large frame on a worker thread: the event loop keeps serving sockets."""
    return str(await sync_to_async(func, thread_sensitive=False)(*args))


def _missed(room: Room, after: int, upto: int, limit: int) -> list[Message]:
    return timeline.messages_after(room, after, limit=limit, upto=upto)


def _changed(
    room: Room, after: int, upto: int, limit: int, since_seq: int, until_seq: int | None
) -> list[Message]:
    return timeline.changed_after(
        room, after, upto, limit=limit, since_seq=since_seq, until_seq=until_seq
    )
