"""UploadLimitMiddleware with an inner application that reads the body as Django's
``ASGIHandler`` does (chunks until ``more_body`` is false, gives up on a disconnect).

The end-to-end half (a real Daphne, raw sockets) is in ``test_upload_limit_daphne.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import MutableMapping
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from chatter import asgi_routes
from chatter.upload_limit import FORM_ALLOWANCE, UploadLimitMiddleware, body_limit, is_upload_path

LIMIT = 1000  # CHATTER_MAX_UPLOAD_BYTES of these tests
ALLOWED = LIMIT + FORM_ALLOWANCE


def upload_path() -> str:
    return reverse("chatter:upload", args=[uuid.uuid4()])


class Inner:
    """Reads the body like Django's ASGIHandler, then answers 200 (twice the body part)."""

    def __init__(self) -> None:
        self.body = b""
        self.aborted = False
        self.called = False
        self.scope: MutableMapping[str, Any] | None = None

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        self.called = True
        self.scope = scope
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.aborted = True
                # Django answers nothing now; a careless app might: it must not get out.
                await send({"type": "http.response.start", "status": 500, "headers": []})
                return
            self.body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


class Client:
    """Feeds ``chunks`` (then a disconnect, as a server does) and records what is sent."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks) or [b""]  # a server sends one message at least
        self.taken = 0  # body bytes the middleware asked the server for
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if not self.chunks:
            return {"type": "http.disconnect"}
        chunk = self.chunks.pop(0)
        self.taken += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def statuses(self) -> list[int]:
        return [m["status"] for m in self.sent if m["type"] == "http.response.start"]

    @property
    def text(self) -> str:
        return b"".join(m.get("body", b"") for m in self.sent if "body" in m).decode()


def scope(path: str, length: int | None = None, **extra: Any) -> dict[str, Any]:
    headers = [(b"host", b"testserver")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {"type": "http", "method": "POST", "path": path, "headers": headers, **extra}


async def run(scope: dict[str, Any], chunks: list[bytes]) -> tuple[Inner, Client]:
    inner, client = Inner(), Client(chunks)
    await UploadLimitMiddleware(inner)(scope, client.receive, client.send)
    return inner, client


@override_settings(CHATTER_MAX_UPLOAD_BYTES=LIMIT)
def test_the_limit_is_the_setting_plus_the_form_allowance() -> None:
    assert body_limit() == LIMIT + 256 * 1024


def test_only_chatters_upload_view_is_held() -> None:
    assert is_upload_path(upload_path())
    assert not is_upload_path(reverse("chatter:index"))
    assert not is_upload_path("/chat/not-a-room/upload/")  # ends so, resolves elsewhere
    assert not is_upload_path("/elsewhere/upload/")


@override_settings(CHATTER_MAX_UPLOAD_BYTES=LIMIT)
async def test_a_declared_length_over_the_limit_is_refused_before_the_app_runs() -> None:
    inner, client = await run(scope(upload_path(), ALLOWED + 1), [b"x" * 10])
    assert not inner.called
    assert client.taken == 0  # not a byte of the body was read
    assert client.statuses == [413]
    headers = dict(client.sent[0]["headers"])
    assert headers[b"connection"] == b"close"
    assert headers[b"content-type"].startswith(b"text/html")
    assert "too large" in client.text


@override_settings(CHATTER_MAX_UPLOAD_BYTES=LIMIT)
async def test_the_refusal_says_what_the_view_says_in_the_senders_language(monkeypatch) -> None:
    from django.utils.html import escape

    from chatter import language, uploads

    asked: list[Any] = []
    monkeypatch.setattr(language, "of_scope", lambda scope: asked.append(scope) or "en")
    request = scope(upload_path(), ALLOWED + 1)
    _, client = await run(request, [])
    assert asked == [request]  # LocaleMiddleware's choice for this request
    assert escape(str(uploads.too_large())) in client.text  # one sentence to translate
    # The composer's own refusal line: the page's script shows it under the composer.
    assert 'id="chatter-composer-error"' in client.text and "hx-swap-oob" in client.text
    assert '<html lang="en">' in client.text


@override_settings(CHATTER_MAX_UPLOAD_BYTES=LIMIT)
async def test_a_body_that_outgrows_its_declared_length_is_cut_at_the_limit() -> None:
    chunks = [b"a" * 100_000] * 4  # says 10 bytes, sends 400 KB
    inner, client = await run(scope(upload_path(), 10), chunks)
    assert inner.aborted
    assert len(inner.body) <= ALLOWED
    assert client.taken < sum(map(len, chunks))  # the rest was never read
    assert client.statuses == [413]  # the app's own answer after the disconnect is dropped


@override_settings(CHATTER_MAX_UPLOAD_BYTES=LIMIT)
async def test_a_chunked_body_within_the_limit_reaches_the_app_whole() -> None:
    chunks = [b"b" * 1000] * 5
    inner, client = await run(scope(upload_path()), chunks)
    assert inner.body == b"".join(chunks)
    assert client.statuses == [200]


@override_settings(CHATTER_MAX_UPLOAD_BYTES=LIMIT)
async def test_other_requests_pass_untouched() -> None:
    big = [b"c" * (ALLOWED + 1)]
    for request in (
        scope(reverse("chatter:index"), ALLOWED + 1),
        scope("/elsewhere/upload/", ALLOWED + 1),
        {"type": "websocket", "path": upload_path(), "headers": []},
    ):
        inner, client = await run(request, list(big))
        assert inner.scope is request  # the very scope, not a copy
        if request["type"] == "http":
            assert inner.body == big[0]
            assert client.statuses == [200]


@override_settings(CHATTER_MAX_UPLOAD_BYTES=LIMIT)
async def test_the_script_prefix_is_taken_off_before_resolving() -> None:
    inner, client = await run(
        scope("/prefix" + upload_path(), ALLOWED + 1, root_path="/prefix"), []
    )
    assert not inner.called and client.statuses == [413]


def test_the_checks_see_through_it() -> None:
    from django.core.asgi import get_asgi_application

    app = UploadLimitMiddleware(get_asgi_application())
    route = asgi_routes.follow(app, "http", upload_path())
    assert route.certain and route.has(UploadLimitMiddleware)


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=ALLOWED), max_size=8),
    declared=st.one_of(st.none(), st.integers(min_value=0, max_value=3 * ALLOWED)),
)
async def test_never_more_than_the_limit_reaches_the_app(
    sizes: list[int], declared: int | None
) -> None:
    chunks = [b"d" * size for size in sizes]
    total = sum(sizes)
    with override_settings(CHATTER_MAX_UPLOAD_BYTES=LIMIT):
        inner, client = await run(scope(upload_path(), declared), chunks)
    assert len(inner.body) <= ALLOWED
    assert len(client.statuses) == 1  # one answer, never two
    if declared is not None and declared > ALLOWED:
        assert client.statuses == [413] and not inner.called
    elif total <= ALLOWED:
        assert client.statuses == [200] and inner.body == b"".join(chunks)
    else:
        assert client.statuses == [413] and inner.aborted
        # It stopped reading at the chunk that passed the limit.
        assert client.taken - max(sizes) <= ALLOWED


@pytest.mark.parametrize("value", [b"abc", b"-5", b"", b" 12 "])
@override_settings(CHATTER_MAX_UPLOAD_BYTES=LIMIT)
async def test_a_content_length_that_is_no_number_is_counted_instead(value: bytes) -> None:
    request = scope(upload_path())
    request["headers"].append((b"content-length", value))
    inner, client = await run(request, [b"e" * (ALLOWED + 1)])
    assert client.statuses == [413] and inner.aborted and inner.body == b""


@override_settings(CHATTER_MAX_UPLOAD_BYTES=LIMIT)
async def test_after_the_body_and_after_a_refusal_receive_says_what_a_server_would() -> None:
    class Listener(Inner):
        """Reads the body, then listens for the disconnect as Django's handler does."""

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await super().__call__(scope, receive, send)
            self.after = await receive()

    for chunks, status in (([b"f" * 10], 200), ([b"f" * (ALLOWED + 1)], 413)):
        inner, client = Listener(), Client(chunks)
        await UploadLimitMiddleware(inner)(scope(upload_path()), client.receive, client.send)
        assert inner.after == {"type": "http.disconnect"}
        assert client.statuses == [status]
        # Within the limit the server was asked (it said the client left); after a
        # refusal it was not: the middleware answered for it.
        assert client.taken == sum(map(len, chunks))


@override_settings(CHATTER_MAX_UPLOAD_BYTES=LIMIT)
async def test_djangos_own_handler_gives_up_on_the_disconnect_and_answers_nothing() -> None:
    from django.core.asgi import get_asgi_application

    chunks = [b"g" * 50_000] * 10  # no Content-Length: counted
    client = Client(chunks)
    app = UploadLimitMiddleware(get_asgi_application())
    await app(scope(upload_path()), client.receive, client.send)
    assert client.statuses == [413]
    assert "too large" in client.text
    assert client.taken <= ALLOWED + 50_000 < sum(map(len, chunks))
