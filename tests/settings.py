"""Test settings: the demo's, made fast. CHATTER_DATABASE_URL selects PostgreSQL."""

from __future__ import annotations

from settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["NAME"] = ":memory:"  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}  # noqa: F405
else:
    DATABASES["default"]["TEST"] = {"NAME": "test_chatter"}  # noqa: F405
CHATTER_RATE_LIMIT_MESSAGES = 0
