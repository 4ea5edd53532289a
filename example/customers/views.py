"""The public schema's only page: links to the demo tenants."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django_tenants.utils import get_public_schema_name

from customers.models import Domain

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Chatter tenants</title></head>
<body>
<h1>Chatter: multi-tenant demo</h1>
<p>Each tenant has its own users, rooms and messages. Log in as alice or bob.</p>
<ul>
{% for domain in domains %}
  <li><a href="//{{ domain.domain }}{{ port }}/chat/">{{ domain.tenant.name }}</a>
    ({{ domain.domain }})</li>
{% empty %}
  <li>No tenants yet: run <code>manage.py demo_tenants</code>.</li>
{% endfor %}
</ul>
</body></html>
"""


def tenant_list(request: HttpRequest) -> HttpResponse:
    domains = (
        Domain.objects.select_related("tenant")
        .exclude(tenant__schema_name=get_public_schema_name())
        .order_by("domain")
    )
    port = request.get_port()
    template = engines["django"].from_string(PAGE)
    context = {"domains": domains, "port": f":{port}" if port not in ("80", "443") else ""}
    return HttpResponse(template.render(context, request))
