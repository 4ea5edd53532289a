"""Pages and forms of moderation: block and unblock people, the blocked list, reports.

Thin, over :mod:`chatter.moderation`. Blocking is a POST form (a button on a profile, in
a one-to-one room's header, on the blocked list) that goes back where it came from. A
report is a form too: in a dialog of the room page (``chatter.js`` fetches the form and
posts it with the ``HX-Request`` header, and shows the answer in the dialog), or on the
message's own page without JavaScript. Refusals are pages with the status that says
why, as in :mod:`chatter.message_views`.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chatter import conf, moderation
from chatter.forms import ReportForm
from chatter.inputs import refuse_unstorable_text
from chatter.message_views import STATUS, _message_or_404, _page
from chatter.models import Message, Room
from chatter.views import _requester, _room_or_404, _user_or_404


def _back(request: HttpRequest) -> HttpResponse:
    """Redirect to the form's ``next`` (a page of this site), else to the blocked list."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("chatter:blocked")


def _blocked_page(request: HttpRequest, status: int = 200, error: str = "") -> HttpResponse:
    context = {
        "base_template": conf.get("CHATTER_BASE_TEMPLATE"),
        "blocks": moderation.blocks_of(_requester(request)),
        "error": error,
    }
    return render(request, "chatter/blocked.html", context, status=status)


@refuse_unstorable_text
@login_required
@require_GET
def blocked(request: HttpRequest) -> HttpResponse:
    """The people the requester blocks, each with an "Unblock" button."""
    return _blocked_page(request)


@refuse_unstorable_text
@login_required
@require_POST
def block(request: HttpRequest, username: str) -> HttpResponse:
    """Block ``username``; then back to ``next``."""
    try:
        moderation.block(_requester(request), _user_or_404(username))
    except moderation.ModerationRefused as exc:
        return _blocked_page(request, STATUS.get(exc.code, 400), str(exc))
    return _back(request)


@refuse_unstorable_text
@login_required
@require_POST
def unblock(request: HttpRequest, username: str) -> HttpResponse:
    """Unblock ``username``; then back to ``next``."""
    try:
        moderation.unblock(_requester(request), _user_or_404(username))
    except moderation.ModerationRefused as exc:
        return _blocked_page(request, STATUS.get(exc.code, 400), str(exc))
    return _back(request)


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _form(
    request: HttpRequest,
    room: Room,
    message: Message,
    form: ReportForm,
    status: int = 200,
    error: str = "",
) -> HttpResponse:
    """The report form: alone for the room page's dialog, else in the message's page."""
    if _is_htmx(request):
        context = {"room": room, "message": message, "form": form, "error": error}
        return render(request, "chatter/_report_form.html", context, status=status)
    if moderation.report_refusal(message, _requester(request)) is not None:
        return _page(request, room, message, status, error=error)  # no form to show it in
    return _page(request, room, message, status, report_form=form, report_error=error)


@refuse_unstorable_text
@login_required
@require_http_methods(["GET", "POST"])
def report(request: HttpRequest, room_id: uuid.UUID, seq: int) -> HttpResponse:
    """GET: the report form of message ``seq``; POST: send the report to the staff."""
    user = _requester(request)
    room = _room_or_404(room_id, user)
    message = _message_or_404(room, seq)
    if request.method == "GET":
        refusal = moderation.report_refusal(message, user)
        if refusal is not None:
            status = STATUS.get(refusal.code, 400)
            return _form(request, room, message, ReportForm(), status, str(refusal))
        return _form(request, room, message, ReportForm())
    form = ReportForm(request.POST)
    if not form.is_valid():
        return _form(request, room, message, form, 400)
    data = form.cleaned_data
    try:
        moderation.report_message(room, user, seq, data["reason"], data["details"])
    except moderation.ModerationRefused as exc:
        if exc.code in ("not_found", "not_member"):
            raise Http404(str(exc)) from None
        return _form(request, room, message, form, STATUS.get(exc.code, 400), str(exc))
    if _is_htmx(request):
        return render(request, "chatter/_report_done.html", {"room": room, "message": message})
    return redirect(reverse("chatter:message", args=[room.id, seq]) + "#chatter-report")
