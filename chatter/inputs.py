"""Text the database cannot store, refused before a view touches the database.

PostgreSQL refuses a NUL character (``\\x00``) in any text, even in a query's parameter:
psycopg raises ``DataError``, a 500 if a view passes such text on (``/chat/with/%00/``,
``/chat/users/?q=%00``). No UTF-8 text can hold a lone surrogate (``\\ud800``) either.
Django decodes request data so that surrogates should not reach a view, but a server that
decodes paths with ``surrogateescape`` would let them through: both are refused here.

Every view of :mod:`chatter.views` is wrapped in :func:`refuse_unstorable_text`: a
request with such a character anywhere in its path, its query or its form data (names
and values) is answered *400 Bad Request* before the view (or the login check) runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from typing import Any, TypeVar, cast

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

#: A view: the decorator gives it back with its own signature.
View = TypeVar("View", bound=Callable[..., HttpResponse])


def is_storable(text: str) -> bool:
    """Whether ``text`` can be stored as text by every database Chatter supports."""
    return _UNSTORABLE.search(text) is None


def _texts(request: HttpRequest, args: Iterable[Any], kwargs: dict[str, Any]) -> Iterator[str]:
    """Every piece of text of a request a view may pass on to the database."""
    yield request.path
    yield from (str(value) for value in (*args, *kwargs.values()))
    for data in (request.GET, request.POST):
        for key, values in data.lists():
            yield key
            yield from values


def has_unstorable_text(request: HttpRequest, *args: Any, **kwargs: Any) -> bool:
    """Whether the request's path, URL arguments, query or form data has unstorable text."""
    return not all(is_storable(text) for text in _texts(request, args, kwargs))


def refuse_unstorable_text(view: View) -> View:
    """Decorator: a 400 (``BadRequest``) for a request with text the database refuses.

    Put it outermost, so that nothing (not even the session of ``login_required``) is
    read for such a request.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if has_unstorable_text(request, *args, **kwargs):
            raise BadRequest(_("The request has characters that cannot be stored."))
        return view(request, *args, **kwargs)

    # wraps() keeps view's name and signature for Django; mypy cannot see that it is one.
    return cast(View, wrapped)
