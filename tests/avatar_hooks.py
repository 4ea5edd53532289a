"""CHATTER_AVATAR_URL hooks for the tests: dotted paths to name in the settings."""

from __future__ import annotations

from typing import Any

#: Not callable: the system check chatter.E025 reports a path to it.
NOT_CALLABLE = "https://example.com/avatar.png"


def picture(user: Any) -> str:
    """A picture for everybody."""
    return f"https://img.example.com/{user.get_username()}.png"


def nobody(user: Any) -> None:
    """No picture for anybody: initials."""
    return None


def tricky(user: Any) -> str:
    """A URL with characters that must be escaped in an attribute."""
    return 'https://img.example.com/a.png?x="><script>alert(1)</script>&y=1'


def broken(user: Any) -> str:
    """A hook that fails: the avatar falls back to initials."""
    raise RuntimeError("the picture service is down")
