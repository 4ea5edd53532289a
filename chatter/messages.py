"""Messages: send, edit, delete, reply, react, and the room's change counter.

The one place that writes the ``Message``, ``Revision`` and ``Reaction`` tables. Every
action takes the room (the caller checked membership with
:func:`chatter.rooms.room_for_member`) and the acting user, checks what only this layer
knows (author, permission, edit window, limits) and raises :class:`MessageRefused` with a
sentence to show, having changed nothing.

Why a change counter beside the sequence: a message keeps its place (``seq``) forever,
but its text, its reactions or its deletion can change after a page has shown it. Each
such change takes the room's next change number (``Room.last_change``, by one atomic
``UPDATE ... RETURNING``, which also orders it after every send and change of the room
still in flight) and stores it on the message (``Message.change``). A page that was away
asks for "changes after N" and gets each changed message once, in its current state.
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime, timedelta
from typing import Any

import emoji as emoji_data
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from chatter import conf, limits, mentions, push, timeline
from chatter.models import Membership, Message, Reaction, Revision, Room
from chatter.types import AnyUser, User


class MessageRefused(ValueError):
    """A message that cannot be stored; ``str(exc)`` is a sentence to show the sender."""

    def __init__(self, message: str | Promise, code: str) -> None:
        super().__init__(message)
        self.code = code


def _answered(room: Room, reply_to: int | None) -> Message | None:
    """The message of ``room`` numbered ``reply_to``, or :class:`MessageRefused`."""
    if reply_to is None:
        return None
    found = Message.objects.filter(room=room, seq=reply_to).select_related("sender").first()
    if found is None:
        raise MessageRefused(_("The message you answer is not in this room."), code="not_found")
    mentions.attach([found], replies=False)  # its quote names them
    return found


def _next_change(room: Room) -> int:
    """Take the room's next change number: one atomic UPDATE ... RETURNING.

    The UPDATE locks the room's row until the transaction ends, so the changes (and
    sends) of one room commit in the order of their numbers.
    """
    table = connection.ops.quote_name(Room._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_change = last_change + 1 "  # noqa: S608
            "WHERE id = %s RETURNING last_change",
            [Room._meta.pk.get_db_prep_value(room.pk, connection)],
        )
        row = cursor.fetchone()
    if row is None:
        raise MessageRefused(_("This room no longer exists."), code="not_found")
    return int(row[0])


def limited(kind: str, user: AnyUser, refusal: type[MessageRefused] = MessageRefused) -> None:
    """Count one ``kind`` action of ``user`` (``CHATTER_FRAME_LIMITS``); over the limit,
    ``refusal`` (a :class:`MessageRefused`) says so. Shared by every domain module."""
    if not limits.hit(kind, user.pk):
        raise refusal(
            _("You are doing that too often. Wait a few seconds and try again."),
            code="rate_limited",
        )


def _locked(room: Room, seq: object) -> Message:
    """Message ``seq`` of ``room``, locked for this transaction, or :class:`MessageRefused`."""
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 < seq < 2**63:
        raise MessageRefused(_("This message does not exist."), code="not_found")
    try:
        return Message.objects.select_for_update().get(room=room, seq=seq)
    except Message.DoesNotExist:
        raise MessageRefused(_("This message does not exist."), code="not_found") from None


def _is_member(room: Room, user: User) -> bool:
    return Membership.objects.filter(room=room, user_id=user.pk).exists()


def _writer(room: Room, user: User) -> QuerySet[Membership]:
    """``user``'s membership of ``room`` if they may write there: not in a room of two
    whose other member blocks them (checked in the same statement)."""
    from chatter import moderation  # moderation builds on this module

    return Membership.objects.filter(room=room, user_id=user.pk).filter(
        ~moderation.blocked_in(room, user.pk)
    )


def _not_writer(room: Room, user: User) -> MessageRefused:
    """Why :func:`_writer` found nothing: blocked, or not a member (one query, refusals only)."""
    from chatter import moderation

    if _is_member(room, user):
        return moderation.cannot_message()
    return MessageRefused(_("You are not a member of this room."), code="not_member")


def _check_writer(room: Room, user: User) -> None:
    """Refuse a user who may not write in ``room`` (:func:`_writer`): one query."""
    if not _writer(room, user).exists():
        raise _not_writer(room, user)


def _reloaded(message: Message) -> Message:
    """The message again, with everything its rendering shows. Called inside the change's
    transaction (the row is locked), it is the state of that change exactly, so the event
    that announces change N carries N, not a later change made meanwhile."""
    return timeline.one(Message.objects.filter(pk=message.pk))


def can_edit(message: Message, user: AnyUser, now: datetime | None = None) -> bool:
    """Whether ``user`` may edit ``message`` now: its author, within ``CHATTER_EDIT_WINDOW``."""
    if message.is_deleted or message.is_system or message.sender_id != user.pk:
        return False
    window = conf.get("CHATTER_EDIT_WINDOW")
    if window is None:
        return True
    return (now or timezone.now()) - message.created_at <= timedelta(seconds=window)


def can_delete(message: Message, user: AnyUser) -> bool:
    """Whether ``user`` may delete ``message``: its author, or ``chatter.delete_message``."""
    if message.is_deleted or message.is_system:
        return False
    return message.sender_id == user.pk or user.has_perm("chatter.delete_message")


def edit_message(room: Room, user: User, seq: int, text: object) -> tuple[Message, bool]:
    """Replace the text of ``user``'s message ``seq``; return ``(message, changed)``.

    The old text is kept as a :class:`~chatter.models.Revision` (for moderators). The same
    text again changes nothing. Refused (nothing changed) for a message that is not the
    user's, deleted, a system line, or older than ``CHATTER_EDIT_WINDOW``, and in a room of
    two whose other member blocks the user.
    """
    text = valid_text(text)
    with transaction.atomic():
        message = _locked(room, seq)
        _check_writer(room, user)
        if message.sender_id != user.pk or message.is_system:
            raise MessageRefused(_("You can only edit your own messages."), code="forbidden")
        if message.is_deleted:
            raise MessageRefused(_("This message was deleted."), code="deleted")
        if not can_edit(message, user):
            raise MessageRefused(_("This message is too old to edit."), code="too_old")
        text, mentioned = mentions.resolve(room, text)
        if message.text == text:
            return _reloaded(message), False
        limited("edit", user)
        change = _next_change(room)
        Revision.objects.create(message=message, text=message.text)
        mentions.replace(message, message.text, mentioned)
        now = timezone.now()
        Message.objects.filter(pk=message.pk).update(text=text, edited_at=now, change=change)
        changed = _reloaded(message)  # in the transaction: the state of this change exactly
    room.last_change = change
    return changed, True


def moderate_text(message: Message, text: object) -> tuple[Message, bool]:
    """Replace a message's text as staff (the admin): no author or window check, but the
    same record as an edit (an earlier text, ``edited_at``, the next change number)."""
    text = valid_text(text)
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        if locked.is_deleted or locked.is_system or locked.text == text:
            return _reloaded(locked), False
        change = _next_change(locked.room)
        Revision.objects.create(message=locked, text=locked.text)
        Message.objects.filter(pk=locked.pk).update(
            text=text, edited_at=timezone.now(), change=change
        )
        changed = _reloaded(locked)
    return changed, True


def delete_message(room: Room, user: User, seq: int) -> tuple[Message, bool]:
    """Delete message ``seq``: its text, earlier texts and reactions leave the database.

    A tombstone keeps its place (and its number: unread counts and resumes stay right).
    Its author may delete it, and any member with the ``chatter.delete_message``
    permission. Deleting it again changes nothing: ``(message, False)``.
    """
    with transaction.atomic():
        message = _locked(room, seq)
        if not _is_member(room, user) and not user.has_perm("chatter.delete_message"):
            raise MessageRefused(_("You are not a member of this room."), code="not_member")
        if message.is_deleted:
            return _reloaded(message), False
        if not can_delete(message, user):
            raise MessageRefused(_("You can only delete your own messages."), code="forbidden")
        limited("delete", user)
        change = _next_change(room)
        Revision.objects.filter(message=message).delete()
        Reaction.objects.filter(message=message).delete()
        message.mentions.all().delete()
        if message.files:
            from chatter import attachments  # its files go once this commits

            attachments.remove_for(message)
        Message.objects.filter(pk=message.pk).update(
            text="", deleted_at=timezone.now(), change=change, files=0
        )
        changed = _reloaded(message)
    room.last_change = change
    return changed, True


#: The emoji offered under every message (any other single emoji may be typed).
DEFAULT_REACTIONS = (
    "\N{THUMBS UP SIGN}",
    "\N{HEAVY BLACK HEART}\ufe0f",
    "\N{FACE WITH TEARS OF JOY}",
    "\N{FACE WITH OPEN MOUTH}",
    "\N{CRYING FACE}",
    "\N{PERSON WITH FOLDED HANDS}",
)


def clean_emoji(value: object) -> str:
    """One emoji (a single emoji sequence, skin tones and ZWJ included), or MessageRefused."""
    if not isinstance(value, str):
        raise MessageRefused(_("A reaction must be one emoji."), code="invalid")
    value = unicodedata.normalize("NFC", value.strip())
    if not value or len(value.encode("utf-8")) > 32 or not emoji_data.is_emoji(value):
        raise MessageRefused(_("A reaction must be one emoji."), code="invalid")
    return value


def toggle_reaction(room: Room, user: User, seq: int, emoji: object) -> tuple[Message, bool]:
    """Add ``user``'s ``emoji`` to message ``seq``, or take it back; ``(message, True)``
    (a toggle always changes something: the pair matches the other actions).

    At most ``CHATTER_MAX_REACTIONS`` different emoji per message; a member may always
    add one already there. Not on deleted messages or system lines, nor in a room of two
    whose other member blocks the user.
    """
    emoji = clean_emoji(emoji)
    with transaction.atomic():
        message = _locked(room, seq)
        _check_writer(room, user)
        if message.is_deleted or message.is_system:
            raise MessageRefused(_("You cannot react to this message."), code="forbidden")
        limited("react", user)
        mine = Reaction.objects.filter(message=message, user_id=user.pk, emoji=emoji)
        added = not mine.exists()
        if added:
            present = set(Reaction.objects.filter(message=message).values_list("emoji", flat=True))
            if emoji not in present and len(present) >= conf.get("CHATTER_MAX_REACTIONS"):
                raise MessageRefused(
                    _("This message has as many different reactions as it can take."),
                    code="too_many",
                )
        change = _next_change(room)
        if added:
            Reaction.objects.create(message=message, user_id=user.pk, emoji=emoji)
        else:
            mine.delete()
        Message.objects.filter(pk=message.pk).update(change=change)
        changed = _reloaded(message)
    room.last_change = change
    return changed, True


def clean_text(text: object) -> str:
    """Normalise line endings, drop NULs and strip surrounding white space."""
    if not isinstance(text, str):
        raise MessageRefused(_("A message must be text."), code="invalid")
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()


# Characters that show nothing on their own: format characters (zero-width space and
# joiners, the BOM, bidi marks, soft hyphen), other controls, separators, and the
# "filler" letters some fonts draw blank.
_BLANK_CATEGORIES = {"Cf", "Cc", "Cs", "Zs", "Zl", "Zp", "Mn", "Me"}
_BLANK_CHARACTERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}


def is_blank(text: str) -> bool:
    """True when ``text`` would show as nothing: only invisible or spacing characters."""
    return all(
        ch.isspace() or ch in _BLANK_CHARACTERS or unicodedata.category(ch) in _BLANK_CATEGORIES
        for ch in text
    )


def _parse_client_id(client_id: object) -> uuid.UUID | None:
    if client_id in (None, ""):
        return None
    try:
        return client_id if isinstance(client_id, uuid.UUID) else uuid.UUID(str(client_id))
    except ValueError:
        raise MessageRefused(_("This message has a malformed id."), code="invalid") from None


def valid_text(text: object, blank_ok: bool = False) -> str:
    """``text`` cleaned (:func:`clean_text`), or :class:`MessageRefused` if empty or too long.

    ``blank_ok`` (a message with files): an empty or blank text is ``""``, not a refusal.
    """
    text = clean_text(text)
    if is_blank(text) and blank_ok:
        return ""
    if is_blank(text):
        raise MessageRefused(_("Write something first."), code="empty")
    max_length = conf.get("CHATTER_MESSAGE_MAX_LENGTH")
    if len(text) > max_length:
        raise MessageRefused(
            _("This message is too long: %(length)d characters, at most %(max)d.")
            % {"length": len(text), "max": max_length},
            code="too_long",
        )
    return text


def send_message(
    room: Room,
    author: Any,
    text: Any,
    client_id: Any = None,
    reply_to: int | None = None,
    files: int = 0,
) -> tuple[Message, bool]:
    """Store a message from ``author`` in ``room``; return ``(message, created)``.

    ``reply_to`` is the sequence number of the message of ``room`` this one answers.

    The text is stripped and must be 1 to ``CHATTER_MESSAGE_MAX_LENGTH`` characters, not
    all of them invisible. A repeated ``client_id`` returns the message stored the first
    time, with ``created=False``. Raises :class:`MessageRefused` (nothing stored)
    otherwise, also with code ``blocked`` in a room of two whose other member blocks the
    author (:func:`chatter.moderation.blocked_in`, checked in the read-position UPDATE).
    The work is the same whatever the room's size: four statements in one transaction,
    none per member; a text with "@" takes one query before it (the members it names,
    :mod:`chatter.mentions`) and, when it mentions someone, one bulk insert in it. A
    resend (the same ``client_id``) is found by the unique constraint, after the
    transaction rolled back; only a send over the rate limit looks for it first, so that a
    resend of a stored message is never refused.

    ``files``: how many attachments the caller (:func:`chatter.attachments.send`) stores
    with it in the same transaction; the text may then be empty.
    """
    text = valid_text(text, blank_ok=files > 0)
    cid = _parse_client_id(client_id)
    answered = _answered(room, reply_to)
    if not limits.hit("send", author.pk):
        # A resend of a stored message is not refused: it asks for nothing new.
        existing = _existing(room, author, cid) if cid is not None else None
        if existing is not None:
            return existing, False
        raise MessageRefused(
            _("You are sending messages too fast. Wait a few seconds and try again."),
            code="rate_limited",
        )
    text, mentioned = mentions.resolve(room, text)
    try:
        with transaction.atomic():
            message = _append(
                room,
                author,
                member_only=True,
                text=text,
                client_id=cid,
                reply_to=answered,
                files=files,
            )
            mentions.add(message, mentioned)
            push.after_send(message, mentioned)  # on commit; no statement
    except IntegrityError:
        existing = _existing(room, author, cid) if cid is not None else None
        if existing is None:
            raise
        return existing, False
    message.reply_to = answered
    message.mentioned = dict(mentioned)
    return message, True


def _append(room: Room, sender: User | None, member_only: bool = False, **fields: Any) -> Message:
    """Store a message or a system line (``fields``) as the room's next one; the caller's
    transaction holds it all. Three statements and the insert, none per member.

    The sender (a member) has read it. ``member_only``: a sender who is not a member is
    refused (:class:`MessageRefused`, before the insert; the caller's transaction rolls
    the number back). Used by :func:`send_message` and :mod:`chatter.groups`.
    """
    now = timezone.now()
    seq = _next_seq(room, now)
    if member_only:
        # A writer: a member, and in a room of two not one the other blocks (checked in
        # this same statement, moderation.blocked_in); else roll back.
        assert sender is not None
        if not _writer(room, sender).update(last_read_seq=seq):
            raise _not_writer(room, sender)
    elif sender is not None:
        Membership.objects.filter(room=room, user_id=sender.pk).update(last_read_seq=seq)
    message = Message.objects.create(room=room, sender=sender, seq=seq, **fields)
    Room.objects.filter(pk=room.pk).update(last_message=message)
    room.last_seq, room.updated_at, room.last_message = seq, now, message
    message.sender = sender
    message.reaction_groups = []
    return message


def _next_seq(room: Room, now: datetime) -> int:
    """Take the room's next sequence number: one atomic UPDATE ... RETURNING."""
    table = connection.ops.quote_name(Room._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_seq = last_seq + 1, updated_at = %s "  # noqa: S608
            "WHERE id = %s RETURNING last_seq",
            [
                Room._meta.get_field("updated_at").get_db_prep_value(now, connection),
                Room._meta.pk.get_db_prep_value(room.pk, connection),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        raise MessageRefused(_("This room no longer exists."), code="not_found")
    return int(row[0])


def _existing(room: Room, author: User, cid: uuid.UUID) -> Message | None:
    # get(), not first(): first() would add ORDER BY id, which PostgreSQL may answer by
    # walking the primary key instead of the (room, sender, client_id) unique index.
    try:
        return timeline.one(Message.objects.filter(room=room, sender=author, client_id=cid))
    except Message.DoesNotExist:
        return None
