"""Web Push with django-tenants: subscriptions live in the tenant's schema, and a tenant's
messages reach only its own subscribers, through the default thread backend."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.test import Client, override_settings
from django_tenants.utils import schema_context

from chatter import messages, push, push_input
from chatter.models import PushSubscription
from tests.push_endpoint import PushEndpoint
from tests.tenants.conftest import TenantInfo, login
from tests.tenants.test_views import request
from tests.test_push import push_settings


def subscribed(schema_name: str) -> list[str]:
    with schema_context(schema_name):
        return list(PushSubscription.objects.values_list("endpoint", flat=True))


@override_settings(CHATTER_PUSH=push_settings(BACKEND="chatter.push.thread_backend"))
def test_each_tenant_pushes_only_to_its_own_subscribers(
    alpha: TenantInfo, beta: TenantInfo, tenant_user: Any, tenant_room: Any
) -> None:
    with PushEndpoint() as endpoint:
        browsers = {}
        people = {}
        for tenant in (alpha, beta):
            sender, reader = tenant_user(tenant.schema_name), tenant_user(tenant.schema_name)
            room = tenant_room(tenant.schema_name, sender, reader)
            browser = endpoint.browser()
            client = Client(HTTP_HOST=tenant.domain)
            client.cookies[settings.SESSION_COOKIE_NAME] = login(tenant.schema_name, reader)
            try:
                answer = client.post(
                    "/chat/push/subscribe/",
                    json.dumps(browser.json()),
                    content_type="application/json",
                )
            finally:
                request(client, "get", "/nothing/")  # resets the connection's schema
            assert answer.status_code == 200, answer.content
            browsers[tenant.schema_name] = browser
            people[tenant.schema_name] = (sender, room)
        assert subscribed("alpha") == [browsers["alpha"].endpoint]
        assert subscribed("beta") == [browsers["beta"].endpoint]
        for schema_name in ("alpha", "beta"):
            sender, room = people[schema_name]
            with schema_context(schema_name):
                messages.send_message(room, sender, f"hello from {schema_name}")
            got = endpoint.next(60)
            assert got.browser is browsers[schema_name]
            assert got.data["body"] == f"hello from {schema_name}"
            assert got.data["url"].startswith(f"/chat/{room.pk}/")
            assert push.queue.drain(60)
            assert endpoint.all() == []


@override_settings(CHATTER_PUSH=push_settings())
def test_the_subscribe_view_stores_in_the_tenants_schema_only(
    alpha: TenantInfo, beta: TenantInfo, tenant_user: Any
) -> None:
    user = tenant_user("beta")
    client = Client(HTTP_HOST=beta.domain)
    client.cookies[settings.SESSION_COOKIE_NAME] = login("beta", user)
    with PushEndpoint() as endpoint:
        body = endpoint.browser().json()
    sub = push_input.parse_subscription(json.dumps(body).encode())
    try:
        answer = client.post("/chat/push/subscribe/", json.dumps(body), "application/json")
    finally:
        request(client, "get", "/nothing/")
    assert answer.status_code == 200
    assert subscribed("beta") == [sub.endpoint]
    assert subscribed("alpha") == []
