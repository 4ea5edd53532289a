"""``make bench``: Chatter's consumer against a bare Channels broadcast, scenario by scenario.

    python bench/harness.py [--quick] [--only S2,S6] [--systems a,c,c-pubsub]

Every step gets fresh Daphne processes pinned to core 0 and an emptied private Redis; the
load generator (``bench/loadgen.py``) runs as its own process on core 1. One PostgreSQL
database is made for the run (``tests/servers.py``) and dropped at the end. The figures
go to ``bench/results/<date>-bench.json``; ``bench/report.py`` turns them into the
Markdown report, the plot and the table of ``docs/performance.rst``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import procs
from tests import servers

RESULTS = procs.ROOT / "bench" / "results"
LOADGEN = procs.ROOT / "bench" / "loadgen.py"
CLEAN_P99_MS = 250.0
# the last line of a traceback: "package.module.SomeError: what happened"
EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)\b.*)$", re.M)
# a system's share of a scenario's time budget
WEIGHT = {"a": 1.5}


@dataclass(frozen=True)
class System:
    name: str
    label: str
    protocol: str  # "chatter" or "bare"
    layer: str = "core"


SYSTEMS = {
    "a": System("a", "Chatter (example project, real consumer)", "chatter"),
    "c": System("c", "bare Channels broadcast, RedisChannelLayer", "bare"),
    "c-pubsub": System(
        "c-pubsub", "bare Channels broadcast, RedisPubSubChannelLayer", "bare", "pubsub"
    ),
}


@dataclass
class Plan:
    """Sizes and durations of one run; ``--quick`` shrinks all of them."""

    s1_sockets: int = 2000
    s1_room: int = 10
    s2_room: int = 200
    # 90 is past the steps: where Chatter is clean at 60, it shows the knee
    s2_rates: tuple[float, ...] = (5, 10, 15, 25, 40, 60, 90)
    s2_duration: float = 8
    s3_rooms: int = 100
    s3_room: int = 10
    s3_duration: float = 15
    s4_rates: tuple[float, ...] = (10, 25)
    s5_sockets: int = 200
    s5_rate: float = 5
    s5_pre: float = 3
    s5_after: float = 6
    # the sizes the targets compare (2, 10, 200) first, in case the budget runs out
    s6_sizes: tuple[int, ...] = (2, 10, 200, 50)
    s6_rate: float = 5
    s6_duration: float = 8
    drain: float = 10
    # seconds each (scenario, system) may take; a step that would not fit is skipped
    budgets: dict[str, float] = field(
        default_factory=lambda: {
            "S1": 70,
            "S2": 210,
            "S3": 85,
            "S4": 100,
            "S5": 45,
            "S6": 110,
        }
    )
    deadline: float = 540  # the whole run, setup included

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            s1_sockets=400,
            s2_rates=(5, 25),
            s2_duration=4,
            s3_rooms=20,
            s3_duration=6,
            s4_rates=(10,),
            s5_sockets=50,
            s5_pre=2,
            s5_after=3,
            s6_sizes=(2, 50),
            s6_duration=4,
            drain=6,
            budgets={"S1": 40, "S2": 70, "S3": 40, "S4": 30, "S5": 25, "S6": 40},
            deadline=300,
        )

    @property
    def users(self) -> int:
        return max(self.s1_sockets, self.s3_rooms * self.s3_room, self.s5_sockets + 1, 200)


def clean(step: dict[str, Any]) -> bool:
    """No loss, no duplicate, in order, p99 <= 250 ms."""
    return (
        step.get("expected", 0) > 0
        and step.get("delivered") == step.get("expected")
        and step.get("duplicates") == 0
        and step.get("out_of_order") == 0
        and step.get("p99_ms") is not None
        and step["p99_ms"] <= CLEAN_P99_MS
    )


class Bench:
    def __init__(self, plan: Plan, systems: list[str], scenarios: list[str]) -> None:
        self.plan, self.systems, self.scenarios = plan, systems, scenarios
        self.started = time.monotonic()
        self.loadavg_start = Path("/proc/loadavg").read_text().split()[:3]
        self.logs = Path(tempfile.mkdtemp(prefix="chatter-bench-"))
        self.redis = procs.PrivateRedis(self.logs / "redis.log")
        self.steps: list[dict[str, Any]] = []
        self.rooms: dict[str, list[int]] = {}
        self.data: dict[str, Any] = {}
        self.database = ""
        self.scenario_spent: dict[tuple[str, str], float] = {}

    # -- setup -------------------------------------------------------------------------

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, text: str) -> None:
        print(f"[{self.elapsed():5.0f}s] {text}", flush=True)

    def plan_rooms(self) -> None:
        """Every room a step of system (a) uses, so one process creates them all."""
        p = self.plan
        for r in range(p.s1_sockets // p.s1_room):
            self.rooms[f"S1-{r}"] = list(range(r * p.s1_room, (r + 1) * p.s1_room))
        for rate in p.s2_rates:
            self.rooms[f"S2-{rate:g}"] = list(range(p.s2_room))
        for r in range(p.s3_rooms):
            self.rooms[f"S3-{r}"] = list(range(r * p.s3_room, (r + 1) * p.s3_room))
        for rate in p.s4_rates:
            self.rooms[f"S4-{rate:g}"] = list(range(p.s2_room))
        self.rooms["S5"] = list(range(p.s5_sockets + 1))
        for size in p.s6_sizes:
            self.rooms[f"S6-{size}"] = list(range(size))

    def setup(self) -> None:
        self.plan_rooms()
        env = self.server_env()
        env["DJANGO_SETTINGS_MODULE"] = "settings"
        servers.manage(env, "migrate", "--noinput")
        spec, out = self.logs / "setup.json", self.logs / "data.json"
        spec.write_text(json.dumps({"users": self.plan.users, "rooms": self.rooms}))
        subprocess.run(
            [sys.executable, "-m", "bench.setup_data", str(spec), str(out)],
            cwd=servers.EXAMPLE,
            env=env,
            check=True,
            timeout=300,
        )
        self.data = json.loads(out.read_text())
        self.say(
            f"setup: {self.plan.users} users with sessions, {len(self.rooms)} rooms "
            f"in {self.data['seconds']:.1f} s (database {self.database})"
        )

    def server_env(self) -> dict[str, str]:
        return servers.server_env(
            self.database,
            redis_url=self.redis.url,
            CHATTER_RATE_LIMIT_MESSAGES="0",
            CHATTER_MAX_SOCKETS_PER_USER="1000",
        )

    # -- one step ------------------------------------------------------------------------

    def start_servers(self, system: System, count: int, tag: str) -> list[procs.Daphne]:
        started = []
        for i in range(count):
            log = self.logs / f"{tag}-daphne{i}.log"
            if system.protocol == "chatter":
                env = dict(self.server_env(), DJANGO_SETTINGS_MODULE="bench.chatter_settings")
                server = procs.Daphne("asgi:application", servers.EXAMPLE, env, log)
            else:
                env = {k: v for k, v in os.environ.items() if not k.startswith("CHATTER_")}
                env.update(
                    PYTHONPATH=str(procs.ROOT),
                    DJANGO_SETTINGS_MODULE="bench.bare.settings",
                    BENCH_REDIS_URL=self.redis.url,
                    BENCH_LAYER=system.layer,
                )
                server = procs.Daphne("bench.bare.asgi:application", procs.ROOT, env, log)
            server.start()
            started.append(server)
        return started

    def sockets(self, system: System, room: str, users: list[int], **extra: Any) -> list[dict]:
        """One socket per user of ``room`` (a Chatter room id, or a bare group label)."""
        if system.protocol == "chatter":
            room_id, cookies = self.data["rooms"][room], self.data["cookies"]
            return [{"room": room_id, "cookie": cookies[u], **extra} for u in users]
        return [{"room": room.replace(".", "_"), **extra} for _ in users]

    def step(
        self,
        scenario: str,
        system: System,
        label: str,
        spec: dict[str, Any],
        servers_count: int = 1,
        offered: float | None = None,
    ) -> dict[str, Any]:
        base = f"{scenario}-{system.name}-{label}".replace("/", "").replace(" ", "")
        tag, attempt = base, 1
        while (self.logs / f"{tag}.json").exists():  # a step run again gets logs of its own
            attempt += 1
            tag = f"{base}-{attempt}"
        began = time.monotonic()
        load = float(Path("/proc/loadavg").read_text().split()[0])
        self.redis.flush()
        daphnes = self.start_servers(system, servers_count, tag)
        result: dict[str, Any] = {
            "scenario": scenario,
            "system": system.name,
            "step": label,
            "offered": offered,
            "servers": servers_count,
            "loadavg_1min": load,  # the machine is shared: what else ran
        }
        try:
            spec.update(
                protocol=system.protocol,
                servers=[{"port": d.port, "pid": d.pid} for d in daphnes],
                stats=system.protocol == "chatter",
                redis_pid=self.redis.pid,
                database=self.database if system.protocol == "chatter" else "",
                seed=hash(tag) & 0xFFFF,
            )
            spec.setdefault("drain", self.plan.drain)
            spec.setdefault("connect_timeout", 40)
            spec_path = self.logs / f"{tag}.json"
            spec_path.write_text(json.dumps(spec))
            done = subprocess.run(
                ["taskset", "-c", procs.LOADGEN_CORE, sys.executable, str(LOADGEN), str(spec_path)],
                capture_output=True,
                text=True,
                timeout=240,
            )
            if done.returncode:
                result["error"] = f"load generator failed: {done.stderr.strip()[-600:]}"
            else:
                result.update(json.loads(done.stdout.strip().splitlines()[-1]))
        except subprocess.TimeoutExpired:
            result["error"] = "load generator timed out"
        finally:
            rss = [procs.rss_kib(d.pid) for d in daphnes]
            # what the servers logged while serving; shutdown noise (instances killed at
            # SIGTERM) is not the step's
            logged = [d.log.stat().st_size if d.log.exists() else 0 for d in daphnes]
            for d in daphnes:
                d.stop()
        result["server_rss_mib_end"] = sum(rss) / 1024
        result.update(self.server_errors(daphnes, logged))
        result["clean"] = clean(result) and not result.get("behind")
        result["step_s"] = time.monotonic() - began
        self.steps.append(result)
        self.say(progress(result))
        return result

    def server_errors(self, daphnes: list[procs.Daphne], sizes: list[int]) -> dict[str, Any]:
        """Tracebacks in the first ``sizes`` bytes of the servers' logs, and the first's
        exception line."""
        text = "\n".join(
            d.log.read_bytes()[:size].decode(errors="replace")
            for d, size in zip(daphnes, sizes, strict=True)
            if d.log.exists()
        )
        count = text.count("Traceback (most recent call last)")
        first = EXCEPTION_LINE.search(text) if count else None
        return {"tracebacks": count, "first_error": first.group(1)[:200] if first else ""}

    # -- budgets -------------------------------------------------------------------------

    def fits(self, scenario: str, system: str, estimate: float) -> bool:
        """Whether a step of ``estimate`` seconds fits ``system``'s share of the scenario's
        budget: what the systems before it left, weighted among it and those after it."""
        order = self.systems_for(scenario)
        before, after = order[: order.index(system)], order[order.index(system) :]
        left = self.plan.budgets[scenario] - sum(
            self.scenario_spent.get((scenario, s), 0.0) for s in before
        )
        share = left * WEIGHT.get(system, 1.0) / sum(WEIGHT.get(s, 1.0) for s in after)
        spent = self.scenario_spent.get((scenario, system), 0.0)
        return spent + estimate <= share and self.elapsed() + estimate <= self.plan.deadline

    def systems_for(self, scenario: str) -> list[str]:
        if scenario == "S5":  # the bare broadcast has no history to resume from
            return [s for s in self.systems if SYSTEMS[s].protocol == "chatter"]
        if scenario == "S6":
            return [s for s in self.systems if s != "c-pubsub"] or self.systems
        return self.systems

    def run_steps(
        self, scenario: str, system: System, steps: list[tuple[str, float | None, Callable]]
    ) -> None:
        """Run ``steps`` (label, offered, thunk) within the budget; S2 stops two past the knee."""
        estimate = 0.0  # the first step of each system always runs (within the deadline)
        misses = 0
        for label, offered, thunk in steps:
            if not self.fits(scenario, system.name, estimate):
                self.skip(scenario, system, label, offered, "time budget")
                continue
            if scenario == "S2" and misses >= 2:
                self.skip(scenario, system, label, offered, "two steps past the knee")
                continue
            result = self.timed(scenario, system, thunk)
            estimate = result["step_s"]
            if result.get("behind") and self.fits(scenario, system.name, estimate):
                result["retried"] = True  # flagged: once more, if the budget allows
                result = self.timed(scenario, system, thunk)
            if not result.get("behind") and not result["clean"]:
                misses += 1

    def timed(self, scenario: str, system: System, thunk: Callable) -> dict[str, Any]:
        result = thunk()
        key = (scenario, system.name)
        self.scenario_spent[key] = self.scenario_spent.get(key, 0.0) + result["step_s"]
        return result

    def skip(
        self, scenario: str, system: System, label: str, offered: float | None, why: str
    ) -> None:
        self.steps.append(
            {
                "scenario": scenario,
                "system": system.name,
                "step": label,
                "offered": offered,
                "skipped": why,
            }
        )
        self.say(f"{scenario} {system.name:8} {label:>8}  skipped: {why}")

    # -- scenarios -----------------------------------------------------------------------

    def s1(self, system: System) -> None:
        p = self.plan
        socks: list[dict] = []
        for r in range(p.s1_sockets // p.s1_room):
            users = self.rooms[f"S1-{r}"]
            socks += self.sockets(system, f"S1-{r}", users, visible=True)
        spec = {"mode": "connections", "sockets": socks, "hold": 3, "connect_timeout": 60}
        label = f"{len(socks)}"
        self.run_steps(
            "S1", system, [(label, None, lambda: self.step("S1", system, label, dict(spec)))]
        )

    def s2(self, system: System, scenario: str = "S2", rates: tuple = (), servers_count: int = 1):
        p = self.plan
        steps = []
        for rate in rates or p.s2_rates:
            room = f"{scenario}-{rate:g}"
            socks = self.sockets(system, room, self.rooms[room], visible=True)
            for i, sock in enumerate(socks):
                sock["server"] = i % servers_count
            spec = {
                "mode": "fanout",
                "sockets": socks,
                "senders": [{"socket": 0, "rate": rate}],
                "duration": p.s2_duration,
            }
            label = f"{rate:g}/s"
            steps.append(
                (
                    label,
                    rate,
                    lambda s=spec, lb=label, r=rate: self.step(
                        scenario, system, lb, dict(s), servers_count, r
                    ),
                )
            )
        self.run_steps(scenario, system, steps)

    def s3(self, system: System) -> None:
        p = self.plan
        socks, senders = [], []
        rng = random.Random(3)
        for r in range(p.s3_rooms):
            senders.append({"socket": len(socks), "rate": 1.0, "start": rng.random()})
            socks += self.sockets(system, f"S3-{r}", self.rooms[f"S3-{r}"], visible=True)
        spec = {"mode": "fanout", "sockets": socks, "senders": senders, "duration": p.s3_duration}
        label = f"{p.s3_rooms}x{p.s3_room}"
        offered = float(p.s3_rooms)
        self.run_steps(
            "S3",
            system,
            [(label, offered, lambda: self.step("S3", system, label, spec, 1, offered))],
        )

    def s4(self, system: System) -> None:
        self.s2(system, "S4", self.plan.s4_rates, servers_count=2)

    def s5(self, system: System) -> None:
        p = self.plan
        socks = self.sockets(system, "S5", self.rooms["S5"], visible=True)
        spec = {
            "mode": "storm",
            "sockets": socks,
            "senders": [{"socket": 0, "rate": p.s5_rate}],
            "storm": {
                "sockets": list(range(1, len(socks))),
                "pre": p.s5_pre,
                "gap": 0.5,
                "after": p.s5_after,
            },
        }
        label = f"{p.s5_sockets} sockets"
        self.run_steps(
            "S5",
            system,
            [(label, p.s5_rate, lambda: self.step("S5", system, label, spec, 1, p.s5_rate))],
        )

    def s6(self, system: System) -> None:
        p = self.plan
        steps = []
        for size in p.s6_sizes:
            room = f"S6-{size}"
            # hidden tabs just opened: no `read` (chatter.js reads only when visible) and
            # the first ping 20 s after load, so the count is the send path's alone
            spec = {
                "mode": "fanout",
                "sockets": self.sockets(system, room, self.rooms[room], visible=False),
                "senders": [{"socket": 0, "rate": p.s6_rate}],
                "duration": p.s6_duration,
                "ping": "fresh",
                # the arrivals of the connects are written and announced paced (once a
                # second): wait them out, so that they are not counted as the send's
                "quiet": 2.5,
            }
            label = f"room {size}"
            steps.append(
                (
                    label,
                    float(size),
                    lambda s=spec, lb=label, z=size: self.step(
                        "S6", system, lb, dict(s), 1, float(z)
                    ),
                )
            )
        self.run_steps("S6", system, steps)

    # -- the run -------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        runners = {
            "S1": self.s1,
            "S2": self.s2,
            "S3": self.s3,
            "S4": self.s4,
            "S5": self.s5,
            "S6": self.s6,
        }
        with self.redis, servers.database("bench") as name:
            self.database = name
            self.say(f"private Redis on port {self.redis.port}, logs in {self.logs}")
            self.setup()
            for scenario in self.scenarios:
                for system_name in self.systems_for(scenario):
                    runners[scenario](SYSTEMS[system_name])
        return self.summary()

    def summary(self) -> dict[str, Any]:
        best: dict[str, float | None] = {}
        for name in self.systems:
            rates = [
                s["offered"]
                for s in self.steps
                if s["scenario"] == "S2" and s["system"] == name and s.get("clean")
            ]
            best[name] = max(rates) if rates else None
        a, c = best.get("a"), best.get("c")
        ratio = None
        if c:
            ratio = (a or 0) / c
        return {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "quick": self.plan.s1_sockets < 2000,
            "duration_s": round(self.elapsed(), 1),
            "s2_clean_ratio": ratio,
            "s2_highest_clean": best,
            "systems": {k: SYSTEMS[k].label for k in self.systems},
            "machine": machine(),
            "loadavg_start": self.loadavg_start,
            "loadavg_end": Path("/proc/loadavg").read_text().split()[:3],
            "plan": {k: v for k, v in vars(self.plan).items() if k != "budgets"},
            "budgets": self.plan.budgets,
            "steps": self.steps,
        }


def progress(r: dict[str, Any]) -> str:
    head = f"{r['scenario']} {r['system']:8} {r['step']:>8}"
    if r.get("error"):
        return f"{head}  ERROR {r['error']}"

    def ms(key: str) -> str:
        return "-" if r.get(key) is None else f"{r[key]:.0f}"

    if r["scenario"] == "S1":
        return (
            f"{head}  connected {r.get('connected')}/{r.get('sockets')} in "
            f"{r.get('connect_s', 0):.1f} s ({r.get('handshake_rate') or 0:.0f}/s, "
            f"p99 {ms('handshake_p99_ms')} ms)  {r.get('kib_per_socket') or 0:.0f} KiB/socket"
            f"  tracebacks {r.get('tracebacks', 0)}"
        )
    share = r.get("delivered_share")
    text = (
        f"{head}  delivered {share * 100 if share is not None else 0:.1f}% "
        f"({r.get('delivered')}/{r.get('expected')}) dup {r.get('duplicates')} "
        f"ooo {r.get('out_of_order')}  p50/p99/max {ms('p50_ms')}/{ms('p99_ms')}/{ms('max_ms')} ms"
        f"  cpu/1k {r['cpu_per_1000'] if r.get('cpu_per_1000') is not None else float('nan'):.2f} s"
    )
    if r.get("statements_per_message") is not None:
        text += f"  stmts/msg {r['statements_per_message']:.1f}"
    if r["scenario"] == "S5":
        done = r.get("storm_complete_s")
        text += (
            f"  complete {r.get('storm_complete')}/{r.get('storm_sockets')}"
            f" in {'-' if done is None else f'{done:.1f}'} s,"
            f" extra frames max {r.get('storm_extra_frames_max') or 0:.0f}"
        )
    if r.get("connected") != r.get("sockets"):
        text += f"  connected {r.get('connected')}/{r.get('sockets')}"
    if r.get("tracebacks"):
        text += f"  tracebacks {r['tracebacks']} ({r.get('first_error')})"
    if r.get("behind"):
        text += f"  FLAGGED, not counted ({r['behind']})"
    elif r["scenario"] in ("S2", "S4"):
        text += "  clean" if r["clean"] else "  not clean"
    return text


def machine() -> dict[str, Any]:
    """CPU, versions of the stack, and what else was running (the noise of a shared host)."""
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    versions = {"python": platform.python_version()}
    from importlib.metadata import version

    for dist in ("django", "channels", "channels-redis", "daphne", "redis", "websockets"):
        versions[dist] = version(dist)
    redis_server = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
    versions["redis-server"] = redis_server.stdout.split()[2].removeprefix("v=")
    try:
        import psycopg

        with psycopg.connect(servers.PG_ADMIN) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            versions["postgresql"] = row[0] if row else "?"
    except Exception:
        versions["postgresql"] = "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "versions": versions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short steps")
    parser.add_argument("--only", default="", help="scenarios, e.g. S2,S6 (default: all)")
    parser.add_argument("--systems", default="a,c,c-pubsub", help="systems to run")
    parser.add_argument("--out", default=str(RESULTS), help="where the JSON goes")
    parser.add_argument("--no-report", action="store_true", help="skip the report and plot")
    args = parser.parse_args()
    missing = [tool for tool in ("redis-server", "taskset") if shutil.which(tool) is None]
    if missing:
        parser.error(f"{' and '.join(missing)} not found: install them (DEVELOPERS.md)")
    procs.raise_fd_limit()
    plan = Plan.quick() if args.quick else Plan()
    scenarios = [s.strip().upper() for s in args.only.split(",") if s.strip()] or [
        "S1",
        "S2",
        "S3",
        "S4",
        "S5",
        "S6",
    ]
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        parser.error(f"unknown systems {unknown}; choose from {sorted(SYSTEMS)}")
    bench = Bench(plan, systems, scenarios)
    summary = bench.run()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    path = out / f"{stamp}-bench{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(summary, indent=1) + "\n")
    bench.say(f"figures in {path}; s2_clean_ratio = {summary['s2_clean_ratio']}")
    if not args.no_report:
        from bench import report

        for written in report.write(path):
            bench.say(f"wrote {written}")


if __name__ == "__main__":
    main()
