"""UploadLimitMiddleware on the HTTP side of the quickstart's stack, with django-tenants:
an oversized upload to a tenant's room is refused before Django (and its
TenantMainMiddleware) reads the body; one within the limit reaches the tenant's view."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from chatter import conf
from chatter.upload_limit import FORM_ALLOWANCE, UploadLimitMiddleware, is_upload_path
from tests.tenants.conftest import TenantInfo, login
from tests.test_utils import python_blocks, run_block

CSRF = secrets.token_hex(16)


def quickstart_http_app() -> Any:
    block = next(b for b in python_blocks("quickstart.rst") if "ProtocolTypeRouter(" in b)
    return run_block(block)["application"].application_mapping["http"]


async def post(app: Any, host: str, path: str, chunks: list[bytes], **headers: str) -> Any:
    """POST ``chunks`` with ``headers``; the answer and the number of body bytes the
    application asked for."""
    queue = list(chunks)
    taken = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal taken
        if not queue:  # the body was sent: the client waits for the answer, as a real one
            await asyncio.Event().wait()
        chunk = queue.pop(0)
        taken += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(queue)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", host.encode())]
        + [(k.lower().replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    try:
        await app(scope, receive, send)
    finally:
        connection.set_schema_to_public()
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, taken


async def member_room(tenant_user: Any, tenant_room: Any) -> tuple[Any, str]:
    """A room of two new users of alpha, and the session key of the first."""
    user, other = (
        await sync_to_async(tenant_user)("alpha"),
        await sync_to_async(tenant_user)("alpha"),
    )
    room = await sync_to_async(tenant_room)("alpha", user, other)
    return room, await sync_to_async(login)("alpha", user)


def test_the_upload_path_is_held_in_every_urlconf_of_the_project() -> None:
    assert settings.PUBLIC_SCHEMA_URLCONF != settings.ROOT_URLCONF
    assert is_upload_path(f"/chat/{uuid.uuid4()}/upload/")
    assert not is_upload_path("/upload/")


async def test_an_oversized_upload_to_a_tenants_room_is_refused_before_django(
    alpha: TenantInfo, tenant_user: Any, tenant_room: Any
) -> None:
    app = quickstart_http_app()
    assert isinstance(app, UploadLimitMiddleware)
    room, key = await member_room(tenant_user, tenant_room)
    limit = conf.get("CHATTER_MAX_UPLOAD_BYTES") + FORM_ALLOWANCE
    chunks = [b"x" * (1024 * 1024)] * (limit // (1024 * 1024) + 3)
    status, body, taken = await post(
        app,
        alpha.domain,
        f"/chat/{room.pk}/upload/",
        chunks,
        cookie=f"{settings.SESSION_COOKIE_NAME}={key}; csrftoken={CSRF}",
        x_csrftoken=CSRF,
        content_type="multipart/form-data; boundary=b",
    )
    assert status == 413 and b"<title>413</title>" in body
    assert taken <= limit + 1024 * 1024  # it stopped at the chunk that passed the limit
    assert taken < sum(map(len, chunks))


async def test_an_upload_within_the_limit_reaches_the_tenants_view(
    alpha: TenantInfo, tenant_user: Any, tenant_room: Any, tmp_path: Any
) -> None:
    from django.test.utils import override_settings

    app = quickstart_http_app()
    room, key = await member_room(tenant_user, tenant_room)
    form = (
        '--b\r\nContent-Disposition: form-data; name="text"\r\n\r\nhello\r\n'
        f'--b\r\nContent-Disposition: form-data; name="client_id"\r\n\r\n{uuid.uuid4()}\r\n'
        '--b\r\nContent-Disposition: form-data; name="files"; filename="n.txt"\r\n'
        "Content-Type: text/plain\r\n\r\nsome notes\n\r\n--b--\r\n"
    ).encode()
    with override_settings(MEDIA_ROOT=str(tmp_path)):
        status, body, _ = await post(
            app,
            alpha.domain,
            f"/chat/{room.pk}/upload/",
            [form[:100], form[100:]],
            cookie=f"{settings.SESSION_COOKIE_NAME}={key}; csrftoken={CSRF}",
            x_csrftoken=CSRF,
            hx_request="true",
            content_type="multipart/form-data; boundary=b",
            content_length=str(len(form)),
        )
    assert status == 200, body[:300]
    assert b"<title>413</title>" not in body
