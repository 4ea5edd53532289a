"""Template tags of notifications: ``{% load chatter_notify %}``."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest
from django.middleware.csrf import get_token

from chatter import notify
from chatter.models import Room

register = template.Library()


def _known_muted(context: template.Context, room: Room) -> bool | None:
    """Whether the page's room list (``summaries``) has ``room`` muted; None if it lacks it."""
    for summary in context.get("summaries") or ():
        if summary.room.pk == room.pk:
            return bool(summary.membership.muted)
    return None


@register.inclusion_tag("chatter/_mute_button.html", takes_context=True)
def chatter_mute_button(
    context: template.Context, room: Room | None, muted: bool | None = None
) -> dict[str, Any]:
    """A "Mute" (or "Unmute") button for ``room``: a POST form that comes back here.

    Whether the room is muted comes from ``muted``, else from the page's room list, else
    from the database (one query). Renders nothing without a room or a logged-in viewer.
    """
    request = context.get("request")
    user = getattr(request, "user", None)
    show = room is not None and user is not None and user.is_authenticated
    data: dict[str, Any] = {"show": show, "room": room}
    if not show or room is None or user is None:
        return data
    if muted is None:
        muted = _known_muted(context, room)
    data["muted"] = notify.is_muted(room, user) if muted is None else muted
    if isinstance(request, HttpRequest):
        data["csrf_token"] = get_token(request)
        data["next"] = request.get_full_path()
    return data


@register.simple_tag(takes_context=True)
def chatter_notify_count(context: template.Context) -> int:
    """Unread messages of the logged-in user outside muted rooms (0 for visitors)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return notify.unread_total(user)
