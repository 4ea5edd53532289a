"""The report of a run: Markdown and a plot beside its JSON, and the docs' table.

    python bench/report.py bench/results/<date>-bench.json

Writes ``<same name>.md`` and ``<same name>.png``; for a full (not ``--quick``) run also
``docs/performance_results.inc`` (included by ``docs/performance.rst``) and
``docs/_static/performance.png``. Every figure comes from the JSON; nothing is typed in.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SYMBOLS = {"pass": "pass", "miss": "MISS", "n/a": "n/a"}


# -- reading the figures -------------------------------------------------------------------


def steps(summary: dict, scenario: str, system: str | None = None) -> list[dict]:
    return [
        s
        for s in summary["steps"]
        if s["scenario"] == scenario and (system is None or s["system"] == system)
    ]


def counted(items: Iterable[dict]) -> list[dict]:
    """Steps that ran, without error, with the load generator keeping up."""
    return [s for s in items if not s.get("skipped") and not s.get("error") and not s.get("behind")]


def num(value: Any, fmt: str = ".0f", none: str = "-") -> str:
    return none if value is None else format(value, fmt)


def pct(step: dict) -> str:
    share = step.get("delivered_share")
    return "-" if share is None else f"{share * 100:.1f}%"


def status(step: dict) -> str:
    if step.get("skipped"):
        return f"skipped ({step['skipped']})"
    if step.get("error"):
        return f"error: {step['error'][:80]}"
    if step.get("behind"):
        retried = ", run again" if step.get("retried") else ""
        return f"FLAGGED, not counted ({step['behind']}){retried}"
    notes = []
    if step["scenario"] in ("S2", "S4"):
        notes.append("clean" if step.get("clean") else "not clean")
    if step.get("connected") is not None and step.get("connected") != step.get("sockets"):
        notes.append(f"{step['connected']}/{step['sockets']} sockets opened")
    if step.get("closes"):
        notes.append(
            "closed by server: " + ", ".join(f"{k}x{v}" for k, v in step["closes"].items())
        )
    if step.get("tracebacks"):
        notes.append(f"{step['tracebacks']} tracebacks ({step.get('first_error', '')})")
    return "; ".join(notes)


def frames(step: dict, key: str = "frames_per_socket", limit: int = 4) -> str:
    kinds = step.get(key) or {}
    return ", ".join(f"{k} {v:.1f}" for k, v in list(kinds.items())[:limit]) or "-"


# -- targets -----------------------------------------------------------------------------


def highest_clean_step(summary: dict, system: str) -> dict | None:
    clean = [s for s in counted(steps(summary, "S2", system)) if s.get("clean")]
    return max(clean, key=lambda s: s["offered"]) if clean else None


def s2_cpu_step(summary: dict, system: str) -> dict | None:
    """The S2 step whose CPU per 1,000 deliveries is judged: the highest clean one, else
    the lowest counted one."""
    best = highest_clean_step(summary, system)
    if best is not None:
        return best
    ran = [s for s in counted(steps(summary, "S2", system)) if s.get("cpu_per_1000") is not None]
    return min(ran, key=lambda s: s["offered"]) if ran else None


def by_size(summary: dict, system: str) -> dict[int, dict]:
    return {int(s["offered"]): s for s in counted(steps(summary, "S6", system))}


def targets(summary: dict, system: str = "a") -> list[dict[str, str]]:
    """The targets of issue 8, each with what was measured and pass / miss / n/a."""
    rows = []

    def add(name: str, goal: str, measured: str, ok: bool | None) -> None:
        verdict = "n/a" if ok is None else ("pass" if ok else "miss")
        rows.append({"target": name, "goal": goal, "measured": measured, "status": verdict})

    best = summary["s2_highest_clean"]
    mine, bare = best.get(system), best.get("c")
    ratio = (mine or 0) / bare if bare else None
    add(
        "S2 highest clean step vs bare (c)",
        ">= 3x",
        f"{num(mine, 'g')} / {num(bare, 'g')} sends/s = {num(ratio, '.2f')}x",
        None if ratio is None else ratio >= 3,
    )
    step = s2_cpu_step(summary, system)
    cpu = step.get("cpu_per_1000") if step else None
    where = f" (at {step['offered']:g}/s)" if step else ""
    add(
        "S2 server CPU per 1,000 deliveries",
        "<= 0.15 s",
        f"{num(cpu, '.3f')} s{where}",
        None if cpu is None else cpu <= 0.15,
    )
    sizes = by_size(summary, system)
    lossy = [
        f"room of {size} delivered {pct(sizes[size])}"
        for size in (2, 10, 200)
        if size in sizes and sizes[size].get("delivered") != sizes[size].get("expected")
    ]
    lost = f" ({'; '.join(lossy)})" if lossy else ""
    c10 = sizes.get(10, {}).get("cpu_per_1000")
    c200 = sizes.get(200, {}).get("cpu_per_1000")
    add(
        "S6 CPU per 1,000 deliveries, room of 200 vs 10",
        "200 <= 10, nothing lost",
        f"{num(c200, '.3f')} s vs {num(c10, '.3f')} s{lost}",
        None if c10 is None or c200 is None else c200 <= c10 and not lossy,
    )
    q2 = sizes.get(2, {}).get("statements_per_message")
    q200 = sizes.get(200, {}).get("statements_per_message")
    add(
        "S6 statements per sent message, room of 2 vs 200",
        "equal",
        f"{num(q2, '.1f')} vs {num(q200, '.1f')}{lost}",
        None if q2 is None or q200 is None else round(q2, 1) == round(q200, 1) and not lossy,
    )
    storm = counted(steps(summary, "S5", system))
    ran = [s for s in steps(summary, "S5", system) if not s.get("skipped")]
    if not storm and ran:
        s = ran[-1]
        add(
            "S5 every socket complete",
            "<= 10 s",
            f"{s.get('storm_complete')}/{s.get('storm_sockets')} sockets; {status(s)}",
            None,
        )
    elif storm:
        s = storm[0]
        done, extra = s.get("storm_complete_s"), s.get("storm_extra_frames_max")
        add(
            "S5 every socket complete",
            "<= 10 s",
            f"{s.get('storm_complete')}/{s.get('storm_sockets')} sockets, last at "
            f"{num(done, '.1f')} s",
            done is not None and done <= 10,
        )
        add(
            "S5 frames per socket besides missed messages",
            "<= 5",
            f"max {num(extra, '.1f')} (raw {num(s.get('storm_other_frames_max'))})",
            None if extra is None else extra <= 5,
        )
    else:
        add("S5 every socket complete", "<= 10 s", "not run", None)
    knee = highest_clean_step(summary, system)
    above = [
        s
        for s in counted(steps(summary, "S2", system))
        if knee is None or s["offered"] > knee["offered"]
    ]
    exact = [
        s
        for s in above
        if s.get("delivered") == s.get("expected")
        and not s.get("duplicates")
        and not s.get("out_of_order")
    ]
    add(
        "Above the knee: every message exactly once, in order",
        "all steps",
        f"{len(exact)} of {len(above)} steps above the knee",
        None if not above else len(exact) == len(above),
    )
    s1 = counted(steps(summary, "S1", system))
    if s1:
        s = s1[0]
        kib = s.get("kib_per_socket")
        add(
            f"S1 {s['sockets']} idle sockets in one process",
            "<= 100 KiB each",
            f"{s.get('connected')} open, {num(kib, '.0f')} KiB each",
            kib is not None and kib <= 100 and s.get("connected") == s.get("sockets"),
        )
    return rows


# -- Markdown ----------------------------------------------------------------------------


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows]
    return [*out, ""]


DELIVERY_HEADER = [
    "system",
    "step",
    "delivered",
    "dup",
    "out of order",
    "p50 / p99 / max ms",
    "CPU s / 1k deliveries",
    "Redis CPU s / 1k",
    "PostgreSQL CPU s / 1k",
    "KiB / socket",
    "stmts / msg",
    "status",
]


def delivery_row(s: dict) -> list[str]:
    if s.get("skipped") or s.get("error"):
        return [s["system"], s["step"], *["-"] * 9, status(s)]
    return [
        s["system"],
        s["step"],
        f"{pct(s)} ({s.get('delivered')}/{s.get('expected')})",
        num(s.get("duplicates")),
        num(s.get("out_of_order")),
        f"{num(s.get('p50_ms'))} / {num(s.get('p99_ms'))} / {num(s.get('max_ms'))}",
        num(s.get("cpu_per_1000"), ".3f"),
        num(s.get("redis_cpu_per_1000"), ".3f"),
        num(s.get("postgres_cpu_per_1000"), ".3f"),
        num(s.get("kib_per_socket")) if (s.get("sockets") or 0) >= 100 else "-",
        num(s.get("statements_per_message"), ".1f"),
        status(s),
    ]


def markdown(summary: dict, plot_name: str) -> str:
    m = summary["machine"]
    v = m["versions"]
    load_start = summary["loadavg_start"]
    lines = [
        f"# Chatter benchmark, {summary['date']}" + (" (quick)" if summary["quick"] else ""),
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores; load average {' '.join(load_start)} at the"
        f" start, {' '.join(summary['loadavg_end'])} at the end"
        " (the machine is shared: other work adds noise, so read ratios and counts of one run,"
        " not absolute times).",
        f"Python {v['python']}, Django {v['django']}, channels {v['channels']}, channels-redis "
        f"{v['channels-redis']}, daphne {v['daphne']}, redis-py {v['redis']}, websockets "
        f"{v['websockets']}, Redis server {v['redis-server']}, PostgreSQL {v['postgresql']}.",
        f"Run took {summary['duration_s']:.0f} s. Servers pinned to core 0, load generator and the "
        "private Redis to core 1; a fresh server and an emptied Redis for every step.",
        "",
        "Systems: " + "; ".join(f"**{k}**: {label}" for k, label in summary["systems"].items()),
        "",
        f"**s2_clean_ratio = {num(summary['s2_clean_ratio'], '.2f')}** (highest clean S2 step: "
        + ", ".join(f"{k} {num(x, 'g')}/s" for k, x in summary["s2_highest_clean"].items())
        + "; clean = every message once and in order, p99 <= 250 ms)",
        "",
        "## Targets (Chatter, system a)",
        "",
    ]
    lines += md_table(
        ["target", "goal", "measured", "result"],
        [[t["target"], t["goal"], t["measured"], SYMBOLS[t["status"]]] for t in targets(summary)],
    )
    if "c-pubsub" in summary["systems"]:
        lines += [
            "Would the maintained pub/sub layer meet them? (bare consumer, system c-pubsub)",
            "",
        ]
        rows = [t for t in targets(summary, "c-pubsub") if t["target"].startswith("S2")]
        lines += md_table(
            ["target", "goal", "measured", "result"],
            [[t["target"], t["goal"], t["measured"], SYMBOLS[t["status"]]] for t in rows],
        )
    lines += [f"![p99 latency and delivered share against offered load]({plot_name})", ""]
    lines += ["## S2 fan-out: one room of 200, one sender, open-loop steps", ""]
    lines += md_table(DELIVERY_HEADER, [delivery_row(s) for s in steps(summary, "S2")])
    lines += ["## S4 scale-out: S2's room across two Daphne processes (both on core 0)", ""]
    lines += md_table(DELIVERY_HEADER, [delivery_row(s) for s in steps(summary, "S4")])
    lines += ["## S3 chat-shaped: rooms of 10, one message per second per room", ""]
    lines += md_table(DELIVERY_HEADER, [delivery_row(s) for s in steps(summary, "S3")])
    lines += ["## S6 room size: one room, the same message rate, hidden tabs", ""]
    by_room = sorted(steps(summary, "S6"), key=lambda s: (s["system"], s["offered"] or 0))
    lines += md_table(DELIVERY_HEADER, [delivery_row(s) for s in by_room])
    lines += ["## S1 connections: idle sockets in one process", ""]
    lines += md_table(
        [
            "system",
            "sockets",
            "opened",
            "handshakes / s",
            "handshake p50 / p99 ms",
            "CPU ms / connect",
            "KiB / socket",
            "open after 3 s idle",
            "stmts / connect",
            "status",
        ],
        [
            [
                s["system"],
                s["step"],
                num(s.get("connected")),
                num(s.get("handshake_rate")),
                f"{num(s.get('handshake_p50_ms'))} / {num(s.get('handshake_p99_ms'))}",
                num(s.get("connect_cpu_ms_per_socket"), ".1f"),
                num(s.get("kib_per_socket")),
                num(s.get("open_after_hold")),
                num(s.get("statements_per_connect"), ".1f"),
                status(s),
            ]
            for s in steps(summary, "S1")
        ],
    )
    lines += ["## S5 reconnect storm", ""]
    lines += md_table(
        [
            "system",
            "step",
            "complete",
            "last complete after",
            "frames / socket besides messages (max, after the steady per-message share)",
            "raw max",
            "delivered",
            "p99 ms",
            "frames after reconnect, per socket",
            "status",
        ],
        [
            [
                s["system"],
                s["step"],
                f"{s.get('storm_complete')}/{s.get('storm_sockets')}",
                f"{num(s.get('storm_complete_s'), '.1f')} s",
                num(s.get("storm_extra_frames_max"), ".1f"),
                num(s.get("storm_other_frames_max")),
                pct(s),
                num(s.get("p99_ms")),
                frames(s, "storm_frames_per_socket", 6),
                status(s),
            ]
            for s in counted(steps(summary, "S5"))
        ],
    )
    lines += ["## What Chatter's sockets received and sent (system a)", ""]
    lines += md_table(
        [
            "scenario",
            "step",
            "frames per socket in the measured phase",
            "client frames sent",
            "statements by shape (top 5)",
        ],
        [
            [
                s["scenario"],
                s["step"],
                frames(s, limit=6),
                ", ".join(f"{k} {v}" for k, v in (s.get("client_frames") or {}).items()) or "-",
                ", ".join(
                    f"{k} {v}" for k, v in list((s.get("statements_by_shape") or {}).items())[:5]
                )
                or "-",
            ]
            for s in summary["steps"]
            if s["system"] == "a"
            and not s.get("skipped")
            and not s.get("error")
            and s["scenario"] != "S1"
        ],
    )
    odd = [(s, x) for s in summary["steps"] for x in s.get("anomalies") or []]
    if odd:
        lines += [
            "## Duplicates and reorderings: the first examples",
            "",
            "How each copy came: (sequence, messages in its frame, opens of the socket so far); "
            "a frame of several messages is a resume or gap answer.",
            "",
        ]
        lines += md_table(
            [
                "scenario",
                "system",
                "step",
                "kind",
                "socket",
                "message",
                "earlier copy",
                "this copy",
            ],
            [
                [
                    s["scenario"],
                    s["system"],
                    s["step"],
                    x["kind"],
                    str(x["socket"]),
                    x["message"],
                    str(x["earlier (seq, messages in frame, socket opens)"]),
                    str(x["this (seq, messages in frame, socket opens)"]),
                ]
                for s, x in odd[:30]
            ],
        )
    lines += [
        "## How to read this",
        "",
        "- *delivered* counts each message once per receiving socket (the sender's own socket "
        "included); *expected* = messages offered x sockets of the room. Messages that a closed "
        "socket could not send are offered and count as lost.",
        "- *CPU s / 1k deliveries*: utime+stime of the Daphne process(es) from /proc, from the "
        "first send to the end of the drain, per 1,000 delivered messages.",
        "- *KiB / socket*: growth of the server's RSS from fresh to all sockets open, per socket.",
        "- *stmts / msg*: SQL statements the server ran in the measured phase (counted by "
        "`bench/statements.py`) per sent message; S6 uses hidden tabs (no `read`), so its count "
        "is the send path's.",
        "- A step is FLAGGED and not counted (and run once more if the budget allows) when the "
        "load generator fell behind (its own CPU above 90%, or its send schedule late by more "
        "than 100 ms at p99) or when other processes of this shared machine took more than 20% "
        "of the server core (core 0's busy time from /proc/stat minus the server's and its "
        "PostgreSQL backends').",
        "- S2 stops for a system after two counted steps that are not clean; steps that would "
        "overrun the scenario's time budget are skipped and listed.",
        "",
    ]
    profile = Path(summary.get("profile_file") or "")
    if profile.is_file():
        lines += ["## Profile", "", profile.read_text(), ""]
    # The message search figures of the same day (bench/search.py), when there are some.
    name = f"{summary['date'][:10]}-search{'-quick' if summary['quick'] else ''}.md"
    search = ROOT / "bench" / "results" / name
    if search.is_file():
        lines += [
            search.read_text().replace(
                "## Message search", "## Message search (bench/search.py)", 1
            ),
            "",
        ]
    return "\n".join(lines)


# -- the plot ------------------------------------------------------------------------------


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    colors = dict(zip(summary["systems"], ["C0", "C1", "C2", "C3", "C4"], strict=False))
    for scenario, style in (("S2", "-o"), ("S4", "--s")):
        for system in summary["systems"]:
            ran = [s for s in steps(summary, scenario, system) if s.get("p99_ms") is not None]
            if not ran:
                continue
            label = f"{system} ({scenario}{', 2 processes' if scenario == 'S4' else ''})"
            x = [s["offered"] for s in ran]
            color = colors[system]
            top.plot(x, [s["p99_ms"] for s in ran], style, color=color, label=label)
            bottom.plot(x, [s["delivered_share"] * 100 for s in ran], style, color=color)
            flagged = [s for s in ran if s.get("behind")]
            if flagged:
                top.plot([s["offered"] for s in flagged], [s["p99_ms"] for s in flagged], "kx")
    top.axhline(250, color="grey", linewidth=0.8, linestyle=":")
    top.set_yscale("log")
    top.set_ylabel("p99 latency (ms, log)")
    top.set_title("One room of 200 sockets, one sender (x: flagged step)")
    if top.get_legend_handles_labels()[0]:
        top.legend(fontsize=8)
    bottom.set_ylabel("delivered (% of expected)")
    bottom.set_xlabel("offered load (sends per second)")
    bottom.set_ylim(0, 105)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -- the docs' table -------------------------------------------------------------------------


def rst_cell(value: object) -> str:
    """A list-table cell: a leading "-" would start a bullet list, "*" emphasis."""
    text = str(value).replace("*", "\\*")
    return "\\" + text if text.startswith("-") else text or "\\ "


def rst_list_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        out.append("   * - " + rst_cell(row[0]))
        out += ["     - " + rst_cell(c) for c in row[1:]]
    return [*out, ""]


def rst(summary: dict) -> str:
    lines = [
        ".. This file is written by bench/report.py from the JSON of a full run; do not edit.",
        "",
        f"Run of {summary['date']} on {summary['machine']['cpu']} ({summary['duration_s']:.0f} s);"
        f" ``s2_clean_ratio`` = **{num(summary['s2_clean_ratio'], '.2f')}**.",
        "",
    ]
    lines += rst_list_table(
        ["target", "goal", "measured", "result"],
        [[t["target"], t["goal"], t["measured"], t["status"]] for t in targets(summary)],
    )
    lines += ["S2, one room of 200 sockets:", ""]
    header = ["system", "sends/s", "delivered", "p50 / p99 ms", "CPU s / 1k", "status"]
    rows = [
        [
            s["system"],
            s["step"],
            pct(s),
            f"{num(s.get('p50_ms'))} / {num(s.get('p99_ms'))}",
            num(s.get("cpu_per_1000"), ".3f"),
            status(s),
        ]
        for s in steps(summary, "S2")
    ]
    lines += rst_list_table(header, rows)
    return "\n".join(lines)


def write(json_path: Path) -> list[Path]:
    summary = json.loads(Path(json_path).read_text())
    md_path = json_path.with_suffix(".md")
    png_path = json_path.with_suffix(".png")
    plot(summary, png_path)
    md_path.write_text(markdown(summary, png_path.name))
    written = [md_path, png_path]
    if not summary["quick"] and json_path.resolve().parent == (ROOT / "bench" / "results"):
        inc = DOCS / "performance_results.inc"
        inc.write_text(rst(summary))
        static = DOCS / "_static" / "performance.png"
        shutil.copyfile(png_path, static)
        written += [inc, static]
    return written


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        for path in write(Path(arg)):
            print(path)
