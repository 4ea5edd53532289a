"""The full-text index of messages (chatter.search_index): on PostgreSQL only.

A stored generated ``tsvector`` column with a GIN index, computed with
``CHATTER_SEARCH_CONFIG`` as it is when this migration runs. Adding it computes the
column for every message (the table is rewritten): on a large table, run it at a quiet
time. Elsewhere (SQLite) it does nothing: the search there is a substring match.
"""

from typing import Any

from django.db import migrations


def _create(apps: Any, schema_editor: Any) -> None:
    from chatter import search_index

    if search_index.is_postgresql(schema_editor.connection):
        search_index.create(schema_editor.connection)


def _drop(apps: Any, schema_editor: Any) -> None:
    from chatter import search_index

    if search_index.is_postgresql(schema_editor.connection):
        search_index.drop(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("chatter", "0006_notify"),
    ]

    operations = [
        migrations.RunPython(_create, _drop, elidable=False),
    ]
