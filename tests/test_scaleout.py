"""Two Daphne processes sharing channels-redis: one chat, whichever process a client hits."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import uuid

import pytest
import websockets

from tests import servers

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture(scope="module")
def chat():
    with servers.database("scaleout") as name:
        env = servers.server_env(name)
        info = servers.prepare_chat(env)
        with servers.DaphneProcess(env) as a, servers.DaphneProcess(env) as b:
            yield env, info, a.port, b.port
            logs = a.log_text() + b.log_text()
    assert "Exception inside application" not in logs, logs


async def open_socket(port: int, room: str, cookie: str):
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/chatter/{room}/",
        additional_headers=servers.ws_headers(port, cookie),
    )
    await ws.send(json.dumps({"type": "resume", "after": 0}))
    return ws


async def until(ws, needle: str, timeout: float = 5) -> str:
    seen = ""
    async with asyncio.timeout(timeout):
        while needle not in seen:
            seen += await ws.recv()
    return seen


def test_message_crosses_processes(chat):
    _, info, port_a, port_b = chat

    async def run() -> None:
        a = await open_socket(port_a, info["room"], info["cookies"]["alice"])
        b = await open_socket(port_b, info["room"], info["cookies"]["bob"])
        text = f"across processes {uuid.uuid4()}"
        await a.send(json.dumps({"text": text, "client_id": str(uuid.uuid4())}))
        got = await until(b, text)
        assert re.search(r'id="chatter-msg-\d+"', got)
        await a.close()
        await b.close()

    asyncio.run(run())


def test_chatter_send_reaches_a_connected_client(chat):
    env, info, port_a, _ = chat

    async def run() -> None:
        b = await open_socket(port_a, info["room"], info["cookies"]["bob"])
        text = f"from the command line {uuid.uuid4()}"
        await asyncio.to_thread(servers.manage, env, "chatter_send", info["room"], "alice", text)
        await until(b, text)
        await b.close()

    asyncio.run(run())


def test_an_idle_socket_stays_open(chat):
    """redis-py 8 times reads out after 5 s, as long as channels-redis blocks: not a crash."""
    _, info, port_a, port_b = chat

    async def run() -> None:
        b = await open_socket(port_b, info["room"], info["cookies"]["bob"])
        await asyncio.sleep(7)
        a = await open_socket(port_a, info["room"], info["cookies"]["alice"])
        text = f"after a quiet while {uuid.uuid4()}"
        await a.send(json.dumps({"text": text, "client_id": str(uuid.uuid4())}))
        await until(b, text)
        await a.close()
        await b.close()

    asyncio.run(run())


def test_two_processes_on_two_sharded_redis_hosts(tmp_path):
    """channels-redis sharded over two Redis servers (their own ports, started here): every
    room's messages cross between the processes, whichever shard its group hashes to."""
    with (
        servers.RedisServer(log=tmp_path / "a.log") as first,
        servers.RedisServer(log=tmp_path / "b.log") as second,
        servers.database("sharded") as name,
    ):
        env = servers.server_env(name, redis_url=f"{first.url},{second.url}")
        names = tuple(f"user{i}" for i in range(6))
        info = servers.prepare_chat(env, names)  # one room of all six
        pairs = [(names[0], names[1], info["room"])] + [
            (one, two, servers.manage(env, "chatter_create_room", one, two).strip())
            for one, two in itertools.pairwise(names)
        ]
        with servers.DaphneProcess(env) as a, servers.DaphneProcess(env) as b:

            async def run() -> None:
                for index, (sender, receiver, room) in enumerate(pairs):
                    pa = await open_socket(a.port, room, info["cookies"][sender])
                    pb = await open_socket(b.port, room, info["cookies"][receiver])
                    text = f"shard test {index} {uuid.uuid4()}"
                    await pa.send(json.dumps({"text": text, "client_id": str(uuid.uuid4())}))
                    await until(pb, text, timeout=60)
                    await pa.close()
                    await pb.close()

            asyncio.run(run())
            logs = a.log_text() + b.log_text()
        # Both shards carried traffic: the groups of six rooms spread over them.
        for url in (first.url, second.url):
            assert servers.redis_keys(url), f"no channel-layer keys on {url}"
    assert "Exception inside application" not in logs, logs
