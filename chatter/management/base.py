"""What Chatter's management commands share: one entry point and CommandError lookups.

Every command subclasses :class:`ChatterCommand` and implements :meth:`run` instead of
``handle``. Options common to all of them (``--schema NAME`` for django-tenants) belong in
:meth:`ChatterCommand.add_arguments` and :meth:`ChatterCommand.handle` only.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from chatter import tenancy
from chatter.models import Room
from chatter.types import User


class ChatterCommand(BaseCommand):
    """Base of the ``chatter_*`` commands: shared options and the call of :meth:`run`."""

    #: Whether the command also takes ``--all-schemas`` (django-tenants: every tenant's
    #: schema in turn, see :meth:`run_each`).
    takes_all_schemas = False

    def add_arguments(self, parser: CommandParser) -> None:
        """Add the options every Chatter command takes: ``--schema NAME`` (and, where
        :attr:`takes_all_schemas`, ``--all-schemas``)."""
        parser.add_argument(
            "--schema",
            metavar="NAME",
            default=None,
            help="With django-tenants: work in the tenant whose schema is NAME.",
        )
        if self.takes_all_schemas:
            parser.add_argument(
                "--all-schemas",
                action="store_true",
                help="With django-tenants: work in every tenant's schema, one after another.",
            )

    def handle(self, *args: Any, **options: Any) -> str | None:
        """Run the command; the one place that sets up what all commands share.

        With ``--schema NAME`` the whole of :meth:`run` runs inside that tenant's schema,
        after checking (in the public schema) that a tenant has it; otherwise nothing runs.
        """
        schema_name = options.get("schema")
        if options.get("all_schemas"):
            if schema_name is not None:
                raise CommandError("Pass either --schema or --all-schemas, not both.")
            if not tenancy.is_multitenant():
                raise CommandError("--all-schemas needs django-tenants, which is not configured.")
            return self.run_each(tenant_schemas(), *args, **options)
        if schema_name is None:
            if tenancy.is_multitenant() and not _has_chatter_tables():
                raise CommandError(
                    f"Chatter's tables are not in the schema {tenancy.current_schema()!r}: "
                    "with django-tenants, pass --schema NAME."
                )
            return self.run(*args, **options)
        if not tenancy.is_multitenant():
            raise CommandError(
                "--schema needs django-tenants, which is not configured "
                "(no TENANT_MODEL or not its database backend)."
            )
        if tenancy.tenant_for_schema(schema_name) is None:
            raise CommandError(f"Unknown schema: {schema_name}")
        with tenancy.schema(schema_name):
            if not _has_chatter_tables():
                raise CommandError(_no_tables_message(schema_name))
            return self.run(*args, **options)

    def run(self, *args: Any, **options: Any) -> str | None:
        """Do the command's work; subclasses implement it."""
        raise NotImplementedError("ChatterCommand subclasses must implement run().")

    def run_each(self, schema_names: list[str], *args: Any, **options: Any) -> str | None:
        """``--all-schemas``: :meth:`run` in each of ``schema_names`` in turn (with
        ``options["schema"]`` set to it); the first failure stops the rest."""
        for schema_name in schema_names:
            with tenancy.schema(schema_name):
                self.run(*args, **{**options, "schema": schema_name})
        return None


def _has_chatter_tables() -> bool:
    return Room._meta.db_table in connection.introspection.table_names()


def _no_tables_message(schema_name: str) -> str:
    """Why a tenant's schema without Chatter's tables cannot be used, and what to do."""
    if schema_name == tenancy.get_public_schema_name():
        return (
            f"{schema_name!r} is the public schema: Chatter's tables are only in the tenants' "
            "schemas. Pass --schema with a tenant's schema."
        )
    return (
        f"Chatter's tables are not in the schema {schema_name!r}: migrate it with "
        f"manage.py migrate_schemas --schema {schema_name}."
    )


def get_users(usernames: list[str]) -> list[User]:
    """The users with these usernames, in the given order; CommandError names any unknown."""
    user_model = get_user_model()
    field = user_model.USERNAME_FIELD
    found = {
        getattr(user, field): user
        for user in user_model._default_manager.filter(**{f"{field}__in": usernames})
    }
    unknown = [name for name in dict.fromkeys(usernames) if name not in found]
    if unknown:
        noun = "user" if len(unknown) == 1 else "users"
        raise CommandError(f"Unknown {noun}: {', '.join(unknown)}.")
    return [found[name] for name in usernames]


def get_user(username: str) -> User:
    """The user with this username, or a CommandError naming it."""
    return get_users([username])[0]


def get_room(room_id: str) -> Room:
    """The room with this id, or a CommandError saying what is wrong with the id."""
    try:
        room_uuid = uuid.UUID(str(room_id))
    except ValueError:
        raise CommandError(
            f"{room_id!r} is not a room id (a UUID such as {uuid.UUID(int=0)})."
        ) from None
    try:
        return Room.objects.get(pk=room_uuid)
    except Room.DoesNotExist:
        raise CommandError(f"No room has the id {room_uuid}.") from None


def tenant_schemas() -> list[str]:
    """The schemas of every tenant with Chatter's tables (not the public one), by name."""
    from django_tenants.utils import get_tenant_model, schema_context

    with schema_context(tenancy.get_public_schema_name()):
        names = list(
            get_tenant_model()
            .objects.exclude(schema_name=tenancy.get_public_schema_name())
            .order_by("schema_name")
            .values_list("schema_name", flat=True)
        )
    found = []
    for name in names:
        with tenancy.schema(name):
            if _has_chatter_tables():
                found.append(name)
    return found
