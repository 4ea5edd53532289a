"""The demo project's URLs plus ``/bench/stats``: statements counted by this process."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path
from urls import urlpatterns as demo_urlpatterns

from bench import statements


def stats(request: HttpRequest) -> JsonResponse:
    """The statements this server process has run so far, by shape (no query of its own)."""
    return JsonResponse(statements.snapshot())


urlpatterns = [path("bench/stats", stats), *demo_urlpatterns]
