"""Settings of the bare broadcast server: no database, only a channels-redis layer.

``BENCH_REDIS_URL`` names the Redis server; ``BENCH_LAYER`` picks the layer: ``core``
(``RedisChannelLayer``, configured as the demo configures it) or ``pubsub``
(``RedisPubSubChannelLayer``: one publish per group, fanned out in each process).
"""

from __future__ import annotations

import os

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["channels"]
DATABASES: dict = {}
USE_TZ = True
ASGI_APPLICATION = "bench.bare.asgi.application"

_REDIS = {"address": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")}
if os.environ.get("BENCH_LAYER", "core") == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [_REDIS]},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [dict(_REDIS, socket_timeout=30)],
                "capacity": 1000,
                "expiry": 30,
            },
        }
    }
