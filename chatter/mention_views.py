"""The members the composer offers after "@" (``chatter.js``): a partial of options.

Mentions themselves need no view: the composer sends "@alice" as text, over the socket or
as the plain form, and :mod:`chatter.messages` resolves it when it stores the message.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from chatter import mentions
from chatter.inputs import refuse_unstorable_text
from chatter.views import _requester, _room_or_404


@refuse_unstorable_text
@login_required
@require_GET
def mention_search(request: HttpRequest, room_id: uuid.UUID) -> HttpResponse:
    """Members of the room (never the requester) matching ``?q=``, at most
    ``CHATTER_USER_SEARCH_LIMIT``; all of them (as many) for an empty query. Members only:
    404 for anyone else."""
    room = _room_or_404(room_id, _requester(request))
    query = request.GET.get("q", "").strip()[:100]
    people = mentions.search_members(room, query, exclude=_requester(request))
    return render(request, "chatter/_mention_options.html", {"users": people, "query": query})
