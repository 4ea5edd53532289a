"""The full-text index of messages on PostgreSQL: a stored ``tsvector`` column and its GIN index.

``chatter_message.search_vector`` is a stored generated column,
``to_tsvector('<config>'::regconfig, text)``, indexed with GIN. PostgreSQL keeps it current
on every insert and edit, and the search ranks with it without parsing any text again.
The column is not a field of :class:`~chatter.models.Message` (SQLite has no ``tsvector``):
the migration adds it on PostgreSQL only, and :mod:`chatter.search` names it in SQL.

Its configuration is ``CHATTER_SEARCH_CONFIG`` *when the column was made*. A query of
another configuration finds other lexemes (``english`` stems "running" to "run",
``simple`` does not), so the search always uses the column's own configuration, and the
system check ``chatter.W031`` says when the setting differs; ``manage.py
chatter_search_reindex`` then rebuilds the column and its index with the setting.
"""

from __future__ import annotations

import re

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper

from chatter import conf

COLUMN = "search_vector"
INDEX = "chatter_message_search"
TABLE = "chatter_message"
#: A configuration name that can be written into SQL as it is: ``simple``,
#: ``pg_catalog.english``, ``public.my_config``.
CONFIG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}(?:\.[A-Za-z_][A-Za-z0-9_]{0,62})?")
_DEFINITION = re.compile(r"to_tsvector\('([^']+)'::regconfig")


def is_postgresql(conn: BaseDatabaseWrapper | None = None) -> bool:
    return (conn or connection).vendor == "postgresql"


def config_literal(config: str) -> str:
    """``config`` as an SQL literal of type regconfig; ValueError for an unsafe name."""
    if not CONFIG_NAME.fullmatch(config):
        raise ValueError(f"Not a text search configuration name: {config!r}")
    return f"'{config}'::regconfig"


def create(conn: BaseDatabaseWrapper, config: str | None = None) -> None:
    """Add the column (computed for every message) and its index, with ``config``."""
    literal = config_literal(config or conf.get("CHATTER_SEARCH_CONFIG"))
    with conn.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE {TABLE} ADD COLUMN {COLUMN} tsvector "
            f"GENERATED ALWAYS AS (to_tsvector({literal}, text)) STORED"
        )
        cursor.execute(f"CREATE INDEX {INDEX} ON {TABLE} USING gin ({COLUMN})")


def drop(conn: BaseDatabaseWrapper) -> None:
    """Remove the column and (with it) its index."""
    with conn.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS {COLUMN}")


def indexed_config(conn: BaseDatabaseWrapper | None = None) -> str | None:
    """The configuration the column is computed with, or None where there is no column."""
    conn = conn or connection
    if not is_postgresql(conn):
        return None
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d "
            "JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
            "WHERE d.adrelid = to_regclass(%s) AND a.attname = %s",
            [TABLE, COLUMN],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    found = _DEFINITION.search(row[0])
    return found.group(1) if found else None


def config_exists(config: str, conn: BaseDatabaseWrapper | None = None) -> bool:
    """Whether the database has this text search configuration."""
    schema, _dot, name = config.rpartition(".")
    with (conn or connection).cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_ts_config c "
            "JOIN pg_namespace n ON n.oid = c.cfgnamespace WHERE c.cfgname = %s "
            "AND (n.nspname = %s OR (%s = '' AND pg_ts_config_is_visible(c.oid))))",
            [name, schema, schema],
        )
        row = cursor.fetchone()
    return bool(row and row[0])
