"""Tests of Chatter's system checks: each passes on the test settings and fails when broken."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import checks as django_checks
from django.test import override_settings

from chatter import checks, conf

BASE_APPS = list(settings.INSTALLED_APPS)


@pytest.fixture(autouse=True)
def debug() -> Iterator[None]:
    """The test runner sets DEBUG=False, which warns about the demo's in-memory layer."""
    with override_settings(DEBUG=True):
        yield


def ids(messages: list[Any]) -> list[str]:
    return [m.id for m in messages]


def without(*names: str) -> list[str]:
    return [app for app in BASE_APPS if app not in names]


def all_chatter_messages() -> list[Any]:
    return [m for m in django_checks.run_checks() if m.id.startswith("chatter.")]


def test_the_test_settings_pass() -> None:
    assert checks.check_apps() == []
    assert checks.check_channels() == []
    assert checks.check_settings() == []
    assert all_chatter_messages() == []


def test_checks_are_registered() -> None:
    registered = django_checks.registry.registry.get_checks()
    for check in (checks.check_apps, checks.check_channels, checks.check_settings):
        assert check in registered


# -- apps --------------------------------------------------------------------------------


def test_channels_missing() -> None:
    with override_settings(INSTALLED_APPS=without("channels")):
        messages = checks.check_apps()
    assert ids(messages) == ["chatter.E001"]
    assert messages[0].level == django_checks.ERROR
    assert '"channels"' in messages[0].msg


def test_daphne_missing_is_a_warning() -> None:
    with override_settings(INSTALLED_APPS=without("daphne")):
        messages = checks.check_apps()
    assert ids(messages) == ["chatter.W002"]
    assert messages[0].level == django_checks.WARNING
    assert "websockets" in messages[0].msg


def test_daphne_after_staticfiles() -> None:
    apps = without("daphne")
    apps.insert(apps.index("django.contrib.staticfiles") + 1, "daphne")
    with override_settings(INSTALLED_APPS=apps):
        assert ids(checks.check_apps()) == ["chatter.W003"]


def test_htmx_missing() -> None:
    with override_settings(INSTALLED_APPS=without("django_htmx")):
        messages = checks.check_apps()
    assert ids(messages) == ["chatter.E006"]
    assert "{% htmx_script %}" in messages[0].hint


def test_all_apps_missing_at_once() -> None:
    with override_settings(INSTALLED_APPS=without("channels", "daphne", "django_htmx")):
        assert ids(checks.check_apps()) == ["chatter.E001", "chatter.W002", "chatter.E006"]


# -- channels ----------------------------------------------------------------------------


def test_no_channel_layers() -> None:
    with override_settings():
        del settings.CHANNEL_LAYERS
        messages = checks.check_channels()
    assert ids(messages) == ["chatter.E004"]
    assert "InMemoryChannelLayer" in messages[0].hint
    assert "RedisChannelLayer" in messages[0].hint


@pytest.mark.parametrize("layers", [{}, {"other": {"BACKEND": "x"}}, None, "redis"])
def test_channel_layers_without_default(layers: Any) -> None:
    with override_settings(CHANNEL_LAYERS=layers):
        assert ids(checks.check_channels()) == ["chatter.E004"]


def test_in_memory_layer_without_debug() -> None:
    in_memory = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    with override_settings(CHANNEL_LAYERS=in_memory, DEBUG=False):
        messages = checks.check_channels()
    assert ids(messages) == ["chatter.W007"]
    assert messages[0].level == django_checks.WARNING
    with override_settings(CHANNEL_LAYERS=in_memory, DEBUG=True):
        assert checks.check_channels() == []
    redis = _redis_layer({"address": "redis://127.0.0.1:6379/0", "socket_timeout": 30})
    with override_settings(CHANNEL_LAYERS=redis, DEBUG=False):
        assert checks.check_channels() == []


def test_no_asgi_application() -> None:
    with override_settings():
        del settings.ASGI_APPLICATION
        messages = checks.check_channels()
    assert ids(messages) == ["chatter.E005"]
    with override_settings(ASGI_APPLICATION=""):
        assert ids(checks.check_channels()) == ["chatter.E005"]


# -- CHATTER_* settings ------------------------------------------------------------------

VALID = {
    "CHATTER_BASE_TEMPLATE": ["chatter/base.html", "demo/base.html"],
    "CHATTER_MESSAGE_MAX_LENGTH": [1, 4000, 10_000],
    "CHATTER_PAGE_SIZE": [1, 50, 500],
    "CHATTER_USER_SEARCH_LIMIT": [1, 25],
    "CHATTER_MAX_ROOM_MEMBERS": [2, 500],
    "CHATTER_RATE_LIMIT_MESSAGES": [0, 20],
    "CHATTER_RATE_LIMIT_SECONDS": [0, 10],
    "CHATTER_TYPING_TIMEOUT": [1, 2.5],
    "CHATTER_PRESENCE_TIMEOUT": [10, 60, 3600],
    "CHATTER_MAX_FRAME_BYTES": [64 * 1024, 1024 * 1024],
    "CHATTER_FRAME_LIMITS": [{}, {"read": (0, 0)}, {"resume": [5, 2.5], "ping": (10, 60)}],
    "CHATTER_MAX_SOCKETS_PER_USER": [0, 1, 100],
    "CHATTER_EDIT_WINDOW": [None, 0, 900, 48 * 3600],
    "CHATTER_MAX_REACTIONS": [1, 20, 100],
    "CHATTER_AVATAR_URL": [None, "tests.avatar_hooks.picture"],
    "CHATTER_NOTIFY_DELAY": [0, 600, timedelta(minutes=30)],
    "CHATTER_NOTIFY_MAX_MESSAGES": [1, 5, 100],
    "CHATTER_SITE_URL": [None, "https://chat.example.com", "http://{domain}:8000/app"],
    "CHATTER_SEARCH_CONFIG": ["simple", "english", "pg_catalog.german", "public.my_config"],
    "CHATTER_SEARCH_LIMIT": [1, 200],
    "CHATTER_STORAGE": [None, "default", "django.core.files.storage.FileSystemStorage"],
    "CHATTER_MAX_UPLOAD_BYTES": [1, 10 * 1024 * 1024],
    "CHATTER_MAX_UPLOAD_FILES": [1, 100],
    "CHATTER_UPLOAD_TYPES": [[], ["image/png"], ("text/plain", "application/pdf")],
    "CHATTER_UPLOAD_QUOTA_BYTES": [None, 0, 10**9],
    "CHATTER_MAX_IMAGE_PIXELS": [1, 10**8],
    "CHATTER_THUMBNAIL_SIZE": [(16, 16), [640, 480]],
    "CHATTER_SENDFILE": [None, "x-sendfile"],
    "CHATTER_SENDFILE_PREFIX": ["", "/chatter-files/"],
    "CHATTER_PUSH": [None, {}],  # its entries: tests/test_push_input.py
}
INVALID = {
    "CHATTER_BASE_TEMPLATE": ["", None, 3, ["chatter/base.html"]],
    "CHATTER_MESSAGE_MAX_LENGTH": [0, -1, "4000", 10.5, True, None],
    "CHATTER_PAGE_SIZE": [0, 501, -5, "50", 50.0, False],
    "CHATTER_USER_SEARCH_LIMIT": [0, "10", None],
    "CHATTER_MAX_ROOM_MEMBERS": [1, 0, "50"],
    "CHATTER_RATE_LIMIT_MESSAGES": [-1, "20", None, 2.5],
    "CHATTER_RATE_LIMIT_SECONDS": [-1, "10", None],
    "CHATTER_TYPING_TIMEOUT": [0, -1, "5", None, True],
    "CHATTER_PRESENCE_TIMEOUT": [9, 0, 30.5, "60", None],
    "CHATTER_MAX_FRAME_BYTES": [0, -1, "65536", None],
    "CHATTER_FRAME_LIMITS": [
        None,
        {"send": (1, 1)},
        {"read": (1,)},
        {"read": (-1, 10)},
        {"read": ("1", 10)},
        {"typing": (1, -1)},
        {"ping": (True, 10)},
        [("read", (1, 1))],
    ],
    "CHATTER_MAX_SOCKETS_PER_USER": [-1, "20", None, 2.5],
    "CHATTER_EDIT_WINDOW": [-1, "3600", 1.5, True],
    "CHATTER_MAX_REACTIONS": [0, 101, "20", None],
    "CHATTER_AVATAR_URL": ["", 3, ["tests.avatar_hooks.picture"], len],
    "CHATTER_NOTIFY_DELAY": [-1, "600", 1.5, True, None, timedelta(seconds=-1)],
    "CHATTER_NOTIFY_MAX_MESSAGES": [0, 101, "5", None],
    "CHATTER_SITE_URL": ["", "chat.example.com", "ftp://example.com", "https://", 3],
    "CHATTER_SEARCH_CONFIG": ["", "simple'; --", "a.b.c", "1st", None, ["simple"]],
    "CHATTER_SEARCH_LIMIT": [0, 201, "20", None, True],
    "CHATTER_STORAGE": ["", 3],
    "CHATTER_MAX_UPLOAD_BYTES": [0, "10", None],
    "CHATTER_MAX_UPLOAD_FILES": [0, 101, True],
    "CHATTER_UPLOAD_TYPES": ["image/png", [3], None],
    "CHATTER_UPLOAD_QUOTA_BYTES": [-1, "1", 2.5],
    "CHATTER_MAX_IMAGE_PIXELS": [0, None],
    "CHATTER_THUMBNAIL_SIZE": [320, (320,), (8, 8), (320, 5000)],
    "CHATTER_SENDFILE": ["nginx", True],
    "CHATTER_SENDFILE_PREFIX": [None, 3],
    "CHATTER_PUSH": ["on", True, [("VAPID_PUBLIC_KEY", "x")]],
}


def test_every_setting_has_a_rule() -> None:
    assert set(checks.RULES) == set(conf.DEFAULTS) == set(VALID) == set(INVALID)


@pytest.mark.parametrize(
    ("name", "value"), [(name, value) for name, values in VALID.items() for value in values]
)
def test_valid_setting(name: str, value: Any) -> None:
    with override_settings(**{name: value}):
        assert checks.check_settings() == []


@pytest.mark.parametrize(
    ("name", "value"), [(name, value) for name, values in INVALID.items() for value in values]
)
def test_invalid_setting(name: str, value: Any) -> None:
    with override_settings(**{name: value}):
        messages = checks.check_settings()
    assert ids(messages) == ["chatter.E010"]
    assert messages[0].level == django_checks.ERROR
    assert messages[0].msg.startswith(f"{name} is {value!r}; it must be ")
    assert repr(conf.DEFAULTS[name]) in messages[0].hint


def test_several_invalid_settings_are_all_reported() -> None:
    with override_settings(CHATTER_PAGE_SIZE=0, CHATTER_RATE_LIMIT_SECONDS=-3):
        messages = checks.check_settings()
    assert ids(messages) == ["chatter.E010", "chatter.E010"]
    assert {m.msg.split()[0] for m in messages} == {
        "CHATTER_PAGE_SIZE",
        "CHATTER_RATE_LIMIT_SECONDS",
    }


def test_base_template_that_does_not_exist() -> None:
    with override_settings(CHATTER_BASE_TEMPLATE="nowhere/base.html"):
        messages = checks.check_settings()
    assert ids(messages) == ["chatter.E011"]
    assert "'nowhere/base.html'" in messages[0].msg


def test_base_template_with_a_syntax_error(tmp_path: Any) -> None:
    (tmp_path / "broken.html").write_text("{% if %}")
    templates = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    with override_settings(TEMPLATES=templates, CHATTER_BASE_TEMPLATE="broken.html"):
        messages = checks.check_settings()
    assert ids(messages) == ["chatter.E011"]
    assert "cannot be loaded" in messages[0].msg


def test_frame_too_small_for_the_longest_message() -> None:
    with override_settings(CHATTER_MESSAGE_MAX_LENGTH=4000, CHATTER_MAX_FRAME_BYTES=8000):
        messages = checks.check_settings()
    assert ids(messages) == ["chatter.W012"]
    assert "17024" in messages[0].hint
    with override_settings(CHATTER_MESSAGE_MAX_LENGTH=4000, CHATTER_MAX_FRAME_BYTES=17024):
        assert checks.check_settings() == []


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("tests.avatar_hooks.missing", "cannot be imported"),
        ("nowhere.avatar_url", "cannot be imported"),
        ("avatar_url", "cannot be imported"),
        ("tests.avatar_hooks.NOT_CALLABLE", "is not callable"),
    ],
)
def test_avatar_hook_that_cannot_be_used(path: str, problem: str) -> None:
    with override_settings(CHATTER_AVATAR_URL=path):
        messages = checks.check_settings()
        assert ids(all_chatter_messages()) == ["chatter.E025"]
    assert ids(messages) == ["chatter.E025"]
    assert messages[0].level == django_checks.ERROR
    assert messages[0].msg.startswith(f"CHATTER_AVATAR_URL {path!r} {problem}")
    assert "returns the URL of their picture or None" in messages[0].hint


def test_run_checks_reports_a_broken_setting() -> None:
    with override_settings(CHATTER_PAGE_SIZE=1000):
        assert ids(all_chatter_messages()) == ["chatter.E010"]


def _redis_layer(host: object) -> dict:
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [host]},
        }
    }


@pytest.mark.parametrize(
    ("host", "warned"),
    [
        ("redis://127.0.0.1:6379/0", True),
        ({"address": "redis://127.0.0.1:6379/0"}, True),
        ({"address": "redis://127.0.0.1:6379/0", "socket_timeout": 5}, True),
        ({"address": "redis://127.0.0.1:6379/0", "socket_timeout": 30}, False),
        ({"address": "redis://127.0.0.1:6379/0", "socket_timeout": None}, False),
    ],
)
def test_redis_py_8_socket_timeout(settings, host, warned) -> None:
    import redis

    if int(redis.__version__.split(".")[0]) < 8:
        pytest.skip("only redis-py 8 times reads out after 5 seconds")
    settings.CHANNEL_LAYERS = _redis_layer(host)
    assert ("chatter.W013" in {m.id for m in checks.check_channels()}) is warned


def test_the_timeout_warning_needs_redis_py_8(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """redis-py 7 waits as long as asked, and without redis-py there is nothing to warn of."""
    import sys

    import redis

    settings.CHANNEL_LAYERS = _redis_layer("redis://127.0.0.1:6379/0")
    monkeypatch.setattr(redis, "__version__", "7.4.0")
    assert "chatter.W013" not in {m.id for m in checks.check_channels()}
    monkeypatch.setitem(sys.modules, "redis", None)  # not installed
    assert "chatter.W013" not in {m.id for m in checks.check_channels()}


@pytest.mark.parametrize(
    ("engine", "max_age", "warned"),
    [
        ("django.db.backends.postgresql", 0, True),
        ("django_tenants.postgresql_backend", 0, True),
        ("django.db.backends.postgresql", 300, False),
        ("django.db.backends.postgresql", None, False),
        ("django.db.backends.sqlite3", 0, False),
    ],
)
def test_postgresql_connections_kept(engine: str, max_age: int | None, warned: bool) -> None:
    database = {"ENGINE": engine, "NAME": "x", "CONN_MAX_AGE": max_age}
    assert ("chatter.W014" in ids(checks._check_connections(database))) is warned


def test_the_test_database_passes_the_connection_check() -> None:
    assert checks.check_database() == []


# -- middleware ----------------------------------------------------------------------------


def test_htmx_middleware_missing() -> None:
    middleware = [m for m in settings.MIDDLEWARE if "htmx" not in m]
    with override_settings(MIDDLEWARE=middleware):
        messages = checks.check_middleware()
        assert ids(all_chatter_messages()) == ["chatter.E015"]
    assert ids(messages) == ["chatter.E015"]
    assert messages[0].level == django_checks.ERROR
    assert checks.MIDDLEWARE_SNIPPET in messages[0].hint


def test_htmx_middleware_subclass_counts() -> None:
    middleware = [
        "tests.test_checks.MyHtmxMiddleware" if "htmx" in m else m for m in settings.MIDDLEWARE
    ]
    with override_settings(MIDDLEWARE=middleware):
        assert checks.check_middleware() == []


def test_broken_middleware_entries_are_left_to_django() -> None:
    middleware = [m for m in settings.MIDDLEWARE if "htmx" not in m] + ["no.such.Middleware"]
    with override_settings(MIDDLEWARE=middleware):
        assert ids(checks.check_middleware()) == ["chatter.E015"]


def test_htmx_middleware_that_cannot_be_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    """django-htmx not installed: a MIDDLEWARE entry of another name cannot be its subclass."""
    import sys

    middleware = [
        "tests.test_checks.MyHtmxMiddleware" if "htmx" in m else m for m in settings.MIDDLEWARE
    ]
    monkeypatch.setitem(sys.modules, "django_htmx.middleware", None)
    with override_settings(MIDDLEWARE=middleware):
        assert ids(checks.check_middleware()) == ["chatter.E015"]


def _subclass() -> type:
    from django_htmx.middleware import HtmxMiddleware

    return type("MyHtmxMiddleware", (HtmxMiddleware,), {})


MyHtmxMiddleware = _subclass()


def test_user_search_works_without_the_htmx_middleware(
    alice_client: Any, user_factory: Any
) -> None:
    from django.urls import reverse

    user_factory("bobby")
    middleware = [m for m in settings.MIDDLEWARE if "htmx" not in m]
    url = reverse("chatter:user_search") + "?q=bob"
    with override_settings(MIDDLEWARE=middleware):
        partial = alice_client.get(url, headers={"HX-Request": "true"})
        page = alice_client.get(url)
    assert partial.status_code == 200 and "bobby" in partial.content.decode()
    assert "<html" not in partial.content.decode()
    assert page.status_code == 200 and "<html" in page.content.decode()


# -- the base template's content block ---------------------------------------------------


def _with_templates(tmp_path: Any, **files: str) -> Any:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return override_settings(TEMPLATES=[{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}])


@pytest.mark.parametrize(
    "files",
    [
        {"site.html": "<main>{% block main %}{% endblock %}</main>"},
        {"site.html": "{% if x %}{% block main %}{% endblock %}{% endif %}"},
        # The child defines content, but the parent never shows it.
        {
            "root.html": "{% block body %}{% endblock %}",
            "site.html": '{% extends "root.html" %}{% block content %}x{% endblock %}',
        },
        # content inside a block the child replaces without {{ block.super }}.
        {
            "root.html": "{% block body %}{% block content %}{% endblock %}{% endblock %}",
            "site.html": '{% extends "root.html" %}{% block body %}nav{% endblock %}',
        },
    ],
)
def test_base_template_without_a_content_block(tmp_path: Any, files: dict[str, str]) -> None:
    with _with_templates(tmp_path, **files), override_settings(CHATTER_BASE_TEMPLATE="site.html"):
        messages = checks.check_settings()
    assert ids(messages) == ["chatter.E016"]
    assert messages[0].level == django_checks.ERROR
    assert "'site.html'" in messages[0].msg and "{% block content %}" in messages[0].hint


@pytest.mark.parametrize(
    "files",
    [
        {"site.html": "<main>{% block content %}{% endblock %}</main>"},
        {"site.html": "{% if user %}{% block content %}{% endblock %}{% endif %}"},
        {
            "root.html": "<body>{% block body %}{% endblock %}</body>",
            "site.html": '{% extends "root.html" %}'
            "{% block body %}<nav></nav>{% block content %}{% endblock %}{% endblock %}",
        },
        {
            "root.html": "{% block body %}{% block content %}{% endblock %}{% endblock %}",
            "site.html": '{% extends "root.html" %}{% block body %}nav{{ block.super }}'
            "{% endblock %}",
        },
        # Unknowable without rendering: no error.
        {"site.html": "{% extends parent %}"},
        {"site.html": '{% extends "nowhere.html" %}'},
    ],
)
def test_base_template_with_a_content_block(tmp_path: Any, files: dict[str, str]) -> None:
    with _with_templates(tmp_path, **files), override_settings(CHATTER_BASE_TEMPLATE="site.html"):
        assert checks.check_settings() == []


def test_the_shipped_and_the_demo_base_templates_render_content() -> None:
    from chatter.template_blocks import rendered_blocks

    assert {"title", "content"} <= (rendered_blocks("chatter/base.html") or set())
    assert "content" in (rendered_blocks("demo/base.html") or set())


def test_hints_carry_the_snippets() -> None:
    with override_settings():
        del settings.CHANNEL_LAYERS
        hint = checks.check_channels()[0].hint
    assert checks.IN_MEMORY_SNIPPET in hint and checks.REDIS_SNIPPET in hint
    database = {"ENGINE": "django.db.backends.postgresql", "NAME": "x", "CONN_MAX_AGE": 0}
    assert checks.CONN_MAX_AGE_SNIPPET in checks._check_connections(database)[0].hint


def test_the_redis_snippet_of_the_hints_passes_the_redis_checks() -> None:
    namespace: dict[str, Any] = {}
    exec(checks.REDIS_SNIPPET, namespace)  # noqa: S102 - our own constant
    with override_settings(CHANNEL_LAYERS=namespace["CHANNEL_LAYERS"], DEBUG=False):
        assert checks.check_channels() == []


def test_site_url_unset_is_a_warning_without_django_tenants() -> None:
    with override_settings(CHATTER_SITE_URL=None):
        messages = checks.check_site_url()
        assert ids(messages) == ["chatter.W040"]
        assert checks.SITE_URL_SNIPPET in (messages[0].hint or "")
        assert ids(all_chatter_messages()) == ["chatter.W040"]
    assert checks.check_site_url() == []


# -- attachments: E050-E052 ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["nowhere", "tests.no_such_module.Storage"])
def test_a_storage_that_does_not_exist_is_e040(name: str) -> None:
    with override_settings(CHATTER_STORAGE=name):
        messages = checks.check_settings()
    assert ids(messages) == ["chatter.E050"] and "STORAGES" in messages[0].hint


def test_an_unknown_upload_type_is_e041() -> None:
    with override_settings(CHATTER_UPLOAD_TYPES=["image/png", "text/html"]):
        messages = checks.check_settings()
    assert ids(messages) == ["chatter.E051"] and "text/html" in messages[0].msg


def test_x_accel_redirect_needs_its_location_e042() -> None:
    with override_settings(CHATTER_SENDFILE="x-accel-redirect"):
        assert ids(checks.check_settings()) == ["chatter.E052"]
    with override_settings(CHATTER_SENDFILE="x-accel-redirect", CHATTER_SENDFILE_PREFIX="/f/"):
        assert checks.check_settings() == []
