"""The checks of what ASGI_APPLICATION serves: Chatter's socket route, its guards, statics.

Each test builds an application as a project's asgi.py would and points ASGI_APPLICATION at
it (``tests.test_checks_asgi.APPLICATION``), so the checks import it as they do for real.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from channels.auth import AuthMiddleware, AuthMiddlewareStack
from channels.generic.websocket import WebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator, OriginValidator
from channels.sessions import SessionMiddlewareStack
from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core import checks as django_checks
from django.core.asgi import get_asgi_application
from django.test import override_settings
from django.urls import path, re_path

import chatter.routing
from chatter import checks_asgi, tenancy
from chatter.asgi_routes import follow
from chatter.consumers import ChatConsumer
from chatter.upload_limit import UploadLimitMiddleware
from chatter.utils import (
    ChatterMTMiddlewareStack,
    MTAuthMiddleware,
    MTSchemaMiddleware,
    SameHostOriginValidator,
)

DJANGO = get_asgi_application()
APPLICATION: Any = None
ROOM = "/ws/chatter/00000000-0000-0000-0000-000000000000/"


def chatter_routes() -> URLRouter:
    return URLRouter(chatter.routing.websocket_urlpatterns)


def router(websocket: Any, http: Any = None) -> ProtocolTypeRouter:
    """The quickstart's router; its HTTP side (``http``) behind UploadLimitMiddleware."""
    http = UploadLimitMiddleware(http or ASGIStaticFilesHandler(DJANGO))
    return ProtocolTypeRouter({"http": http, "websocket": websocket})


class OtherConsumer(WebsocketConsumer):
    pass


class Unknown:
    """Middleware of some other package: it may check origins, route or answer itself."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        return await self.inner(scope, receive, send)


async def bare_app(scope: Any, receive: Any, send: Any) -> None:
    """An application of unknown kind with nothing inside to look at."""


@pytest.fixture
def serve() -> Iterator[Callable[[Any], list[str]]]:
    """``serve(app)``: make ``app`` the ASGI_APPLICATION; the ids of every Chatter check."""
    module = sys.modules[__name__]

    def run(app: Any) -> list[str]:
        module.APPLICATION = app
        with override_settings(ASGI_APPLICATION=f"{__name__}.APPLICATION"):
            found = django_checks.run_checks()
        return [m.id for m in found if m.id and m.id.startswith("chatter.")]

    with override_settings(DEBUG=True):
        yield run
    module.APPLICATION = None


@pytest.fixture
def multitenant(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if django-tenants ran (the real thing: tests/tenants/test_checks.py)."""
    monkeypatch.setattr(tenancy, "is_multitenant", lambda: True)


def one(ids: list[str], wanted: str) -> None:
    assert ids == [wanted], ids


# -- the route, read from the layers -----------------------------------------------------


def test_follow_reads_the_demo_application() -> None:
    import asgi

    route = follow(asgi.application, "websocket", ROOM)
    assert route.certain and route.consumer_class is ChatConsumer
    assert [type(layer).__name__ for layer in route.layers] == [
        "ProtocolTypeRouter",
        "SameHostOriginValidator",
        "CookieMiddleware",
        "SessionMiddleware",
        "MTSchemaMiddleware",
        "MTAuthMiddleware",
        "URLRouter",
    ]
    http = follow(asgi.application, "http", "/static/chatter/chatter.js")
    assert http.certain and http.has(ASGIStaticFilesHandler)
    assert type(http.end).__name__ == "ASGIHandler"


def test_follow_takes_the_first_matching_route_and_nested_routers() -> None:
    other = OtherConsumer.as_asgi()
    first = URLRouter([re_path(r"^ws/", other), *chatter.routing.websocket_urlpatterns])
    assert follow(first, "websocket", ROOM).consumer_class is OtherConsumer
    nested = URLRouter(
        [
            path("ws/", URLRouter([path("elsewhere/", other)])),  # matches nothing inside
            path("ws/", URLRouter([path("chatter/<uuid:room_id>/", ChatConsumer.as_asgi())])),
        ]
    )
    route = follow(nested, "websocket", ROOM)
    assert route.consumer_class is ChatConsumer and route.certain
    assert follow(nested, "websocket", "/ws/nowhere/").end is None


def test_a_stack_deeper_than_any_real_one_is_uncertain() -> None:
    from channels.sessions import CookieMiddleware

    app: Any = chatter_routes()
    for _ in range(60):
        app = CookieMiddleware(app)  # a layer known to pass requests on
    route = follow(app, "websocket", ROOM)
    assert route.end is None and not route.certain
    assert follow(CookieMiddleware(chatter_routes()), "websocket", ROOM).certain


def test_unknown_layers_make_a_route_uncertain() -> None:
    route = follow(Unknown(chatter_routes()), "websocket", ROOM)
    assert route.consumer_class is ChatConsumer and not route.certain
    route = follow(router(bare_app), "websocket", ROOM)
    assert route.end is bare_app and not route.certain


# -- E017, E018: the application and Chatter's route -------------------------------------


def test_the_demo_application_passes(serve: Callable[[Any], list[str]]) -> None:
    import asgi

    assert serve(asgi.application) == []


def test_an_application_that_does_not_import() -> None:
    with override_settings(ASGI_APPLICATION="tests.no_such_module.application"):
        messages = checks_asgi.check_websocket_route()
    assert [m.id for m in messages] == ["chatter.E017"]
    assert "ModuleNotFoundError" in messages[0].msg
    with override_settings():
        del settings.ASGI_APPLICATION
        assert checks_asgi.check_websocket_route() == []  # chatter.E005 says it


@pytest.mark.parametrize(
    "make",
    [
        lambda: UploadLimitMiddleware(ASGIStaticFilesHandler(DJANGO)),  # no websocket here
        lambda: ProtocolTypeRouter({"http": UploadLimitMiddleware(ASGIStaticFilesHandler(DJANGO))}),
        lambda: router(SameHostOriginValidator(URLRouter([path("ws/other/", bare_app)]))),
        lambda: router(
            SameHostOriginValidator(
                URLRouter(
                    [
                        re_path(r"^ws/", OtherConsumer.as_asgi()),
                        *chatter.routing.websocket_urlpatterns,
                    ]
                )
            )
        ),
    ],
)
def test_chatter_s_paths_not_reaching_its_consumer(
    serve: Callable[[Any], list[str]], make: Callable[[], Any]
) -> None:
    one(serve(make()), "chatter.E018")


def test_the_message_names_the_consumer_in_the_way(serve: Callable[[Any], list[str]]) -> None:
    other = OtherConsumer.as_asgi()
    sys.modules[__name__].APPLICATION = router(
        SameHostOriginValidator(URLRouter([re_path(r"^ws/", other)]))
    )
    with override_settings(ASGI_APPLICATION=f"{__name__}.APPLICATION"):
        message = checks_asgi.check_websocket_route()[0]
    assert "OtherConsumer" in message.msg and "chatter.routing" in message.hint


def test_unknown_layers_are_given_the_benefit_of_the_doubt(
    serve: Callable[[Any], list[str]],
) -> None:
    assert serve(router(Unknown(AuthMiddlewareStack(chatter_routes())))) == []
    assert serve(router(bare_app)) == []


# -- W019: the origin check --------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: AuthMiddlewareStack(chatter_routes()),
        lambda: OriginValidator(ChatterMTMiddlewareStack(chatter_routes()), ["*"]),
    ],
)
def test_no_origin_check(serve: Callable[[Any], list[str]], make: Callable[[], Any]) -> None:
    one(serve(router(make())), "chatter.W019")


def test_channels_origin_validators_are_enough_without_tenants(
    serve: Callable[[Any], list[str]],
) -> None:
    with override_settings(ALLOWED_HOSTS=[".example.com", "localhost"]):
        app = router(AllowedHostsOriginValidator(ChatterMTMiddlewareStack(chatter_routes())))
    assert serve(app) == []
    assert serve(router(SameHostOriginValidator(AuthMiddlewareStack(chatter_routes())))) == []


# -- E020 and W019 with django-tenants ---------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: AuthMiddlewareStack(chatter_routes()),
        lambda: SessionMiddlewareStack(MTAuthMiddleware(chatter_routes())),
        # The tenant is set, but channels' AuthMiddleware reads the user in any schema.
        lambda: SessionMiddlewareStack(MTSchemaMiddleware(AuthMiddleware(chatter_routes()))),
        lambda: SessionMiddlewareStack(
            MTSchemaMiddleware(MTAuthMiddleware(AuthMiddleware(chatter_routes())))
        ),
    ],
)
def test_tenants_without_chatter_s_tenant_stack(
    serve: Callable[[Any], list[str]], multitenant: None, make: Callable[[], Any]
) -> None:
    ids = serve(router(SameHostOriginValidator(make())))
    assert "chatter.E020" in ids, ids


def test_tenants_with_chatter_s_tenant_stack(
    serve: Callable[[Any], list[str]], multitenant: None
) -> None:
    stacks = [
        ChatterMTMiddlewareStack(chatter_routes()),
        SessionMiddlewareStack(MTSchemaMiddleware(MTAuthMiddleware(chatter_routes()))),
        AuthMiddlewareStack(MTSchemaMiddleware(MTAuthMiddleware(chatter_routes()))),
    ]
    for stack in stacks:
        ids = serve(router(SameHostOriginValidator(stack)))
        assert "chatter.E020" not in ids and "chatter.W019" not in ids, ids


def test_tenants_and_a_subdomain_wide_origin_check(
    serve: Callable[[Any], list[str]], multitenant: None
) -> None:
    with override_settings(ALLOWED_HOSTS=[".example.com"]):
        app = router(AllowedHostsOriginValidator(ChatterMTMiddlewareStack(chatter_routes())))
    assert "chatter.W019" in serve(app)
    with override_settings(ALLOWED_HOSTS=["alpha.example.com"]):
        app = router(AllowedHostsOriginValidator(ChatterMTMiddlewareStack(chatter_routes())))
    assert "chatter.W019" not in serve(app)


# -- W022, W023, W024: static files ------------------------------------------------------


def chatting(http: Any) -> ProtocolTypeRouter:
    return router(SameHostOriginValidator(ChatterMTMiddlewareStack(chatter_routes())), http)


def test_staticfiles_not_installed(serve: Callable[[Any], list[str]]) -> None:
    apps = [a for a in settings.INSTALLED_APPS if a != "django.contrib.staticfiles"]
    with override_settings(INSTALLED_APPS=apps):
        one(serve(chatting(ASGIStaticFilesHandler(DJANGO))), "chatter.W022")


def test_debug_and_no_static_files_handler(serve: Callable[[Any], list[str]]) -> None:
    one(serve(chatting(DJANGO)), "chatter.W023")
    assert serve(chatting(ASGIStaticFilesHandler(DJANGO))) == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"MIDDLEWARE": ["whitenoise.middleware.WhiteNoiseMiddleware", *settings.MIDDLEWARE]},
        {"STATIC_URL": "https://cdn.example.com/static/"},
        {"ROOT_URLCONF": "tests.urls_static"},
    ],
)
def test_static_files_served_some_other_way(
    serve: Callable[[Any], list[str]], overrides: dict[str, Any]
) -> None:
    with override_settings(**overrides):
        assert serve(chatting(DJANGO)) == []


def test_an_unknown_http_layer_may_serve_them(serve: Callable[[Any], list[str]]) -> None:
    assert serve(chatting(Unknown(DJANGO))) == []


def test_production_without_static_root(serve: Callable[[Any], list[str]]) -> None:
    redis = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:6379/0", "socket_timeout": 30}]},
        }
    }
    with override_settings(DEBUG=False, STATIC_ROOT=None, CHANNEL_LAYERS=redis):
        one(serve(chatting(DJANGO)), "chatter.W024")
        # Served by the application itself (slowly, but served).
        assert serve(chatting(ASGIStaticFilesHandler(DJANGO))) == []
    with override_settings(DEBUG=False, CHANNEL_LAYERS=redis):
        assert settings.STATIC_ROOT
        assert serve(chatting(DJANGO)) == []  # collectstatic + a web server
    remote = {**settings.STORAGES, "staticfiles": {"BACKEND": f"{__name__}.RemoteStorage"}}
    with override_settings(DEBUG=False, STATIC_ROOT=None, CHANNEL_LAYERS=redis, STORAGES=remote):
        assert serve(chatting(DJANGO)) == []


class RemoteStorage:
    """A storage that is no local folder (as django-storages' S3 storage)."""


def test_static_files_of_an_application_that_cannot_be_loaded_are_not_judged() -> None:
    """No ASGI_APPLICATION (chatter.E005) or one that fails (chatter.E017): no guess."""
    with override_settings(DEBUG=True):
        del settings.ASGI_APPLICATION
        assert checks_asgi.check_static_files() == []
    with override_settings(DEBUG=True, ASGI_APPLICATION="tests.no_such_module.application"):
        assert checks_asgi.check_static_files() == []


def static_check(app: Any) -> list[str]:
    """The ids the static files check gives with ``app`` as the ASGI_APPLICATION."""
    module = sys.modules[__name__]
    module.APPLICATION = app
    try:
        with override_settings(ASGI_APPLICATION=f"{__name__}.APPLICATION"):
            return [m.id or "" for m in checks_asgi.check_static_files()]
    finally:
        module.APPLICATION = None


def test_a_urlconf_that_does_not_load_is_left_to_django() -> None:
    with override_settings(DEBUG=True):
        assert static_check(chatting(DJANGO)) == ["chatter.W023"]
        with override_settings(ROOT_URLCONF="tests.no_such_module"):
            assert static_check(chatting(DJANGO)) == []


def test_a_static_files_storage_that_does_not_import_is_left_to_django() -> None:
    broken = {**settings.STORAGES, "staticfiles": {"BACKEND": "tests.no_such_module.Storage"}}
    with override_settings(DEBUG=False, STATIC_ROOT=None):
        assert static_check(chatting(DJANGO)) == ["chatter.W024"]
        with override_settings(STORAGES=broken):
            assert static_check(chatting(DJANGO)) == []


def test_hints_show_the_quickstart_s_code(serve: Callable[[Any], list[str]]) -> None:
    module = sys.modules[__name__]
    module.APPLICATION = chatting(DJANGO)
    with override_settings(ASGI_APPLICATION=f"{__name__}.APPLICATION"):
        [static] = checks_asgi.check_static_files()
        with override_settings(DEBUG=False, STATIC_ROOT=None):
            [root] = checks_asgi.check_static_files()
    assert checks_asgi.STATIC_HANDLER_SNIPPET in static.hint
    assert checks_asgi.STATIC_ROOT_SNIPPET in root.hint
    module.APPLICATION = router(AuthMiddlewareStack(chatter_routes()))
    with override_settings(ASGI_APPLICATION=f"{__name__}.APPLICATION"):
        [origin] = checks_asgi.check_websocket_route()
    assert checks_asgi.WEBSOCKET_SNIPPET in origin.hint


def test_the_checks_are_registered() -> None:
    registered = django_checks.registry.registry.get_checks()
    for check in (
        checks_asgi.check_websocket_route,
        checks_asgi.check_public_schema,
        checks_asgi.check_static_files,
    ):
        assert check in registered


class MyChatConsumer(ChatConsumer):
    """A project's own subclass of Chatter's consumer, routed on Chatter's paths."""


def test_a_subclass_of_chatter_s_consumer_on_its_paths(serve: Callable[[Any], list[str]]) -> None:
    routes = URLRouter(
        [
            path("ws/chatter/", MyChatConsumer.as_asgi()),
            path("ws/chatter/<uuid:room_id>/", MyChatConsumer.as_asgi()),
        ]
    )
    assert serve(router(SameHostOriginValidator(ChatterMTMiddlewareStack(routes)))) == []


# -- W026: the upload view without UploadLimitMiddleware -------------------------------


def test_the_upload_view_without_the_upload_limit(serve: Callable[[Any], list[str]]) -> None:
    routes = SameHostOriginValidator(ChatterMTMiddlewareStack(chatter_routes()))
    bare = ProtocolTypeRouter({"http": ASGIStaticFilesHandler(DJANGO), "websocket": routes})
    one(serve(bare), "chatter.W026")
    with override_settings(ASGI_APPLICATION=f"{__name__}.APPLICATION"):  # still ``bare``
        [message] = checks_asgi.check_upload_limit()
    assert checks_asgi.UPLOAD_LIMIT_SNIPPET in str(message.hint)
    assert serve(router(routes)) == []  # wrapped, under or over the static files handler
    over = ProtocolTypeRouter(
        {"http": ASGIStaticFilesHandler(UploadLimitMiddleware(DJANGO)), "websocket": routes}
    )
    assert serve(over) == []


def test_the_upload_limit_check_says_nothing_it_cannot_know(
    serve: Callable[[Any], list[str]],
) -> None:
    routes = SameHostOriginValidator(ChatterMTMiddlewareStack(chatter_routes()))
    # Another package's layer may hold the limit itself; no HTTP side at all serves no upload.
    assert serve(ProtocolTypeRouter({"http": Unknown(DJANGO), "websocket": routes})) == []
    assert "chatter.W026" not in serve(ProtocolTypeRouter({"websocket": routes}))
    with override_settings(ROOT_URLCONF=__name__):  # a project without Chatter's URLs
        assert checks_asgi.check_upload_limit() == []


urlpatterns: list[Any] = []
