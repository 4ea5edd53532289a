"""The processes a benchmark step runs: a private Redis, pinned Daphne servers, /proc figures."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"
SERVER_CORE = "0"
LOADGEN_CORE = "1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_fd_limit() -> None:
    """Raise this process's open-file limit to its hard limit (2,000+ sockets)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads) from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_kib(pid: int) -> int:
    """Resident memory of a process in KiB (VmRSS of /proc/<pid>/status)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def core_busy_seconds(core: str) -> float:
    """Time core ``core`` ran anything (user, nice, system, irq, softirq, steal): /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            ticks = [int(x) for x in line.split()[1:9]]
            user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
            return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS
    return 0.0


def backend_cpu(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving ``database`` (named in its title)."""
    needle = f" {database} ".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and needle in title:
            found[int(entry.name)] = cpu_seconds(int(entry.name))
    return found


def wait_port(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


def stop_process(proc: subprocess.Popen) -> None:
    """End a child process: SIGTERM, SIGKILL after 10 s; harmless if it has ended."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class PrivateRedis:
    """``redis-server`` on a port of its own, no persistence, pinned to the load generator's
    core; emptied before every step, stopped at the end. Never the shared server."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def start(self) -> None:
        command = [
            "taskset",
            "-c",
            LOADGEN_CORE,
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=raise_fd_limit
            )
        wait_port(self.port, self.proc, timeout=10)
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while not client.ping():
            if time.monotonic() > deadline:
                raise TimeoutError("redis did not answer")
            time.sleep(0.05)

    def flush(self) -> None:
        redis.Redis(port=self.port).flushall()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_process(proc)

    def __enter__(self) -> PrivateRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Daphne:
    """A Daphne process pinned to the server core, started fresh for each step."""

    def __init__(self, app: str, cwd: Path, env: dict[str, str], log: Path) -> None:
        self.app, self.cwd, self.env, self.log = app, cwd, env, log
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self._log_file = None

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def start(self, timeout: float = 30) -> None:
        command = [
            "taskset",
            "-c",
            SERVER_CORE,
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(self.port),
            self.app,
        ]
        self._log_file = self.log.open("a")
        self.proc = subprocess.Popen(
            command,
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
            preexec_fn=raise_fd_limit,
        )
        try:
            wait_port(self.port, self.proc, timeout)
        except BaseException:
            self.stop()
            raise RuntimeError(f"Daphne did not start: see {self.log}") from None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_process(proc)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
