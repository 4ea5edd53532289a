"""The demo's settings with Django's default ``CONN_HEALTH_CHECKS = False``, for Daphne.

The demo keeps connections (``CONN_MAX_AGE``) and checks them before use; a project that
keeps them without health checks relies on Chatter's own retry after a connection the
server closed (``chatter.tenancy.in_schema``). tests/test_faults.py serves both.
"""

from __future__ import annotations

from settings import *  # noqa: F403

DATABASES["default"]["CONN_HEALTH_CHECKS"] = False  # noqa: F405
