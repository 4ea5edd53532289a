"""Limits per user, shared by every server process, and per socket.

Why shared: a limit kept in one process's memory (or in Django's default, per-process
cache) lets N processes allow N times the limit, and lets a user open sockets on every
process. Where the default channel layer is channels-redis, counters live in that Redis
(first host; sentinels supported); otherwise in Django's cache, and the socket cap in
the process (one process serves everything then, e.g. with the in-memory layer).

Every counter is a fixed window: at most ``count`` hits per ``seconds``, the window
starting at the first hit. Keys carry the tenant (``chatter.t<schema>``), so equal user
ids of two tenants never share a budget.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache

from chatter import conf, tenancy

if TYPE_CHECKING:  # redis is imported only where the channel layer is channels-redis
    import redis
    from redis import asyncio as aioredis

log = logging.getLogger("chatter.limits")

# INCR with an expiry set on the first hit: one round trip, atomic.
_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""
# Register a socket unless the user has ``cap`` live ones; entries expire by score.
_OPEN = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if tonumber(ARGV[3]) > 0 and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


@dataclass(frozen=True)
class Limit:
    """At most ``count`` hits in ``seconds``; a count of 0 turns the limit off."""

    count: int
    seconds: float

    @property
    def off(self) -> bool:
        return self.count <= 0 or self.seconds <= 0


def frame_limit(kind: str) -> Limit:
    """The per-user limit of one kind of client frame (``CHATTER_FRAME_LIMITS``)."""
    if kind == "send":
        return Limit(
            conf.get("CHATTER_RATE_LIMIT_MESSAGES"), conf.get("CHATTER_RATE_LIMIT_SECONDS")
        )
    limits = {**conf.DEFAULTS["CHATTER_FRAME_LIMITS"], **conf.get("CHATTER_FRAME_LIMITS")}
    count, seconds = limits[kind]
    return Limit(count, seconds)


class Window:
    """A fixed-window counter in this process: the per-socket limit, checked first.

    It costs nothing but a comparison, so a socket that floods is turned away before
    any shared counter is asked.
    """

    __slots__ = ("count", "limit", "started")

    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self.started = 0.0
        self.count = 0

    def hit(self, now: float | None = None) -> bool:
        """Count one hit; False if it goes over the limit."""
        if self.limit.off:
            return True
        now = time.monotonic() if now is None else now
        if now - self.started >= self.limit.seconds:
            self.started, self.count = now, 0
        self.count += 1
        return self.count <= self.limit.count

    def retry_after(self, now: float | None = None) -> float:
        """Seconds until the current window ends."""
        now = time.monotonic() if now is None else now
        return max(0.0, self.started + self.limit.seconds - now)


# -- where shared counters live ------------------------------------------------------------


def redis_host() -> dict[str, Any] | None:
    """Connection arguments of the default channel layer's first Redis host, or None."""
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    default = layers.get("default") if isinstance(layers, Mapping) else None
    if not isinstance(default, Mapping):
        return None
    if not str(default.get("BACKEND", "")).startswith("channels_redis."):
        return None
    hosts = (default.get("CONFIG") or {}).get("hosts") or ["redis://localhost:6379"]
    first = hosts[0]
    if isinstance(first, Mapping):
        return dict(first)
    if isinstance(first, tuple | list):
        return {"host": first[0], "port": first[1]}
    return {"address": first}


def _pool_kwargs(host: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """How to build a pool for ``host``: ("url" | "sentinel" | "plain", kwargs)."""
    host = dict(host)
    if "address" in host:
        return "url", host
    if "master_name" in host:
        return "sentinel", host
    return "plain", host


def _sync_client(host: dict[str, Any]) -> redis.Redis:
    import redis

    kind, kwargs = _pool_kwargs(host)
    if kind == "url":
        address = kwargs.pop("address")
        return redis.Redis(connection_pool=redis.ConnectionPool.from_url(address, **kwargs))
    if kind == "sentinel":
        from redis.sentinel import Sentinel, SentinelConnectionPool

        master = kwargs.pop("master_name")
        sentinel = Sentinel(
            kwargs.pop("sentinels"), sentinel_kwargs=kwargs.pop("sentinel_kwargs", None)
        )
        return redis.Redis(connection_pool=SentinelConnectionPool(master, sentinel, **kwargs))
    return redis.Redis(connection_pool=redis.ConnectionPool(**kwargs))


def _async_client(host: dict[str, Any]) -> aioredis.Redis:
    from redis import asyncio as aioredis

    kind, kwargs = _pool_kwargs(host)
    if kind == "url":
        address = kwargs.pop("address")
        return aioredis.Redis(connection_pool=aioredis.ConnectionPool.from_url(address, **kwargs))
    if kind == "sentinel":
        from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

        master = kwargs.pop("master_name")
        sentinel = Sentinel(
            kwargs.pop("sentinels"), sentinel_kwargs=kwargs.pop("sentinel_kwargs", None)
        )
        return aioredis.Redis(connection_pool=SentinelConnectionPool(master, sentinel, **kwargs))
    return aioredis.Redis(connection_pool=aioredis.ConnectionPool(**kwargs))


_sync_clients: dict[str, redis.Redis] = {}
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]] = (
    weakref.WeakKeyDictionary()
)


def _sync_redis(host: dict[str, Any]) -> redis.Redis:
    key = repr(sorted(host.items()))
    if key not in _sync_clients:
        _sync_clients[key] = _sync_client(host)
    return _sync_clients[key]


def _async_redis(host: dict[str, Any]) -> aioredis.Redis:
    """One client per event loop and host (redis.asyncio connections belong to a loop)."""
    loop = asyncio.get_running_loop()
    clients = _async_clients.setdefault(loop, {})
    key = repr(sorted(host.items()))
    if key not in clients:
        clients[key] = _async_client(host)
    return clients[key]


_warned_at = -1e9


def _warn_down(exc: BaseException) -> None:
    """Log that the shared counters are unreachable, at most once a minute."""
    global _warned_at
    now = time.monotonic()
    if now - _warned_at > 60:
        _warned_at = now
        log.warning("Chatter: the limits' Redis is unreachable (%r); not limiting meanwhile.", exc)


def _gate() -> asyncio.Semaphore:
    """Shared with the channel layer's calls: redis-py refuses past 100 connections."""
    from chatter.live.hub import gate

    return gate()


def _key(kind: str, schema_name: str, user_id: Hashable) -> str:
    return f"{tenancy.group_prefix(schema_name)}:limit:{kind}:{user_id}"


# -- per-user counters ---------------------------------------------------------------------


def hit(kind: str, user_id: Hashable, schema_name: str | None = None) -> bool:
    """Count one ``kind`` action of a user (sync); False when it is over the limit."""
    limit = frame_limit(kind)
    if limit.off:
        return True
    schema_name = tenancy.current_schema() if schema_name is None else schema_name
    key = _key(kind, schema_name, user_id)
    host = redis_host()
    if host is not None:
        try:
            count = int(_sync_redis(host).eval(_HIT, 1, key, int(limit.seconds * 1000)))
        except Exception as exc:  # Redis is down: chatting goes on, unlimited meanwhile
            _warn_down(exc)
            return True
        return count <= limit.count
    return _cache_hit(key, limit) <= limit.count


async def ahit(kind: str, user_id: Hashable, schema_name: str) -> bool:
    """Count one ``kind`` action of a user (async); False when it is over the limit."""
    limit = frame_limit(kind)
    if limit.off:
        return True
    key = _key(kind, schema_name, user_id)
    host = redis_host()
    if host is not None:
        client = _async_redis(host)
        async with _gate():
            count = int(await client.eval(_HIT, 1, key, int(limit.seconds * 1000)))
        return count <= limit.count
    return await asyncio.to_thread(_cache_hit, key, limit) <= limit.count


def _cache_hit(key: str, limit: Limit) -> int:
    bucket = int(time.time() // limit.seconds)
    key = f"{key}:{bucket}"
    timeout = int(limit.seconds) + 1
    cache.add(key, 0, timeout=timeout)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1


# -- open sockets per user -----------------------------------------------------------------

_local_sockets: dict[str, dict[str, float]] = {}


def _now() -> float:
    """Wall-clock seconds (shared by processes of one host; tests move it)."""
    return time.time()


def socket_lifetime() -> float:
    """Seconds a socket counts as open without a refresh (its pings refresh it)."""
    return float(conf.get("CHATTER_PRESENCE_TIMEOUT"))


async def open_socket(user_id: Hashable, schema_name: str, socket_id: str) -> bool:
    """Register an open socket of a user; False if they already have the most allowed."""
    cap = conf.get("CHATTER_MAX_SOCKETS_PER_USER")
    key = _key("sockets", schema_name, user_id)
    now = _now()
    expires = now + socket_lifetime()
    host = redis_host()
    if host is not None:
        client = _async_redis(host)
        ttl = int(socket_lifetime() * 2000)
        async with _gate():
            return bool(await client.eval(_OPEN, 1, key, now, expires, cap, socket_id, ttl))
    sockets = _local_sockets.setdefault(key, {})
    for other, until in list(sockets.items()):
        if until < now:
            del sockets[other]
    if cap and len(sockets) >= cap:
        return False
    sockets[socket_id] = expires
    return True


async def refresh_socket(user_id: Hashable, schema_name: str, socket_id: str) -> None:
    """Keep a socket counted (its entry expires ``socket_lifetime()`` after this)."""
    key = _key("sockets", schema_name, user_id)
    expires = _now() + socket_lifetime()
    host = redis_host()
    if host is not None:
        client = _async_redis(host)
        async with _gate():
            await client.zadd(key, {socket_id: expires}, xx=True)
        return
    sockets = _local_sockets.get(key)
    if sockets is not None and socket_id in sockets:
        sockets[socket_id] = expires


async def close_socket(user_id: Hashable, schema_name: str, socket_id: str) -> None:
    """Forget a closed socket."""
    key = _key("sockets", schema_name, user_id)
    host = redis_host()
    if host is not None:
        async with _gate():
            await _async_redis(host).zrem(key, socket_id)
        return
    sockets = _local_sockets.get(key)
    if sockets is not None:
        sockets.pop(socket_id, None)
        if not sockets:
            del _local_sockets[key]
