from __future__ import annotations

import uuid

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
    """

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
    text = models.TextField(_("text"))
    client_id = models.UUIDField(_("client id"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("sent"), auto_now_add=True)

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

    def __str__(self) -> str:
        return f"{self.room_id}#{self.seq}"
