"""py-spy profiles of the Daphne server while it fans out: one S2 (or S3) step per system.

    python bench/profile.py [--rate 10] [--seconds 6] [--systems a,c,c-pubsub] [--scenario S3]

Runs the S2 step of ``--rate`` sends/s for each system as ``make bench`` does, and
records the first server process with ``py-spy record --nonblocking`` (pinned to the load
generator's core) for ``--seconds`` from the moment the first message is sent. Writes
``bench/results/<date>-profile.md``: per system, where the samples were (by package),
and the functions with the most samples, own and inclusive. The raw stacks stay in the
run's log directory (``py-spy``'s flame graph input).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import harness, procs

PY_SPY = Path(sys.executable).with_name("py-spy")
SAMPLE_RATE = 200
PACKAGES = (
    ("chatter", "chatter/"),
    ("channels_redis", "channels_redis/"),
    ("channels", "channels/"),
    ("redis-py", "redis/"),
    ("django templates", "django/template/"),
    ("django db", "django/db/"),
    ("django (other)", "django/"),
    ("psycopg", "psycopg"),
    ("daphne / autobahn / twisted", ("daphne/", "autobahn/", "twisted/", "txaio/")),
    ("asgiref", "asgiref/"),
    ("msgpack", "msgpack"),
    ("asyncio", "asyncio/"),
)


def package(frame: str) -> str:
    for name, needles in PACKAGES:
        if any(n in frame for n in ((needles,) if isinstance(needles, str) else needles)):
            return name
    return "other"


def function(frame: str) -> str:
    """``name (path.py:line)`` without the line number."""
    return frame.rsplit(":", 1)[0] + ")" if ":" in frame else frame


def summarize(raw: Path, seconds: float, top: int = 12, gil: bool = False) -> list[str]:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if "(" in f]
        if not frames:
            continue
        total += n
        own[function(frames[-1])] += n
        packages[package(frames[-1])] += n
        for name in {function(f) for f in frames}:
            inclusive[name] += n
    if not total:
        return ["(no samples)", ""]
    busy = total / (seconds * SAMPLE_RATE)
    out = [
        f"{total} samples in {seconds:g} s ("
        + (
            f"a thread held the GIL {busy:.0%} of the time)."
            if gil
            else f"the main thread and the database thread were busy {busy:.0%} of the time, "
            "summed)."
        ),
        "",
        "| package (own time) | share |",
        "|---|---|",
    ]
    out += [f"| {name} | {n / total:.0%} |" for name, n in packages.most_common()]
    out += ["", "| function (own time) | share |", "|---|---|"]
    out += [f"| `{name}` | {n / total:.1%} |" for name, n in own.most_common(top)]
    out += ["", "| function (inclusive) | share |", "|---|---|"]
    interesting = [
        (name, n)
        for name, n in inclusive.most_common()
        if not any(x in name for x in ("asyncio/", "twisted/", "<module>", "threading.py"))
    ]
    out += [f"| `{name}` | {n / total:.1%} |" for name, n in interesting[:top]]
    return [*out, ""]


class ProfileBench(harness.Bench):
    """The harness, with py-spy attached to the first server of every step."""

    def __init__(self, seconds: float, gil: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seconds = seconds
        self.gil = gil
        self.recorders: list[threading.Thread] = []
        self.raw: dict[str, Path] = {}
        self.phase: Path | None = None

    def step(
        self,
        scenario: str,
        system: harness.System,
        label: str,
        spec: dict[str, Any],
        servers_count: int = 1,
        offered: float | None = None,
    ) -> dict[str, Any]:
        self.phase = self.logs / f"{system.name}.phase"
        spec["phase_file"] = str(self.phase)
        self.raw[system.name] = self.logs / f"{system.name}-profile.txt"
        result = super().step(scenario, system, label, spec, servers_count, offered)
        for thread in self.recorders:
            thread.join()
        self.recorders.clear()
        return result

    def start_servers(self, system: harness.System, count: int, tag: str) -> list[procs.Daphne]:
        daphnes = super().start_servers(system, count, tag)
        assert self.phase is not None
        thread = threading.Thread(
            target=self.record, args=(daphnes[0].pid, self.phase, self.raw[system.name])
        )
        thread.start()
        self.recorders.append(thread)
        return daphnes

    def record(self, pid: int, phase: Path, out: Path) -> None:
        deadline = time.monotonic() + 120
        while not phase.exists():
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        subprocess.run(
            [
                "taskset",
                "-c",
                procs.LOADGEN_CORE,
                str(PY_SPY),
                "record",
                "--pid",
                str(pid),
                "--duration",
                f"{self.seconds:g}",
                "--rate",
                str(SAMPLE_RATE),
                *(["--gil"] if self.gil else []),
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                str(out),
            ],
            capture_output=True,
            check=False,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--systems", default="a,c,c-pubsub")
    parser.add_argument("--scenario", default="S2", choices=["S2", "S3"])
    parser.add_argument(
        "--gil", action="store_true", help="sample only the thread holding the GIL (CPU work)"
    )
    args = parser.parse_args()
    procs.raise_fd_limit()
    plan = harness.Plan(s2_rates=(args.rate,), budgets=dict.fromkeys(harness.Plan().budgets, 999))
    systems = [s for s in args.systems.split(",") if s]
    bench = ProfileBench(
        args.seconds, args.gil, plan=plan, systems=systems, scenarios=[args.scenario]
    )
    summary = bench.run()
    if args.scenario == "S2":
        what, shape = f"S2 at {args.rate:g} sends/s", "One room of 200 sockets"
    else:
        what = "S3 (chat-shaped)"
        shape = f"{plan.s3_rooms} rooms of {plan.s3_room}, one message per second per room"
    lines = [
        f"# py-spy profiles of the server, {what}, {summary['date']}",
        "",
        f"{shape}; `py-spy record{' --gil' if args.gil else ''} --nonblocking "
        f"--rate {SAMPLE_RATE}` on the "
        f"Daphne process for {args.seconds:g} s from the first send. Own time is where the "
        "samples' innermost frame was. Raw stacks: " + str(bench.logs),
        "",
    ]
    for step in summary["steps"]:
        name = step["system"]
        lines += [f"## {name}: {summary['systems'][name]}", "", harness.progress(step), ""]
        raw = bench.raw.get(name)
        lines += (
            summarize(raw, args.seconds, gil=args.gil)
            if raw and raw.exists()
            else ["(no profile)", ""]
        )
    suffix = "" if args.scenario == "S2" else f"-{args.scenario.lower()}"
    out = harness.RESULTS / f"{datetime.now(UTC):%Y-%m-%d}-profile{suffix}.md"
    out.write_text("\n".join(lines))
    print(out)


if __name__ == "__main__":
    main()
