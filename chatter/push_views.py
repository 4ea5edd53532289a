"""Web Push pages: the service worker, and subscribing or unsubscribing a browser.

Thin: :mod:`chatter.push_input` checks what the browser posted, :mod:`chatter.push`
stores it. Answers are JSON: ``{"ok": true, ...}``, or ``{"error": "..."}`` with 400
(a malformed subscription), 403 (not logged in) or 404 (push is off).
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import condition, require_GET, require_POST

from chatter import push, push_input

#: The service worker's source, shipped in the package's static files.
SERVICE_WORKER = Path(__file__).parent / "static" / "chatter" / "sw.js"


@cache
def _source() -> bytes:
    return SERVICE_WORKER.read_bytes()


def _etag(request: HttpRequest) -> str:
    return hashlib.sha256(_source()).hexdigest()[:32]


@require_GET
@condition(etag_func=_etag)
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker, served under the chat's URL prefix so its scope covers the
    chat's pages; browsers check it for updates, so it is never cached without asking."""
    response = HttpResponse(_source(), content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"ok": False, "error": message}, status=status)


def _refusal(request: HttpRequest) -> JsonResponse | None:
    if not push_input.enabled():
        return _error(_("Push notifications are not set up on this site."), 404)
    if not request.user.is_authenticated:
        return _error(_("Log in to receive push notifications."), 403)
    return None


@require_POST
def subscribe(request: HttpRequest) -> JsonResponse:
    """Record the browser's subscription (the JSON of ``PushSubscription.toJSON()``)."""
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    try:
        sub = push_input.parse_subscription(request.body)
    except push_input.SubscriptionError as exc:
        return _error(str(exc), 400)
    assert request.user.is_authenticated
    push.subscribe(request.user, sub, _browser(request.headers.get("User-Agent", "")))
    return JsonResponse({"ok": True, "subscribed": True})


@require_POST
def unsubscribe(request: HttpRequest) -> JsonResponse:
    """Forget the browser's subscription (``{"endpoint": ...}``)."""
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    try:
        endpoint = push_input.parse_unsubscribe(request.body)
    except push_input.SubscriptionError as exc:
        return _error(str(exc), 400)
    assert request.user.is_authenticated
    return JsonResponse({"ok": True, "deleted": push.unsubscribe(request.user, endpoint)})


def _browser(user_agent: str) -> str:
    """A short label of the browser, for the user's list of devices."""
    for name in ("Edg", "Firefox", "Chrome", "Safari"):
        if f"{name}/" in user_agent:
            label = {"Edg": "Edge"}.get(name, name)
            for system in ("Android", "iPhone", "iPad", "Windows", "Mac OS", "Linux"):
                if system in user_agent:
                    return f"{label} ({system})"
            return label
    return user_agent[:60]
