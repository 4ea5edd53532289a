"""System checks of what is served: Chatter's websocket route, its guards, static files.

Ids: E017 ASGI_APPLICATION cannot be imported, E018 Chatter's websocket paths do not reach
its consumer, W019 no origin check on them, E020 django-tenants without Chatter's tenant
middleware on them, W021 Chatter's pages on django-tenants' public schema, W022
django.contrib.staticfiles missing, W023 DEBUG and an ASGI application that serves no
static files, W024 DEBUG off and no STATIC_ROOT to collect them into, W026 Chatter's
upload view served without UploadLimitMiddleware.

The application is read, not called (:mod:`chatter.asgi_routes`). A layer these checks do
not know may guard, route or serve on its own, so through one they report nothing: each
message here is sure.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from channels.auth import AuthMiddleware
from channels.security.websocket import OriginValidator
from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.files.storage import FileSystemStorage
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from chatter import tenancy
from chatter.asgi_routes import Route, follow
from chatter.origin import SameHostOriginValidator
from chatter.upload_limit import UploadLimitMiddleware
from chatter.utils import MTAuthMiddleware, MTSchemaMiddleware

# The paths Chatter's pages open sockets on (templates: ws-connect="/ws/chatter/...").
SOCKET_PATHS = ("/ws/chatter/", f"/ws/chatter/{uuid.UUID(int=0)}/")
# Code shown in hints. ASGI_SNIPPETS are pieces of the quickstart's asgi.py (which its
# executable test serves); the settings ones are complete statements that
# tests/test_snippets.py appends to a project's settings and checks.
WEBSOCKET_SNIPPET = (
    "SameHostOriginValidator(ChatterMTMiddlewareStack("
    "URLRouter(chatter.routing.websocket_urlpatterns)))"
)
STATIC_HANDLER_SNIPPET = (
    "if settings.DEBUG:\n    django_asgi_app = ASGIStaticFilesHandler(django_asgi_app)"
)
UPLOAD_LIMIT_SNIPPET = '"http": UploadLimitMiddleware(django_asgi_app)'
ASGI_SNIPPETS = [WEBSOCKET_SNIPPET, STATIC_HANDLER_SNIPPET, UPLOAD_LIMIT_SNIPPET]
STATIC_ROOT_SNIPPET = 'STATIC_ROOT = BASE_DIR / "staticfiles"'
SETTINGS_SNIPPETS = [STATIC_ROOT_SNIPPET]
PUBLIC_URLCONF_SNIPPET = 'PUBLIC_SCHEMA_URLCONF = "mysite.urls_public"'
TENANT_SETTINGS_SNIPPETS = [PUBLIC_URLCONF_SNIPPET]
ROUTE_HINT = gettext_noop(
    "Route Chatter's sockets as the quickstart's asgi.py does: \"websocket\": %(code)s"
)
# Django middleware known to serve static files (their own settings decide from where).
STATIC_MIDDLEWARE_PACKAGES = ("whitenoise.", "servestatic.", "blacknoise.")


def application() -> tuple[Any, str | None]:
    """The ASGI_APPLICATION object and None, or None and why it cannot be loaded."""
    path = getattr(settings, "ASGI_APPLICATION", None)
    if not path:
        return None, None  # chatter.E005 says so
    try:
        return import_string(path), None
    except Exception as exc:  # anything asgi.py raises: report it, do not crash check
        return None, f"{type(exc).__name__}: {exc}"


@register()
def check_websocket_route(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Chatter's socket paths reach ChatConsumer, through an origin check and the tenant."""
    app, error = application()
    if error is not None:
        return [
            Error(
                _("ASGI_APPLICATION %(path)r cannot be imported: %(error)s")
                % {"path": settings.ASGI_APPLICATION, "error": error},
                hint=_(
                    "Daphne cannot serve the project until it imports; fix the error in your "
                    "asgi.py."
                ),
                id="chatter.E017",
            )
        ]
    if app is None:
        return []
    messages: dict[str, CheckMessage] = {}
    for path in SOCKET_PATHS:
        route = follow(app, "websocket", path)
        for message in _route_messages(route, path):
            messages.setdefault(message.id or "", message)
    return list(messages.values())


def _route_messages(route: Route, path: str) -> list[CheckMessage]:
    expected = _chatter_consumer(path)
    if not route.certain or expected is None:
        return []
    consumer = route.consumer_class
    if consumer is None or not issubclass(consumer, expected):
        return [_unrouted(route, path)]
    messages: list[CheckMessage] = []
    origin = _origin_problem(route)
    if origin:
        messages.append(
            Warning(
                origin,
                hint=_(ROUTE_HINT) % {"code": WEBSOCKET_SNIPPET},
                id="chatter.W019",
            )
        )
    if tenancy.is_multitenant() and not _tenant_stack(route):
        messages.append(
            Error(
                _(
                    "With django-tenants, %(path)s reaches Chatter without "
                    "MTSchemaMiddleware and MTAuthMiddleware: every socket would be refused "
                    "(no tenant in its scope) or see the wrong tenant's user."
                )
                % {"path": path},
                hint=_(ROUTE_HINT) % {"code": WEBSOCKET_SNIPPET},
                id="chatter.E020",
            )
        )
    return messages


def _chatter_consumer(path: str) -> type | None:
    """The consumer class Chatter's own routes give ``path`` (what the project must reach)."""
    from channels.routing import URLRouter

    import chatter.routing

    # types-channels wants routes of a type of its own, which no path() call returns.
    routes = list(chatter.routing.websocket_urlpatterns)
    return follow(URLRouter(routes), "websocket", path).consumer_class  # type: ignore[arg-type]


def _unrouted(route: Route, path: str) -> CheckMessage:
    if route.end is None or route.consumer_class is None:
        message = _(
            "ASGI_APPLICATION has no websocket route for %(path)s: Chatter's pages would "
            "never connect."
        ) % {"path": path}
    else:
        message = _(
            "ASGI_APPLICATION routes %(path)s to %(consumer)s, not to Chatter's consumer."
        ) % {"path": path, "consumer": route.consumer_class.__qualname__}
    return Error(
        message,
        hint=_(
            "Route Chatter's sockets as the quickstart's asgi.py does (your own routes first, "
            'none matching ws/chatter/): ProtocolTypeRouter({"websocket": %(code)s})'
        )
        % {"code": WEBSOCKET_SNIPPET},
        id="chatter.E018",
    )


def _origin_problem(route: Route) -> str | None:
    """Why the route's origin check does not protect Chatter, or None if it does."""
    if route.has(SameHostOriginValidator):
        return None
    validators = [layer for layer in route.layers if isinstance(layer, OriginValidator)]
    if not validators:
        return _(
            "Chatter's websocket route has no origin check: any web page can open a socket "
            "with a visitor's cookies and chat as them."
        )
    allowed = [str(origin) for v in validators for origin in v.allowed_origins]
    if "*" in allowed:
        return _(
            'Chatter\'s websocket route accepts every Origin ("*"): any web page can open a '
            "socket with a visitor's cookies and chat as them."
        )
    if tenancy.is_multitenant() and any(origin.startswith(".") for origin in allowed):
        return _(
            "With django-tenants, channels' OriginValidator accepts pages of every subdomain "
            "%(origins)s: a page of one tenant can open a socket to another tenant's host."
        ) % {"origins": ", ".join(o for o in allowed if o.startswith("."))}
    return None


def _tenant_stack(route: Route) -> bool:
    """MTSchemaMiddleware is on the route, and the user comes from MTAuthMiddleware."""
    users = [
        layer for layer in route.layers if isinstance(layer, AuthMiddleware | MTAuthMiddleware)
    ]
    return route.has(MTSchemaMiddleware) and bool(users) and isinstance(users[-1], MTAuthMiddleware)


@register()
def check_public_schema(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """With django-tenants, Chatter's pages must not be served on the public schema."""
    if not tenancy.is_multitenant() or _is_shared("chatter"):
        return []
    urlconf = getattr(settings, "PUBLIC_SCHEMA_URLCONF", None) or settings.ROOT_URLCONF
    try:
        url = reverse("chatter:index", urlconf=urlconf)
    except (NoReverseMatch, ImportError):
        return []
    return [
        Warning(
            _(
                "The public schema's URLconf %(urlconf)r serves Chatter's pages (%(url)s), but "
                "its tables are only in the tenants' schemas: a logged-in user on the public "
                "host gets a server error."
            )
            % {"urlconf": urlconf, "url": url},
            hint=_(
                'Give the public site a URLconf without include("chatter.urls"), e.g. %(code)s '
                "(see the multi-tenancy page)."
            )
            % {"code": PUBLIC_URLCONF_SNIPPET},
            id="chatter.W021",
        )
    ]


def _is_shared(app: str) -> bool:
    shared = getattr(settings, "SHARED_APPS", None) or []
    return any(name == app or name.startswith(app + ".apps.") for name in shared)


@register()
def check_static_files(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Chatter's CSS and scripts (and htmx's) must be served, or its pages are dead."""
    if not apps.is_installed("django.contrib.staticfiles"):
        return [
            Warning(
                _(
                    '"django.contrib.staticfiles" is not in INSTALLED_APPS: nothing finds, '
                    "collects or serves Chatter's CSS and scripts, and its pages stay dead."
                ),
                hint=_('Add "django.contrib.staticfiles" to INSTALLED_APPS.'),
                id="chatter.W022",
            )
        ]
    static_url = str(getattr(settings, "STATIC_URL", "") or "")
    parts = urlsplit(static_url)
    if not static_url or parts.scheme or parts.netloc:
        return []  # another host serves them (or Django reports the missing STATIC_URL)
    if _app_serves_static() is not False or _middleware_serves_static():
        return []
    if _urlconf_serves(parts.path):
        return []
    if settings.DEBUG:
        return [
            Warning(
                _(
                    "ASGI_APPLICATION does not serve static files: served with "
                    "'daphne mysite.asgi:application' (runserver serves them itself), Chatter's "
                    "pages load without their CSS and scripts and cannot chat."
                ),
                hint=_(
                    "Serve them in development as the quickstart's asgi.py does, with "
                    "django.contrib.staticfiles.handlers.ASGIStaticFilesHandler: %(code)s"
                )
                % {"code": STATIC_HANDLER_SNIPPET},
                id="chatter.W023",
            )
        ]
    if not getattr(settings, "STATIC_ROOT", None) and _local_storage():
        return [
            Warning(
                _(
                    "DEBUG is off and STATIC_ROOT is not set: collectstatic has nowhere to put "
                    "Chatter's CSS and scripts, so no web server can serve them."
                ),
                hint=_(
                    "Set it, e.g. %(code)s, run manage.py collectstatic and serve that folder "
                    "at STATIC_URL (see the deployment page)."
                )
                % {"code": STATIC_ROOT_SNIPPET},
                id="chatter.W024",
            )
        ]
    return []


@register()
def check_upload_limit(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Chatter's upload view is reached through UploadLimitMiddleware (HTTP side)."""
    app, _error = application()
    if app is None:
        return []
    try:
        path = reverse("chatter:upload", args=[uuid.UUID(int=0)])
    except NoReverseMatch:
        return []  # Chatter's URLs are not in ROOT_URLCONF: nothing to upload to
    route = follow(app, "http", path)
    from django.core.handlers.asgi import ASGIHandler

    if route.has(UploadLimitMiddleware) or not route.certain:
        return []
    if not isinstance(route.end, ASGIHandler):
        return []
    return [
        Warning(
            _(
                "ASGI_APPLICATION serves Chatter's upload view without UploadLimitMiddleware: "
                "Django stores the whole body of an upload before CHATTER_MAX_UPLOAD_BYTES "
                "is checked."
            ),
            hint=_("Wrap Django's ASGI application as the quickstart's asgi.py does: %(code)s")
            % {"code": UPLOAD_LIMIT_SNIPPET},
            id="chatter.W026",
        )
    ]


def _app_serves_static() -> bool | None:
    """True if the ASGI application's HTTP route serves static files, None if unknowable."""
    app, _error = application()
    if app is None:
        return None
    route = follow(app, "http", str(settings.STATIC_URL) + "chatter/chatter.js")
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    if route.has(ASGIStaticFilesHandler):
        return True
    from django.core.handlers.asgi import ASGIHandler

    if not route.certain or not isinstance(route.end, ASGIHandler):
        return None
    return False


def _middleware_serves_static() -> bool:
    return any(
        str(name).startswith(STATIC_MIDDLEWARE_PACKAGES)
        for name in getattr(settings, "MIDDLEWARE", None) or []
    )


def _urlconf_serves(static_path: str) -> bool:
    """Whether a URL pattern (e.g. ``staticfiles_urlpatterns()``) answers a static path."""
    path = "/" + static_path.lstrip("/") + "chatter/chatter.js"
    try:
        resolve(path)
    except Resolver404:
        return False
    except Exception:  # a URLconf that does not load is Django's own check's business
        return True
    return True


def _local_storage() -> bool:
    """Whether the static files storage writes to the local STATIC_ROOT."""
    backend = settings.STORAGES.get("staticfiles", {}).get("BACKEND", "")
    try:
        storage = import_string(backend)
    except ImportError:
        return False
    return isinstance(storage, type) and issubclass(storage, FileSystemStorage)
