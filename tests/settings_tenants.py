"""Settings of the django-tenants suite (tests/tenants): the tenant demo's, made fast.

Run with ``--ds=tests.settings_tenants`` and ``CHATTER_DATABASE_URL`` pointing at the
PostgreSQL server; pytest-django creates the test database ``test_<name>`` itself.
"""

from __future__ import annotations

import secrets

from settings_tenants import *  # noqa: F403
from settings_tenants import ALLOWED_HOSTS, DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# A name of this run only (pytest-django drops a leftover test database of that name).
DATABASES["default"]["TEST"] = {
    "NAME": f"test_{DATABASES['default']['NAME']}_{secrets.token_hex(4)}"
}
# The test tenants are alpha.test.com and beta.test.com.
ALLOWED_HOSTS = [*ALLOWED_HOSTS, ".test.com"]
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CHATTER_RATE_LIMIT_MESSAGES = 0
# Push stays off unless a test turns it on (a demo's example/vapid_keys.py would turn it on).
CHATTER_PUSH = None
