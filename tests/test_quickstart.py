"""The quickstart and the multi-tenant guide, done as a reader does them, to a live chat.

Each test makes a project with ``django-admin startproject mysite`` in a temporary folder,
applies the page's marked steps exactly as shown (tests/docs.py; only the database name,
the PostgreSQL server and the Redis URL become this run's own), runs the page's console
commands (``manage.py migrate``, ``createsuperuser``, ...), serves the project with
``daphne mysite.asgi:application`` on a fresh PostgreSQL database and this run's Redis, and
has two people chat in two browser contexts, with Chatter's stylesheet applied. When a
step the test needs is not on the page, the page is wrong: fix the docs, not the test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

import pytest

from tests import docs, servers
from tests.browser import ARTIFACTS, expect_connected, say

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

PASSWORD = "quickstart-pw-1"
DAPHNE = [sys.executable, "-m", "daphne"]
VIEWPORT = {"width": 1024, "height": 700}


def replacements(database: str) -> dict[str, str]:
    """The quickstart's server settings, made this test run's own."""
    pg = urlsplit(servers.PG_SERVER)
    return {
        '"NAME": "mysite"': f'"NAME": "{database}"',
        '"USER": "postgres"': f'"USER": "{pg.username or "postgres"}"',
        '"HOST": "127.0.0.1"': f'"HOST": "{pg.hostname or "127.0.0.1"}"',
        '"PORT": "5432"': f'"PORT": "{pg.port or 5432}"',
        "redis://127.0.0.1:6379/0": servers.REDIS_URL,
    }


def assert_replaceable(group: str, replace: dict[str, str]) -> None:
    """Each text the test replaces is on the page: a changed page fails here, loudly."""
    code = "".join(s.code for s in docs.groups()[group])
    missing = [old for old in replace if old not in code]
    assert not missing, f"the {group} page no longer shows {missing}"


class Reader:
    """Runs a page's console commands as a reader would, recording what they print."""

    def __init__(self, run_manage: bool = True) -> None:
        self.run_manage = run_manage
        self.seen: list[list[str]] = []
        self.outputs: dict[str, str] = {}

    def __call__(self, project: docs.Project, args: list[str]) -> None:
        self.seen.append(args)
        if args[:3] == ["python", "-m", "pip"] or args[0] == "cd":
            return  # installed already; the project folder is the test's
        if args[:2] == ["django-admin", "startproject"]:
            assert args[2:] == ["mysite"], args
            return  # docs.Project.start did it
        if args[0] == "daphne":
            assert args[1:] == ["mysite.asgi:application"], args
            return  # served by the test, on a port of its own
        assert args[:2] == ["python", "manage.py"], f"a command the test does not know: {args}"
        if not self.run_manage and args[2] != "startapp":
            return
        command = args[2:]
        env: dict[str, str] = {}
        if command[0] in ("createsuperuser", "create_tenant_superuser"):
            username = command[command.index("--username") + 1]
            command = [*command, "--noinput"]
            env = {
                "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
                "DJANGO_SUPERUSER_EMAIL": f"{username}@example.com",
            }
        self.outputs[" ".join(args[2:])] = project.manage(*command, env=env)


class Site:
    """``daphne mysite.asgi:application`` of a docs project, on a port of the test's."""

    def __init__(self, project: docs.Project, log: Path, ready_host: str | None = None) -> None:
        self.project = project
        self.port = servers.free_port()
        self.log = log
        self.ready_host = ready_host
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Site:
        self.log.parent.mkdir(exist_ok=True)
        self._out = self.log.open("w")
        self.proc = subprocess.Popen(
            [*DAPHNE, "-b", "127.0.0.1", "-p", str(self.port), "mysite.asgi:application"],
            cwd=self.project.root,
            env=self.project.env,
            stdout=subprocess.DEVNULL,
            stderr=self._out,
        )
        try:
            servers.wait_http(
                f"http://127.0.0.1:{self.port}/accounts/login/",
                self.proc,
                timeout=60,
                host=self.ready_host,
            )
        except BaseException:
            self.__exit__()
            raise AssertionError(f"daphne did not start:\n{self.log.read_text()}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            servers.stop_process(self.proc)
        self._out.close()


def room_id(output: str) -> str:
    """The room id a ``chatter_create_room`` printed (system check warnings aside)."""
    found = re.findall(
        r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", output, re.M
    )
    assert len(found) == 1, output
    return found[0]


def pg_env() -> dict[str, str]:
    password = urlsplit(servers.PG_SERVER).password
    return {"PGPASSWORD": password} if password else {}


def log_in(browser: Any, base_url: str, username: str) -> Any:
    """A page of a new browser context, logged in through the quickstart's login page."""
    context = browser.new_context(base_url=base_url, viewport=VIEWPORT)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto("/chat/")
    assert "/accounts/login/" in page.url, page.url
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/chat/")
    return page


def message(page: Any, text: str) -> Any:
    return page.locator("#chatter-messages .chatter-msg-text").filter(
        has_text=re.compile(rf"^\s*{re.escape(text)}\s*$")
    )


def assert_styled_and_live(page: Any) -> None:
    """chatter.css applies (its custom properties are set) and the scripts' notice is gone."""
    radius = page.locator(".chatter-app").first.evaluate(
        "el => getComputedStyle(el).getPropertyValue('--chatter-radius').trim()"
    )
    assert radius, "chatter.css is not applied"
    expect(page.locator("#chatter-assets-missing")).to_have_count(0)
    expect_connected(page, timeout=20_000)


def open_room(page: Any, room: str) -> None:
    page.goto(f"/chat/{room}/")
    assert_styled_and_live(page)


def screenshot_on_failure(request: pytest.FixtureRequest, pages: dict[str, Any]) -> None:
    if request.session.testsfailed:
        for name, page in pages.items():
            try:
                page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{name}.png"))
            except Exception as exc:  # a screenshot must not hide the failure
                print(f"no screenshot of {name}: {exc}")


# -- the quickstart ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with servers.database("quickstart") as database:
        replace = replacements(database)
        assert_replaceable("quickstart", replace)
        reader = Reader()
        folder = tmp_path_factory.mktemp("quickstart")
        project = docs.Project.start(folder)
        project.env.update(pg_env())
        for snippet in docs.groups()["quickstart"]:
            project.apply(snippet, replace, reader)
        # The page's own commands, all of them, in its order.
        assert [a[:3] for a in reader.seen] == [
            ["python", "-m", "pip"],
            ["django-admin", "startproject", "mysite"],
            ["cd", "mysite"],
            ["python", "manage.py", "migrate"],
            ["python", "manage.py", "createsuperuser"],
            ["python", "manage.py", "createsuperuser"],
            ["python", "manage.py", "chatter_create_room"],
            ["daphne", "mysite.asgi:application"],
        ]
        room = room_id(reader.outputs["chatter_create_room alice bob"])
        with Site(project, ARTIFACTS / "daphne-quickstart.log") as site:
            yield {"project": project, "site": site, "room": room}


def test_the_quickstart_chats_live_on_daphne(
    quickstart: dict[str, Any], browser: Any, request: pytest.FixtureRequest
) -> None:
    base_url = f"http://127.0.0.1:{quickstart['site'].port}"
    room = quickstart["room"]
    alice = log_in(browser, base_url, "alice")
    bob = log_in(browser, base_url, "bob")
    pages = {"alice": alice, "bob": bob}
    try:
        # The room of chatter_create_room is in both room lists.
        for page in pages.values():
            expect(page.locator(f"#chatter-room-{room.replace('-', '')}")).to_have_count(1)
            assert_styled_and_live(page)
        open_room(alice, room)
        open_room(bob, room)
        say(alice, "Hello from the quickstart")
        expect(message(bob, "Hello from the quickstart")).to_have_count(1)
        say(bob, "Hi alice")
        expect(message(alice, "Hi alice")).to_have_count(1)
        # A command in another process reaches open pages through Redis.
        quickstart["project"].manage("chatter_send", room, "alice", "Sent from a shell")
        for page in pages.values():
            expect(message(page, "Sent from a shell")).to_have_count(1)
    finally:
        screenshot_on_failure(request, pages)
        for page in pages.values():
            page.context.close()


def test_a_page_whose_scripts_do_not_load_says_so(quickstart: dict[str, Any], browser: Any) -> None:
    base_url = f"http://127.0.0.1:{quickstart['site'].port}"
    page = log_in(browser, base_url, "alice")
    try:
        # Without htmx's websocket extension: the notice appears (after chatter.css's wait).
        page.route(re.compile(r"/hx-ws-2(\.min)?\.js$"), lambda route: route.abort())
        page.goto(f"/chat/{quickstart['room']}/")
        expect(page.locator("#chatter-assets-missing")).to_be_visible(timeout=20_000)
        expect(page.locator("#chatter-assets-missing")).to_contain_text("The chat cannot start.")
        # Without our stylesheet and script too: shown by its own inline style.
        page.route(re.compile(r"/chatter/chatter\.(css|js)$"), lambda route: route.abort())
        page.goto(f"/chat/{quickstart['room']}/")
        notice = page.locator("#chatter-assets-missing")
        expect(notice).to_be_visible()
        assert notice.evaluate("el => getComputedStyle(el).borderTopStyle") == "solid"
    finally:
        page.context.close()


# -- the multi-tenant guide --------------------------------------------------------------


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with servers.database("quickstart_tenants") as database:
        replace = replacements(database)
        folder = tmp_path_factory.mktemp("tenants")
        # The quickstart's steps 2 to 6 (not its commands: this database is for tenants).
        project = docs.Project.start(folder)
        project.env.update(pg_env())
        for snippet in docs.groups()["quickstart"]:
            project.apply(snippet, replace, Reader(run_manage=False))
        reader = Reader()
        for snippet in docs.groups()["tenants"]:
            project.apply(snippet, replace, reader, run_shell=True)
        assert [a[2] for a in reader.seen if a[:2] == ["python", "manage.py"]] == [
            "startapp",
            "makemigrations",
            "migrate_schemas",
            "create_tenant_superuser",
            "create_tenant_superuser",
            "create_tenant_superuser",
            "chatter_create_room",
        ]
        room = room_id(reader.outputs["chatter_create_room alice bob --schema alpha"])
        log = ARTIFACTS / "daphne-quickstart-tenants.log"
        with Site(project, log, ready_host="alpha.localhost") as site:
            yield {"project": project, "site": site, "room": room}


def test_the_multitenant_guide_chats_live_per_tenant(
    tenants: dict[str, Any], browser: Any, request: pytest.FixtureRequest
) -> None:
    port = tenants["site"].port
    room = tenants["room"]
    alpha = f"http://alpha.localhost:{port}"
    pages = {
        "alpha-alice": log_in(browser, alpha, "alice"),
        "alpha-bob": log_in(browser, alpha, "bob"),
        "beta-alice": log_in(browser, f"http://beta.localhost:{port}", "alice"),
    }
    try:
        for name in ("alpha-alice", "alpha-bob"):
            open_room(pages[name], room)
        say(pages["alpha-alice"], "Hello alpha")
        expect(message(pages["alpha-bob"], "Hello alpha")).to_have_count(1)
        # Beta's alice has her own, empty chat: no room, and alpha's room is no room here.
        beta = pages["beta-alice"]
        assert_styled_and_live(beta)
        expect(beta.locator("#chatter-rooms li[id^='chatter-room-']")).to_have_count(0)
        response = beta.goto(f"/chat/{room}/")
        assert response is not None and response.status == 404
        assert "Hello alpha" not in beta.locator("body").inner_text()
    finally:
        screenshot_on_failure(request, pages)
        for page in pages.values():
            page.context.close()
    # The public host serves its own page, and no chat: a 404, not a server error.
    public = f"http://127.0.0.1:{port}"
    with urlopen(Request(f"{public}/", headers={"Host": f"localhost:{port}"})) as answer:  # noqa: S310
        assert b"each tenant's own domain" in answer.read()
    with pytest.raises(HTTPError) as error:
        urlopen(Request(f"{public}/chat/", headers={"Host": f"localhost:{port}"}))  # noqa: S310
    assert error.value.code == 404


def test_the_tenant_project_passes_check(tenants: dict[str, Any]) -> None:
    output = tenants["project"].check()
    assert "System check identified no issues (0 silenced)." in output, output
    assert os.path.exists(tenants["project"].root / "customers" / "migrations" / "0001_initial.py")
