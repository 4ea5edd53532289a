"""The demo's own pages: a people list and profiles with Chatter's "Message" button."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    """Every active user, linked to their profile."""
    user_model = get_user_model()
    people = user_model._default_manager.filter(is_active=True).order_by(user_model.USERNAME_FIELD)
    return render(request, "demo/user_list.html", {"people": people})


@login_required
def profile(request: HttpRequest, username: str) -> HttpResponse:
    """One user's profile, with a "Message" button."""
    user_model = get_user_model()
    profile_user = get_object_or_404(
        user_model._default_manager, **{user_model.USERNAME_FIELD: username}
    )
    return render(request, "demo/profile.html", {"profile_user": profile_user})
