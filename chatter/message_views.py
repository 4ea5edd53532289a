"""Pages and forms of one message: edit, delete, react (and reply) without JavaScript.

With JavaScript the room page does the same over its socket (``chatter.js``); these views
are the HTTP path of the same actions of :mod:`chatter.messages`, so a form works where
scripts do not. A refusal is a page with the reason and the status that says it: 404 for
a room or message the requester cannot see, 403 for an action they may not take, 400
for bad input, 429 when they act too fast; nothing is changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from chatter import conf, live, messages, moderation, timeline
from chatter.forms import ReportForm
from chatter.inputs import refuse_unstorable_text
from chatter.models import Message, Room
from chatter.views import _requester, _room_or_404

#: The HTTP status of each refusal code of :class:`chatter.messages.MessageRefused`.
STATUS = {
    "not_found": 404,
    "not_member": 404,
    "forbidden": 403,
    "deleted": 403,
    "too_old": 403,
    "rate_limited": 429,
    "blocked": 403,
    "already_reported": 409,
}


def _message_or_404(room: Room, seq: int) -> Message:
    try:
        return timeline.message_at(room, seq)
    except Message.DoesNotExist:
        raise Http404(_("No such message.")) from None


def _page(
    request: HttpRequest, room: Room, message: Message, status: int = 200, **extra: Any
) -> HttpResponse:
    """The message's page: the message, and the forms of what the requester may do."""
    user = _requester(request)
    context = {
        "base_template": conf.get("CHATTER_BASE_TEMPLATE"),
        "room": room,
        "message": message,
        "can_edit": messages.can_edit(message, user),
        "can_delete": messages.can_delete(message, user),
        "can_react": not message.is_deleted and not message.is_system,
        "reactions": messages.DEFAULT_REACTIONS,
        **extra,
    }
    context["can_report"] = moderation.report_refusal(message, user) is None
    if context["can_report"]:
        context["reported"] = moderation.has_reported(message, user)
        context.setdefault("report_form", ReportForm())
    return render(request, "chatter/message.html", context, status=status)


def _done(request: HttpRequest, room: Room, message: Message) -> HttpResponse:
    """After an action: htmx gets the message as it is now; a form goes back to the room."""
    if request.headers.get("HX-Request") == "true":
        return render(request, "chatter/_message.html", {"message": message})
    url = reverse("chatter:chatroom", args=[room.id])
    return redirect(f"{url}#chatter-msg-{message.seq}")


def _act(
    request: HttpRequest,
    room_id: uuid.UUID,
    seq: int,
    action: Callable[..., tuple[Message, bool]],
    *args: Any,
) -> HttpResponse:
    room = _room_or_404(room_id, _requester(request))
    try:
        message, changed = action(room, _requester(request), seq, *args)
    except messages.MessageRefused as exc:
        if exc.code in ("not_found", "not_member"):
            raise Http404(str(exc)) from None
        found = _message_or_404(room, seq)
        status = STATUS.get(exc.code, 400)
        kept = {"editing": True, "text": args[0]} if action is messages.edit_message else {}
        return _page(request, room, found, status, error=str(exc), **kept)
    if changed:
        live.announce_change(message)
    return _done(request, room, message)


@refuse_unstorable_text
@login_required
@require_http_methods(["GET"])
def message(request: HttpRequest, room_id: uuid.UUID, seq: int) -> HttpResponse:
    """One message and what the requester may do with it (the no-JavaScript menu)."""
    room = _room_or_404(room_id, _requester(request))
    return _page(request, room, _message_or_404(room, seq))


@refuse_unstorable_text
@login_required
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, room_id: uuid.UUID, seq: int) -> HttpResponse:
    """GET: the edit form (alone for htmx, else in the message's page); POST: save it."""
    if request.method == "POST":
        return _act(request, room_id, seq, messages.edit_message, request.POST.get("text", ""))
    room = _room_or_404(room_id, _requester(request))
    found = _message_or_404(room, seq)
    if not messages.can_edit(found, _requester(request)):
        return _page(request, room, found, 403, error=_("You cannot edit this message."))
    if request.headers.get("HX-Request") == "true":
        return render(request, "chatter/_edit_form.html", {"room": room, "message": found})
    return _page(request, room, found, editing=True)


@refuse_unstorable_text
@login_required
@require_POST
def delete(request: HttpRequest, room_id: uuid.UUID, seq: int) -> HttpResponse:
    """Delete the message (its author, or a user with ``chatter.delete_message``)."""
    return _act(request, room_id, seq, messages.delete_message)


@refuse_unstorable_text
@login_required
@require_POST
def react(request: HttpRequest, room_id: uuid.UUID, seq: int) -> HttpResponse:
    """Toggle the requester's ``emoji`` on the message."""
    return _act(request, room_id, seq, messages.toggle_reaction, request.POST.get("emoji", ""))
