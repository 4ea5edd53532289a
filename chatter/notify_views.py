"""Pages of notifications: mute a room, and a user's preferences.

Thin, over :mod:`chatter.notify`. Both are plain POST forms that work without JavaScript;
bad input is a 400 page, a room the user is not in a 404.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from chatter import conf, notify, rooms
from chatter.forms import MuteForm, PreferencesForm
from chatter.inputs import refuse_unstorable_text
from chatter.views import _requester, _room_or_404

#: Where another part of Chatter (Web Push) puts its own preferences, if it is installed.
PUSH_TEMPLATE = "chatter/_push_preferences.html"


def _next_or(request: HttpRequest, default: str) -> HttpResponse:
    """Redirect to the form's ``next`` if it is a page of this site, else to ``default``."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default)


@refuse_unstorable_text
@login_required
@require_POST
def mute(request: HttpRequest, room_id: uuid.UUID) -> HttpResponse:
    """Mute (``muted=1``) or unmute (``muted=0``) the room for the requester; then back."""
    room = _room_or_404(room_id, _requester(request))
    form = MuteForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(_("muted must be 1 or 0."))
    notify.set_muted(room, _requester(request), form.cleaned_data["muted"])
    return _next_or(request, reverse("chatter:chatroom", args=[room.pk]))


def _push_template() -> str | None:
    try:
        get_template(PUSH_TEMPLATE)
    except TemplateDoesNotExist:
        return None
    return PUSH_TEMPLATE


@refuse_unstorable_text
@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """The requester's notification choices: the e-mail digest, muted rooms, this
    browser's notifications (``chatter/notify.js``), and Web Push where installed."""
    user = _requester(request)
    prefs = notify.preferences_for(user)
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            notify.save_preferences(user, email_digest=form.cleaned_data["email_digest"])
            return redirect(reverse("chatter:preferences") + "?saved=1")
    else:
        form = PreferencesForm(initial={"email_digest": prefs.email_digest})
    muted = [s for s in rooms.rooms_for(user) if s.membership.muted]
    context = {
        "base_template": conf.get("CHATTER_BASE_TEMPLATE"),
        "form": form,
        "muted": muted,
        "push_template": _push_template(),
        "saved": request.method == "GET" and request.GET.get("saved") == "1",
    }
    return render(request, "chatter/preferences.html", context)
