"""Signal receivers: a logout closes the sockets opened with that session."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from chatter import live
from chatter.types import User


@receiver(user_logged_out, dispatch_uid="chatter.close_sockets_on_logout")
def close_sockets_on_logout(
    sender: type[User], request: HttpRequest | None, user: User | None, **kwargs: Any
) -> None:
    """Close the logged-out session's open sockets."""
    if user is None or request is None or not hasattr(request, "session"):
        return
    live.announce_logout(user.pk, request.session.session_key)
