"""Multi-tenant demo settings: django-tenants on PostgreSQL, one schema per tenant.

Each tenant (``customers.Client``) has its own users, sessions, rooms and messages, and
is reached by its domain (``customers.Domain``): ``alpha.localhost``, ``beta.localhost``.
The public schema (``localhost``) holds the tenants and domains and shows a list of them.

    createdb -h 127.0.0.1 -U postgres chatter_tenants   # or let demo_tenants create it
    CHATTER_DATABASE_URL=postgres://postgres@127.0.0.1:5432/chatter_tenants \\
        DJANGO_SETTINGS_MODULE=settings_tenants python manage.py demo_tenants
"""

from __future__ import annotations

import os

from settings import *  # noqa: F403
from settings import MIDDLEWARE, database_from_url

DATABASE_URL = os.environ.get(
    "CHATTER_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/chatter_tenants"
)
DATABASES = {
    "default": {
        **database_from_url(DATABASE_URL),
        "ENGINE": "django_tenants.postgresql_backend",
    }
}
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]

TENANT_MODEL = "customers.Client"
TENANT_DOMAIN_MODEL = "customers.Domain"
PUBLIC_SCHEMA_NAME = "public"
# The public schema (localhost) only lists the tenants; tenants get the whole demo.
PUBLIC_SCHEMA_URLCONF = "customers.urls"

# Apps whose tables live in the public schema. auth and sessions are here too so the
# public schema is a complete Django site (e.g. for a project's own admin of tenants);
# their tenant copies are separate tables.
SHARED_APPS = [
    "daphne",
    "django_tenants",
    "customers",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
]

# Apps with tables in every tenant's schema: users, sessions and chats are per tenant,
# so a session cookie or a user id of one tenant means nothing on another.
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.admin",
    "chatter",
    "demo",
]

INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

# The tenant is chosen from the Host before anything else reads the database.
MIDDLEWARE = ["django_tenants.middleware.main.TenantMainMiddleware", *MIDDLEWARE]

ALLOWED_HOSTS = ["localhost", ".localhost", "127.0.0.1", "[::1]", "testserver"]

# E-mail digests link to each tenant's primary domain (alpha.localhost, ...).
CHATTER_SITE_URL = "http://{domain}:" + os.environ.get("PORT", "8000")
