"""chatter.language: a socket's language, picked as LocaleMiddleware picks its page's.

Through a real socket: tests/test_consumers.py and tests/test_translations.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from chatter import language

LOCALE = "django.middleware.locale.LocaleMiddleware"


@pytest.fixture
def with_locale(settings: Any) -> None:
    settings.USE_I18N = True
    settings.LANGUAGE_CODE = "en"
    if LOCALE not in settings.MIDDLEWARE:
        settings.MIDDLEWARE = [*settings.MIDDLEWARE, LOCALE]


def scope(cookie: str | None = None, accept: str | None = None, **extra: Any) -> dict[str, Any]:
    headers = []
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    if accept is not None:
        headers.append((b"accept-language", accept.encode()))
    return {"type": "websocket", "headers": headers, **extra}


@pytest.mark.usefixtures("with_locale")
def test_the_language_cookie_without_cookie_middleware() -> None:
    """No CookieMiddleware in the stack: the Cookie header itself is read."""
    name = settings.LANGUAGE_COOKIE_NAME
    assert language.of_scope(scope(f"{name}=de; other=1")) == "de"
    assert language.of_scope(scope(f"{name}=xx", accept="de")) == "de"  # unknown: next
    assert language.of_scope(scope("other=1")) == "en"
    assert language.of_scope(scope()) == "en"
    # What CookieMiddleware parsed wins over the header.
    assert language.of_scope(scope(f"{name}=de", cookies={name: "en"})) == "en"


@pytest.mark.usefixtures("with_locale")
def test_accept_language_in_order_of_preference() -> None:
    assert language.of_scope(scope(accept="xx, de;q=0.8, en;q=0.5")) == "de"
    assert language.of_scope(scope(accept="*, de;q=0.1")) == "de"
    assert language.of_scope(scope(accept="xx")) == "en"


def test_without_locale_middleware_every_socket_speaks_language_code(settings: Any) -> None:
    settings.LANGUAGE_CODE = "de"
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != LOCALE]
    name = settings.LANGUAGE_COOKIE_NAME
    assert language.of_scope(scope(f"{name}=en", accept="en")) == "de"
