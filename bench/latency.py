"""Send-to-receive latency between two clients on two Daphne processes sharing Redis.

alice's socket is on one process and bob's on the other; alice sends N messages one at a
time and the time until bob's socket has each one is recorded. Prints the median and the
99th percentile, with a same-process baseline (both sockets on one Daphne) for ratio.

    .venv/bin/python bench/latency.py [N]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests import servers


async def measure(port_a: int, port_b: int, info: dict, count: int) -> list[float]:
    room, cookies = info["room"], info["cookies"]

    async def connect(port: int, who: str):
        ws = await websockets.connect(
            f"ws://127.0.0.1:{port}/ws/chatter/{room}/",
            additional_headers=servers.ws_headers(port, cookies[who]),
            max_size=2**22,
        )
        await ws.send(json.dumps({"type": "resume", "after": 10**9}))
        return ws

    a, b = await connect(port_a, "alice"), await connect(port_b, "bob")

    async def drain() -> None:  # alice reads her own frames too, or her socket stalls
        async for _ in a:
            pass

    drainer = asyncio.create_task(drain())
    await asyncio.sleep(0.3)
    times = []
    for i in range(count):
        marker = f"bench-{i}-{uuid.uuid4().hex[:8]}"
        start = time.perf_counter()
        await a.send(json.dumps({"text": marker, "client_id": str(uuid.uuid4())}))
        while marker not in await b.recv():
            pass
        times.append((time.perf_counter() - start) * 1000)
    await a.close()
    await b.close()
    await drainer
    return times


def report(label: str, times: list[float]) -> None:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"{label}: n={len(times)} median={statistics.median(times):.2f} ms p99={p99:.2f} ms")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with servers.database("bench_latency") as name:
        env = servers.server_env(name, CHATTER_RATE_LIMIT_MESSAGES="0")
        info = servers.prepare_chat(env)
        with servers.daphne(env) as port_a, servers.daphne(env) as port_b:
            same = asyncio.run(measure(port_a, port_a, info, count))
            cross = asyncio.run(measure(port_a, port_b, info, count))
    report("one process (baseline)", same)
    report("two processes over Redis", cross)
    print(f"ratio of medians: {statistics.median(cross) / statistics.median(same):.2f}")


if __name__ == "__main__":
    main()
