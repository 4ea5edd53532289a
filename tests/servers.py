"""Real servers for tests and benchmarks: a fresh PostgreSQL database and Daphne processes."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"
# Where the tests' servers are; each comes from the environment, so two checkouts can
# test on one machine (``make test`` passes them on; see the Makefile).
PG_SERVER = os.environ.get("CHATTER_TEST_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
PG_ADMIN = f"{PG_SERVER}/postgres"
DB_PREFIX = os.environ.get("CHATTER_TEST_DB_PREFIX", "chatter")
REDIS_URL = os.environ.get("CHATTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")

_CREATED: set[str] = set()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(database: str, redis_url: str | None = REDIS_URL, **extra: str) -> dict[str, str]:
    """Environment of the demo project on PostgreSQL ``database`` (and Redis, if given)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATTER_")}
    env.update(
        PYTHONPATH=f"{EXAMPLE}{os.pathsep}{ROOT}",
        DJANGO_SETTINGS_MODULE="settings",
        CHATTER_DATABASE_URL=f"{PG_SERVER}/{database}",
        CHATTER_DEBUG="0",
        **extra,
    )
    if redis_url:
        env["CHATTER_REDIS_URL"] = redis_url
    return env


def fresh_database(label: str) -> str:
    """Create a new, uniquely named database for ``label`` and return its name.

    The name is ``<CHATTER_TEST_DB_PREFIX>_<label>_<random>``, so runs of two checkouts
    never meet; it is dropped by :func:`drop_database` or when the test process exits.
    Nothing here drops a database this process did not create.
    """
    name = f"{DB_PREFIX}_{label}_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    _CREATED.add(name)
    return name


def drop_database(name: str) -> None:
    """Drop a database made by :func:`fresh_database` in this process (others: no-op)."""
    if name not in _CREATED:
        return
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _CREATED.discard(name)


@contextlib.contextmanager
def database(label: str) -> Iterator[str]:
    """A fresh database (see :func:`fresh_database`) for the block; dropped after it."""
    name = fresh_database(label)
    try:
        yield name
    finally:
        drop_database(name)


@atexit.register
def _drop_created() -> None:
    for name in list(_CREATED):
        with contextlib.suppress(psycopg.Error):
            drop_database(name)


def stop_process(proc: subprocess.Popen, grace: float = 10) -> None:
    """End a child process: SIGTERM, SIGKILL after ``grace`` seconds; harmless if gone."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def end_other_sessions() -> None:
    """Close the connections to Django's test database that other threads left open.

    ``database_sync_to_async`` runs on a thread of its own whose connection may still be
    open at the end of the session; ``DROP DATABASE`` refuses to run while it is, and the
    database would stay behind, one per run. PostgreSQL only; call with database access.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    name = connection.settings_dict["NAME"]
    connection.close()
    with connection._nodb_cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )


def run_manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py`` of the demo in its own process and return what it did."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def manage(env: dict[str, str], *args: str) -> str:
    """Run ``manage.py`` of the demo; fail loudly with its output."""
    done = run_manage(env, *args)
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


SETUP_SCRIPT = """
import json, django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from chatter.rooms import create_room
names = {names!r}
users = []
for name in names:
    user, _ = get_user_model().objects.get_or_create(username=name)
    user.set_password("pw"); user.save(); users.append(user)
room = create_room(users)
cookies = {{}}
for user in users:
    client = Client()
    client.force_login(user)
    cookies[user.username] = client.cookies["sessionid"].value
print(json.dumps({{"room": str(room), "cookies": cookies}}))
"""


CROWD_SCRIPT = """
import json, django
django.setup()
from chatter.rooms import create_room
from tests.factories import crowd, session_cookie
users = crowd({prefix!r}, {count!r})
room = create_room(users)
cookies = [session_cookie(user).partition("=")[2] for user in users]
print(json.dumps({{"room": str(room), "cookies": cookies}}))
"""


def prepare_crowd(env: dict[str, str], prefix: str, count: int) -> dict:
    """``count`` users ``<prefix>000``… (bulk-made) in one room, each with a session.

    The database must be migrated. Returns ``{"room": id, "cookies": [session key, ...]}``
    in the users' order.
    """
    done = subprocess.run(
        [sys.executable, "-c", CROWD_SCRIPT.format(prefix=prefix, count=count)],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode:
        raise RuntimeError(f"making a crowd failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepare_chat(env: dict[str, str], names: tuple[str, ...] = ("alice", "bob")) -> dict:
    """Migrate, create users in one room, and log them in: ``{"room", "cookies"}``."""
    manage(env, "migrate", "--noinput")
    done = subprocess.run(
        [sys.executable, "-c", SETUP_SCRIPT.format(names=list(names))],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


class DaphneProcess:
    """A Daphne serving the demo that can be stopped and started again on the same port.

    ``with DaphneProcess(env) as server:`` starts it and always stops it at the end;
    ``server.stop()`` / ``server.start()`` in between simulate a server restart.
    """

    def __init__(
        self,
        env: dict[str, str],
        port: int | None = None,
        log: Path | None = None,
        host: str | None = None,
    ):
        self.env = env
        self.port = port or free_port()
        # The Host header of the readiness check (e.g. a tenant's domain); None: the address.
        self.host = host
        self.proc: subprocess.Popen | None = None
        # Daphne's stderr goes to a file: a pipe nobody reads would fill up and block it.
        self.log = log or Path(tempfile.gettempdir()) / f"chatter-daphne-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> None:
        """Start Daphne and return once it answers HTTP."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("already running")
        deadline = time.monotonic() + timeout
        while True:  # the port may linger for a moment after a stop
            try:
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("127.0.0.1", self.port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self._log_file = self.log.open("a")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "asgi:application",
            ],
            cwd=EXAMPLE,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
        )
        try:
            wait_http(f"{self.url}/login/", self.proc, timeout=timeout, host=self.host)
        except BaseException as exc:
            self.stop()
            raise RuntimeError(f"Daphne did not start:\n{self.log_text()}") from exc

    def log_text(self) -> str:
        """What Daphne wrote to stderr so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        """Stop Daphne (terminate, then kill after 10 s); harmless if not running."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        stop_process(proc)
        self._log_file.close()

    def kill(self) -> None:
        """Kill Daphne with SIGKILL (``kill -9``): no shutdown, its sockets just drop."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        self._log_file.close()

    def __enter__(self) -> DaphneProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisServer:
    """A private ``redis-server`` (no persistence) on a port of its own, never the shared one.

    ``stop()`` and ``start()`` again on the same port give an empty Redis, as a restarted
    production Redis without persistence is. ``with RedisServer() as redis_server:``
    always stops it at the end.
    """

    def __init__(self, port: int | None = None, log: Path | None = None) -> None:
        self.port = port or free_port()
        self.log = log or Path(tempfile.gettempdir()) / f"chatter-redis-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30) -> None:
        """Start redis-server and return once it answers PING."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("already running")
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                self.proc = None
                raise RuntimeError(f"redis-server exited:\n{self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"redis-server on port {self.port} did not answer")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop redis-server (SIGTERM, SIGKILL after 10 s); harmless if not running."""
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_process(proc)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def daphne(env: dict[str, str], port: int | None = None) -> Iterator[int]:
    """Serve the demo with Daphne until the block ends; yields the port."""
    with DaphneProcess(env, port) as server:
        yield server.port


def wait_http(
    url: str, proc: subprocess.Popen | None = None, timeout: float = 30, host: str | None = None
) -> None:
    """Wait until ``url`` answers below 500 (with ``host`` as the Host header, if given)."""
    request = urllib.request.Request(url, headers={"Host": host} if host else {})  # noqa: S310
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
                if response.status < 500:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(url)


def redis_keys(url: str, pattern: str = "*") -> list[bytes]:
    """The keys of a Redis server matching ``pattern`` (a test's look inside)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        return list(client.scan_iter(match=pattern))
    finally:
        client.close()


def ws_headers(port: int, cookie: str) -> dict[str, str]:
    return {"Origin": f"http://127.0.0.1:{port}", "Cookie": f"sessionid={cookie}"}
