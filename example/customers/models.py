"""The demo's tenants: one ``Client`` per PostgreSQL schema, reached by its ``Domain``s."""

from __future__ import annotations

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Client(TenantMixin):
    name = models.CharField(max_length=100)
    created_on = models.DateField(auto_now_add=True)

    # Creating a client creates (and migrates) its schema.
    auto_create_schema = True

    def __str__(self) -> str:
        return self.name or self.schema_name


class Domain(DomainMixin):
    pass
