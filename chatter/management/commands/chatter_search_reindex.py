"""``manage.py chatter_search_reindex [--schema NAME | --all-schemas]``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from django.db import connection, transaction

from chatter import conf, search_index
from chatter.management.base import ChatterCommand


class Command(ChatterCommand):
    help = (
        "Rebuild the message search's column and GIN index with CHATTER_SEARCH_CONFIG "
        "(PostgreSQL; in a tenant's schema with --schema, in each with --all-schemas). It "
        "computes the column for every message and locks the messages table meanwhile."
    )
    takes_all_schemas = True

    def run(self, *args: Any, **options: Any) -> None:
        """Drop and make the column again, in one transaction."""
        if not search_index.is_postgresql():
            raise CommandError("The message search index exists on PostgreSQL only.")
        config = conf.get("CHATTER_SEARCH_CONFIG")
        if not search_index.CONFIG_NAME.fullmatch(config) or not search_index.config_exists(config):
            raise CommandError(
                f"CHATTER_SEARCH_CONFIG is {config!r}: the database has no text search "
                "configuration of that name (the table pg_ts_config lists those it has)."
            )
        before = search_index.indexed_config()
        with transaction.atomic():
            search_index.drop(connection)
            search_index.create(connection, config)
        where = f"[{options['schema']}] " if options.get("schema") else ""
        self.stdout.write(f"{where}Search index rebuilt with {config!r} (it was {before!r}).")
