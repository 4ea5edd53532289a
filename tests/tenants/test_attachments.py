"""Attachments inside tenants: stored under the tenant's name, served in its schema only."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django_tenants.utils import schema_context
from PIL import Image

from chatter.models import Attachment
from tests.tenants.conftest import TenantInfo, login


def _client(tenant: TenantInfo, user: Any) -> Client:
    client = Client(HTTP_HOST=tenant.domain)
    client.cookies[settings.SESSION_COOKIE_NAME] = login(tenant.schema_name, user)
    return client


def _request(
    client: Client, method: str, path: str, data: Any = None, **extra: Any
) -> HttpResponse:
    """One request; TenantMainMiddleware leaves its tenant on the connection: undo that."""
    try:
        return getattr(client, method)(path, data or {}, **extra)
    finally:
        connection.set_schema_to_public()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (500, 400), "green").save(out, "PNG")
    return out.getvalue()


def test_a_file_of_alpha_is_not_found_on_beta(
    alpha: TenantInfo, beta: TenantInfo, tenant_user: Any, tenant_room: Any, tmp_path: Path
) -> None:
    from django.test.utils import override_settings

    with override_settings(MEDIA_ROOT=str(tmp_path)):
        sender, reader = tenant_user("alpha"), tenant_user("alpha")
        room = tenant_room("alpha", sender, reader)
        response = _request(
            _client(alpha, sender),
            "post",
            f"/chat/{room.pk}/upload/",
            {
                "text": "hi",
                "client_id": str(uuid.uuid4()),
                "files": [SimpleUploadedFile("g.png", _png())],
            },
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 200, response.content
        with schema_context("alpha"):
            file = Attachment.objects.get(message__room=room)
        assert file.path.startswith("chatter/alpha/") and (tmp_path / file.path).exists()
        for suffix in ("", "thumb/"):
            url = f"/chat/{room.pk}/files/{file.pk}/{suffix}"
            got = _request(_client(alpha, reader), "get", url)
            assert got.status_code == 200 and got["Content-Type"] == "image/png"
            # beta has users with the same ids, and its own schema: no such room, no file.
            beta_user = tenant_user("beta")
            for user in (beta_user, beta.users["alice"]):
                assert _request(_client(beta, user), "get", url).status_code == 404
        with schema_context("beta"):
            assert not Attachment.objects.filter(pk=file.pk).exists()
        response = _request(
            _client(beta, beta.users["alice"]),
            "post",
            f"/chat/{room.pk}/upload/",
            {"text": "x", "files": [SimpleUploadedFile("g.png", _png())]},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 404
        assert sorted(p.parent.name for p in tmp_path.rglob("*.png")) == ["alpha", "alpha"]
