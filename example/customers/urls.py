"""URLconf of the public schema (``PUBLIC_SCHEMA_URLCONF``): the list of tenants."""

from __future__ import annotations

from django.urls import path

from customers import views

urlpatterns = [
    path("", views.tenant_list, name="tenant_list"),
]
