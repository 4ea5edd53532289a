"""The group panel: rename a group, add and remove people, leave it, as plain forms.

The room page's header has a "Group" panel (``chatter/_group_panel.html``) whose forms
post here; each calls one action of :mod:`chatter.groups` and announces the change live
(:mod:`chatter.live.members`), then goes back to the room (or, after leaving, to the room
list). They work without JavaScript; with it, a page whose panel a live group change made
stale fetches it afresh when it is opened (``chatter:group`` with htmx). A refusal is the
room page with the panel open, the reason, and the status that says it: 404 for a room
the requester is not a member of, 403 for what they may not do, 429 when they act too
fast, 400 for bad input; nothing is changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from chatter import groups, rooms
from chatter.forms import ADD_MEMBERS_ID, AddMembersForm
from chatter.inputs import refuse_unstorable_text
from chatter.live.members import announce_group
from chatter.models import Message, Room
from chatter.types import User
from chatter.views import _requester, _room_context, _room_or_404, group_context

#: The HTTP status of each refusal code of :class:`chatter.groups.GroupRefused`.
STATUS = {"forbidden": 403, "rate_limited": 429}


def _page(request: HttpRequest, room: Room, status: int = 200, **extra: Any) -> HttpResponse:
    """The room page with the group panel open (and an error, if ``extra`` has one)."""
    context = _room_context(request, room, group_open=True, **extra)
    return render(request, "chatter/room.html", context, status=status)


@refuse_unstorable_text
@login_required
@require_GET
def group(request: HttpRequest, room_id: uuid.UUID) -> HttpResponse:
    """The group panel: alone for htmx (the page fetches it when opened), else the room
    page with the panel open. A room that is not a group has none: 404."""
    me = _requester(request)
    room = _room_or_404(room_id, me)
    people = rooms.members(room)
    if not groups.is_group(room, len(people)):
        raise Http404(_("No such group."))
    if request.headers.get("HX-Request") == "true":
        context = {"room": room, "members": people, **group_context(room, me, True, {})}
        return render(request, "chatter/_group_panel.html", context)
    return _page(request, room)


def _change(
    request: HttpRequest,
    room_id: uuid.UUID,
    action: Callable[..., Message | None],
    *args: Any,
    done: str = "",
) -> HttpResponse:
    """Apply a group action as the requester; announce it; go back (or show why not)."""
    me = _requester(request)
    room = _room_or_404(room_id, me)
    try:
        line = action(room, me, *args)
    except groups.GroupRefused as exc:
        if exc.code in ("not_found", "not_member"):
            raise Http404(str(exc)) from None
        return _page(request, room, STATUS.get(exc.code, 400), group_error=str(exc))
    announce_group(line)
    if done:
        return redirect(done)
    return redirect("chatter:chatroom", room_id=room.id)


@refuse_unstorable_text
@login_required
@require_POST
def rename(request: HttpRequest, room_id: uuid.UUID) -> HttpResponse:
    """Rename the group to ``name``."""
    return _change(request, room_id, groups.rename_group, request.POST.get("name", ""))


@refuse_unstorable_text
@login_required
@require_POST
def add(request: HttpRequest, room_id: uuid.UUID) -> HttpResponse:
    """Add the people named in ``usernames`` (the picker's chips, or the text field)."""
    form = AddMembersForm(request.POST, auto_id=ADD_MEMBERS_ID)
    if not form.is_valid():
        room = _room_or_404(room_id, _requester(request))
        return _page(request, room, 400, add_form=form)
    return _change(request, room_id, groups.add_members, form.cleaned_data["usernames"])


@refuse_unstorable_text
@login_required
@require_POST
def remove(request: HttpRequest, room_id: uuid.UUID) -> HttpResponse:
    """Remove the member whose id is ``user`` (the group's creator, or a moderator)."""
    person = _user(request.POST.get("user", ""))
    if person is None:
        room = _room_or_404(room_id, _requester(request))
        return _page(request, room, 400, group_error=_("No such user."))
    return _change(request, room_id, groups.remove_member, person)


@refuse_unstorable_text
@login_required
@require_POST
def leave(request: HttpRequest, room_id: uuid.UUID) -> HttpResponse:
    """Leave the group, then show the room list."""
    return _change(request, room_id, groups.leave_group, done="chatter:index")


def _user(value: str) -> User | None:
    """The user whose primary key is ``value``, or None (also for a malformed one)."""
    manager = get_user_model()._default_manager
    try:
        return manager.filter(pk=value).first() if value else None
    except (ValueError, TypeError, ValidationError):
        return None
