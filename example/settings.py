"""Demo project settings: SQLite and the in-memory channel layer unless told otherwise.

``CHATTER_DATABASE_URL=postgres://user@host:5432/name`` switches to PostgreSQL and
``CHATTER_REDIS_URL=redis://host:6379/0`` to channels-redis, so several Daphne processes
can serve one chat (several URLs separated by commas shard the layer over several Redis
servers, as channels-redis's ``hosts`` list does).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("CHATTER_SECRET_KEY", "demo-only-not-secret-" + "x" * 40)
DEBUG = os.environ.get("CHATTER_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", ".localhost", "testserver"]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "chatter",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "urls"
ASGI_APPLICATION = "asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def database_from_url(url: str) -> dict[str, Any]:
    """A DATABASES entry from ``postgres://user:password@host:port/name``."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ValueError(f"CHATTER_DATABASE_URL must be a postgres:// URL, not {url!r}")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "chatter",
        "USER": unquote(parts.username or "postgres"),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or 5432),
        # Keep connections: every websocket action is a database_sync_to_async call, and
        # with the default CONN_MAX_AGE = 0 each one would open a new connection.
        "CONN_MAX_AGE": 300,
        "CONN_HEALTH_CHECKS": True,
    }


DATABASE_URL = os.environ.get("CHATTER_DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("CHATTER_SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # Wait for a writer rather than fail at once when two requests write together.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }

REDIS_URL = os.environ.get("CHATTER_REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s timeout, as long as channels-redis's blocking
            # receive waits: without a longer one, idle sockets crash (chatter.W013).
            "CONFIG": {
                "hosts": [
                    {"address": url.strip(), "socket_timeout": 30} for url in REDIS_URL.split(",")
                ],
                "capacity": 1000,
                "expiry": 30,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS: list[dict[str, Any]] = []
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/chat/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Attachments (chatter.attachments) are stored here through default_storage and served
# only by Chatter's own view, to members of their room: MEDIA_URL is never served.
MEDIA_ROOT = os.environ.get("CHATTER_MEDIA_ROOT") or BASE_DIR / "media"
MEDIA_URL = "media/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The demo keeps Chatter's limits; benchmarks lift them through the environment.
CHATTER_RATE_LIMIT_MESSAGES = int(os.environ.get("CHATTER_RATE_LIMIT_MESSAGES", "20"))
CHATTER_MAX_SOCKETS_PER_USER = int(os.environ.get("CHATTER_MAX_SOCKETS_PER_USER", "20"))
# Some kinds of CHATTER_FRAME_LIMITS as JSON, e.g. '{"upload": [100, 60]}' (the rest keep
# their defaults): the browser tests send more files a minute than a person does.
if os.environ.get("CHATTER_FRAME_LIMITS_JSON"):
    CHATTER_FRAME_LIMITS = {
        kind: tuple(limit)
        for kind, limit in json.loads(os.environ["CHATTER_FRAME_LIMITS_JSON"]).items()
    }

# Chatter's pages inside the demo's layout (navigation, log out).
CHATTER_BASE_TEMPLATE = "demo/base.html"

# E-mail digests (manage.py chatter_notify): printed to the console, linking to the demo.
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = "chat@localhost"
CHATTER_SITE_URL = os.environ.get("CHATTER_SITE_URL", "http://127.0.0.1:8000") or None
CHATTER_NOTIFY_DELAY = int(os.environ.get("CHATTER_NOTIFY_DELAY", "600"))
# Web Push (docs/push.rst): `make demo` writes a VAPID key pair into vapid_keys.py beside
# this file on its first run (manage.py chatter_vapid_keys); without that file push is off.
# The browser tests give theirs as JSON in CHATTER_PUSH_JSON.
try:
    from vapid_keys import CHATTER_PUSH  # type: ignore[import-not-found,unused-ignore]
except ImportError:
    CHATTER_PUSH = None
if os.environ.get("CHATTER_PUSH_JSON"):
    CHATTER_PUSH = json.loads(os.environ["CHATTER_PUSH_JSON"])
