"""Moderation: blocking people, reporting messages, and what staff do with a report.

The one place that writes the ``Block`` and ``Report`` tables. A refusal is a
:class:`ModerationRefused` (a :class:`~chatter.messages.MessageRefused`: a sentence to
show and a code) with nothing changed.

What a block does (``docs/moderation.rst`` says it for people):

* ``blocked`` cannot start a one-to-one room with ``blocker`` from the pages (the
  ``chat_with`` path and the "New group" form); :func:`chatter.rooms.create_room` itself is
  left alone, it is the projects' API.
* In a room of exactly the two of them, ``blocked`` cannot send, edit or react
  (:func:`blocked_in`, checked inside the statements :mod:`chatter.messages` runs anyway);
  ``blocker`` still reads the history and may still write.
* Elsewhere (groups) nothing is refused: each page of ``blocker`` collapses the messages
  of the people they block (:func:`blocked_ids`, in the page's own style rules).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from chatter.messages import MessageRefused, clean_text, limited
from chatter.models import Block, Membership, Message, Report, Room
from chatter.types import AnyUser, User, UserId

#: Longest ``details`` of a report, in characters.
DETAILS_MAX_LENGTH = 1000
#: Messages shown on each side of a reported one in the staff's queue.
CONTEXT_SPAN = 3


class ModerationRefused(MessageRefused):
    """A block, report or staff action that cannot be done; ``str(exc)`` says why."""


def _limited(kind: str, user: AnyUser) -> None:
    limited(kind, user, ModerationRefused)


# -- blocks --------------------------------------------------------------------------------


def block(blocker: User, blocked: User) -> bool:
    """``blocker`` blocks ``blocked``; True if this call made the block (False: it was)."""
    if blocker.pk == blocked.pk:
        raise ModerationRefused(_("You cannot block yourself."), code="invalid")
    if is_blocked(blocker, blocked):
        return False
    _limited("block", blocker)
    try:
        with transaction.atomic():
            Block.objects.create(blocker_id=blocker.pk, blocked_id=blocked.pk)
    except IntegrityError:  # made meanwhile by another request of the same user
        return False
    return True


def unblock(blocker: User, blocked: User) -> bool:
    """``blocker`` no longer blocks ``blocked``; True if there was a block to remove."""
    _limited("block", blocker)
    deleted, _rows = Block.objects.filter(blocker_id=blocker.pk, blocked_id=blocked.pk).delete()
    return bool(deleted)


def is_blocked(blocker: AnyUser, blocked: AnyUser) -> bool:
    """Whether ``blocker`` blocks ``blocked`` (one query)."""
    return Block.objects.filter(blocker_id=blocker.pk, blocked_id=blocked.pk).exists()


def blocked_ids(user: AnyUser) -> list[UserId]:
    """Ids of the users ``user`` blocks, in the order they were blocked (one query)."""
    if not user.is_authenticated:
        return []
    return list(
        Block.objects.filter(blocker_id=user.pk)
        .order_by("created_at", "pk")
        .values_list("blocked_id", flat=True)
    )


def blocks_of(user: User) -> list[Block]:
    """The blocks ``user`` made, with the blocked users, by their usernames."""
    order = "blocked__" + get_user_model().USERNAME_FIELD
    return list(Block.objects.filter(blocker_id=user.pk).select_related("blocked").order_by(order))


def blockers_among(user: AnyUser, people: list[User]) -> list[User]:
    """Those of ``people`` who block ``user``: whom ``user`` may not start a room with."""
    ids = set(
        Block.objects.filter(blocked_id=user.pk, blocker_id__in=[p.pk for p in people]).values_list(
            "blocker_id", flat=True
        )
    )
    return [p for p in people if p.pk in ids]


def blocked_in(room: Room, user_id: UserId) -> Exists:
    """True (in SQL) when ``room`` is ``user_id``'s room with someone who blocks them.

    That is: a block of ``user_id`` by a member of ``room``, and no third member. An
    expression, not a query, so :mod:`chatter.messages` checks it inside a statement it
    runs anyway: a send costs no statement more in any room, and in a room where nobody
    blocks the sender the database reads one index entry (none) of ``Block.blocked``.
    """
    third = Membership.objects.filter(room_id=room.pk).exclude(user_id=user_id)
    third = third.filter(~Q(user_id=OuterRef("blocker_id")))
    return Exists(
        Block.objects.filter(blocked_id=user_id).filter(
            Exists(Membership.objects.filter(room_id=room.pk, user_id=OuterRef("blocker_id"))),
            ~Exists(third),
        )
    )


def refused_in(room: Room, user: AnyUser) -> bool:
    """Whether ``user`` may not write in ``room`` because its other member blocks them."""
    return Room.objects.filter(pk=room.pk).filter(blocked_in(room, user.pk)).exists()


#: What a blocked user is told when they write to the person who blocked them. It does
#: not say "blocked": the same words as for any conversation that cannot be had.
CANNOT_MESSAGE = _("You cannot message this person.")


def cannot_message() -> ModerationRefused:
    return ModerationRefused(CANNOT_MESSAGE, code="blocked")


# -- reports -------------------------------------------------------------------------------


def report_message(
    room: Room, reporter: User, seq: object, reason: object, details: object = ""
) -> Report:
    """``reporter`` reports message ``seq`` of ``room``: a new :class:`Report` for staff.

    The report keeps a copy of the text as it is now (it may be edited or deleted later),
    its author and number. Refused (nothing stored): a message that is not in the room, a
    reporter who is not a member, one's own message, a system line, a deleted message, an
    unknown ``reason``, ``details`` over 1000 characters, a second report of the same
    message by the same member (code ``already_reported``), and reports too fast.
    """
    if reason not in Report.Reason.values:
        raise ModerationRefused(_("Choose a reason."), code="invalid")
    details = clean_text(details if details is not None else "")
    if len(details) > DETAILS_MAX_LENGTH:
        raise ModerationRefused(
            _("Say it in at most %(max)d characters.") % {"max": DETAILS_MAX_LENGTH},
            code="invalid",
        )
    message = _message(room, seq)
    if not Membership.objects.filter(room=room, user_id=reporter.pk).exists():
        raise ModerationRefused(_("You are not a member of this room."), code="not_member")
    refusal = report_refusal(message, reporter)
    if refusal is not None:
        raise refusal
    if Report.objects.filter(message=message, reporter_id=reporter.pk).exists():
        raise _already_reported()
    _limited("report", reporter)
    try:
        with transaction.atomic():
            return Report.objects.create(
                message=message,
                room=room,
                reporter=reporter,
                author_id=message.sender_id,
                seq=message.seq,
                text=message.text,
                reason=reason,
                details=details,
            )
    except IntegrityError:  # the same report, sent twice at once
        raise _already_reported() from None


def _already_reported() -> ModerationRefused:
    return ModerationRefused(_("You have reported this message already."), "already_reported")


def _message(room: Room, seq: object) -> Message:
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 < seq < 2**63:
        raise ModerationRefused(_("This message does not exist."), code="not_found")
    try:
        return Message.objects.get(room=room, seq=seq)
    except Message.DoesNotExist:
        raise ModerationRefused(_("This message does not exist."), code="not_found") from None


def has_reported(message: Message, user: AnyUser) -> bool:
    """Whether ``user`` has reported ``message``."""
    return Report.objects.filter(message=message, reporter_id=user.pk).exists()


def report_refusal(message: Message, user: AnyUser) -> ModerationRefused | None:
    """Why ``user`` (a member) may not report ``message``, or None: they may (it is
    someone else's message, not a system line, not deleted)."""
    if message.is_system:
        return ModerationRefused(_("This message cannot be reported."), code="forbidden")
    if message.sender_id == user.pk:
        return ModerationRefused(_("You cannot report your own message."), code="forbidden")
    if message.is_deleted:
        return ModerationRefused(_("This message was deleted."), code="deleted")
    return None


def context_of(report: Report, span: int = CONTEXT_SPAN) -> list[Message]:
    """The messages around a reported one (``span`` on each side) as they are now: one query."""
    return list(
        Message.objects.filter(
            room_id=report.room_id, seq__gte=report.seq - span, seq__lte=report.seq + span
        )
        .select_related("sender")
        .order_by("seq")
    )


def all_reports() -> QuerySet[Report]:
    """Every report, oldest first, with the users a listing names."""
    return Report.objects.select_related("reporter", "author").order_by("created_at", "pk")


def open_reports() -> QuerySet[Report]:
    """The reports nobody resolved yet, oldest first."""
    return all_reports().filter(resolved_at__isnull=True)


# -- what staff do with a report -------------------------------------------------------------


def _require(staff: User, permission: str) -> None:
    if not (staff.is_active and staff.has_perm(permission)):
        raise ModerationRefused(_("You do not have the permission to do that."), "forbidden")


def user_permission(codename: str) -> str:
    """The permission ``<app>.<codename>_<model>`` of the project's user model."""
    meta = get_user_model()._meta
    return f"{meta.app_label}.{codename}_{meta.model_name}"


def resolve(report: Report, staff: User) -> bool:
    """Mark ``report`` resolved by ``staff`` (``chatter.change_report``); False if it was."""
    _require(staff, "chatter.change_report")
    now = timezone.now()
    done = Report.objects.filter(pk=report.pk, resolved_at__isnull=True).update(
        resolved_at=now, resolved_by=staff
    )
    if done:
        report.resolved_at, report.resolved_by = now, staff
    return bool(done)


def delete_reported(report: Report, staff: User) -> Message | None:
    """Delete the reported message (``chatter.delete_message``), announce it, resolve.

    Returns the deleted message, or None if it was gone or deleted already.
    """
    from chatter import live, messages  # live renders with the domain's help

    _require(staff, "chatter.delete_message")
    room = Room.objects.get(pk=report.room_id)
    deleted = None
    try:
        message, changed = messages.delete_message(room, staff, report.seq)
    except MessageRefused as exc:
        if exc.code != "not_found":
            raise
    else:
        if changed:
            live.announce_change(message)
            deleted = message
    _resolve_all(report, staff)
    return deleted


def remove_author(report: Report, staff: User) -> bool:
    """Take the author out of the report's group (``chatter.delete_membership``), resolve.

    A group change like any other (:func:`chatter.groups.remove_members`, made by the
    staff user): a system line in the room, announced; the author's open pages of the
    room are closed and the room leaves their lists. Only from a group: a one-to-one
    room is its two people. False if the author was not (or no longer) a member.
    """
    from chatter import groups
    from chatter.live.members import announce_group

    _require(staff, "chatter.delete_membership")
    author = None
    if report.author_id is not None:
        author = get_user_model()._default_manager.filter(pk=report.author_id).first()
    removed = False
    if author is not None:
        try:
            line = groups.remove_members(report.room, staff, [author])
        except groups.GroupRefused as exc:
            if exc.code != "not_in_group":
                raise ModerationRefused(str(exc), exc.code) from None
        else:
            announce_group(line)
            removed = True
    _resolve_all(report, staff)
    return removed


def deactivate_author(report: Report, staff: User) -> bool:
    """Deactivate the author's account (``<users app>.change_<user>``), resolve.

    Their pages are logged out (``is_active`` False), their open sockets closed live.
    False if there was no author or they were inactive already.
    """
    from chatter import live

    _require(staff, user_permission("change"))
    user_model = get_user_model()
    changed = 0
    if report.author_id is not None and hasattr(user_model, "is_active"):
        changed = user_model._default_manager.filter(pk=report.author_id, is_active=True).update(
            is_active=False
        )
    if changed:
        live.announce_deactivated(report.author_id)
    _resolve_all(report, staff)
    return bool(changed)


def _resolve_all(report: Report, staff: User) -> None:
    """Resolve ``report`` and the other open reports of the same message: acted on."""
    now = timezone.now()
    same: Any = Q(pk=report.pk)
    if report.message_id is not None:
        same |= Q(message_id=report.message_id)
    Report.objects.filter(same, resolved_at__isnull=True).update(resolved_at=now, resolved_by=staff)
    report.resolved_at, report.resolved_by = now, staff
