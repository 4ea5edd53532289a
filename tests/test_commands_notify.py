"""Tests of ``manage.py chatter_notify``: quiet for cron, dry runs, and every refusal."""

from __future__ import annotations

import os
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from chatter import messages, rooms
from chatter.models import Membership, Room
from tests import servers
from tests.factories import make_user

pytestmark = pytest.mark.django_db

SITE = "https://chat.example.com"


def run(*args: Any) -> str:
    out = StringIO()
    call_command("chatter_notify", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture(autouse=True)
def _now() -> Any:
    with override_settings(CHATTER_SITE_URL=SITE, CHATTER_NOTIFY_DELAY=0):
        yield


@pytest.fixture
def room() -> Room:
    alice = make_user("alice", email="alice@example.com")
    bob = make_user("bob", email="bob@example.com")
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    messages.send_message(room, bob, "hello alice")
    return room


def test_nothing_to_do_is_quiet() -> None:
    assert run() == ""
    assert run("-v", "2") == "0 digest(s) sent, 0 failed, 0 message(s).\n"
    assert mail.outbox == []


def test_sends_quietly(room: Room) -> None:
    assert run() == ""
    [message] = mail.outbox
    assert message.to == ["alice@example.com"] and "hello alice" in message.body
    assert f"{SITE}/chat/{room.pk}/" in message.body


def test_tells_with_verbosity_2(room: Room) -> None:
    assert run("-v", "2") == (
        "Sent: alice@example.com: 1 message(s) in 1 room(s)\n"
        "1 digest(s) sent, 0 failed, 1 message(s).\n"
    )


def test_dry_run_sends_and_marks_nothing(room: Room) -> None:
    assert run("--dry-run") == "Would send: alice@example.com: 1 message(s) in 1 room(s)\n"
    assert mail.outbox == []
    assert not Membership.objects.filter(emailed_seq__gt=0).exists()
    run()
    assert len(mail.outbox) == 1


def test_without_a_site_url_it_refuses_and_marks_nothing(room: Room) -> None:
    with (
        override_settings(CHATTER_SITE_URL=None),
        pytest.raises(CommandError, match="CHATTER_SITE_URL is not set"),
    ):
        run()
    assert not Membership.objects.filter(emailed_seq__gt=0).exists()


def test_tenant_options_without_django_tenants() -> None:
    with pytest.raises(CommandError, match="--schema needs django-tenants"):
        run("--schema", "alpha")
    with pytest.raises(CommandError, match="--all-schemas needs django-tenants"):
        run("--all-schemas")
    with pytest.raises(CommandError, match="either --schema or --all-schemas"):
        run("--all-schemas", "--schema", "alpha")


def test_a_failed_send_is_an_error(room: Room) -> None:
    from tests.test_notify import BrokenBackend

    BrokenBackend.refused = []
    with (
        override_settings(EMAIL_BACKEND="tests.test_notify.BrokenBackend"),
        pytest.raises(CommandError, match="could not be sent"),
    ):
        run()


def test_in_a_real_process(tmp_path: Path) -> None:
    """Exit status 0 and no output when there is nothing to do, as cron wants; 1 and a
    one-line error (no traceback) when misconfigured."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "settings",
        "CHATTER_SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "PYTHONPATH": os.pathsep.join([str(servers.EXAMPLE), str(servers.ROOT)]),
    }
    env.pop("CHATTER_DATABASE_URL", None)
    assert servers.run_manage(env, "migrate", "--noinput", "-v0").returncode == 0
    done = servers.run_manage(env, "chatter_notify")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    env["CHATTER_SITE_URL"] = ""
    done = servers.run_manage(env, "chatter_notify")
    assert done.returncode == 1 and done.stdout == ""
    assert "CommandError: CHATTER_SITE_URL is not set" in done.stderr
    assert "Traceback" not in done.stderr
