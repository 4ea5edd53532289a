"""The demo project's settings, plus a statement counter and ``/bench/stats``.

Only the benchmark uses this module (``DJANGO_SETTINGS_MODULE=bench.chatter_settings``);
everything Chatter does is configured exactly as in ``example/settings.py``, which reads
``CHATTER_DATABASE_URL``, ``CHATTER_REDIS_URL`` and the limits from the environment.
"""

from __future__ import annotations

from settings import *  # noqa: F403  (example/settings.py: the project under test)

from bench import statements

ROOT_URLCONF = "bench.chatter_urls"

statements.install()
