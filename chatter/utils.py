"""The public names of Chatter's Utilities page: tenant-aware websocket middlewares and more.

* :class:`MTSchemaMiddleware` puts the tenant of the socket's Host into the scope.
* :class:`MTAuthMiddleware` puts the user logged in on THAT tenant into the scope.
* :func:`ChatterMTMiddlewareStack` = cookies + sessions + both of the above.
* :func:`create_room` (from :mod:`chatter.rooms`) and :class:`SameHostOriginValidator`
  (from :mod:`chatter.origin`).
* :class:`UploadLimitMiddleware` (from :mod:`chatter.upload_limit`) holds the upload
  limit on the HTTP side while the body arrives.

Every database touch here is one sync function run through ``tenancy.in_schema``
wholly inside ``schema_context``: the connection is shared by all sockets of a process,
so a schema must never stay set on it between calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from importlib import import_module
from typing import Any

from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.http import parse_cookie
from django.http.request import split_domain_port
from django.utils.crypto import constant_time_compare
from django.utils.functional import LazyObject, empty

from chatter import tenancy
from chatter.origin import (
    Receive,
    SameHostOriginValidator,
    Send,
    accept_and_close,
    header,
    host_is_allowed,
)
from chatter.rooms import create_room
from chatter.tenancy import Tenant
from chatter.types import AnyUser, User
from chatter.upload_limit import UploadLimitMiddleware

__all__ = [
    "CLOSE_UNKNOWN_HOST",
    "ChatterMTMiddlewareStack",
    "MTAuthMiddleware",
    "MTSchemaMiddleware",
    "SameHostOriginValidator",
    "UploadLimitMiddleware",
    "create_room",
]

#: Close code of a websocket whose Host header is missing or names no tenant.
CLOSE_UNKNOWN_HOST = 4400

ASGIApp = Callable[..., Awaitable[Any]]


def _resolve_tenant(host: str | None) -> Tenant | None:
    """Sync: the tenant of a Host header if that host is allowed and has a domain row."""
    if not host or not host_is_allowed(split_domain_port(host.strip())[0]):
        return None
    return tenancy.tenant_for_host(host)


class MTSchemaMiddleware:
    """Put the tenant of the socket's Host header into the scope.

    Adds ``scope["schema_name"]`` (``str``), ``scope["multitenant"]`` (``bool``) and
    ``scope["tenant"]`` (the tenant object, or None) to a copy of the scope.

    With django-tenants, the Host (lowercased, port and a leading ``www.`` removed, as
    ``TenantMainMiddleware`` does) is looked up in the tenant domain model in the public
    schema. A websocket with no Host, a host outside ``ALLOWED_HOSTS`` or a host of no
    tenant is accepted and closed with code 4400 (:data:`CLOSE_UNKNOWN_HOST`); the inner
    application is not called. HTTP and other scopes pass through untouched.

    Without django-tenants every scope passes through with ``schema_name=""``,
    ``multitenant=False`` and ``tenant=None``.
    """

    close_code = CLOSE_UNKNOWN_HOST

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> Any:
        if scope.get("type") != "websocket":
            return await self.inner(scope, receive, send)
        if not tenancy.is_multitenant():
            scope = dict(scope, schema_name="", multitenant=False, tenant=None)
            return await self.inner(scope, receive, send)
        tenant = await tenancy.in_schema("", _resolve_tenant, header(scope, b"host"))
        if tenant is None:
            return await accept_and_close(receive, send, self.close_code)
        scope = dict(scope, schema_name=tenant.schema_name, multitenant=True, tenant=tenant)
        return await self.inner(scope, receive, send)


def _cookies(scope: Mapping[str, Any]) -> dict[str, str]:
    if "cookies" in scope:
        cookies: dict[str, str] = scope["cookies"]
        return cookies
    raw = header(scope, b"cookie")
    return parse_cookie(raw) if raw else {}


def _session_store(scope: Mapping[str, Any]) -> SessionBase:
    """The scope's session store (unwrapped), or a new one from the session cookie."""
    session = scope.get("session")
    if isinstance(session, LazyObject):
        if session._wrapped is not empty:  # channels' SessionMiddleware fills it
            wrapped: SessionBase = session._wrapped
            return wrapped
    elif session is not None:
        store: SessionBase = session
        return store
    engine = import_module(settings.SESSION_ENGINE)
    new: SessionBase = engine.SessionStore(_cookies(scope).get(settings.SESSION_COOKIE_NAME))
    return new


def _hash_matches(session: SessionBase, user: User) -> bool:
    """The session auth hash check of ``django.contrib.auth.get_user`` (fallback keys too)."""
    if not hasattr(user, "get_session_auth_hash"):
        return True
    session_hash = session.get(HASH_SESSION_KEY)
    if not session_hash:
        return False
    if constant_time_compare(session_hash, user.get_session_auth_hash()):
        return True
    fallbacks = getattr(user, "get_session_auth_fallback_hash", None)
    return fallbacks is not None and any(
        constant_time_compare(session_hash, fallback) for fallback in fallbacks()
    )


def _user_from_session(session: SessionBase) -> AnyUser:
    """Sync, inside the tenant's schema: the session's user, or AnonymousUser."""
    from django.contrib.auth import get_user_model

    try:
        user_id = get_user_model()._meta.pk.to_python(session[SESSION_KEY])
        backend_path = session[BACKEND_SESSION_KEY]
    except (KeyError, ValueError, TypeError):
        return AnonymousUser()
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return AnonymousUser()
    user = load_backend(backend_path).get_user(user_id)
    if user is None:
        return AnonymousUser()
    if not _hash_matches(session, user):
        session.flush()  # as Django does: a password change logs the session out
        return AnonymousUser()
    return user


_DB_SESSION_ENGINES = (
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cached_db",
)


def _users_readable_in(schema_name: str) -> bool:
    """Whether users (and database sessions) have tables in ``schema_name``.

    With django-tenants the public schema has the tables of ``SHARED_APPS`` only: where
    auth (or database sessions) are tenant apps only, reading them there would fail with
    "relation does not exist". Such a socket is anonymous; Chatter's consumer refuses the
    public schema anyway (4400).
    """
    if not tenancy.is_multitenant():
        return True
    if not schema_name:
        return False  # no tenant: never read in whatever schema the connection holds
    if schema_name != tenancy.get_public_schema_name():
        return True
    from django.contrib.auth import get_user_model
    from django_tenants.utils import app_labels

    shared = set(app_labels(getattr(settings, "SHARED_APPS", [])))
    needed = {get_user_model()._meta.app_label}
    if settings.SESSION_ENGINE in _DB_SESSION_ENGINES:
        needed.add("sessions")
    return needed <= shared


def _load_user(scope: Mapping[str, Any], schema_name: str | None, resolve_host: bool) -> AnyUser:
    """Sync: load session and user of one scope, all inside the tenant's schema."""
    if resolve_host:
        tenant = _resolve_tenant(header(scope, b"host"))
        if tenant is None:
            return AnonymousUser()
        schema_name = tenant.schema_name
    if not _users_readable_in(schema_name or ""):
        return AnonymousUser()
    with tenancy.schema(schema_name):
        session = _session_store(scope)
        if hasattr(session, "_session_cache") and not session.modified:
            # Read before (perhaps in another schema): read it again, here.
            del session._session_cache
        return _user_from_session(session)


class MTAuthMiddleware:
    """Put the user logged in on the socket's tenant into ``scope["user"]``.

    The session (``scope["session"]`` from channels' ``SessionMiddleware``, or a store of
    ``SESSION_ENGINE`` made from the ``SESSION_COOKIE_NAME`` cookie) and the user are both
    loaded in ONE sync function inside the tenant's schema, so with
    ``django.contrib.sessions`` and ``django.contrib.auth`` in ``TENANT_APPS`` a session
    of one tenant is unknown on another. The session auth hash is checked as
    ``django.contrib.auth.get_user`` does: after a password change the old session gives
    an ``AnonymousUser``. Anything else (no cookie, an expired or foreign session, an
    inactive user) gives ``AnonymousUser`` too.

    The schema comes from ``scope["schema_name"]`` (``MTSchemaMiddleware`` above it). On a
    websocket without it, this middleware first does exactly what ``MTSchemaMiddleware``
    does: it finds the tenant of the Host header and puts ``schema_name``,
    ``multitenant`` and ``tenant`` into the scope, or closes the socket with 4400 for a
    host of no tenant. So every stack with it serves a consumer the tenant. Without
    django-tenants it behaves as channels' ``AuthMiddleware`` (plus those three keys).
    """

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner
        self._with_tenant = MTSchemaMiddleware(self._add_user)

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> Any:
        kind = scope.get("type")
        if kind == "websocket" and "schema_name" not in scope:
            return await self._with_tenant(scope, receive, send)
        if kind in ("websocket", "http"):
            return await self._add_user(scope, receive, send)
        return await self.inner(scope, receive, send)

    async def _add_user(self, scope: dict[str, Any], receive: Receive, send: Send) -> Any:
        # An HTTP scope has no schema_name: its tenant comes from the Host header.
        resolve_host = tenancy.is_multitenant() and "schema_name" not in scope
        # Through in_schema for its retry after a connection the server ended; _load_user
        # enters the tenant's schema itself (hence ""), wholly inside this one call.
        user = await tenancy.in_schema(
            "", _load_user, scope, tenancy.scope_schema(scope), resolve_host
        )
        scope = dict(scope, user=user)
        return await self.inner(scope, receive, send)


def ChatterMTMiddlewareStack(inner: ASGIApp) -> ASGIApp:
    """``CookieMiddleware(SessionMiddleware(MTSchemaMiddleware(MTAuthMiddleware(inner))))``.

    Works with and without django-tenants; single-tenant it is channels'
    ``AuthMiddlewareStack`` plus ``schema_name=""``, ``multitenant=False``, ``tenant=None``.
    """
    return CookieMiddleware(SessionMiddleware(MTSchemaMiddleware(MTAuthMiddleware(inner))))
