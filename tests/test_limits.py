"""Limits per user (shared through Redis, or the cache) and per socket."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from django.core.cache import cache

from chatter import limits
from tests import servers

REDIS_LAYER = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": servers.REDIS_URL, "socket_timeout": 30}]},
    }
}


@pytest.fixture
def user_id() -> str:
    """A user id no other test run uses (the shared Redis outlives the test)."""
    return f"t{uuid.uuid4().hex}"


def test_window_counts_per_window() -> None:
    window = limits.Window(limits.Limit(2, 10))
    assert window.hit(100.0) and window.hit(101.0)
    assert not window.hit(102.0)
    assert window.retry_after(102.0) == pytest.approx(8.0)
    assert window.hit(110.0)  # a new window


def test_window_off() -> None:
    window = limits.Window(limits.Limit(0, 10))
    assert all(window.hit(float(i)) for i in range(100))


def test_frame_limit_reads_settings(settings: Any) -> None:
    settings.CHATTER_FRAME_LIMITS = {"read": (3, 2.5)}
    assert limits.frame_limit("read") == limits.Limit(3, 2.5)
    assert limits.frame_limit("ping") == limits.Limit(60, 60)  # the default stays
    settings.CHATTER_RATE_LIMIT_MESSAGES, settings.CHATTER_RATE_LIMIT_SECONDS = 7, 3
    assert limits.frame_limit("send") == limits.Limit(7, 3)


def test_redis_host_from_the_channel_layer(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    assert limits.redis_host() is None
    settings.CHANNEL_LAYERS = REDIS_LAYER
    assert limits.redis_host() == {"address": servers.REDIS_URL, "socket_timeout": 30}
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [("10.0.0.1", 6380), "redis://other"]},
        }
    }
    assert limits.redis_host() == {"host": "10.0.0.1", "port": 6380}
    settings.CHANNEL_LAYERS = {  # read once per settings change (setting_changed)
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://other:6380/1"]},
        }
    }
    assert limits.redis_host() == {"address": "redis://other:6380/1"}
    sentinel = {"sentinels": [("s1", 26379)], "master_name": "main", "db": 2}
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [sentinel]},
        }
    }
    assert limits._pool_kwargs(limits.redis_host() or {})[0] == "sentinel"


def _redis_parts() -> dict[str, Any]:
    """The test Redis as channels-redis's other host formats name it."""
    from urllib.parse import urlsplit

    url = urlsplit(servers.REDIS_URL)
    return {"host": url.hostname, "port": url.port, "db": int(url.path.strip("/") or 0)}


@pytest.mark.redis
def test_clients_for_every_host_format_reach_their_redis() -> None:
    """A URL, a host and port, and keyword arguments all give clients of that server."""
    parts = _redis_parts()
    for host in (
        {"address": servers.REDIS_URL, "socket_timeout": 30},
        {"host": parts["host"], "port": parts["port"], "db": parts["db"]},
    ):
        client = limits._client(host, asynchronous=False)
        assert client.ping()
        assert client.connection_pool.connection_kwargs["db"] == parts["db"]

        async def ping(host: dict[str, Any] = host) -> bool:
            aclient = limits._client(host, asynchronous=True)
            try:
                return bool(await aclient.ping())
            finally:
                await aclient.aclose()

        assert asyncio.run(ping())


def test_a_sentinel_host_gives_clients_of_its_master() -> None:
    """channels-redis's sentinel format: the master's name, the sentinels and their options.

    Building the clients connects nowhere: no sentinel runs here, so only what they would
    ask is checked.
    """
    from redis.asyncio.sentinel import SentinelConnectionPool as AsyncSentinelPool
    from redis.sentinel import SentinelConnectionPool

    host = {
        "master_name": "main",
        "sentinels": [("10.0.0.5", 26379)],
        "sentinel_kwargs": {"socket_timeout": 2},
        "db": 3,
    }
    client = limits._client(host, asynchronous=False)
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "main" and pool.connection_kwargs["db"] == 3
    sentinel = pool.sentinel_manager
    assert [s.connection_pool.connection_kwargs["host"] for s in sentinel.sentinels] == ["10.0.0.5"]
    # The project's options reach the sentinels (redis-py 8.2 adds a default ``retry``).
    assert sentinel.sentinel_kwargs["socket_timeout"] == 2
    assert host["sentinels"] == [("10.0.0.5", 26379)]  # the settings are not consumed

    aclient = limits._client(host, asynchronous=True)
    apool = aclient.connection_pool
    assert isinstance(apool, AsyncSentinelPool)
    assert apool.service_name == "main" and apool.connection_kwargs["db"] == 3
    assert apool.sentinel_manager.sentinel_kwargs["socket_timeout"] == 2


def test_cache_counter_without_redis(settings: Any, user_id: str) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.CHATTER_RATE_LIMIT_MESSAGES, settings.CHATTER_RATE_LIMIT_SECONDS = 3, 60
    cache.clear()
    assert [limits.hit("send", user_id, "") for _ in range(4)] == [True, True, True, False]
    assert limits.hit("send", user_id, "other_tenant")  # another tenant's budget


@pytest.mark.redis
def test_redis_counter_is_shared(settings: Any, user_id: str) -> None:
    """Three "processes" (a sync client and two event loops) count against one budget."""
    settings.CHANNEL_LAYERS = REDIS_LAYER
    settings.CHATTER_FRAME_LIMITS = {"read": (5, 60)}

    async def process(hits: int, later: int = 0) -> tuple[list[bool], list[bool]]:
        """One server process: its hits are judged at once and sent to Redis in one call;
        the hits after that call are judged with what Redis answered."""
        answers = [await limits.ahit("read", user_id, "") for _ in range(hits)]
        tally = limits._tally(limits.redis_host() or {})
        assert tally.timer is not None  # one flush is due, for all of them
        tally.timer.cancel()
        tally._start_flush()
        assert tally.flushing is not None
        await tally.flushing
        return answers, [await limits.ahit("read", user_id, "") for _ in range(later)]

    assert limits.hit("read", user_id, "")
    assert asyncio.run(process(2)) == ([True, True], [])  # 3 of 5 used
    assert limits.hit("read", user_id, "")  # 4 of 5
    # Another process has heard nothing yet: it admits up to the limit by its own count
    # (the overshoot of one interval), then knows the shared count and refuses.
    assert asyncio.run(process(2, later=1)) == ([True, True], [False])
    assert not limits.hit("read", user_id, "")
    assert limits.hit("read", user_id, "alpha")  # another tenant's budget


@pytest.mark.redis
async def test_tally_judges_at_once_and_sends_once(settings: Any, user_id: str) -> None:
    """One process: exact, whatever the number of sockets; one round trip per interval."""
    settings.CHANNEL_LAYERS = REDIS_LAYER
    settings.CHATTER_FRAME_LIMITS = {"read": (4, 60), "ping": (2, 60)}
    answers = [await limits.ahit("read", user_id, "") for _ in range(6)]
    assert answers == [True] * 4 + [False] * 2
    assert await limits.ahit("ping", user_id, "")
    tally = limits._tally(limits.redis_host() or {})
    assert set(tally.pending) == {
        limits._key("read", "", user_id),
        limits._key("ping", "", user_id),
    }
    for _ in range(200):  # the timer flushes within TALLY_INTERVAL
        if not tally.pending and tally.known:
            break
        await asyncio.sleep(0.05)
    if tally.flushing is not None:
        await tally.flushing
    assert tally.known[limits._key("read", "", user_id)][0] == 4
    assert tally.known[limits._key("ping", "", user_id)][0] == 1
    assert not await limits.ahit("read", user_id, "")
    assert await limits.ahit("ping", user_id, "") and not await limits.ahit("ping", user_id, "")


async def test_tally_lets_hits_through_while_redis_is_down(settings: Any, user_id: str) -> None:
    port = servers.free_port()  # nothing listens there
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": f"redis://127.0.0.1:{port}/0", "socket_timeout": 2}]},
        }
    }
    settings.CHATTER_FRAME_LIMITS = {"read": (2, 60)}
    assert await limits.ahit("read", user_id, "") and await limits.ahit("read", user_id, "")
    assert not await limits.ahit("read", user_id, "")  # this process's own count holds
    tally = limits._tally(limits.redis_host() or {})
    await tally.flush()  # fails, logged; the hits are dropped
    assert not tally.pending and not tally.known
    assert await limits.ahit("read", user_id, "")


async def _open_many(user_id: str, count: int) -> list[bool]:
    return [await limits.open_socket(user_id, "", f"s{i}") for i in range(count)]


@pytest.mark.parametrize("backend", ["local", pytest.param("redis", marks=pytest.mark.redis)])
def test_socket_cap(settings: Any, user_id: str, backend: str) -> None:
    if backend == "redis":
        settings.CHANNEL_LAYERS = REDIS_LAYER
    else:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.CHATTER_MAX_SOCKETS_PER_USER = 3

    async def scenario() -> None:
        assert await _open_many(user_id, 4) == [True, True, True, False]
        await limits.close_socket(user_id, "", "s1")
        assert await limits.open_socket(user_id, "", "s9")
        assert not await limits.open_socket(user_id, "", "s10")
        await limits.refresh_socket(user_id, "", "s0")
        assert await limits.open_socket(user_id, "beta", "s0")  # another tenant
        for name in ("s0", "s2", "s9"):
            await limits.close_socket(user_id, "", name)
        assert await limits.open_socket(user_id, "", "s11")
        await limits.close_socket(user_id, "", "s11")
        await limits.close_socket(user_id, "beta", "s0")

    asyncio.run(scenario())


@pytest.mark.parametrize("backend", ["local", pytest.param("redis", marks=pytest.mark.redis)])
def test_sockets_of_a_dead_process_expire(
    settings: Any, user_id: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that died without closing its sockets does not lock its users out."""
    if backend == "redis":
        settings.CHANNEL_LAYERS = REDIS_LAYER
    else:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.CHATTER_MAX_SOCKETS_PER_USER = 1
    settings.CHATTER_PRESENCE_TIMEOUT = 10

    async def scenario() -> None:
        assert await limits.open_socket(user_id, "", "old")
        assert not await limits.open_socket(user_id, "", "new")

    asyncio.run(scenario())
    later_now = limits._now() + 11  # the old socket was never refreshed: it lapsed
    monkeypatch.setattr(limits, "_now", lambda: later_now)

    async def later() -> None:
        assert await limits.open_socket(user_id, "", "new")
        await limits.close_socket(user_id, "", "new")

    asyncio.run(later())


def test_closing_a_socket_never_counted_is_harmless(settings: Any, user_id: str) -> None:
    """E.g. a socket opened before the process restarted, or refused before it counted."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    asyncio.run(limits.close_socket(user_id, "", "never-opened"))
    assert not any(user_id in key for key in limits._local_sockets)


def test_a_ping_of_a_closed_socket_does_not_count_it_again(settings: Any, user_id: str) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.CHATTER_MAX_SOCKETS_PER_USER = 1

    async def scenario() -> None:
        assert await limits.open_socket(user_id, "", "first")
        await limits.close_socket(user_id, "", "first")
        await limits.refresh_socket(user_id, "", "first")  # its last ping, late
        assert await limits.open_socket(user_id, "", "second")
        await limits.close_socket(user_id, "", "second")

    asyncio.run(scenario())
