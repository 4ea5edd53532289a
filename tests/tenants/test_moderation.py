"""Reports and blocks stay in their tenant: another tenant's room, message or user is 404."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from chatter import messages
from chatter.models import Block, Report
from tests.tenants.conftest import TenantInfo, login
from tests.tenants.test_views import request


def client_for(tenant: TenantInfo, user: Any) -> Client:
    """A test client on the tenant's host, logged in there."""
    client = Client(HTTP_HOST=tenant.domain)
    client.cookies[settings.SESSION_COOKIE_NAME] = login(tenant.schema_name, user)
    return client


def reports(schema_name: str) -> int:
    with schema_context(schema_name):
        return Report.objects.count()


def test_a_report_from_another_tenant_is_404(
    alpha: TenantInfo, beta: TenantInfo, tenant_user: Any, tenant_room: Any
) -> None:
    author = tenant_user("alpha")
    room = tenant_room("alpha", alpha.users["alice"], author)
    with schema_context("alpha"):
        messages.send_message(room, author, "reported")
    path = f"/chat/{room.pk}/m/1/report/"
    # beta's alice has alpha's alice's id, yet alpha's room is not found on beta.
    on_beta = client_for(beta, beta.users["alice"])
    assert request(on_beta, "post", path, reason="spam").status_code == 404
    assert request(on_beta, "get", path).status_code == 404
    assert (reports("alpha"), reports("beta")) == (0, 0)
    on_alpha = client_for(alpha, alpha.users["alice"])
    assert request(on_alpha, "post", path, reason="spam").status_code == 302
    assert (reports("alpha"), reports("beta")) == (1, 0)


def test_blocking_names_a_user_of_the_tenant(
    alpha: TenantInfo, beta: TenantInfo, tenant_user: Any
) -> None:
    only_on_alpha = tenant_user("alpha")
    on_beta = client_for(beta, beta.users["alice"])
    path = f"/chat/block/{only_on_alpha.get_username()}/"
    assert request(on_beta, "post", path).status_code == 404
    on_alpha = client_for(alpha, alpha.users["alice"])
    assert request(on_alpha, "post", path).status_code == 302
    with schema_context("alpha"):
        assert Block.objects.filter(blocked=only_on_alpha).count() == 1
    with schema_context("beta"):
        assert not Block.objects.exists()
