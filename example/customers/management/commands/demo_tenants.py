"""Create the multi-tenant demo: the public tenant and tenants alpha and beta with users.

Idempotent: run it again and it creates only what is missing and resets the passwords.
It also creates the database (if missing) and migrates the public schema first, so on a
fresh PostgreSQL server this one command prepares everything.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError, connection
from django_tenants.utils import get_public_schema_name, schema_context

from chatter.rooms import create_room
from customers.models import Client, Domain
from demo.accounts import PASSWORD, ensure_users

TENANTS = [
    # (schema, name, domain)
    ("alpha", "Alpha Inc.", "alpha.localhost"),
    ("beta", "Beta Ltd.", "beta.localhost"),
]
USERS = [("alice", "Alice", "Anders"), ("bob", "Bob", "Brown")]


class Command(BaseCommand):
    help = (
        "Create the public tenant (localhost) and tenants alpha (alpha.localhost) and beta "
        "(beta.localhost), each with users alice and bob; print their password. Idempotent."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--no-migrate",
            action="store_true",
            help="Do not create the database or migrate the public schema first.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["no_migrate"]:
            self.create_database()
            call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        public = get_public_schema_name()
        with schema_context(public):
            self.tenant(public, "Public", "localhost")
            tenants = [self.tenant(*row) for row in TENANTS]
        # Tenants made by an older version of this command may lack newer migrations.
        call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)
        for tenant in tenants:
            with schema_context(tenant.schema_name):
                self.users()
        port = os.environ.get("PORT", "8000")
        domains = ", ".join(f"http://{domain}:{port}/" for _, _, domain in TENANTS)
        names = ", ".join(username for username, _, _ in USERS)
        self.stdout.write(f"Tenants: {domains} (the list: http://localhost:{port}/)")
        self.stdout.write(f"Users in each tenant: {names} — password: {PASSWORD}")

    def create_database(self) -> None:
        """CREATE DATABASE if the configured one does not exist yet."""
        name = settings.DATABASES["default"]["NAME"]
        try:
            connection.ensure_connection()
            return
        except OperationalError as exc:
            if "does not exist" not in str(exc):
                raise CommandError(f"Cannot connect to PostgreSQL: {exc}") from exc
        with connection._nodb_cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {connection.ops.quote_name(name)}")
        self.stdout.write(f"Created database {name}.")

    def tenant(self, schema_name: str, name: str, domain: str) -> Client:
        """The tenant of ``schema_name``, created (with its schema) if missing."""
        tenant = Client.objects.filter(schema_name=schema_name).first()
        if tenant is None:
            tenant = Client(schema_name=schema_name, name=name)
            tenant.save(verbosity=0)  # creates and migrates the schema
            self.stdout.write(f"Created tenant {schema_name}.")
        Domain.objects.get_or_create(domain=domain, defaults={"tenant": tenant, "is_primary": True})
        return tenant

    def users(self) -> None:
        """Users alice and bob (password reset) and a room for them, in the current schema."""
        create_room(ensure_users(USERS))
