"""The staff's report queue (and a read-only list of blocks), registered by ``chatter.admin``.

Reports come from members (:func:`chatter.moderation.report_message`); staff read them
here, unresolved first, with the text as it was reported and the messages around it as
they are now, and act with the admin actions. Each action needs its own permission (an
action the user may not take is not offered), goes through :mod:`chatter.moderation`
(which checks the permission again), and resolves the reports it acted on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib import messages as notices
from django.contrib.auth import get_user_model
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from chatter import moderation
from chatter.messages import MessageRefused
from chatter.models import Block, Report
from chatter.types import User

if TYPE_CHECKING:
    _ReportAdmin = admin.ModelAdmin[Report]
    _BlockAdmin = admin.ModelAdmin[Block]
    _OpenFilter = admin.SimpleListFilter
else:
    _ReportAdmin = _BlockAdmin = admin.ModelAdmin
    _OpenFilter = admin.SimpleListFilter

_USERNAME = get_user_model().USERNAME_FIELD
#: What an action does to one report: a function of :mod:`chatter.moderation`.
Act = Callable[[Report, User], object]


class OpenFilter(_OpenFilter):
    """Open (unresolved) or resolved reports."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("open", _("Open")), ("resolved", _("Resolved"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(Report)
class ReportAdmin(_ReportAdmin):
    """Reports, open ones first, newest first; read-only, acted on with the actions."""

    list_display = ("short_text", "room", "author", "reporter", "reason", "created_at", "done")
    list_display_links = ("short_text",)
    list_filter = (OpenFilter, "reason")
    list_select_related = ("room", "author", "reporter")
    search_fields = ("text", "details", f"author__{_USERNAME}", f"reporter__{_USERNAME}")
    ordering = (F("resolved_at").asc(nulls_first=True), "-created_at", "-pk")
    fields = (
        "room",
        "seq",
        "author",
        "reporter",
        "reason",
        "details",
        "text",
        "context",
        "created_at",
        "resolved_at",
        "resolved_by",
    )
    readonly_fields = fields
    actions = ["delete_reported_message", "remove_author", "deactivate_author", "mark_resolved"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Reports are made by members, from a message's menu or page."""
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        """The moderation actions, without "delete selected": acting resolves a report."""
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description=_("text when reported"))
    def short_text(self, report: Report) -> str:
        return Truncator(report.text).chars(60)

    @admin.display(description=_("resolved"), boolean=True)
    def done(self, report: Report) -> bool:
        return report.resolved_at is not None

    @admin.display(description=_("messages around it, as they are now"))
    def context(self, report: Report) -> SafeString:
        """The reported message and three on each side, through an autoescaped template."""
        context = {"report": report, "context_messages": moderation.context_of(report)}
        return render_to_string("chatter/admin/report_context.html", context)

    # -- who may take which action -------------------------------------------------------

    def has_moderate_delete_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("chatter.delete_message")

    def has_moderate_remove_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("chatter.delete_membership")

    def has_moderate_deactivate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(moderation.user_permission("change"))

    def has_moderate_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("chatter.change_report")

    # -- the actions ---------------------------------------------------------------------

    @admin.action(description=_("Delete the message"), permissions=["moderate_delete"])
    def delete_reported_message(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        self._each(request, queryset, moderation.delete_reported)

    @admin.action(description=_("Remove the author from the room"), permissions=["moderate_remove"])
    def remove_author(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        self._each(request, queryset, moderation.remove_author)

    @admin.action(description=_("Deactivate the author"), permissions=["moderate_deactivate"])
    def deactivate_author(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        self._each(request, queryset, moderation.deactivate_author)

    @admin.action(description=_("Mark resolved"), permissions=["moderate_resolve"])
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        self._each(request, queryset, moderation.resolve)

    def _each(self, request: HttpRequest, queryset: QuerySet[Report], act: Act) -> None:
        """Apply ``act`` to each report; say how many were done and why others were not."""
        staff: Any = request.user
        done, refused = 0, []
        for report in queryset.order_by("pk"):
            try:
                act(report, staff)
            except MessageRefused as exc:  # ModerationRefused, or a refused deletion
                refused.append(f"{report}: {exc}")
            else:
                done += 1
        if done:
            text = ngettext("Done for %(count)d report.", "Done for %(count)d reports.", done) % {
                "count": done
            }
            self.message_user(request, text, notices.SUCCESS)
        for line in refused:
            self.message_user(request, line, notices.WARNING)


@admin.register(Block)
class BlockAdmin(_BlockAdmin):
    """Who blocks whom (members block and unblock on the site; staff only look)."""

    list_display = ("blocker", "blocked", "created_at")
    list_select_related = ("blocker", "blocked")
    search_fields = (f"blocker__{_USERNAME}", f"blocked__{_USERNAME}")
    readonly_fields = ("blocker", "blocked", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Block | None = None) -> bool:
        return False
