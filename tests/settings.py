"""Test settings: the demo's, made fast. CHATTER_DATABASE_URL selects PostgreSQL."""

from __future__ import annotations

import secrets

from settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["NAME"] = ":memory:"  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}  # noqa: F405
else:
    # A name of this run only: pytest-django drops a test database of that name if one is
    # left, and a fixed name would drop another checkout's.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": f"test_{DATABASES['default']['NAME']}_{secrets.token_hex(4)}"  # noqa: F405
    }
CHATTER_RATE_LIMIT_MESSAGES = 0
# Push stays off unless a test turns it on (a demo's example/vapid_keys.py would turn it on).
CHATTER_PUSH = None
