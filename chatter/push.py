"""Web Push: the subscriptions of users' browsers, who gets a push, and sending it.

The one module that reads and writes :class:`~chatter.models.PushSubscription`.

When: a message that mentions someone, or any message of a room of two (a direct
message), once its transaction committed. Who: the mentioned members (in a room of two:
the other member), never the sender, not in a room they muted, not if they block the
sender, and only while they have no chat page open: none of their memberships was seen
within ``CHATTER_PRESENCE_TIMEOUT`` (an open page in *any* room counts: its room list
shows the new message). What: the room's title, the sender's name, a short plain-text
preview and the URL of the room at the message, encrypted for each browser (RFC 8291)
and signed with the site's VAPID key (RFC 8292).

Sending never blocks a send: :func:`after_send` only registers, on commit, a hand-over
of a small job (schema, room, sequence) to ``CHATTER_PUSH["BACKEND"]``; the default,
:func:`thread_backend`, runs :func:`deliver` on a small pool of threads with a bounded
queue (a full queue drops the push and logs it). A project can hand jobs to a task queue
instead (docs/push.rst). With push off a send costs no statement more; with it on, the
send itself costs none either, and :func:`deliver` costs at most six whatever the room's
size or the number of subscriptions.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import timedelta
from functools import cache, partial
from typing import Any

from django.contrib.auth import get_user_model
from django.db import close_old_connections, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.text import Truncator

from chatter import conf, mention_text, mentions, push_input, tenancy
from chatter.models import Block, Membership, Message, PushSubscription, Room
from chatter.types import User

log = logging.getLogger("chatter.push")

#: Most subscriptions (browsers) one user keeps; a new one replaces the oldest.
MAX_PER_USER = 20
#: Longest preview of a message in a push, and longest title, in characters.
PREVIEW_CHARS = 140
TITLE_CHARS = 80


def subscribe(user: User, sub: push_input.Subscription, user_agent: str = "") -> PushSubscription:
    """Record ``sub`` for ``user`` (replacing the endpoint's row, whoever had it), keeping
    the user's newest :data:`MAX_PER_USER`."""
    fields = {"user": user, "p256dh": sub.p256dh, "auth": sub.auth, "user_agent": user_agent[:200]}
    with transaction.atomic():
        # update_or_create takes the row that a concurrent request inserted meanwhile.
        row, _created = PushSubscription.objects.update_or_create(
            endpoint=sub.endpoint, defaults=fields
        )
        keep = PushSubscription.objects.filter(user_id=user.pk).order_by("-created_at", "-pk")
        old = list(keep.values_list("pk", flat=True)[MAX_PER_USER:])
        if old:
            PushSubscription.objects.filter(pk__in=old).delete()
    return row


def unsubscribe(user: User, endpoint: str) -> bool:
    """Forget ``user``'s subscription at ``endpoint``; True if there was one."""
    deleted, _rows = PushSubscription.objects.filter(user_id=user.pk, endpoint=endpoint).delete()
    return bool(deleted)


# -- when: after a send commits -----------------------------------------------------------


def after_send(message: Message, mentioned: Mapping[str, Any]) -> None:
    """Called in a send's transaction: push once it commits, if it may concern anyone.

    No statement: a room of two is told by its fields (no name, a key of a member set),
    and :func:`deliver` checks that it still has two members.
    """
    if not push_input.enabled():
        return
    from chatter.groups import KEY_PREFIX

    room = message.room
    direct = not room.name and not room.members_key.startswith(KEY_PREFIX)
    if not mentioned and not direct:
        return
    job = {"schema": tenancy.current_schema(), "room": str(room.pk), "seq": message.seq}
    transaction.on_commit(partial(_hand_over, job))


def _hand_over(job: dict[str, Any]) -> None:
    """Give ``job`` to the backend; a failure is logged, never raised into the send."""
    try:
        backend: Callable[[dict[str, Any]], Any] = import_string(push_input.options()["BACKEND"])
        backend(job)
    except Exception:
        log.exception("Push backend failed: the push of message %s is lost", job)


class _Queue:
    """A small pool of threads with a bounded number of waiting jobs."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pool: ThreadPoolExecutor | None = None
        self.pending: set[Future[int]] = set()

    def submit(self, job: dict[str, Any]) -> bool:
        with self.lock:
            if len(self.pending) >= int(
                push_input.options().get("QUEUE_SIZE", push_input.OPTIONS["QUEUE_SIZE"])
            ):
                log.warning("Push queue full: dropped the push of message %s", job)
                return False
            if self.pool is None:
                self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="chatter-push")
            future = self.pool.submit(_run, job)
            self.pending.add(future)
        future.add_done_callback(self._done)
        return True

    def _done(self, future: Future[int]) -> None:
        with self.lock:
            self.pending.discard(future)

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the jobs waiting now; True if all ended."""
        with self.lock:
            pending = set(self.pending)
        return not wait(pending, timeout=timeout).not_done


queue = _Queue()


def thread_backend(job: dict[str, Any]) -> None:
    """The default ``BACKEND``: :func:`deliver` on a thread of this process."""
    queue.submit(job)


def _run(job: dict[str, Any]) -> int:
    close_old_connections()
    try:
        return deliver(job)
    except Exception:
        log.exception("Push of message %s failed", job)
        return 0
    finally:
        close_old_connections()


# -- who and what: the job ----------------------------------------------------------------


def deliver(job: Mapping[str, Any]) -> int:
    """Send the pushes of one message (a job of :func:`after_send`); the number sent.

    What a task queue's worker calls. At most six statements: the message, the
    subscriptions of the users to push, the names it mentions, the room's members (for a
    room without a name), and the writes of the results.
    """
    with tenancy.schema(job.get("schema") or None):
        message = (
            Message.objects.select_related("room", "sender")
            .filter(room_id=job["room"], seq=job["seq"])
            .first()
        )
        if message is None or message.is_deleted or message.sender is None:
            return 0
        targets = list(_subscriptions(message.room, message))
        if not targets:
            return 0
        mentions.attach([message], replies=False)
        members = [] if message.room.name else _members(message.room)
        return _send_all(message, targets, members)


def _subscriptions(room: Room, message: Message) -> QuerySet[PushSubscription]:
    """Subscriptions of the members to push about ``message``: one query."""
    sender_id: Any = message.sender_id  # not None: deliver() checked
    cutoff = timezone.now() - timedelta(seconds=conf.get("CHATTER_PRESENCE_TIMEOUT"))
    two = Room.objects.filter(pk=room.pk).annotate(n=Count("memberships")).filter(n=2)
    who = Exists(message.mentions.filter(user_id=OuterRef("user_id"))) | Q(
        room_id__in=two.values("pk")
    )
    users = (
        Membership.objects.filter(room_id=room.pk, muted=False, user__is_active=True)
        .filter(who)
        .exclude(user_id=sender_id)
        .exclude(Exists(Block.objects.filter(blocker_id=OuterRef("user_id"), blocked_id=sender_id)))
        .exclude(
            Exists(Membership.objects.filter(user_id=OuterRef("user_id"), last_seen_at__gte=cutoff))
        )
        .values("user_id")
    )
    return PushSubscription.objects.filter(user_id__in=users).select_related("user").order_by("pk")


def _members(room: Room) -> list[User]:
    return list(get_user_model()._default_manager.filter(chatter_memberships__room=room))


def payload(message: Message, user: User, members: list[User]) -> dict[str, str]:
    """What the service worker of ``user``'s browser shows (well under 4 KB)."""
    from chatter.rooms import display_name, room_title

    room = message.room
    sender = display_name(message.sender)
    others = [m for m in members if m.pk != user.pk]
    title = room_title(room, others)
    text = " ".join(mention_text.plain(message.text, message.mentioned).split())
    preview = Truncator(text).chars(PREVIEW_CHARS)
    url = reverse("chatter:chatroom", args=[room.pk])
    return {
        "title": Truncator(title).chars(TITLE_CHARS),
        "body": preview if len(others) < 2 and not room.name else f"{sender}: {preview}",
        "sender": Truncator(sender).chars(TITLE_CHARS),
        "url": f"{url}?around={message.seq}#chatter-msg-{message.seq}",
        "tag": f"chatter-{room.pk}",
    }


@cache
def _vapid(private_key: str) -> Any:
    from py_vapid import Vapid

    return Vapid.from_raw(private_key.encode("ascii"))


def _send_all(message: Message, targets: list[PushSubscription], members: list[User]) -> int:
    opts = push_input.options()
    vapid = _vapid(str(opts["VAPID_PRIVATE_KEY"]))
    ok: list[int] = []
    gone: list[int] = []
    for sub in targets:
        body = json.dumps(payload(message, sub.user, members), ensure_ascii=False)
        result = _send_one(sub, body, vapid, opts)
        (ok if result == "ok" else gone if result == "gone" else []).append(sub.pk)
    if ok:
        PushSubscription.objects.filter(pk__in=ok).update(last_success_at=timezone.now())
    if gone:
        PushSubscription.objects.filter(pk__in=gone).delete()
    return len(ok)


def _send_one(sub: PushSubscription, body: str, vapid: Any, opts: Mapping[str, Any]) -> str:
    """Send one push: "ok", "gone" (the push service forgot it) or "failed" (logged)."""
    import requests
    from pywebpush import WebPushException, webpush

    info = {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}
    try:
        webpush(
            info,
            data=body,
            vapid_private_key=vapid,
            vapid_claims={"sub": str(opts["VAPID_SUBJECT"])},
            timeout=float(opts["TIMEOUT"]),
            ttl=int(opts["TTL"]),
            headers={"Urgency": "high"},
        )
    except WebPushException as exc:
        status = getattr(exc.response, "status_code", None)
        if status in (404, 410):
            log.info("Push subscription %s is gone (%s): deleted", sub.pk, status)
            return "gone"
        log.warning("Push to subscription %s failed: %s", sub.pk, status or exc)
        return "failed"
    except requests.RequestException as exc:
        log.warning("Push to subscription %s failed: %s", sub.pk, exc)
        return "failed"
    return "ok"
