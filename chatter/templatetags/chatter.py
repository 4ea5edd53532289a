"""Template tags and filters of Chatter: ``{% load chatter %}``."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django import template
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.utils import formats, timezone
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext

from chatter import avatars, formatting, mention_text, moderation, rooms
from chatter.models import Room
from chatter.types import AnyUser, User

register = template.Library()


@register.filter
def chatter_name(user: User | None) -> str:
    """How a user is named in Chatter: full name if set, else the username."""
    return rooms.display_name(user)


@register.filter
def chatter_names(users: Any) -> str:
    """Names of several users, separated by commas."""
    return ", ".join(rooms.display_name(u) for u in users or ())


def _listed(people: Any) -> str:
    """The names stored in a system line: ``[[id, name], ...]``."""
    names = [str(p[1]) for p in people or () if isinstance(p, list | tuple) and len(p) == 2]
    return ", ".join(names)


@register.filter
def chatter_system_line(message: Any) -> str:
    """The sentence of a system line ("alice added carol"), in the reader's language."""
    data = message.data if isinstance(message.data, dict) else {}
    actor = rooms.display_name(message.sender)
    action = data.get("action")
    if action == "added":
        return gettext("%(actor)s added %(users)s") % {
            "actor": actor,
            "users": _listed(data.get("users")),
        }
    if action == "removed":
        return gettext("%(actor)s removed %(users)s") % {
            "actor": actor,
            "users": _listed(data.get("users")),
        }
    if action == "left":
        return gettext("%(actor)s left the group") % {"actor": actor}
    if action == "renamed":
        return gettext("%(actor)s renamed the group to “%(name)s”") % {
            "actor": actor,
            "name": str(data.get("name", "")),
        }
    return gettext("%(actor)s changed the group") % {"actor": actor}


@register.filter
def chatter_preview(message: Any) -> str:
    """A message as a room list previews it: deleted, a system line, or its text, short."""
    if message.deleted_at is not None:
        return gettext("Message deleted")
    if message.kind == "system":
        return chatter_system_line(message)
    files = getattr(message, "files", 0)
    if files and not message.text:
        # A message of files only (chatter.attachments): say how many.
        return "\N{PAPERCLIP} " + ngettext("%(count)d file", "%(count)d files", files) % {
            "count": files
        }
    return Truncator(chatter_text(message)).chars(80)


@register.filter
def chatter_format(text: object, mentioned: dict[str, Any] | None = None) -> SafeString:
    """A message's text as HTML: its Markdown rendered and sanitised (``chatter.formatting``),
    its mentions named from ``mentioned``:
    ``{{ message.text|chatter_format:message.mentioned }}``."""
    return formatting.render(str(text or ""), mentioned if isinstance(mentioned, dict) else None)


@register.filter
def chatter_text(message: Any) -> str:
    """A message's text as plain text, its mentions as "@Name": a quote, a preview."""
    return mention_text.plain(message.text, message.mentioned)


@register.filter
def chatter_editable(message: Any) -> str:
    """A message's text as its author edits it: its mentions as "@username"."""
    return mention_text.editable(message.text, message.mentioned)


@register.filter
def chatter_mentions(message: Any) -> str:
    """The ids of the users a message mentions, between spaces (``[data-mentions~=id]``)."""
    return " ".join(mention_text.ids_in(message.text, message.mentioned))


@register.filter
def chatter_initials(name: object) -> str:
    """Up to two capital initials of a name, for the avatar circles."""
    return avatars.initials(name)


def _size(size: str) -> str:
    return size if size in ("small",) else ""


@register.inclusion_tag("chatter/_avatar.html")
def chatter_avatar(user: User | None, size: str = "") -> dict[str, Any]:
    """A user's avatar: their picture (``CHATTER_AVATAR_URL``) or initials, in their colour.

    ``size`` is "" or "small". Decorative (``aria-hidden``): the name stands next to it.
    """
    return {**avatars.for_user(user), "size": _size(size)}


@register.inclusion_tag("chatter/_avatar.html", takes_context=True)
def chatter_room_avatar(
    context: template.Context, room: Room, people: Iterable[User], title: str, size: str = ""
) -> dict[str, Any]:
    """A room's avatar: in an unnamed room of two, the other user's; else the initials of
    ``title`` in the room's colour. ``people`` are its members (the viewer is left out)."""
    avatar = avatars.for_room(room, people, _viewer(context), title)
    return {**avatar, "size": _size(size)}


def _local_date(value: datetime.date) -> datetime.date:
    """The date of ``value`` (a date, or a datetime seen in the current time zone)."""
    if not isinstance(value, datetime.datetime):
        return value
    return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()


@register.filter
def chatter_isodate(value: datetime.date | None) -> str:
    """The local date of ``value`` as YYYY-MM-DD (the history loader's ``day``)."""
    return _local_date(value).isoformat() if value else ""


@register.filter
def chatter_day(value: datetime.date | None) -> str:
    """ "Today", "Yesterday" or the date: the day separators between messages."""
    if value is None:
        return ""
    day = _local_date(value)
    today = timezone.localdate()
    if day == today:
        return gettext("Today")
    if day == today - datetime.timedelta(days=1):
        return gettext("Yesterday")
    return formats.date_format(day, "DATE_FORMAT")


@register.filter
def chatter_when(value: datetime.datetime | None) -> str:
    """The time if ``value`` is today, else a short date: the room list's time column."""
    if value is None:
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    if local.date() == timezone.localdate():
        return formats.time_format(local, "H:i")
    return formats.date_format(local, "SHORT_DATE_FORMAT")


def _viewer(context: template.Context) -> User | None:
    """The logged-in user the page is for (``request.user``, else ``user``), or None."""
    request = context.get("request")
    viewer = getattr(request, "user", None) or context.get("user")
    logged_in: User | None = viewer if getattr(viewer, "is_authenticated", False) else None
    return logged_in


@register.inclusion_tag("chatter/message_button.html", takes_context=True)
def chatter_message_button(context: template.Context, user: AnyUser | None) -> dict[str, Any]:
    """A "Message" button: a small POST form to the room of the viewer and ``user``.

    A ``<button>`` (it looks like one without any stylesheet) whose accessible name is
    "Message <name>" (``aria-label``, so no visually hidden text shows on a page without
    ``chatter/chatter.css``), in a form with the CSRF token: ``chatter:chat_with`` creates
    rooms on POST only. Renders nothing for ``None``, an anonymous or unsaved user, or the
    viewer themself.
    """
    request = context.get("request")
    viewer = _viewer(context)
    show = bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and getattr(user, "pk", None) is not None
        and not (viewer is not None and viewer.pk == user.pk)
    )
    data: dict[str, Any] = {
        "show": show,
        "target": user,
        "username": user.get_username() if show and user is not None else "",
    }
    if show and isinstance(request, HttpRequest):
        # Also where the page was rendered without a RequestContext.
        data["csrf_token"] = get_token(request)
    return data


@register.inclusion_tag("chatter/block_button.html", takes_context=True)
def chatter_block_button(context: template.Context, user: AnyUser | None) -> dict[str, Any]:
    """A "Block" button for ``user`` (or "Unblock" if the viewer blocks them already).

    A POST form to ``chatter:block`` / ``chatter:unblock`` that comes back to this page.
    Renders nothing for ``None``, an anonymous or unsaved user, an anonymous viewer, or the
    viewer themself. Uses the page's ``chatter_blocked_ids`` when Chatter's own pages have
    them, else asks the database (one query).
    """
    request = context.get("request")
    viewer = _viewer(context)
    show = bool(
        viewer is not None
        and user is not None
        and getattr(user, "is_authenticated", False)
        and getattr(user, "pk", None) is not None
        and viewer.pk != user.pk
    )
    data: dict[str, Any] = {"show": show, "target": user}
    if not show or viewer is None or user is None:
        return data
    known = context.get("chatter_blocked_ids")
    data["blocked"] = user.pk in known if known is not None else moderation.is_blocked(viewer, user)
    data["username"] = user.get_username()
    if isinstance(request, HttpRequest):
        data["csrf_token"] = get_token(request)
        data["next"] = request.get_full_path()
    return data


_CSS_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ")


@register.filter
def chatter_css(value: object) -> str:
    """``value`` as the inside of a CSS string: every character but ASCII letters, digits
    and spaces written as a hex escape (``\\2014 ``). What it returns has no quote, angle
    bracket or ampersand, so neither HTML escaping nor the end of a ``<style>`` can
    change it."""
    return "".join(c if c in _CSS_SAFE else f"\\{ord(c):x} " for c in str(value))


@register.simple_tag(takes_context=True)
def chatter_unread_count(context: template.Context) -> int:
    """Unread messages of the logged-in user in all their rooms; 0 for anonymous visitors."""
    viewer = _viewer(context)
    if viewer is None:
        return 0
    return rooms.total_unread(viewer)
