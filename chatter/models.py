from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

#: Longest room name.
ROOM_NAME_MAX_LENGTH = 100


class Room(models.Model):
    """A conversation among a fixed set of users.

    Why ``members_key``: the old app looked rooms up by scanning members and could return
    the wrong room or create two under concurrent requests. A unique key derived from the
    exact member set lets the database itself guarantee one room per set. Why
    ``last_seq``: every message gets the next per-room sequence number from an atomic
    ``UPDATE`` of this counter, which also makes unread counts a subtraction.
    """

    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=ROOM_NAME_MAX_LENGTH, blank=True)
    members_key = models.CharField(max_length=64, unique=True, editable=False)
    last_seq = models.PositiveBigIntegerField(_("last message number"), default=0, editable=False)
    # The room's change counter: every edit, deletion and reaction takes its next value.
    last_change = models.PositiveBigIntegerField(_("last change number"), default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    last_message = models.ForeignKey(
        "Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("last activity"), auto_now_add=True, db_index=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="Membership",
        related_name="chatter_rooms",
    )

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.name or str(self.id)


class Membership(models.Model):
    """One user in one room, with that user's own state in it.

    Why a row per member rather than per-message recipient lists: read state is a single
    pointer (``last_read_seq``), so marking a room read is one ``UPDATE`` and the unread
    count is ``room.last_seq - last_read_seq``, whatever the room's size.
    """

    room = models.ForeignKey(
        Room, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("room")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chatter_memberships",
        verbose_name=_("user"),
    )
    joined_at = models.DateTimeField(_("joined"), auto_now_add=True)
    last_read_seq = models.PositiveBigIntegerField(_("last read message"), default=0)
    # Refreshed by the member's open sockets of this room; None when they left it.
    last_seen_at = models.DateTimeField(_("last seen in the room"), null=True, blank=True)
    # A muted room still counts unread messages in its own badge, but it sends no browser
    # notification, e-mail or push, and does not count in the page title.
    muted = models.BooleanField(_("muted"), default=False)
    # The highest message number the e-mail digest has dealt with (chatter.notify): each
    # message is e-mailed at most once, however many runs of chatter_notify overlap.
    emailed_seq = models.PositiveBigIntegerField(
        _("last message considered for e-mail"), default=0, editable=False
    )

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "room"], name="chatter_membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.room}"

    @property
    def unread(self) -> int:
        return max(self.room.last_seq - self.last_read_seq, 0)


class Message(models.Model):
    """A message, numbered by its room.

    Why ``seq``: history pages and resuming clients walk by sequence (keyset), never by
    offset, so no page repeats or skips a message while new ones arrive. Why
    ``client_id``: browsers resend queued messages after a reconnect; the unique
    (room, sender, client_id) makes a resend return the stored message instead of a copy.
    Why ``change``: an edit, a deletion or a reaction takes the room's next change number
    and stores it here, so "what changed after N" is one index range, and a page that was
    away gets each changed message once, in its current state.
    """

    class Kind(models.TextChoices):
        MESSAGE = "", _("message")
        SYSTEM = "system", _("system line")

    room = models.ForeignKey(
        Room, on_delete=models.CASCADE, related_name="messages", verbose_name=_("room")
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="chatter_messages",
        verbose_name=_("sender"),
    )
    seq = models.PositiveBigIntegerField(_("number"), editable=False)
    text = models.TextField(_("text"), blank=True)
    client_id = models.UUIDField(_("client id"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("sent"), auto_now_add=True)
    kind = models.CharField(
        _("kind"), max_length=16, choices=Kind.choices, default=Kind.MESSAGE, blank=True
    )
    # A system line's facts, e.g. {"action": "added", "users": [[id, name], ...]} (the actor
    # is the sender): rendered in the reader's language, so the text is not stored.
    data = models.JSONField(_("data"), null=True, blank=True, editable=False)
    reply_to = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reply to"),
    )
    change = models.PositiveBigIntegerField(_("change number"), default=0, editable=False)
    edited_at = models.DateTimeField(_("edited"), null=True, blank=True, editable=False)
    deleted_at = models.DateTimeField(_("deleted"), null=True, blank=True, editable=False)
    # How many files it carries (chatter.attachments): a page of messages without files
    # asks nothing more.
    files = models.PositiveSmallIntegerField(_("files"), default=0, editable=False)

    #: Its reactions by emoji (``chatter.timeline.ReactionGroup``), set where messages are
    #: loaded for showing (``chatter.messages``); empty on a message loaded elsewhere.
    reaction_groups: list[Any] = []
    #: Its files (``chatter.models.Attachment``, in order), set where messages are loaded
    #: for showing (``chatter.attachments.attach``); empty on a message loaded elsewhere.
    attachment_list: list[Any] = []
    #: The users its mentions name, by id as text (``{"7": user}``), set where messages are
    #: loaded for showing (``chatter.mentions.attach``); empty on a message loaded elsewhere
    #: (its mentions then show as their tokens). Replaced, never changed in place.
    mentioned: dict[str, Any] = {}

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["room", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="chatter_message_room_seq"),
            models.UniqueConstraint(
                fields=["room", "sender", "client_id"], name="chatter_message_client_id"
            ),
        ]
        indexes = [models.Index(fields=["room", "change"], name="chatter_message_change")]

    def __str__(self) -> str:
        return f"{self.room_id}#{self.seq}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_system(self) -> bool:
        return self.kind == self.Kind.SYSTEM


class Revision(models.Model):
    """A text a message had before an edit: kept for moderators, never shown to members.

    Deleting the message deletes its revisions: a deleted text leaves no copy behind.
    """

    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="revisions", verbose_name=_("message")
    )
    text = models.TextField(_("text"))
    replaced_at = models.DateTimeField(_("replaced"), auto_now_add=True)

    class Meta:
        verbose_name = _("earlier text")
        verbose_name_plural = _("earlier texts")
        ordering = ["message", "replaced_at", "pk"]

    def __str__(self) -> str:
        return f"{self.message} @ {self.replaced_at:%Y-%m-%d %H:%M}"


class Reaction(models.Model):
    """One user's emoji on one message."""

    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="reactions", verbose_name=_("message")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chatter_reactions",
        verbose_name=_("user"),
    )
    emoji = models.CharField(_("emoji"), max_length=32)
    created_at = models.DateTimeField(_("reacted"), auto_now_add=True)

    class Meta:
        verbose_name = _("reaction")
        verbose_name_plural = _("reactions")
        ordering = ["message", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "user", "emoji"], name="chatter_reaction_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.emoji} on {self.message}"


class Mention(models.Model):
    """A member named in a message (by id: a rename does not break it).

    ``room`` and ``seq`` repeat the message's, so a room list counts unread mentions with
    one index range per user.
    """

    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="mentions", verbose_name=_("message")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chatter_mentions",
        verbose_name=_("user"),
    )
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveBigIntegerField()

    class Meta:
        verbose_name = _("mention")
        verbose_name_plural = _("mentions")
        constraints = [
            models.UniqueConstraint(fields=["message", "user"], name="chatter_mention_unique"),
        ]
        indexes = [models.Index(fields=["user", "room", "seq"], name="chatter_mention_user")]

    def __str__(self) -> str:
        return f"@{self.user_id} in {self.message}"


class Block(models.Model):
    """``blocker`` sees nothing new from ``blocked``: no new one-to-one room, no message."""

    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chatter_blocks",
        verbose_name=_("user"),
    )
    blocked = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("blocked user"),
    )
    created_at = models.DateTimeField(_("blocked"), auto_now_add=True)

    class Meta:
        verbose_name = _("block")
        verbose_name_plural = _("blocks")
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="chatter_block_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.blocker} blocks {self.blocked}"


class Report(models.Model):
    """A message a member reported, with a copy of what it said then, for the staff queue."""

    class Reason(models.TextChoices):
        SPAM = "spam", _("Spam")
        ABUSE = "abuse", _("Harassment or abuse")
        ILLEGAL = "illegal", _("Illegal content")
        OTHER = "other", _("Something else")

    message = models.ForeignKey(
        Message,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports",
        verbose_name=_("message"),
    )
    room = models.ForeignKey(Room, on_delete=models.CASCADE, verbose_name=_("room"))
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("reported by"),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("author"),
    )
    seq = models.PositiveBigIntegerField(_("message number"))
    text = models.TextField(_("text when reported"), blank=True)
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    details = models.TextField(_("details"), blank=True, max_length=1000)
    created_at = models.DateTimeField(_("reported"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["resolved_at", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["message", "reporter"], name="chatter_report_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()}: {self.room_id}#{self.seq}"


class Preferences(models.Model):
    """One user's notification choices, created when first saved (``chatter.notify``).

    A user without a row has the defaults: the e-mail digest on.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="chatter_preferences",
        verbose_name=_("user"),
    )
    email_digest = models.BooleanField(
        _("e-mail digest"),
        default=True,
        help_text=_("E-mail me the messages I have not read after a while."),
    )
    updated_at = models.DateTimeField(_("changed"), auto_now=True)

    class Meta:
        verbose_name = _("notification preferences")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return f"{self.user}"


#: Longest original file name kept (for showing only; the stored file has a generated name).
ATTACHMENT_NAME_MAX_LENGTH = 200


class Attachment(models.Model):
    """A file sent with a message, kept in the storage of ``CHATTER_STORAGE``.

    ``path`` is the storage name Chatter generated (never the sender's); ``name`` is the
    sender's file name, cleaned, for showing and as the download's name. ``uploader``
    counts it against the sender's quota. Deleting the row deletes its files from the
    storage once the transaction commits (:mod:`chatter.attachments`).
    """

    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("message")
    )
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="chatter_attachments",
        verbose_name=_("sent by"),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    name = models.CharField(_("file name"), max_length=ATTACHMENT_NAME_MAX_LENGTH)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    path = models.CharField(_("stored as"), max_length=255)
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    thumb_path = models.CharField(_("thumbnail stored as"), max_length=255, blank=True)
    thumb_width = models.PositiveIntegerField(_("thumbnail width"), null=True, blank=True)
    thumb_height = models.PositiveIntegerField(_("thumbnail height"), null=True, blank=True)
    created_at = models.DateTimeField(_("sent"), auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["message", "position"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_image(self) -> bool:
        """Shown inline: a raster image Chatter re-encoded (never SVG)."""
        return self.width is not None and self.content_type in INLINE_IMAGE_TYPES


#: Types served inline (and shown in the conversation): raster images Pillow re-encoded.
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


class PushSubscription(models.Model):
    """One browser (one device) of a user that receives Web Push notifications.

    Why ``endpoint`` is unique: it is the push service's address of that browser's
    subscription; a browser that subscribes again, or now for another user, replaces its
    row instead of adding a second one. The keys encrypt each payload (RFC 8291).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chatter_push_subscriptions",
        verbose_name=_("user"),
    )
    endpoint = models.URLField(_("endpoint"), max_length=1024, unique=True)
    p256dh = models.CharField(_("public key"), max_length=100)
    auth = models.CharField(_("authentication secret"), max_length=32)
    user_agent = models.CharField(_("browser"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("subscribed"), auto_now_add=True)
    last_success_at = models.DateTimeField(_("last delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")

    def __str__(self) -> str:
        return f"{self.user} ({self.user_agent or self.endpoint[:40]})"
