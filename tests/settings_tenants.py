"""Settings of the django-tenants suite (tests/tenants): the tenant demo's, made fast.

Run with ``--ds=tests.settings_tenants`` and ``CHATTER_DATABASE_URL`` pointing at the
PostgreSQL server; pytest-django creates the test database ``test_<name>`` itself.
"""

from __future__ import annotations

from settings_tenants import *  # noqa: F403
from settings_tenants import ALLOWED_HOSTS, DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DATABASES["default"]["TEST"] = {"NAME": "test_" + DATABASES["default"]["NAME"]}
# The test tenants are alpha.test.com and beta.test.com.
ALLOWED_HOSTS = [*ALLOWED_HOSTS, ".test.com"]
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CHATTER_RATE_LIMIT_MESSAGES = 0
