"""django-tenants on PostgreSQL: two tenants with real schemas, created once per session.

Why no ``django_db`` / ``transactional_db`` here: async tests need committed data (the
middlewares' database calls run on another thread), and a transactional test ends with
``flush``, which truncates every table of the connection's *current* schema, i.e. the
public one, deleting the tenants and domains made for the whole session. Instead the
tests get plain database access (autocommit) from :func:`_db_access`, the tenants and
their users alice and bob are made once by :func:`tenants`, and a test that needs to
change data makes its own user with a unique name (:func:`tenant_user`) and removes it
afterwards. The test database itself is created and dropped by pytest-django.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.db import connection
from django_tenants.utils import get_public_schema_name, schema_context

from tests import servers

PASSWORD = "pw"
BACKEND = "django.contrib.auth.backends.ModelBackend"
TENANTS = {"alpha": "alpha.test.com", "beta": "beta.test.com"}


@dataclass
class TenantInfo:
    schema_name: str
    domain: str
    tenant: Any
    users: dict[str, Any] = field(default_factory=dict)


def _user(schema_name: str, username: str) -> Any:
    """A user whose email and first name tell which tenant it belongs to."""
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is None:
        user = user_model.objects.create_user(
            username,
            email=f"{username}@{schema_name}.test.com",
            first_name=f"{username.title()} of {schema_name}",
            password=PASSWORD,
        )
    return user


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: Any,
    django_db_blocker: Any,
    django_db_keepdb: bool,
) -> Iterator[None]:
    """Create the test database for this suite, although no test here is ``django_db``.

    pytest-django's own fixture creates only the databases that ``django_db`` tests ask
    for; with none it creates nothing, and the tests would run on the real database.
    """
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        db_cfg = setup_databases(
            verbosity=request.config.option.verbose,
            interactive=False,
            keepdb=django_db_keepdb,
            aliases={"default"},
            serialized_aliases=set(),
        )
        # A throwaway database: commits need not wait for the disk (every chat message
        # is a transaction of its own; this saves a third of the interleaving test).
        with connection.cursor() as cursor:
            name = connection.ops.quote_name(connection.settings_dict["NAME"])
            cursor.execute(f"ALTER DATABASE {name} SET synchronous_commit TO off")
        connection.close()  # new connections get the setting
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            servers.end_other_sessions()
            teardown_databases(db_cfg, verbosity=request.config.option.verbose)


@pytest.fixture(scope="session")
def tenants(django_db_setup: Any, django_db_blocker: Any) -> Iterator[dict[str, TenantInfo]]:
    """Tenants alpha (alpha.test.com) and beta (beta.test.com), each with alice and bob."""
    from customers.models import Client, Domain

    made: dict[str, TenantInfo] = {}
    name = connection.settings_dict["NAME"]
    assert name == settings.DATABASES["default"]["TEST"]["NAME"], f"not a test database: {name}"
    with django_db_blocker.unblock():
        for schema_name, domain in TENANTS.items():
            with schema_context(get_public_schema_name()):
                tenant = Client.objects.filter(schema_name=schema_name).first()
                if tenant is None:  # absent unless the test database is reused
                    tenant = Client(schema_name=schema_name, name=schema_name.title())
                    tenant.save(verbosity=0)  # creates and migrates the schema
                Domain.objects.get_or_create(
                    domain=domain, defaults={"tenant": tenant, "is_primary": True}
                )
            with schema_context(schema_name):
                users = {name: _user(schema_name, name) for name in ("alice", "bob")}
            made[schema_name] = TenantInfo(schema_name, domain, tenant, users)
        connection.set_schema_to_public()
    yield made


@pytest.fixture(autouse=True)
def _db_access(django_db_blocker: Any) -> Iterator[None]:
    """Database access without a wrapping transaction or a flush (see the module doc)."""
    with django_db_blocker.unblock():
        yield
        # A test must not leave a schema set on this thread's connection either.
        assert connection.schema_name == get_public_schema_name()


PUBLIC_DOMAIN = "test.com"


@pytest.fixture
def public(tenants: dict[str, TenantInfo]) -> Iterator[TenantInfo]:
    """django-tenants' public tenant on ``test.com``, as the demo's is on ``localhost``.

    Its schema has the tables of ``SHARED_APPS`` (auth and sessions included) and no chat
    tables; ``users["alice"]`` is a user of the public schema. The tenant row and its
    domain are made if missing and removed afterwards (a public tenant row changes what
    other tests of the session see, e.g. ``--schema public``). The user stays: deleting it
    would look for admin's log entries, whose table the public schema does not have.
    """
    from customers.models import Client, Domain

    public_name = get_public_schema_name()
    with schema_context(public_name):
        tenant = Client.objects.filter(schema_name=public_name).first()
        made_tenant = tenant is None
        if made_tenant:
            tenant = Client(schema_name=public_name, name="Public")
            tenant.save(verbosity=0)  # the schema exists: nothing is created or migrated
        domain, made_domain = Domain.objects.get_or_create(
            domain=PUBLIC_DOMAIN, defaults={"tenant": tenant, "is_primary": True}
        )
        alice = _user(public_name, "alice")
    yield TenantInfo(public_name, PUBLIC_DOMAIN, tenant, {"alice": alice})
    with schema_context(public_name):
        if made_domain:
            domain.delete()
        if made_tenant:
            tenant.delete()  # the row only: Client.auto_drop_schema is False


@pytest.fixture
def alpha(tenants: dict[str, TenantInfo]) -> TenantInfo:
    return tenants["alpha"]


@pytest.fixture
def beta(tenants: dict[str, TenantInfo]) -> TenantInfo:
    return tenants["beta"]


_serial = itertools.count()


@pytest.fixture
def tenant_user(tenants: dict[str, TenantInfo]) -> Iterator[Callable[[str], Any]]:
    """Make a user with a unique name in a tenant (``tenant_user("alpha")``); removed after."""
    made: list[tuple[str, Any]] = []

    def make(schema_name: str) -> Any:
        with schema_context(schema_name):
            user = _user(schema_name, f"user{next(_serial)}")
        made.append((schema_name, user))
        return user

    yield make
    for schema_name, user in made:
        with schema_context(schema_name):
            get_user_model().objects.filter(pk=user.pk).delete()


def login(schema_name: str, user: Any) -> str:
    """A session key of ``user`` logged in on tenant ``schema_name`` (stored in its schema)."""
    with schema_context(schema_name):
        session = import_module(settings.SESSION_ENGINE).SessionStore()
        session[SESSION_KEY] = user._meta.pk.value_to_string(user)
        session[BACKEND_SESSION_KEY] = BACKEND
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        return session.session_key


def session_exists(schema_name: str, session_key: str) -> bool:
    with schema_context(schema_name):
        return import_module(settings.SESSION_ENGINE).SessionStore().exists(session_key)


@pytest.fixture
def tenant_room(tenants: dict[str, TenantInfo]) -> Iterator[Callable[..., Any]]:
    """Find or create a room of users in a tenant (``tenant_room("alpha", a, b)``).

    Rooms made by the call (not ones that existed before) are deleted after the test,
    with their messages and memberships.
    """
    from chatter import rooms
    from chatter.models import Room

    made: list[tuple[str, Any]] = []

    def make(schema_name: str, *users: Any, name: str = "") -> Any:
        with schema_context(schema_name):
            before = set(Room.objects.values_list("pk", flat=True))
            room = Room.objects.get(pk=rooms.create_room(list(users), name=name))
        if room.pk not in before:
            made.append((schema_name, room.pk))
        return room

    yield make
    for schema_name, room_id in made:
        with schema_context(schema_name):
            Room.objects.filter(pk=room_id).delete()


def cookie(session_key: str) -> str:
    """The Cookie header of a session key, under ``SESSION_COOKIE_NAME``."""
    return f"{settings.SESSION_COOKIE_NAME}={session_key}"


def alice_room_in_each(
    alpha: TenantInfo, beta: TenantInfo, tenant_user: Any, tenant_room: Any
) -> tuple[str, dict[str, Any]]:
    """A named room of alice and a fresh user in each tenant: ``(tag, {schema: room})``."""
    tag = uuid.uuid4().hex[:8]
    rooms = {
        t.schema_name: tenant_room(
            t.schema_name,
            t.users["alice"],
            tenant_user(t.schema_name),
            name=f"{t.schema_name} {tag}",
        )
        for t in (alpha, beta)
    }
    return tag, rooms
