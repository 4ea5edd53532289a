"""The upload limit held at the ASGI door: :class:`UploadLimitMiddleware`.

Django's ``ASGIHandler`` reads the whole body of a request into a spooled temporary file
before any view or upload handler runs, so the checks of :mod:`chatter.attachment_views`
and :class:`chatter.uploads.LimitedUploadHandler` come after the body was stored. This
middleware sits in front of Django's ASGI application and holds
``CHATTER_MAX_UPLOAD_BYTES`` plus :data:`FORM_ALLOWANCE` on the body of every request to
Chatter's upload view while it arrives.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve
from django.utils import translation
from django.utils.translation import gettext

from chatter import conf, language

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[Any]]

#: Bytes a message's form may add to its files (text, ids, multipart boundaries and
#: part headers): the body of an upload may take ``CHATTER_MAX_UPLOAD_BYTES`` plus this.
FORM_ALLOWANCE = 256 * 1024

#: Every path of Chatter's upload view ends so (``<room id>/upload/``): other paths are
#: passed on after this one string comparison.
UPLOAD_SUFFIX = "/upload/"

_DISCONNECT: Message = {"type": "http.disconnect"}


def body_limit() -> int:
    """The most bytes the body of one upload request may have."""
    limit: int = conf.get("CHATTER_MAX_UPLOAD_BYTES")
    return limit + FORM_ALLOWANCE


@lru_cache(maxsize=4096)
def _is_upload(path: str, urlconfs: tuple[str, ...]) -> bool:
    from chatter.attachment_views import upload

    for urlconf in urlconfs:
        try:
            if resolve(path, urlconf).func is upload:
                return True
        except Resolver404:
            continue
    return False


def is_upload_path(path: str) -> bool:
    """Whether ``path`` (without the script prefix) is Chatter's upload view.

    It is resolved in ``ROOT_URLCONF`` and, with django-tenants, in
    ``PUBLIC_SCHEMA_URLCONF`` too: ``TenantMainMiddleware`` picks one of the two per
    request from the Host (a database query), so a path either of them sends to the
    upload view is held to the limit.
    """
    if not path.endswith(UPLOAD_SUFFIX):
        return False
    urlconfs = [settings.ROOT_URLCONF]
    public = getattr(settings, "PUBLIC_SCHEMA_URLCONF", None)
    if public and public not in urlconfs:
        urlconfs.append(public)
    return _is_upload(path, tuple(urlconfs))


def _declared_length(scope: MutableMapping[str, Any]) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


async def refuse(scope: MutableMapping[str, Any], send: Send) -> None:
    """Answer 413 and close: a short page in the sender's language whose sentence is the
    composer's own refusal (``#chatter-composer-error``), so the page's script shows it
    under the composer as it shows the view's."""
    code = language.of_scope(scope)
    with translation.override(code):
        body = render_to_string(
            "chatter/upload_refused.html", {"error": too_large_text(), "language": code}
        ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def too_large_text() -> str:
    """The sentence of :func:`chatter.uploads.too_large` (one string to translate)."""
    return gettext("These files are too large: at most %(size)s together.") % {
        "size": filesizeformat(conf.get("CHATTER_MAX_UPLOAD_BYTES"))
    }


class _Guard:
    """The ``receive`` and ``send`` one request's inner application gets."""

    def __init__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send
        self.limit = body_limit()
        self.received = 0
        self.body_done = False
        self.refused = False

    async def receive(self) -> Message:
        if self.refused:
            return dict(_DISCONNECT)
        message = await self._receive()
        if self.body_done or message.get("type") != "http.request":
            return message
        self.received += len(message.get("body", b""))
        if self.received > self.limit:
            # Not passed on; nothing more is read. The inner application hears that the
            # client has gone (Django gives up reading the body, answers nothing).
            self.refused = True
            await refuse(self.scope, self._send)
            return dict(_DISCONNECT)
        if not message.get("more_body", False):
            self.body_done = True
        return message

    async def send(self, message: Message) -> None:
        if not self.refused:  # after the 413, nothing more goes out
            await self._send(message)


class UploadLimitMiddleware:
    """Hold ``CHATTER_MAX_UPLOAD_BYTES`` on upload bodies as they arrive (HTTP side).

    Wrap Django's ASGI application with it (``"http": UploadLimitMiddleware(app)``). An
    ``http`` request whose path ends with ``/upload/`` and resolves to Chatter's upload
    view (:func:`is_upload_path`) may send a body of at most :func:`body_limit` bytes
    (``CHATTER_MAX_UPLOAD_BYTES`` + :data:`FORM_ALLOWANCE`, 256 KB for the text, ids and
    multipart boundaries):

    * a ``Content-Length`` over it is answered 413 at once; the inner application is not
      called and no byte of the body is read by it;
    * otherwise (``Content-Length`` within it, lying, or absent with a chunked body) the
      body's chunks are counted as the inner application receives them. The chunk that
      passes the limit is not handed on: the middleware answers 413 itself
      (``Connection: close``) and gives the inner application an ``http.disconnect``, on
      which Django stops reading the body and answers nothing; anything it would send
      after that is dropped, so there is never a second response. So at most
      :func:`body_limit` bytes ever reach Django, and nothing is buffered here.

    The 413 is a short HTML page in the sender's language (``LocaleMiddleware``'s choice:
    language cookie, then ``Accept-Language``). Every other request (other paths,
    websockets, lifespan) is passed on untouched after one string comparison.

    With Daphne, note that Daphne itself (Twisted) receives the whole body of a request
    before it calls any ASGI application: the middleware keeps Django from spooling and
    parsing an oversized upload, but the bytes have crossed the network by then. Cap the
    body in the web server in front of Daphne as well (``client_max_body_size``).
    """

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> Any:
        if scope.get("type") != "http" or not self._held(scope):
            return await self.inner(scope, receive, send)
        declared = _declared_length(scope)
        if declared is not None and declared > body_limit():
            return await refuse(scope, send)
        guard = _Guard(scope, receive, send)
        return await self.inner(scope, guard.receive, guard.send)

    @staticmethod
    def _held(scope: MutableMapping[str, Any]) -> bool:
        path: str = scope.get("path", "")
        if not path.endswith(UPLOAD_SUFFIX):
            return False  # the cheap check first: the rest of the site pays only this
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        return is_upload_path(path)
