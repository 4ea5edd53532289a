"""Admin pages for rooms and messages.

Rooms and messages are created only through :mod:`chatter.rooms` (a room's member set is
its identity, a message's number comes from its room), so the admin lists, searches and
lets staff rename rooms and edit message text, but does not add either or change members.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from chatter import live, messages, rooms
from chatter.models import Membership, Message, Revision, Room
from chatter.types import User

if TYPE_CHECKING:
    # django-stubs makes the admin classes generic in their models; Django's own classes
    # cannot be subscripted at run time.
    _MembershipInline = admin.TabularInline[Membership, Room]
    _RoomAdmin = admin.ModelAdmin[Room]
    _MessageAdmin = admin.ModelAdmin[Message]
    _RevisionInline = admin.TabularInline[Revision, Message]
else:
    _MembershipInline = _RevisionInline = admin.TabularInline
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


class RevisionInline(_RevisionInline):
    """The texts a message had before its edits: for moderators, never shown to members."""

    model = Revision
    extra = 0
    can_delete = False
    fields = ("replaced_at", "text")
    readonly_fields = ("replaced_at", "text")
    ordering = ("replaced_at", "pk")

    def has_add_permission(self, request: HttpRequest, obj: Message | None = None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(_MessageAdmin):
    """Messages, newest first; staff may edit a message's text or delete it (moderation).

    Both go through :mod:`chatter.messages`, so open pages see the change at once and a
    page that was away gets it when it resumes; the earlier texts are listed below.
    """

    list_display = ("short_text", "room", "seq", "sender", "created_at", "edited_at", "deleted_at")
    list_display_links = ("short_text",)
    list_filter = ("kind",)
    search_fields = ("text", f"sender__{_USERNAME}")
    list_select_related = ("room", "sender")
    raw_id_fields = ("room", "sender")
    fields = (
        "room",
        "seq",
        "sender",
        "created_at",
        "client_id",
        "reply_to",
        "edited_at",
        "deleted_at",
        "text",
    )
    readonly_fields = (
        "room",
        "seq",
        "sender",
        "created_at",
        "client_id",
        "reply_to",
        "edited_at",
        "deleted_at",
    )
    ordering = ("-created_at", "-seq")
    date_hierarchy = "created_at"
    inlines = (RevisionInline,)
    actions = ("delete_for_everyone",)

    def save_model(self, request: HttpRequest, obj: Message, form: Any, change: bool) -> None:
        """A changed text is an edit: kept as an earlier text and announced."""
        if change and "text" in form.changed_data:
            message, changed = messages.moderate_text(obj, obj.text)
            if changed:
                live.announce_change(message)
            return
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Delete for everyone (remove the text)"), permissions=["delete"])
    def delete_for_everyone(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        """Delete as members see it: a tombstone keeps the place, the text leaves."""
        done = 0
        for message in queryset.select_related("room"):
            try:
                staff = cast(User, request.user)
                found, changed = messages.delete_message(message.room, staff, message.seq)
            except messages.MessageRefused as exc:
                self.message_user(request, f"#{message.seq}: {exc}", level="warning")
                continue
            if changed:
                live.announce_change(found)
                done += 1
        self.message_user(
            request,
            ngettext("%(count)d message deleted.", "%(count)d messages deleted.", done)
            % {"count": done},
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Messages are sent by ``send_message``, which numbers them within their room."""
        return False

    @admin.display(description=_("text"))
    def short_text(self, message: Message) -> str:
        """The first 60 characters of the text."""
        return Truncator(message.text).chars(60)
