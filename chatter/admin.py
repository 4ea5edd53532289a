"""Admin pages for rooms and messages.

Rooms and messages are created only through :mod:`chatter.rooms` (a room's member set is
its identity, a message's number comes from its room), so the admin lists, searches and
lets staff rename rooms and edit message text, but does not add either or change members.
The report queue and the blocks are in :mod:`chatter.moderation_admin`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from chatter import rooms
from chatter.models import Membership, Message, Room
from chatter.types import User

if TYPE_CHECKING:
    # django-stubs makes the admin classes generic in their models; Django's own classes
    # cannot be subscripted at run time.
    _MembershipInline = admin.TabularInline[Membership, Room]
    _RoomAdmin = admin.ModelAdmin[Room]
    _MessageAdmin = admin.ModelAdmin[Message]
else:
    _MembershipInline = admin.TabularInline
    _RoomAdmin = _MessageAdmin = admin.ModelAdmin

_USERNAME = get_user_model().USERNAME_FIELD


class MembershipInline(_MembershipInline):
    """The room's members and how far each has read; read-only (members define the room)."""

    model = Membership
    fields = ("user", "joined_at", "last_read_seq")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Room | None = None) -> bool:
        """Members are fixed when the room is created."""
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        """Members with their users, by username."""
        return super().get_queryset(request).select_related("user").order_by(f"user__{_USERNAME}")


@admin.register(Room)
class RoomAdmin(_RoomAdmin):
    """Rooms, most recent activity first."""

    list_display = ("title", "member_list", "updated_at", "created_at")
    search_fields = ("name", f"memberships__user__{_USERNAME}")
    fields = ("id", "name", "last_seq", "created_at", "updated_at")
    readonly_fields = ("id", "last_seq", "created_at", "updated_at")
    inlines = [MembershipInline]
    date_hierarchy = "updated_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Room]:
        """Rooms with their members in one extra query."""
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch(
                    "memberships",
                    queryset=Membership.objects.select_related("user").order_by(
                        f"user__{_USERNAME}"
                    ),
                )
            )
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Room], search_term: str
    ) -> tuple[QuerySet[Room], bool]:
        """Search names and member usernames, and match a room id given in full."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            room_id = uuid.UUID(search_term.strip())
        except ValueError:
            return results, may_have_duplicates
        return results | queryset.filter(pk=room_id), may_have_duplicates

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Rooms are created by ``create_room``, which keys them by their member set."""
        return False

    @admin.display(description=_("room"))
    def title(self, room: Room) -> str:
        """The room's name, or its members' names."""
        return rooms.room_title(room, self._users(room))

    @admin.display(description=_("members"))
    def member_list(self, room: Room) -> str:
        """The members' usernames."""
        return ", ".join(user.get_username() for user in self._users(room))

    @staticmethod
    def _users(room: Room) -> list[User]:
        return [membership.user for membership in room.memberships.all()]


@admin.register(Message)
class MessageAdmin(_MessageAdmin):
    """Messages, newest first; staff may edit a message's text (moderation)."""

    list_display = ("short_text", "room", "seq", "sender", "created_at")
    list_display_links = ("short_text",)
    search_fields = ("text", f"sender__{_USERNAME}")
    list_select_related = ("room", "sender")
    raw_id_fields = ("room", "sender")
    fields = ("room", "seq", "sender", "created_at", "client_id", "text")
    readonly_fields = ("room", "seq", "sender", "created_at", "client_id")
    ordering = ("-created_at", "-seq")
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Messages are sent by ``send_message``, which numbers them within their room."""
        return False

    @admin.display(description=_("text"))
    def short_text(self, message: Message) -> str:
        """The first 60 characters of the text."""
        return Truncator(message.text).chars(60)


# The report queue and the blocks: a module of their own.
from chatter import moderation_admin  # noqa: E402, F401
