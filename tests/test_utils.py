"""chatter.utils in single-tenant mode (SQLite): the middlewares behave like channels'."""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import ProtocolTypeRouter
from channels.sessions import CookieMiddleware, SessionMiddleware
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from chatter import rooms, upload_limit, utils
from chatter.models import Room
from chatter.utils import (
    ChatterMTMiddlewareStack,
    MTAuthMiddleware,
    MTSchemaMiddleware,
    SameHostOriginValidator,
    create_room,
)

pytestmark = pytest.mark.django_db(transaction=True)


class ScopeReport(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()
        user = self.scope.get("user")
        await self.send(
            json.dumps(
                {
                    "schema_name": self.scope.get("schema_name", "<absent>"),
                    "multitenant": self.scope.get("multitenant", "<absent>"),
                    "tenant": repr(self.scope.get("tenant", "<absent>")),
                    "username": user.get_username() if user is not None else None,
                    "authenticated": bool(user and user.is_authenticated),
                }
            )
        )


app = ScopeReport.as_asgi()


def cookie_for(user: Any) -> str:
    """``<SESSION_COOKIE_NAME>=<key>`` of a new session of ``user``."""
    from django.conf import settings

    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}"


async def report(application: Any, cookie: str | None = None) -> dict[str, Any]:
    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    comm = WebsocketCommunicator(application, "/ws/", headers=headers)
    accepted, _ = await comm.connect()
    assert accepted
    data = json.loads(await comm.receive_from())
    await comm.disconnect()
    return data


def test_public_names() -> None:
    assert create_room is rooms.create_room
    assert set(utils.__all__) >= {
        "MTSchemaMiddleware",
        "MTAuthMiddleware",
        "ChatterMTMiddlewareStack",
        "create_room",
        "SameHostOriginValidator",
        "UploadLimitMiddleware",
    }
    assert utils.UploadLimitMiddleware is upload_limit.UploadLimitMiddleware


async def test_schema_middleware_single_tenant() -> None:
    data = await report(MTSchemaMiddleware(app))
    assert data == {
        "schema_name": "",
        "multitenant": False,
        "tenant": "None",
        "username": None,
        "authenticated": False,
    }


async def test_schema_middleware_does_not_check_the_host_single_tenant() -> None:
    comm = WebsocketCommunicator(MTSchemaMiddleware(app), "/ws/", headers=[])
    assert (await comm.connect())[0]
    assert json.loads(await comm.receive_from())["multitenant"] is False
    await comm.disconnect()


async def test_stack_resolves_the_user() -> None:
    user = await database_sync_to_async(get_user_model().objects.create_user)(
        "alice", password="pw"
    )
    cookie = await database_sync_to_async(cookie_for)(user)
    data = await report(ChatterMTMiddlewareStack(app), cookie)
    assert data["username"] == "alice" and data["authenticated"] is True
    assert (data["schema_name"], data["multitenant"], data["tenant"]) == ("", False, "None")


async def test_stack_anonymous_without_cookie() -> None:
    data = await report(ChatterMTMiddlewareStack(app))
    assert data["authenticated"] is False


async def test_auth_middleware_alone_and_changed_password() -> None:
    application = CookieMiddleware(SessionMiddleware(MTAuthMiddleware(app)))

    def setup() -> tuple[Any, str]:
        user = get_user_model().objects.create_user("bob", password="pw")
        return user, cookie_for(user)

    user, cookie = await database_sync_to_async(setup)()
    data = await report(application, cookie)
    assert data["username"] == "bob"
    # Alone, it puts in the scope what MTSchemaMiddleware would (no tenants here).
    assert (data["schema_name"], data["multitenant"], data["tenant"]) == ("", False, "None")

    def change() -> None:
        user.set_password("new")
        user.save()

    await database_sync_to_async(change)()
    assert (await report(application, cookie))["authenticated"] is False


async def test_auth_middleware_reads_the_cookie_without_session_middleware() -> None:
    user = await database_sync_to_async(get_user_model().objects.create_user)("carol")
    cookie = await database_sync_to_async(cookie_for)(user)
    data = await report(MTAuthMiddleware(app), cookie)
    assert data["username"] == "carol"


async def test_auth_middleware_keeps_a_tenant_set_above_it() -> None:
    """Below MTSchemaMiddleware (or any middleware that set ``schema_name``) it adds only the
    user: the scope's tenant keys are left as they are."""

    async def set_keys(scope: dict, receive: Any, send: Any) -> Any:
        scope = dict(scope, schema_name="", multitenant="kept", tenant="kept")
        return await MTAuthMiddleware(app)(scope, receive, send)

    data = await report(set_keys)
    assert (data["multitenant"], data["tenant"]) == ("kept", "'kept'")


async def test_custom_session_cookie_name(settings: Any) -> None:
    settings.SESSION_COOKIE_NAME = "chat_sid"
    user = await database_sync_to_async(get_user_model().objects.create_user)("dave")
    cookie = await database_sync_to_async(cookie_for)(user)
    assert cookie.startswith("chat_sid=")
    assert (await report(ChatterMTMiddlewareStack(app), cookie))["username"] == "dave"
    renamed = cookie.replace("chat_sid=", "sessionid=")
    assert (await report(ChatterMTMiddlewareStack(app), renamed))["authenticated"] is False


async def test_origin_validator_in_front() -> None:
    application = SameHostOriginValidator(ChatterMTMiddlewareStack(app))
    comm = WebsocketCommunicator(
        application, "/ws/", headers=[(b"host", b"testserver"), (b"origin", b"http://evil.org")]
    )
    assert (await comm.connect())[0]
    assert (await comm.receive_output())["code"] == 4403


# -- the Utilities page's examples, run as written ----------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs"


def python_blocks(page: str) -> list[str]:
    """The ``.. code-block:: python`` blocks of a docs page, dedented."""
    lines = (DOCS / page).read_text(encoding="utf-8").splitlines()
    blocks: list[str] = []
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped == ".. code-block:: python":
            indent = len(lines[i]) - len(lines[i].lstrip())
            body: list[str] = []
            i += 1
            while i < len(lines) and (
                not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
            ):
                body.append(lines[i])
                i += 1
            blocks.append(textwrap.dedent("\n".join(body)).strip() + "\n")
            continue
        i += 1
    return blocks


def run_block(source: str) -> dict[str, Any]:
    # The original docs' placeholder, should an example still use it.
    source = source.replace("<your stack>(", "SameHostOriginValidator(")
    namespace: dict[str, Any] = {"SameHostOriginValidator": SameHostOriginValidator}
    exec(compile(source, "<docs/utilities.rst>", "exec"), namespace)  # noqa: S102
    return namespace


def test_utilities_page_examples_build_applications() -> None:
    blocks = python_blocks("utilities.rst")
    assert len(blocks) == 5
    assert all("django_chatter" not in block for block in blocks)
    routing = [run_block(b) for b in blocks if "application = ProtocolTypeRouter" in b]
    assert len(routing) == 3
    for namespace in routing:
        assert isinstance(namespace["application"], ProtocolTypeRouter)
    names = {
        name
        for b in blocks
        for name in (
            "MTSchemaMiddleware",
            "MTAuthMiddleware",
            "ChatterMTMiddlewareStack",
            "create_room",
        )
        if name in b
    }
    assert len(names) == 4


async def test_utilities_page_stack_example_serves_chatter_sockets() -> None:
    """The ChatterMTMiddlewareStack example, for real: an anonymous socket gets 4401."""
    (block,) = [b for b in python_blocks("utilities.rst") if "ChatterMTMiddlewareStack(" in b]
    application = run_block(block)["application"]
    comm = WebsocketCommunicator(
        application,
        f"/ws/chatter/{uuid.uuid4()}/",
        headers=[(b"host", b"testserver"), (b"origin", b"http://testserver")],
    )
    assert (await comm.connect())[0]
    message = await comm.receive_output()
    assert (message["type"], message["code"]) == ("websocket.close", 4401)
    await comm.wait()


def test_utilities_page_create_room_example(rf: Any) -> None:
    (block,) = [b for b in python_blocks("utilities.rst") if "def my_view" in b]
    my_view = run_block(block)["my_view"]
    user_model = get_user_model()
    me = user_model.objects.create_user("me", password="pw")
    other = user_model.objects.create_user("user2", password="pw")

    def request() -> Any:
        req = rf.get("/somewhere/")
        req.user = me
        req.session = SessionStore()
        req._messages = FallbackStorage(req)
        return req

    response = my_view(request())
    assert response.status_code == 200
    room = Room.objects.get()
    assert set(room.members.all()) == {me, other}
    assert str(room.pk) in response.content.decode()
    # The same pair again: the same room, no second one.
    assert my_view(request()).status_code == 200
    assert Room.objects.count() == 1


def test_multitenancy_page_examples_run() -> None:
    """In this process, what runs outside a tenant project (tests/test_quickstart.py and
    tests/test_snippets.py run every block of the page in a real one)."""
    blocks = python_blocks("multitenancy.rst")
    models, settings_block, urls_public, shell, consumer = blocks
    assert "class Client(TenantMixin)" in models
    namespace: dict[str, Any] = {"DATABASES": {"default": {}}, "MIDDLEWARE": ["x"]}
    exec(compile(settings_block, "<docs/multitenancy.rst>", "exec"), namespace)  # noqa: S102
    assert "chatter" in namespace["TENANT_APPS"]
    assert "chatter" not in namespace["SHARED_APPS"]
    assert namespace["MIDDLEWARE"][0] == "django_tenants.middleware.main.TenantMainMiddleware"
    assert namespace["PUBLIC_SCHEMA_URLCONF"] == "mysite.urls_public"
    assert run_block(urls_public)["urlpatterns"]
    compile(shell, "<docs/multitenancy.rst>", "exec")
    assert run_block(consumer)["BadgeConsumer"].__name__ == "BadgeConsumer"


async def test_auth_middleware_reads_the_cookies_cookie_middleware_parsed() -> None:
    user = await database_sync_to_async(get_user_model().objects.create_user)("erin")
    cookie = await database_sync_to_async(cookie_for)(user)
    data = await report(CookieMiddleware(MTAuthMiddleware(app)), cookie)
    assert data["username"] == "erin"


async def test_a_session_store_in_the_scope_is_read_again() -> None:
    """A store put in the scope as is (not channels' lazy one) is used, and read afresh:
    what it cached before (perhaps in another schema) does not count."""

    def login() -> SessionStore:
        user = get_user_model().objects.create_user("frank")
        key = cookie_for(user).split("=", 1)[1]
        store = SessionStore(key)
        assert store.get("_auth_user_id") == str(user.pk)  # read, so cached
        return store

    store = await database_sync_to_async(login)()

    async def with_store(scope: dict, receive: Any, send: Any) -> Any:
        return await MTAuthMiddleware(app)(dict(scope, session=store), receive, send)

    assert (await report(with_store))["username"] == "frank"
    from django.contrib.sessions.models import Session

    await database_sync_to_async(Session.objects.filter(pk=store.session_key).delete)()
    assert (await report(with_store))["authenticated"] is False  # logged out meanwhile


async def test_a_session_without_the_auth_hash_is_anonymous() -> None:
    """As ``django.contrib.auth.get_user``: no hash, no user (and the session is flushed)."""

    def session_without_hash() -> str:
        user = get_user_model().objects.create_user("grace")
        store = SessionStore()
        store["_auth_user_id"] = str(user.pk)
        store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        store.create()
        return store.session_key or ""

    key = await database_sync_to_async(session_without_hash)()
    data = await report(ChatterMTMiddlewareStack(app), f"sessionid={key}")
    assert data["authenticated"] is False
    assert not await database_sync_to_async(SessionStore().exists)(key)


async def test_a_session_of_a_backend_no_longer_configured_is_anonymous(settings: Any) -> None:
    user = await database_sync_to_async(get_user_model().objects.create_user)("heidi")
    cookie = await database_sync_to_async(cookie_for)(user)
    assert (await report(ChatterMTMiddlewareStack(app), cookie))["authenticated"] is True
    # The session names ModelBackend, which the project has since removed.
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.RemoteUserBackend"]
    assert (await report(ChatterMTMiddlewareStack(app), cookie))["authenticated"] is False


async def test_auth_middleware_passes_other_scopes_through_untouched() -> None:
    seen: list[dict[str, Any]] = []

    async def inner(scope: dict, receive: Any, send: Any) -> None:
        seen.append(scope)

    scope = {"type": "lifespan"}
    await MTAuthMiddleware(inner)(scope, None, None)
    assert seen == [{"type": "lifespan"}]
