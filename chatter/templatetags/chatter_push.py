"""``{% load chatter_push %}``: what the push preferences template needs."""

from __future__ import annotations

from django import template

from chatter import push_input

register = template.Library()


@register.simple_tag
def chatter_push_key() -> str:
    """The VAPID public key for browsers, or "" when push is off on this site."""
    return push_input.public_key()
