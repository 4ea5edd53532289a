"""The message search page and partial: a thin view over :mod:`chatter.search`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from chatter import rooms, search
from chatter.inputs import refuse_unstorable_text
from chatter.models import Room
from chatter.types import User
from chatter.views import _base_context, _requester


def _title(room: Room, me: User) -> str:
    return rooms.room_title(room, [u for u in rooms.members(room) if u.pk != me.pk])


@refuse_unstorable_text
@login_required
@require_GET
def message_search(request: HttpRequest) -> HttpResponse:
    """Messages matching ``?q=``, in ``?room=<id>`` only if given (404 for a non-member).

    For htmx the results partial (a query with errors is a 200 too: htmx swaps only those);
    else the room list page with the results under its search box (400 with errors).
    """
    me = _requester(request)
    room = None
    if request.GET.get("room"):
        try:
            room = rooms.room_for_member(request.GET["room"], me)
        except Room.DoesNotExist:
            raise Http404(_("No such room.")) from None
    results = search.search(me, request.GET.get("q", ""), room=room)
    context: dict[str, Any] = {"results": results}
    if request.headers.get("HX-Request") == "true":
        return render(request, "chatter/_search_results.html", context)
    if room is not None:
        context.update(search_room=room, search_title=_title(room, me))
    status = 400 if results.errors else 200
    return render(request, "chatter/index.html", _base_context(request, **context), status=status)
