"""Chatter's checks with django-tenants really configured (``tests.settings_tenants``)."""

from __future__ import annotations

import sys
from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from django.conf import settings
from django.core import checks as django_checks
from django.test import override_settings

import chatter.routing
from chatter import tenancy
from chatter.utils import SameHostOriginValidator

APPLICATION: Any = None


def chatter_ids() -> list[str]:
    return [m.id for m in django_checks.run_checks() if m.id and m.id.startswith("chatter.")]


def test_the_tenant_demo_passes_every_check() -> None:
    assert tenancy.is_multitenant()
    with override_settings(DEBUG=True):
        assert chatter_ids() == []


def test_chatter_s_pages_on_the_public_schema() -> None:
    with override_settings(DEBUG=True, PUBLIC_SCHEMA_URLCONF=None):
        assert chatter_ids() == ["chatter.W021"]
    with override_settings(DEBUG=True, PUBLIC_SCHEMA_URLCONF=settings.ROOT_URLCONF):
        [message] = [m for m in django_checks.run_checks() if m.id == "chatter.W021"]
    assert "'urls'" in message.msg and "/chat/" in message.msg
    assert "PUBLIC_SCHEMA_URLCONF" in message.hint


def test_chatter_in_the_shared_apps_may_be_on_the_public_schema() -> None:
    shared = [*settings.SHARED_APPS, "chatter"]
    with override_settings(DEBUG=True, PUBLIC_SCHEMA_URLCONF=None, SHARED_APPS=shared):
        assert chatter_ids() == []


def test_a_socket_stack_without_the_tenant() -> None:
    module = sys.modules[__name__]
    module.APPLICATION = ProtocolTypeRouter(
        {
            "websocket": SameHostOriginValidator(
                AuthMiddlewareStack(URLRouter(chatter.routing.websocket_urlpatterns))
            )
        }
    )
    try:
        with override_settings(DEBUG=True, ASGI_APPLICATION=f"{__name__}.APPLICATION"):
            assert chatter_ids() == ["chatter.E020"]
    finally:
        module.APPLICATION = None
