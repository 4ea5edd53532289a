"""MTSchemaMiddleware, MTAuthMiddleware and the stack on real django-tenants schemas."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.sessions import CookieMiddleware, SessionMiddleware
from channels.testing import HttpCommunicator, WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from chatter import tenancy
from chatter.utils import (
    CLOSE_UNKNOWN_HOST,
    ChatterMTMiddlewareStack,
    MTAuthMiddleware,
    MTSchemaMiddleware,
    SameHostOriginValidator,
)
from tests.tenants.conftest import PASSWORD, TenantInfo, login, session_exists


class ScopeReport(AsyncWebsocketConsumer):
    """Accepts and sends one frame telling what the middlewares put in the scope."""

    async def connect(self) -> None:
        await self.accept()
        user = self.scope.get("user")
        tenant = self.scope.get("tenant")
        await self.send(
            json.dumps(
                {
                    "schema_name": self.scope.get("schema_name", "<absent>"),
                    "multitenant": self.scope.get("multitenant", "<absent>"),
                    "tenant": getattr(tenant, "schema_name", None),
                    "authenticated": bool(user and user.is_authenticated),
                    "username": user.get_username() if user is not None else None,
                    "email": getattr(user, "email", None),
                }
            )
        )


app = ScopeReport.as_asgi()
stack = ChatterMTMiddlewareStack(app)


def headers(host: str | None, cookie: str | None = None, origin: str | None = None) -> list:
    out = []
    if host is not None:
        out.append((b"host", host.encode()))
    if origin is not None:
        out.append((b"origin", origin.encode()))
    if cookie is not None:
        out.append((b"cookie", cookie.encode()))
    return out


async def connection_schema() -> str:
    """The schema of the database thread's connection (the one the middlewares used)."""
    return await database_sync_to_async(lambda: connection.schema_name)()


async def report(application: Any, hdrs: list) -> dict[str, Any]:
    comm = WebsocketCommunicator(application, "/ws/", headers=hdrs)
    accepted, _ = await comm.connect()
    assert accepted
    data = json.loads(await comm.receive_from())
    await comm.disconnect()
    assert await connection_schema() == "public", "a schema was left set on the connection"
    return data


async def refused_with(application: Any, hdrs: list) -> int:
    """Accepted then closed (so browsers do not retry): return the close code."""
    comm = WebsocketCommunicator(application, "/ws/", headers=hdrs)
    accepted, _ = await comm.connect()
    assert accepted, "refusals accept first, so the browser sees the close code"
    message = await comm.receive_output()
    assert message["type"] == "websocket.close"
    await comm.wait()
    assert await connection_schema() == "public"
    return message["code"]


# -- MTSchemaMiddleware ------------------------------------------------------------------


async def test_schema_middleware_puts_the_tenant_in_the_scope(
    alpha: TenantInfo, beta: TenantInfo
) -> None:
    for tenant in (alpha, beta):
        data = await report(MTSchemaMiddleware(app), headers(tenant.domain))
        assert data["schema_name"] == tenant.schema_name
        assert data["multitenant"] is True
        assert data["tenant"] == tenant.schema_name


@pytest.mark.parametrize(
    "host", ["alpha.test.com:8000", "ALPHA.Test.com", "www.alpha.test.com", "alpha.test.com."]
)
async def test_host_is_normalised_like_django_tenants(alpha: TenantInfo, host: str) -> None:
    data = await report(MTSchemaMiddleware(app), headers(host))
    assert data["schema_name"] == "alpha"


@pytest.mark.parametrize(
    "host",
    [
        None,  # no Host header
        "",
        "gamma.test.com",  # allowed by ALLOWED_HOSTS, but no tenant has this domain
        "evil.example.org",  # not in ALLOWED_HOSTS
        "alpha.test.com@evil.example.org",  # malformed
    ],
)
async def test_missing_or_unknown_host_is_closed_cleanly(
    tenants: Any, host: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    assert await refused_with(MTSchemaMiddleware(app), headers(host)) == CLOSE_UNKNOWN_HOST == 4400
    assert not [r for r in caplog.records if r.exc_info]


async def test_client_leaving_before_the_handshake_is_no_error(tenants: Any) -> None:
    comm = WebsocketCommunicator(MTSchemaMiddleware(app), "/ws/", headers=headers("nope.test.com"))
    await comm.send_input({"type": "websocket.disconnect", "code": 1001})
    await comm.wait()


async def test_http_scopes_pass_through_untouched(alpha: TenantInfo) -> None:
    seen: list[dict] = []

    async def http_app(scope: dict, receive: Any, send: Any) -> None:
        seen.append(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    comm = HttpCommunicator(MTSchemaMiddleware(http_app), "GET", "/", headers=headers("nope"))
    response = await comm.get_response()
    assert response["status"] == 204
    assert "schema_name" not in seen[0] and "multitenant" not in seen[0]


# -- MTAuthMiddleware --------------------------------------------------------------------


async def test_user_of_the_hosts_tenant(alpha: TenantInfo, beta: TenantInfo) -> None:
    """alice exists in both tenants (perhaps with equal ids): each host gets its own."""
    for tenant in (alpha, beta):
        key = await database_sync_to_async(login)(tenant.schema_name, tenant.users["alice"])
        data = await report(stack, headers(tenant.domain, f"sessionid={key}"))
        assert data["authenticated"] is True
        assert data["username"] == "alice"
        assert data["email"] == f"alice@{tenant.schema_name}.test.com"
        assert data["schema_name"] == tenant.schema_name


async def test_login_over_http_then_socket(alpha: TenantInfo) -> None:
    """The session the HTTP stack (TenantMainMiddleware) stores is the one the socket reads."""

    def http_login() -> str:
        client = Client(HTTP_HOST=alpha.domain)
        try:
            response = client.post("/login/", {"username": "bob", "password": PASSWORD})
        finally:
            # TenantMainMiddleware leaves the request's tenant set on the connection.
            connection.set_schema_to_public()
        assert response.status_code == 302, response.content[:500]
        return client.cookies["sessionid"].value

    key = await database_sync_to_async(http_login)()
    assert await database_sync_to_async(session_exists)("alpha", key)
    assert not await database_sync_to_async(session_exists)("beta", key)
    data = await report(stack, headers(alpha.domain, f"sessionid={key}"))
    assert (data["username"], data["email"]) == ("bob", "bob@alpha.test.com")


async def test_no_cookie_is_anonymous(alpha: TenantInfo) -> None:
    data = await report(stack, headers(alpha.domain))
    assert data["authenticated"] is False
    assert data["schema_name"] == "alpha"


async def test_unknown_session_key_is_anonymous(alpha: TenantInfo) -> None:
    data = await report(stack, headers(alpha.domain, "sessionid=" + "x" * 32))
    assert data["authenticated"] is False


async def test_foreign_session_is_anonymous(alpha: TenantInfo, beta: TenantInfo) -> None:
    """alpha's session key presented on beta's host: unknown in beta's schema."""
    key = await database_sync_to_async(login)("alpha", alpha.users["alice"])
    data = await report(stack, headers(beta.domain, f"sessionid={key}"))
    assert data["authenticated"] is False
    assert data["schema_name"] == "beta"
    # ... and alpha's session is untouched by the attempt.
    assert await database_sync_to_async(session_exists)("alpha", key)


async def test_changed_password_logs_the_session_out(alpha: TenantInfo, tenant_user: Any) -> None:
    def setup() -> tuple[Any, str]:
        user = tenant_user("alpha")
        key = login("alpha", user)
        with schema_context("alpha"):
            user.set_password("another one")
            user.save()
        return user, key

    _user, key = await database_sync_to_async(setup)()
    data = await report(stack, headers(alpha.domain, f"sessionid={key}"))
    assert data["authenticated"] is False
    # As django.contrib.auth.get_user does: the stale session is flushed, in alpha's schema.
    assert not await database_sync_to_async(session_exists)("alpha", key)


async def test_inactive_user_is_anonymous(alpha: TenantInfo, tenant_user: Any) -> None:
    def setup() -> str:
        user = tenant_user("alpha")
        key = login("alpha", user)
        with schema_context("alpha"):
            get_user_model().objects.filter(pk=user.pk).update(is_active=False)
        return key

    key = await database_sync_to_async(setup)()
    data = await report(stack, headers(alpha.domain, f"sessionid={key}"))
    assert data["authenticated"] is False


async def test_custom_session_cookie_name(alpha: TenantInfo, settings: Any) -> None:
    settings.SESSION_COOKIE_NAME = "tenant_sid"
    key = await database_sync_to_async(login)("alpha", alpha.users["bob"])
    data = await report(stack, headers(alpha.domain, f"sessionid={key}"))
    assert data["authenticated"] is False  # the default name is not read
    data = await report(stack, headers(alpha.domain, f"sessionid=x; tenant_sid={key}"))
    assert data["username"] == "bob"


async def test_auth_middleware_alone_resolves_the_host(alpha: TenantInfo, beta: TenantInfo) -> None:
    """As in the Utilities page: MTAuthMiddleware without MTSchemaMiddleware above it puts
    the tenant into the scope exactly as MTSchemaMiddleware would, and refuses what it
    refuses."""
    key = await database_sync_to_async(login)("beta", beta.users["alice"])
    application = CookieMiddleware(SessionMiddleware(MTAuthMiddleware(app)))
    data = await report(application, headers(beta.domain, f"sessionid={key}"))
    assert data["email"] == "alice@beta.test.com"
    assert (data["schema_name"], data["multitenant"], data["tenant"]) == ("beta", True, "beta")
    data = await report(application, headers(alpha.domain, f"sessionid={key}"))
    assert data["authenticated"] is False
    assert (data["schema_name"], data["multitenant"], data["tenant"]) == ("alpha", True, "alpha")
    for host in ("gamma.test.com", None, "evil.example.org"):
        assert await refused_with(application, headers(host, f"sessionid={key}")) == 4400
    # Alone, without even the cookie and session middlewares.
    data = await report(MTAuthMiddleware(app), headers(beta.domain, f"sessionid={key}"))
    assert (data["schema_name"], data["email"]) == ("beta", "alice@beta.test.com")


async def test_auth_middleware_alone_leaves_http_scopes_without_tenant_keys(
    alpha: TenantInfo,
) -> None:
    """HTTP is TenantMainMiddleware's business: only the user is added, as before."""
    seen: list[dict] = []

    async def http_app(scope: dict, receive: Any, send: Any) -> None:
        seen.append(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    key = await database_sync_to_async(login)("alpha", alpha.users["bob"])
    comm = HttpCommunicator(
        MTAuthMiddleware(http_app), "GET", "/", headers=headers(alpha.domain, f"sessionid={key}")
    )
    assert (await comm.get_response())["status"] == 204
    assert "schema_name" not in seen[0] and "tenant" not in seen[0]
    assert seen[0]["user"].email == "bob@alpha.test.com"


async def test_public_schema_users_are_read_only_where_auth_is_shared(
    public: TenantInfo, settings: Any
) -> None:
    """The public tenant's host: its users are read only if auth's tables are there (a
    shared app); with auth a tenant app only, reading would fail, so the user is anonymous."""
    key = await database_sync_to_async(login)("public", public.users["alice"])
    hdrs = headers(public.domain, f"sessionid={key}")
    for application in (stack, CookieMiddleware(SessionMiddleware(MTAuthMiddleware(app)))):
        data = await report(application, hdrs)
        assert (data["schema_name"], data["username"]) == ("public", "alice")
    settings.SHARED_APPS = [a for a in settings.SHARED_APPS if a != "django.contrib.auth"]
    assert (await report(stack, hdrs))["authenticated"] is False
    settings.SHARED_APPS = [*settings.SHARED_APPS, "django.contrib.auth"]
    settings.SHARED_APPS = [a for a in settings.SHARED_APPS if a != "django.contrib.sessions"]
    assert (await report(stack, hdrs))["authenticated"] is False


async def test_a_scope_with_an_empty_schema_reads_no_user(alpha: TenantInfo) -> None:
    """A middleware of the project that set ``schema_name=""`` in a multi-tenant project:
    no tenant, so nothing is read in whatever schema the connection holds."""
    key = await database_sync_to_async(login)("alpha", alpha.users["alice"])

    async def no_tenant(scope: dict, receive: Any, send: Any) -> Any:
        return await MTAuthMiddleware(app)(dict(scope, schema_name=""), receive, send)

    await database_sync_to_async(lambda: connection.set_schema("alpha"))()
    try:
        data = await report_keeping_schema(no_tenant, headers(alpha.domain, f"sessionid={key}"))
    finally:
        await database_sync_to_async(lambda: connection.set_schema_to_public())()
    assert data["authenticated"] is False


async def report_keeping_schema(application: Any, hdrs: list) -> dict[str, Any]:
    comm = WebsocketCommunicator(application, "/ws/", headers=hdrs)
    assert (await comm.connect())[0]
    data = json.loads(await comm.receive_from())
    await comm.disconnect()
    return data


async def test_a_schema_left_on_the_connection_changes_nothing(
    alpha: TenantInfo, beta: TenantInfo
) -> None:
    """django-tenants' HTTP middleware leaves the last request's tenant set on the shared
    database thread's connection; the middlewares neither depend on it nor change it."""
    key = await database_sync_to_async(login)("alpha", alpha.users["alice"])
    await database_sync_to_async(lambda: connection.set_schema("beta"))()
    try:
        comm = WebsocketCommunicator(
            stack, "/ws/", headers=headers(alpha.domain, f"sessionid={key}")
        )
        assert (await comm.connect())[0]
        data = json.loads(await comm.receive_from())
        await comm.disconnect()
        assert (data["schema_name"], data["email"]) == ("alpha", "alice@alpha.test.com")
        assert await connection_schema() == "beta"
    finally:
        await database_sync_to_async(lambda: connection.set_schema_to_public())()


async def test_interleaved_sockets_of_two_tenants_never_mix(
    alpha: TenantInfo, beta: TenantInfo
) -> None:
    """Many sockets of both tenants at once: each gets its own tenant's user, every time."""
    keys = {
        t.schema_name: await database_sync_to_async(login)(t.schema_name, t.users["alice"])
        for t in (alpha, beta)
    }

    async def one(tenant: TenantInfo) -> str:
        data = await report(stack, headers(tenant.domain, f"sessionid={keys[tenant.schema_name]}"))
        return f"{data['schema_name']}:{data['email']}"

    order = [alpha, beta] * 20
    results = await asyncio.gather(*(one(t) for t in order))
    assert results == [f"{t.schema_name}:alice@{t.schema_name}.test.com" for t in order]


# -- the whole websocket stack of the demo -----------------------------------------------


async def test_origin_check_in_front_of_the_stack(alpha: TenantInfo) -> None:
    application = SameHostOriginValidator(stack)
    key = await database_sync_to_async(login)("alpha", alpha.users["alice"])
    ok = headers(alpha.domain, f"sessionid={key}", origin="http://alpha.test.com")
    assert (await report(application, ok))["email"] == "alice@alpha.test.com"
    sibling = headers(alpha.domain, f"sessionid={key}", origin="http://beta.test.com")
    assert await refused_with(application, sibling) == 4403


def test_tenancy_helpers_on_real_schemas(alpha: TenantInfo) -> None:
    assert tenancy.is_multitenant()
    assert tenancy.current_schema() == "public"
    with tenancy.schema("alpha"):
        assert tenancy.current_schema() == "alpha"
        assert get_user_model().objects.get(username="alice").email == "alice@alpha.test.com"
    assert tenancy.current_schema() == "public"
    assert tenancy.tenant_for_schema("alpha").pk == alpha.tenant.pk
    assert tenancy.tenant_for_schema("nope") is None
    assert tenancy.tenant_for_host("www.alpha.test.com:8000").schema_name == "alpha"
    assert tenancy.tenant_for_host("gamma.test.com") is None
    assert connection.schema_name == "public"
