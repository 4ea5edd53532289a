"""Django system checks for likely misconfigurations of Chatter.

Ids (every one is listed, with what it catches, in docs/settings.rst):

* here: E001 channels, W002 daphne, W003 daphne's position, E004 CHANNEL_LAYERS, E005
  ASGI_APPLICATION, E006 django_htmx, W007 in-memory layer in production, E010 a CHATTER_*
  setting of the wrong type or out of range, E011 CHATTER_BASE_TEMPLATE not loadable, W012
  CHATTER_MAX_FRAME_BYTES too small for the longest message, W013 redis-py 8 socket
  timeout, W014 PostgreSQL connections not kept, E015 django-htmx's HtmxMiddleware missing,
  E016 CHATTER_BASE_TEMPLATE renders no "content" block, E025 CHATTER_AVATAR_URL does not
  import or is not callable, E030 CHATTER_SEARCH_CONFIG not in the database and W031 the
  message search index made with another configuration (both with ``--database``), W040
  CHATTER_SITE_URL unset without django-tenants (e-mail digests cannot link), E050
  CHATTER_STORAGE gives no storage, E051 an unknown type in CHATTER_UPLOAD_TYPES, E052
  X-Accel-Redirect without CHATTER_SENDFILE_PREFIX;
* in :mod:`chatter.checks_asgi` (what ASGI_APPLICATION serves): E017 ASGI_APPLICATION
  cannot be imported, E018 Chatter's websocket paths do not reach its consumer, W019 no
  origin check on them, E020 django-tenants without Chatter's tenant middleware on them,
  W021 Chatter's pages on the public schema, W022 django.contrib.staticfiles missing, W023
  DEBUG and no static files served by the ASGI application, W024 no STATIC_ROOT in
  production, W026 the upload view served without UploadLimitMiddleware;
* in :mod:`chatter.checks_push` (``CHATTER_PUSH``, Web Push): E060 pywebpush missing, E061
  a malformed VAPID key, E062 keys that are not a pair, E063 a subject that is not mailto:
  or https:, E064 an entry of the wrong type.

Hints that show settings code take it from the ``*_SNIPPET`` constants below: complete
statements that tests/test_snippets.py appends to a fresh project's settings and checks."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.template.loader import get_template
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from chatter import avatars, conf, search_index
from chatter.template_blocks import rendered_blocks

IN_MEMORY_LAYER = "channels.layers.InMemoryChannelLayer"
REDIS_LAYER = "channels_redis.core.RedisChannelLayer"
HTMX_MIDDLEWARE = "django_htmx.middleware.HtmxMiddleware"

# Settings code shown in hints. Each is a complete statement for a settings module and is
# run by tests/test_snippets.py: a fresh project with it appended passes ``manage.py check``.
IN_MEMORY_SNIPPET = (
    'CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}'
)
REDIS_SNIPPET = (
    'CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", '
    '"CONFIG": {"hosts": [{"address": "redis://127.0.0.1:6379/0", "socket_timeout": 30}]}}}'
)
CONN_MAX_AGE_SNIPPET = (
    'DATABASES["default"]["CONN_MAX_AGE"] = 300\nDATABASES["default"]["CONN_HEALTH_CHECKS"] = True'
)
MIDDLEWARE_SNIPPET = f'MIDDLEWARE += ["{HTMX_MIDDLEWARE}"]'
SITE_URL_SNIPPET = 'CHATTER_SITE_URL = "https://chat.example.com"'
SETTINGS_SNIPPETS = [
    IN_MEMORY_SNIPPET,
    REDIS_SNIPPET,
    CONN_MAX_AGE_SNIPPET,
    MIDDLEWARE_SNIPPET,
    SITE_URL_SNIPPET,
]


@register()
def check_apps(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Chatter needs channels and django_htmx installed, and daphne for runserver."""
    messages: list[CheckMessage] = []
    if not apps.is_installed("channels"):
        messages.append(
            Error(
                _('"channels" is not in INSTALLED_APPS.'),
                hint=_('Chatter\'s live updates run on Django Channels: add "channels".'),
                id="chatter.E001",
            )
        )
    if not apps.is_installed("daphne"):
        messages.append(
            Warning(
                _('"daphne" is not in INSTALLED_APPS: runserver will not serve websockets.'),
                hint=_(
                    'Add "daphne" at the top of INSTALLED_APPS, or serve the project with an '
                    "ASGI server such as daphne."
                ),
                id="chatter.W002",
            )
        )
    else:
        names = list(settings.INSTALLED_APPS)
        daphne = _index(names, "daphne")
        static = _index(names, "django.contrib.staticfiles")
        if daphne is not None and static is not None and daphne > static:
            messages.append(
                Warning(
                    _('"daphne" comes after "django.contrib.staticfiles" in INSTALLED_APPS.'),
                    hint=_(
                        'Put "daphne" before it, or staticfiles\' runserver (without '
                        "websockets) is used."
                    ),
                    id="chatter.W003",
                )
            )
    if not apps.is_installed("django_htmx"):
        messages.append(
            Error(
                _('"django_htmx" is not in INSTALLED_APPS.'),
                hint=_(
                    "Chatter's templates use {% htmx_script %} from django-htmx: add "
                    '"django_htmx" to INSTALLED_APPS.'
                ),
                id="chatter.E006",
            )
        )
    return messages


@register()
def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Chatter's views read ``request.htmx``, set by django-htmx's middleware."""
    if _has_middleware(HTMX_MIDDLEWARE):
        return []
    return [
        Error(
            _("%(name)s is not in MIDDLEWARE.") % {"name": HTMX_MIDDLEWARE},
            hint=_(
                "Chatter's pages tell htmx requests from page loads with it (request.htmx): "
                "add it, e.g. %(code)s"
            )
            % {"code": MIDDLEWARE_SNIPPET},
            id="chatter.E015",
        )
    ]


def _has_middleware(path: str) -> bool:
    """Whether MIDDLEWARE has ``path``, or a subclass of it under another name."""
    names = list(getattr(settings, "MIDDLEWARE", None) or [])
    if path in names:
        return True
    try:
        wanted = import_string(path)
    except ImportError:
        return False
    for name in names:
        try:
            found = import_string(name)
        except ImportError:  # Django reports a broken MIDDLEWARE entry itself
            continue
        if isinstance(found, type) and issubclass(found, wanted):
            return True
    return False


def _index(names: list[str], app: str) -> int | None:
    for i, name in enumerate(names):
        if name == app or name.startswith(app + ".apps."):
            return i
    return None


@register()
def check_channels(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A default channel layer and an ASGI application must be configured."""
    messages: list[CheckMessage] = []
    layers = getattr(settings, "CHANNEL_LAYERS", None)
    if not isinstance(layers, dict) or not isinstance(layers.get("default"), dict):
        messages.append(
            Error(
                _('CHANNEL_LAYERS has no "default" layer: messages would not reach other users.'),
                hint=_("For one process: %(memory)s. For several processes: %(redis)s.")
                % {"memory": IN_MEMORY_SNIPPET, "redis": REDIS_SNIPPET},
                id="chatter.E004",
            )
        )
    elif layers["default"].get("BACKEND") == IN_MEMORY_LAYER and not settings.DEBUG:
        messages.append(
            Warning(
                _("The default channel layer is InMemoryChannelLayer while DEBUG is False."),
                hint=_(
                    "It is not shared between processes: with more than one server process, "
                    "users see each other's messages only after a reload. Use "
                    "channels_redis.core.RedisChannelLayer."
                ),
                id="chatter.W007",
            )
        )
    elif layers["default"].get("BACKEND") == REDIS_LAYER:
        messages += _check_redis_timeout(layers["default"].get("CONFIG") or {})
    if not getattr(settings, "ASGI_APPLICATION", None):
        messages.append(
            Error(
                _("ASGI_APPLICATION is not set."),
                hint=_(
                    "Point it at your asgi.py's application, e.g. ASGI_APPLICATION = "
                    '"mysite.asgi.application", and route "ws/chatter/" there with '
                    "chatter.routing.websocket_urlpatterns."
                ),
                id="chatter.E005",
            )
        )
    return messages


@register()
def check_database(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Websocket actions open a connection each unless PostgreSQL connections are kept."""
    return _check_connections(settings.DATABASES.get("default", {}))


@register(Tags.database)
def check_search_index(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """On PostgreSQL (with ``--database``, and before ``migrate``): the configuration of
    CHATTER_SEARCH_CONFIG exists, and the message search's column was made with it."""
    from django.db import connections

    config = conf.get("CHATTER_SEARCH_CONFIG")
    found: list[CheckMessage] = []
    for alias in databases or []:
        conn = connections[alias]
        if not search_index.is_postgresql(conn) or not RULES["CHATTER_SEARCH_CONFIG"][0](config):
            continue
        if not search_index.config_exists(config, conn):
            found.append(
                Error(
                    _(
                        "CHATTER_SEARCH_CONFIG is %(config)r: the database %(alias)s has no "
                        "text search configuration of that name."
                    )
                    % {"config": config, "alias": alias},
                    hint=_("SELECT cfgname FROM pg_ts_config lists those it has."),
                    id="chatter.E030",
                )
            )
            continue
        indexed = search_index.indexed_config(conn)
        if indexed is not None and indexed.split(".")[-1] != config.split(".")[-1]:
            found.append(
                Warning(
                    _(
                        "The message search index was made with %(indexed)r, but "
                        "CHATTER_SEARCH_CONFIG is %(config)r: searches miss words."
                    )
                    % {"indexed": indexed, "config": config},
                    hint=_(
                        "Run manage.py chatter_search_reindex (with django-tenants: --all-schemas)."
                    ),
                    id="chatter.W031",
                )
            )
    return found


def _check_connections(database: dict[str, Any]) -> list[CheckMessage]:
    engine = database.get("ENGINE", "")
    if "postgresql" not in engine or database.get("CONN_MAX_AGE", 0) != 0:
        return []
    return [
        Warning(
            _("CONN_MAX_AGE is 0: every websocket action opens a new database connection."),
            hint=_("Keep connections, e.g. %(code)s") % {"code": CONN_MAX_AGE_SNIPPET},
            id="chatter.W014",
        )
    ]


def _redis_major() -> int:
    try:
        import redis
    except ImportError:
        return 0
    return int(redis.__version__.split(".")[0])


def _check_redis_timeout(config: dict[str, Any]) -> list[CheckMessage]:
    """redis-py 8 reads with a 5 s socket timeout, which cuts channels-redis's 5 s waits."""
    if _redis_major() < 8:
        return []
    hosts = config.get("hosts") or ["redis://localhost:6379"]
    for host in hosts:
        timeout = host.get("socket_timeout", 5) if isinstance(host, dict) else 5
        if timeout is not None and timeout <= 5:
            return [
                Warning(
                    _(
                        "redis-py 8 times out reads after 5 seconds, as long as channels-redis "
                        "waits for a message: idle sockets crash and reconnect."
                    ),
                    hint=_("Give each host a longer socket timeout, e.g. %(code)s")
                    % {"code": REDIS_SNIPPET},
                    id="chatter.W013",
                )
            ]
    return []


def _int(low: int, high: int | None = None) -> Callable[[Any], bool]:
    def valid(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int):
            return False
        return value >= low and (high is None or value <= high)

    return valid


def _frame_limits(value: Any) -> bool:
    if not isinstance(value, dict) or not set(value) <= set(conf.DEFAULTS["CHATTER_FRAME_LIMITS"]):
        return False
    return all(
        isinstance(pair, tuple | list)
        and len(pair) == 2
        and _int(0)(pair[0])
        and isinstance(pair[1], int | float)
        and not isinstance(pair[1], bool)
        and pair[1] >= 0
        for pair in value.values()
    )


def _positive_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


_SITE_URL = re.compile(r"https?://[^\s/?#]+(/[^\s?#]*)?")

# Each setting: a test of its value, and what a valid value is, for the message (marked
# for translation here, translated where the message is made).
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "CHATTER_BASE_TEMPLATE": (
        lambda v: isinstance(v, str) and bool(v),
        gettext_noop("a template name"),
    ),
    "CHATTER_MESSAGE_MAX_LENGTH": (_int(1), gettext_noop("an integer of at least 1")),
    "CHATTER_PAGE_SIZE": (_int(1, 500), gettext_noop("an integer from 1 to 500")),
    "CHATTER_USER_SEARCH_LIMIT": (_int(1), gettext_noop("an integer of at least 1")),
    "CHATTER_MAX_ROOM_MEMBERS": (_int(2), gettext_noop("an integer of at least 2")),
    "CHATTER_RATE_LIMIT_MESSAGES": (
        _int(0),
        gettext_noop("an integer of at least 0 (0 turns it off)"),
    ),
    "CHATTER_RATE_LIMIT_SECONDS": (
        _int(0),
        gettext_noop("an integer of at least 0 (0 turns it off)"),
    ),
    "CHATTER_TYPING_TIMEOUT": (
        _positive_number,
        gettext_noop("a number of seconds greater than 0"),
    ),
    "CHATTER_PRESENCE_TIMEOUT": (_int(10), gettext_noop("a whole number of seconds, at least 10")),
    "CHATTER_MAX_FRAME_BYTES": (_int(1), gettext_noop("an integer of at least 1")),
    "CHATTER_FRAME_LIMITS": (
        lambda v: _frame_limits(v),
        gettext_noop(
            'a dict of "resume", "read", "typing", "ping", "edit", "delete", "react", '
            '"group", "block", "report" or "upload" to (count, seconds)'
        ),
    ),
    "CHATTER_MAX_SOCKETS_PER_USER": (
        _int(0),
        gettext_noop("an integer of at least 0 (0 turns it off)"),
    ),
    "CHATTER_EDIT_WINDOW": (
        lambda v: v is None or _int(0)(v),
        gettext_noop("a whole number of seconds, at least 0, or None (always)"),
    ),
    "CHATTER_MAX_REACTIONS": (_int(1, 100), gettext_noop("an integer from 1 to 100")),
    "CHATTER_AVATAR_URL": (
        lambda v: v is None or (isinstance(v, str) and bool(v)),
        gettext_noop("None or the dotted path of a callable"),
    ),
    "CHATTER_NOTIFY_DELAY": (
        lambda v: (isinstance(v, timedelta) and v >= timedelta(0)) or _int(0)(v),
        gettext_noop("a whole number of seconds, at least 0, or a timedelta"),
    ),
    "CHATTER_NOTIFY_MAX_MESSAGES": (_int(1, 100), gettext_noop("an integer from 1 to 100")),
    "CHATTER_SITE_URL": (
        lambda v: v is None or (isinstance(v, str) and _SITE_URL.fullmatch(v) is not None),
        gettext_noop(
            'None or an address such as "https://chat.example.com" (or "https://{domain}")'
        ),
    ),
    "CHATTER_SEARCH_CONFIG": (
        lambda v: isinstance(v, str) and search_index.CONFIG_NAME.fullmatch(v) is not None,
        gettext_noop('the name of a text search configuration, such as "simple" or "english"'),
    ),
    "CHATTER_SEARCH_LIMIT": (_int(1, 200), gettext_noop("an integer from 1 to 200")),
    # Attachments (the storage, the types and the web server's part: chatter.E050-E052).
    "CHATTER_STORAGE": (
        lambda v: v is None or (isinstance(v, str) and bool(v)),
        gettext_noop("None, an alias of STORAGES or the dotted path of a Storage class"),
    ),
    "CHATTER_MAX_UPLOAD_BYTES": (_int(1), gettext_noop("an integer of at least 1")),
    "CHATTER_MAX_UPLOAD_FILES": (_int(1, 100), gettext_noop("an integer from 1 to 100")),
    "CHATTER_UPLOAD_TYPES": (
        lambda v: isinstance(v, list | tuple) and all(isinstance(t, str) for t in v),
        gettext_noop('a list of types, such as "image/png"'),
    ),
    "CHATTER_UPLOAD_QUOTA_BYTES": (
        lambda v: v is None or _int(0)(v),
        gettext_noop("an integer of at least 0, or None (no quota)"),
    ),
    "CHATTER_MAX_IMAGE_PIXELS": (_int(1), gettext_noop("an integer of at least 1")),
    "CHATTER_THUMBNAIL_SIZE": (
        lambda v: isinstance(v, list | tuple) and len(v) == 2 and all(_int(16, 4096)(n) for n in v),
        gettext_noop("a pair of integers from 16 to 4096 (width, height)"),
    ),
    "CHATTER_SENDFILE": (
        lambda v: v in (None, "x-accel-redirect", "x-sendfile"),
        gettext_noop('None, "x-accel-redirect" or "x-sendfile"'),
    ),
    "CHATTER_SENDFILE_PREFIX": (
        lambda v: isinstance(v, str),
        gettext_noop('the internal location of the files, such as "/chatter-files/"'),
    ),
    "CHATTER_PUSH": (
        lambda v: v is None or isinstance(v, dict),
        gettext_noop("None or a dict (its entries are checked by chatter.E060 to E064)"),
    ),
}


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every CHATTER_* setting has the right type and range; the base template loads."""
    messages: list[CheckMessage] = []
    valid: dict[str, Any] = {}
    for name in conf.DEFAULTS:
        value = conf.get(name)
        test, expected = RULES[name]
        if test(value):
            valid[name] = value
            continue
        messages.append(
            Error(
                _("%(name)s is %(value)r; it must be %(expected)s.")
                % {"name": name, "value": value, "expected": _(expected)},
                hint=_("Remove %(name)s to use the default, %(default)r.")
                % {"name": name, "default": conf.DEFAULTS[name]},
                id="chatter.E010",
            )
        )
    if "CHATTER_BASE_TEMPLATE" in valid:
        messages.extend(_check_template(valid["CHATTER_BASE_TEMPLATE"]))
    if valid.get("CHATTER_AVATAR_URL"):
        messages.extend(_check_avatar_hook(valid["CHATTER_AVATAR_URL"]))
    messages.extend(_check_attachments(valid))
    if "CHATTER_MAX_FRAME_BYTES" in valid and "CHATTER_MESSAGE_MAX_LENGTH" in valid:
        needed = valid["CHATTER_MESSAGE_MAX_LENGTH"] * 4 + 1024
        if valid["CHATTER_MAX_FRAME_BYTES"] < needed:
            messages.append(
                Warning(
                    _(
                        "CHATTER_MAX_FRAME_BYTES (%(frame)d) is too small for a message of "
                        "CHATTER_MESSAGE_MAX_LENGTH (%(length)d) characters."
                    )
                    % {
                        "frame": valid["CHATTER_MAX_FRAME_BYTES"],
                        "length": valid["CHATTER_MESSAGE_MAX_LENGTH"],
                    },
                    hint=_(
                        "A character takes up to 4 bytes and a frame carries about 1 KB more; "
                        "set CHATTER_MAX_FRAME_BYTES to at least %(needed)d."
                    )
                    % {"needed": needed},
                    id="chatter.W012",
                )
            )
    return messages


def _check_template(name: str) -> list[CheckMessage]:
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return [
            Error(
                _("CHATTER_BASE_TEMPLATE %(name)r does not exist.") % {"name": name},
                hint=_(
                    'Create it (defining the blocks "title" and "content") or remove the '
                    "setting to use chatter/base.html."
                ),
                id="chatter.E011",
            )
        ]
    except TemplateSyntaxError as exc:
        return [
            Error(
                _("CHATTER_BASE_TEMPLATE %(name)r cannot be loaded: %(error)s")
                % {"name": name, "error": exc},
                id="chatter.E011",
            )
        ]
    blocks = rendered_blocks(name)
    if blocks is None or "content" in blocks:
        return []
    return [
        Error(
            _(
                'CHATTER_BASE_TEMPLATE %(name)r does not render a block named "content": every '
                "Chatter page would be blank."
            )
            % {"name": name},
            hint=_(
                "Add {%% block content %%}{%% endblock %%} where the chat should appear, in "
                "%(name)r or in a template it extends."
            )
            % {"name": name},
            id="chatter.E016",
        )
    ]


def _check_avatar_hook(path: str) -> list[CheckMessage]:
    """CHATTER_AVATAR_URL names something that imports and can be called."""
    try:
        avatars.load_hook(path)
    except avatars.NotCallable:
        problem = _("CHATTER_AVATAR_URL %(path)r is not callable.") % {"path": path}
    except Exception as exc:  # ImportError, or whatever importing the module raised
        problem = _("CHATTER_AVATAR_URL %(path)r cannot be imported: %(error)s") % {
            "path": path,
            "error": exc,
        }
    else:
        return []
    return [
        Error(
            problem,
            hint=_(
                "Name a function that takes a user and returns the URL of their picture or "
                'None, e.g. "mysite.avatars.avatar_url", or remove the setting to show '
                "initials."
            ),
            id="chatter.E025",
        )
    ]


@register()
def check_site_url(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E-mail digests (``chatter_notify``) link into rooms: they need the site's address.

    Under django-tenants it defaults to each tenant's primary domain, so only a project
    without it must set ``CHATTER_SITE_URL``.
    """
    from chatter import tenancy

    if conf.get("CHATTER_SITE_URL") or tenancy.is_multitenant():
        return []
    return [
        Warning(
            _("CHATTER_SITE_URL is not set: manage.py chatter_notify cannot link into rooms."),
            hint=_("Set it to the address of the site, e.g. %(code)s") % {"code": SITE_URL_SNIPPET},
            id="chatter.W040",
        )
    ]


def _check_attachments(valid: dict[str, Any]) -> list[CheckMessage]:
    """E050 CHATTER_STORAGE names no storage, E051 CHATTER_UPLOAD_TYPES has a type
    Chatter does not know, E052 "x-accel-redirect" without CHATTER_SENDFILE_PREFIX."""
    from chatter import attachments

    found: list[CheckMessage] = []
    name = valid.get("CHATTER_STORAGE")
    if name:
        try:
            attachments.storage()
        except Exception as exc:  # a missing alias, module or class: all are misconfigurations
            found.append(
                Error(
                    _("CHATTER_STORAGE is %(name)r, which gives no storage: %(error)s")
                    % {"name": name, "error": exc},
                    hint=_(
                        "Use None (Django's default_storage), an alias of the STORAGES setting"
                        " or the dotted path of a Storage class."
                    ),
                    id="chatter.E050",
                )
            )
    unknown = sorted(set(valid.get("CHATTER_UPLOAD_TYPES", ())) - set(attachments.EXTENSIONS))
    if unknown:
        found.append(
            Error(
                _("CHATTER_UPLOAD_TYPES has types Chatter does not know: %(types)s.")
                % {"types": ", ".join(unknown)},
                hint=_("Choose among: %(types)s.") % {"types": ", ".join(attachments.EXTENSIONS)},
                id="chatter.E051",
            )
        )
    if valid.get("CHATTER_SENDFILE") == "x-accel-redirect" and not valid.get(
        "CHATTER_SENDFILE_PREFIX"
    ):
        found.append(
            Error(
                _('CHATTER_SENDFILE is "x-accel-redirect" but CHATTER_SENDFILE_PREFIX is empty.'),
                hint=_(
                    "Set it to the internal nginx location that serves the storage's"
                    ' directory, such as "/chatter-files/".'
                ),
                id="chatter.E052",
            )
        )
    return found
