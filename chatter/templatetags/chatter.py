"""Template tags and filters of Chatter: ``{% load chatter %}``."""

from __future__ import annotations

from typing import Any

from django import template

from chatter import rooms

register = template.Library()


@register.filter
def chatter_name(user: Any) -> str:
    """How a user is named in Chatter: full name if set, else the username."""
    return rooms.display_name(user)
