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
import contextvars
import functools
import logging
import time
import weakref
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed

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
# INCRBY for many keys at once (ARGV: count and window in ms per key); each key's new
# count and milliseconds left. One round trip for every hit a process gathered.
_HIT_MANY = """
local out = {}
for i, key in ipairs(KEYS) do
  local by, ms = tonumber(ARGV[2 * i - 1]), ARGV[2 * i]
  local n = redis.call('INCRBY', key, by)
  local left = redis.call('PTTL', key)
  if n == by or left < 0 then
    redis.call('PEXPIRE', key, ms)
    left = tonumber(ms)
  end
  out[2 * i - 1] = n
  out[2 * i] = left
end
return out
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


@functools.cache
def frame_limit(kind: str) -> Limit:
    """The per-user limit of one kind of client frame (``CHATTER_FRAME_LIMITS``).

    Read once per kind (every client frame asks); forgotten when a setting changes.
    """
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


@functools.cache
def redis_host() -> dict[str, Any] | None:
    """Connection arguments of the default channel layer's first Redis host, or None.

    Read once (every client frame asks); forgotten when a setting changes. Callers
    must not change the dict.
    """
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


def _forget(setting: str, **kwargs: Any) -> None:
    if setting == "CHANNEL_LAYERS" or setting.startswith(("CHATTER_FRAME_", "CHATTER_RATE_")):
        frame_limit.cache_clear()
        redis_host.cache_clear()


setting_changed.connect(_forget, dispatch_uid="chatter.limits")


def _pool_kwargs(host: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """How to build a pool for ``host``: ("url" | "sentinel" | "plain", kwargs)."""
    host = dict(host)
    if "address" in host:
        return "url", host
    if "master_name" in host:
        return "sentinel", host
    return "plain", host


def _client(host: dict[str, Any], asynchronous: bool) -> Any:
    """A redis-py client for one layer host, blocking or asyncio (same API, two modules)."""
    import redis.asyncio.sentinel
    import redis.sentinel

    library: Any = redis.asyncio if asynchronous else redis
    sentinels: Any = redis.asyncio.sentinel if asynchronous else redis.sentinel

    kind, kwargs = _pool_kwargs(host)
    if kind == "url":
        address = kwargs.pop("address")
        pool = library.ConnectionPool.from_url(address, **kwargs)
    elif kind == "sentinel":
        master = kwargs.pop("master_name")
        sentinel = sentinels.Sentinel(
            kwargs.pop("sentinels"), sentinel_kwargs=kwargs.pop("sentinel_kwargs", None)
        )
        pool = sentinels.SentinelConnectionPool(master, sentinel, **kwargs)
    else:
        pool = library.ConnectionPool(**kwargs)
    return library.Redis(connection_pool=pool)


_sync_clients: dict[str, redis.Redis] = {}
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]] = (
    weakref.WeakKeyDictionary()
)


def _sync_redis(host: dict[str, Any]) -> redis.Redis:
    key = repr(sorted(host.items()))
    if key not in _sync_clients:
        _sync_clients[key] = _client(host, asynchronous=False)
    return _sync_clients[key]


def _async_redis(host: dict[str, Any]) -> aioredis.Redis:
    """One client per event loop and host (redis.asyncio connections belong to a loop)."""
    loop = asyncio.get_running_loop()
    clients = _async_clients.setdefault(loop, {})
    key = repr(sorted(host.items()))
    if key not in clients:
        clients[key] = _client(host, asynchronous=True)
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


#: Seconds over which one process gathers its sockets' hits before counting them in Redis.
TALLY_INTERVAL = 0.25


async def ahit(kind: str, user_id: Any, schema_name: str) -> bool:
    """Count one ``kind`` action of a user (async); False when it is over the limit.

    With Redis, hits are counted in this process at once and in Redis together, every
    :data:`TALLY_INTERVAL` (see :class:`Tally`): one round trip per process and interval
    instead of one per frame.
    """
    limit = frame_limit(kind)
    if limit.off:
        return True
    key = _key(kind, schema_name, user_id)
    host = redis_host()
    if host is not None:
        return _tally(host).hit(key, limit)
    return await asyncio.to_thread(_cache_hit, key, limit) <= limit.count


class Tally:
    """The per-user hits of one event loop, added to the shared counters in batches.

    A hit is judged at once against the user's shared count as Redis last told it plus
    the hits of this process not yet sent; every ``TALLY_INTERVAL`` the hits gathered go to
    Redis in one script call, which answers every key's new count. So one process is
    exact, and all processes together can overshoot a limit by what each admits in one
    interval before it hears of the others' hits. If Redis is down the hits are dropped
    (logged once a minute): the per-socket windows still hold.
    """

    def __init__(self, host: dict[str, Any]) -> None:
        self.host = host
        self.pending: dict[str, list[int]] = {}  # key -> [hits, window in ms]
        self.known: dict[str, tuple[int, float]] = {}  # key -> (count, window end)
        self.timer: asyncio.TimerHandle | None = None
        self.flushing: asyncio.Task[None] | None = None

    def hit(self, key: str, limit: Limit) -> bool:
        now = time.monotonic()
        count, until = self.known.get(key, (0, 0.0))
        waiting = self.pending.get(key)
        if (count if now < until else 0) + (waiting[0] if waiting else 0) >= limit.count:
            return False
        if waiting is None:
            self.pending[key] = [1, int(limit.seconds * 1000)]
        else:
            waiting[0] += 1
        if self.timer is None:
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(TALLY_INTERVAL, self._start_flush)
        return True

    def _start_flush(self) -> None:
        self.timer = None
        # A fresh context: the task must not carry the socket's tenant or language.
        self.flushing = asyncio.get_running_loop().create_task(
            self.flush(), context=contextvars.Context()
        )

    async def flush(self) -> None:
        """Send the gathered hits to Redis now; learn every key's shared count."""
        pending, self.pending = self.pending, {}
        if not pending:
            return
        keys = list(pending)
        args = [x for key in keys for x in pending[key]]
        try:
            async with _gate():
                answer = await _async_redis(self.host).eval(_HIT_MANY, len(keys), *keys, *args)
        except Exception as exc:  # Redis is down: chatting goes on, the windows hold
            _warn_down(exc)
            return
        now = time.monotonic()
        for i, key in enumerate(keys):
            count, left = int(answer[2 * i]), int(answer[2 * i + 1])
            self.known[key] = (count, now + left / 1000)
        if len(self.known) > 10_000:  # forget windows that ended
            self.known = {k: v for k, v in self.known.items() if v[1] > now}


_tallies: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Tally] = weakref.WeakKeyDictionary()


def _tally(host: dict[str, Any]) -> Tally:
    """This event loop's tally for ``host`` (the dict :func:`redis_host` keeps)."""
    loop = asyncio.get_running_loop()
    tally = _tallies.get(loop)
    if tally is None or tally.host is not host:
        tally = _tallies[loop] = Tally(host)
    return tally


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
