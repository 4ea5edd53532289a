"""Where an ASGI application sends a request, read from its layers without calling it.

The system checks use this to tell, before anything is served, whether Chatter's socket
reaches its consumer through an origin check and the tenant middleware, and whether static
files are served. An application is a chain of layers: Channels' ``ProtocolTypeRouter`` and
``URLRouter``, middleware wrapping an inner application (``.inner``, ``.application``), and
at the end a consumer or Django's ``ASGIHandler``. Layers this module does not know may do
anything; a :class:`Route` through one is not :attr:`~Route.certain`, and the checks then
say nothing rather than something false.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from channels.auth import AuthMiddleware
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import OriginValidator
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.handlers.asgi import ASGIHandler
from django.urls import URLPattern

from chatter.origin import SameHostOriginValidator
from chatter.upload_limit import UploadLimitMiddleware
from chatter.utils import MTAuthMiddleware, MTSchemaMiddleware

# Layers known to pass requests on to their inner application, adding to the scope, by
# exact type: a subclass of one of them may answer or refuse requests on its own.
# (UploadLimitMiddleware answers only an upload over the limit: the route is the same.)
PASS_THROUGH: tuple[type, ...] = (
    CookieMiddleware,
    SessionMiddleware,
    AuthMiddleware,
    UploadLimitMiddleware,
)
# Layers whose job the checks look for (an origin check, the tenant, static files): known
# as what they are, subclasses included.
ROLES: tuple[type, ...] = (
    SameHostOriginValidator,
    OriginValidator,
    MTSchemaMiddleware,
    MTAuthMiddleware,
    ASGIStaticFilesHandler,
)
# Attributes under which wrappers keep their inner application.
INNER_ATTRIBUTES = ("inner", "application", "app")
_MAX_DEPTH = 50


@dataclass
class Route:
    """The layers a request of one path passes, outermost first.

    ``end`` is what answers it: a consumer's application (with ``consumer_class``), Django's
    ``ASGIHandler``, some other application, or None when nothing does (no route matches,
    no application for the scope type). ``certain`` is False when a layer on the way is not
    one this module knows, so it may answer, refuse or re-route on its own.
    """

    layers: list[object] = field(default_factory=list)
    end: object = None
    certain: bool = True

    def has(self, kind: type | tuple[type, ...]) -> bool:
        """Whether a layer on the way is an instance of ``kind``."""
        return any(isinstance(layer, kind) for layer in self.layers)

    @property
    def consumer_class(self) -> type | None:
        """The consumer class at the end, if the end is a consumer's ``as_asgi()``."""
        found = getattr(self.end, "consumer_class", None)
        return found if isinstance(found, type) else None


class _NoMatch(Exception):
    """A nested URLRouter matched nothing: the outer router tries its next route."""


def follow(application: object, scope_type: str, path: str) -> Route:
    """The route a ``scope_type`` ("http", "websocket") request for ``path`` takes."""
    route = Route()
    # Not nested: no _NoMatch comes out (a nested router's is caught by the router above it).
    _walk(application, scope_type, path.lstrip("/"), route, nested=False)
    return route


def _walk(app: object, scope_type: str, path: str, route: Route, nested: bool) -> None:
    for _ in range(_MAX_DEPTH):
        if isinstance(app, ProtocolTypeRouter):
            route.layers.append(app)
            app = app.application_mapping.get(scope_type)
            if app is None:
                return  # ProtocolTypeRouter refuses the scope type
            continue
        if isinstance(app, URLRouter):
            route.layers.append(app)
            _route(app, scope_type, path, route, nested)
            return
        inner = _inner(app)
        is_endpoint = getattr(app, "consumer_class", None) is not None or (
            isinstance(app, ASGIHandler) and not isinstance(app, ASGIStaticFilesHandler)
        )
        if is_endpoint or inner is None:
            route.end = app
            route.certain = route.certain and is_endpoint
            return
        route.layers.append(app)
        if type(app) not in PASS_THROUGH and not isinstance(app, ROLES):
            route.certain = False
        app = inner
    route.certain = False  # deeper than any real stack: give up


def _route(router: URLRouter, scope_type: str, path: str, route: Route, nested: bool) -> None:
    """Follow the first of the router's routes that matches, as ``URLRouter`` does."""
    # types-channels counts URLRouters among a router's routes; channels reads the pattern
    # and callback of each, and path() (or re_path()) made every one of them.
    routes: list[URLPattern] = router.routes  # type: ignore[assignment]
    for url_pattern in routes:
        match = url_pattern.pattern.match(path)
        if not match:
            continue
        remaining = match[0]
        depth = len(route.layers)
        try:
            _walk(url_pattern.callback, scope_type, remaining, route, nested=True)
        except _NoMatch:
            del route.layers[depth:]  # a nested router said Resolver404: try the next one
            continue
        return
    if nested:
        raise _NoMatch
    route.end = None


def _inner(app: object) -> object | None:
    for name in INNER_ATTRIBUTES:
        inner: object = getattr(app, name, None)
        if inner is not None and callable(inner):
            return inner
    return None
