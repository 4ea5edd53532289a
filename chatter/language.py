"""The language of a websocket: what Django's LocaleMiddleware would pick for its page.

A socket's own answers (refusals under the composer, "retry", "reload") are rendered in
it. Frames shared by a whole room carry no words at all: the page fills them in from its
own ``#chatter-words`` (rendered in the reader's language), so a room whose members read
different languages shows each of them their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import parse_cookie
from django.utils.translation import get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header

from chatter.origin import header

LOCALE_MIDDLEWARE = "django.middleware.locale.LocaleMiddleware"


def _supported(code: str | None) -> str | None:
    if not code:
        return None
    try:
        return get_supported_language_variant(code)
    except LookupError:
        return None


def of_scope(scope: Mapping[str, Any]) -> str:
    """The language cookie's, else the best of ``Accept-Language``, else ``LANGUAGE_CODE``.

    Only with ``LocaleMiddleware`` in ``MIDDLEWARE``, as for the pages; without it every
    page (and socket) speaks ``LANGUAGE_CODE``.
    """
    default = _supported(settings.LANGUAGE_CODE) or settings.LANGUAGE_CODE
    if not settings.USE_I18N or LOCALE_MIDDLEWARE not in settings.MIDDLEWARE:
        return default
    cookies = scope.get("cookies")
    if cookies is None:
        raw = header(scope, b"cookie")
        cookies = parse_cookie(raw) if raw else {}
    found = _supported(cookies.get(settings.LANGUAGE_COOKIE_NAME))
    if found:
        return found
    for code, _quality in parse_accept_lang_header(header(scope, b"accept-language") or ""):
        found = _supported(code) if code != "*" else None
        if found:
            return found
    return default
