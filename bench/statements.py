"""A bench-only counter of the SQL statements a server process runs, by shape.

Installed by :mod:`bench.chatter_settings` (never by Chatter itself): every database
connection of the process gets an execute wrapper that counts each statement under a
key such as ``"UPDATE chatter_membership"``. ``/bench/stats`` (see
:mod:`bench.chatter_urls`) answers the counts, so the load generator reads them before
and after a measured phase of the real server.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.db.backends.signals import connection_created

_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?([A-Za-z0-9_.]+)"?', re.IGNORECASE)
_lock = threading.Lock()
_counts: Counter[str] = Counter()
# BENCH_STATEMENT_CALLERS=1: key each statement also by the Chatter functions that ran it
# (a diagnosis aid: "SELECT chatter_room <- last_seq <- _fill").
_CALLERS = os.environ.get("BENCH_STATEMENT_CALLERS") == "1"


def callers(depth: int = 3) -> str:
    """The innermost ``depth`` functions of the chatter package on the current stack."""
    names: list[str] = []
    frame = sys._getframe(2)
    while frame is not None and len(names) < depth:
        code = frame.f_code
        if "/chatter/" in code.co_filename and code.co_name not in ("_run_in_schema", "run"):
            names.append(code.co_name)
        frame = frame.f_back
    return " <- ".join(names)


def shape(sql: str) -> str:
    """``"<VERB> <first table>"`` of a statement, e.g. ``"SELECT chatter_room"``."""
    words = sql.split(None, 1)
    verb = words[0].upper() if words else "?"
    table = _TABLE.search(sql)
    return f"{verb} {table.group(1)}" if table else verb


def _count(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
    key = shape(sql)
    if _CALLERS:
        key = f"{key} <- {callers()}"
    with _lock:
        _counts[key] += 1
    return execute(sql, params, many, context)


def _install(sender: Any, connection: Any, **kwargs: Any) -> None:
    if _count not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count)


def install() -> None:
    """Count the statements of every connection this process opens from now on."""
    connection_created.connect(_install, weak=False, dispatch_uid="bench-statements")


def snapshot() -> dict[str, int]:
    """Statements counted so far, by shape."""
    with _lock:
        return dict(_counts)
