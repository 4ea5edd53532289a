"""The demo's own pages: log in, a people list and profiles with a "Message" button."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from demo.accounts import PASSWORD


class DemoLoginView(LoginView):
    """Django's login page, telling who the demo users of this site are and their password."""

    template_name = "demo/login.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        user_model = get_user_model()
        field = user_model.USERNAME_FIELD
        names = user_model._default_manager.filter(is_active=True).order_by(field)
        return super().get_context_data(
            demo_usernames=list(names.values_list(field, flat=True)[:5]),
            demo_password=PASSWORD,
            **kwargs,
        )


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
