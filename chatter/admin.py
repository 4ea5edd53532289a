"""Admin pages for rooms and messages.

Rooms and messages are created only through :mod:`chatter.rooms` (a room's member set is
its identity, a message's number comes from its room), so the admin lists and searches
them, lets staff edit message text, and changes a group (rename it, add and remove
members) only through :mod:`chatter.groups`: each change is a system line in the room,
announced to its open pages, made as the staff user (who needs the permissions
``chatter.change_room``, ``chatter.add_membership`` and ``chatter.delete_membership``).
The report queue and the blocks are in :mod:`chatter.moderation_admin`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin
from django.contrib import messages as admin_messages
from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from chatter import groups, live, messages, rooms
from chatter.forms import split_usernames, users_named
from chatter.live.members import announce_group
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


class RoomForm(forms.ModelForm):  # type: ignore[type-arg]
    """A room's name, and for a group: people to add, members to remove."""

    add_members = forms.CharField(
        label=_("Add members"),
        required=False,
        help_text=_("Usernames, separated by commas or spaces. Only for groups."),
    )
    remove_members = forms.ModelMultipleChoiceField(
        label=_("Remove members"),
        required=False,
        queryset=get_user_model()._default_manager.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only for groups."),
    )

    class Meta:
        model = Room
        fields = ("name",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["remove_members"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = (
            get_user_model()
            ._default_manager.filter(chatter_memberships__room=self.instance)
            .order_by(_USERNAME)
        )

    def clean_add_members(self) -> list[User]:
        """The users named, existing and not members yet."""
        names = split_usernames(self.cleaned_data.get("add_members") or "")
        users = users_named(names) if names else []
        present = set(
            Membership.objects.filter(room=self.instance, user__in=users).values_list(
                "user_id", flat=True
            )
        )
        already = [u.get_username() for u in users if u.pk in present]
        if already:
            raise forms.ValidationError(
                _("Already members: %(names)s.") % {"names": ", ".join(already)}, code="member"
            )
        return users

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        changes = data.get("add_members") or data.get("remove_members")
        count = self.instance.memberships.count()
        if changes and not groups.is_group(self.instance, count):
            raise forms.ValidationError(
                _("The members of a conversation of two cannot change."), code="not_group"
            )
        return data


class MembershipInline(_MembershipInline):
    """The room's members and how far each has read; changed with the room's form."""

    model = Membership
    fields = ("user", "joined_at", "last_read_seq")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Room | None = None) -> bool:
        """Members are added with the room's form ("Add members")."""
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        """Members with their users, by username."""
        return super().get_queryset(request).select_related("user").order_by(f"user__{_USERNAME}")


@admin.register(Room)
class RoomAdmin(_RoomAdmin):
    """Rooms, most recent activity first."""

    form = RoomForm
    list_display = ("title", "member_list", "updated_at", "created_at")
    search_fields = ("name", f"memberships__user__{_USERNAME}")
    fields = (
        "id",
        "name",
        "created_by",
        "last_seq",
        "created_at",
        "updated_at",
        "add_members",
        "remove_members",
    )
    readonly_fields = ("id", "created_by", "last_seq", "created_at", "updated_at")
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

    def save_model(self, request: HttpRequest, obj: Room, form: Any, change: bool) -> None:
        """Save the room; a group's new name and members through :mod:`chatter.groups`."""
        actor: User = request.user  # type: ignore[assignment]
        count = Membership.objects.filter(room=obj).count()
        renamed = "name" in form.changed_data and obj.name.strip()
        if renamed and groups.is_group(Room.objects.get(pk=obj.pk), count):
            self._group(request, groups.rename_group, obj, actor, obj.name)
        else:
            super().save_model(request, obj, form, change)
        if form.cleaned_data.get("add_members"):
            self._group(request, groups.add_members, obj, actor, form.cleaned_data["add_members"])
        removed = list(form.cleaned_data.get("remove_members") or ())
        if removed:
            self._group(request, groups.remove_members, obj, actor, removed)

    def _group(self, request: HttpRequest, action: Any, room: Room, *args: Any) -> None:
        """One group action, announced; a refusal is shown as an error message."""
        try:
            announce_group(action(room, *args))
        except groups.GroupRefused as exc:
            self.message_user(request, str(exc), admin_messages.ERROR)

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


# The report queue and the blocks: a module of their own.
from chatter import moderation_admin  # noqa: E402, F401
