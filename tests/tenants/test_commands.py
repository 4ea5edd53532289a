"""The chatter_* commands with ``--schema NAME`` on real django-tenants schemas."""

from __future__ import annotations

import asyncio
import uuid
from io import StringIO
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from django_tenants.utils import schema_context

from chatter import tenancy
from chatter.models import Membership, Message, Room
from tests.tenants.conftest import TenantInfo, alice_room_in_each


def run(*args: Any) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def counts(schema_name: str) -> tuple[int, int, int]:
    with schema_context(schema_name):
        return Room.objects.count(), Membership.objects.count(), Message.objects.count()


def exists(schema_name: str, room_id: Any) -> bool:
    with schema_context(schema_name):
        return Room.objects.filter(pk=room_id).exists()


async def receive_within(layer: Any, channel: str, timeout: float = 30) -> Any:
    """The next event on ``channel``; fails (rather than hangs) if none comes in time."""
    return await asyncio.wait_for(layer.receive(channel), timeout)


async def nothing_for(layer: Any, channel: str, timeout: float = 0.2) -> bool:
    """True when nothing arrives on ``channel`` within ``timeout`` seconds."""
    try:
        await asyncio.wait_for(layer.receive(channel), timeout)
    except TimeoutError:
        return True
    return False


@pytest.fixture
def fresh_rooms() -> Any:
    """Rooms a command creates: ``fresh_rooms(schema_name, room_id)`` deletes it after."""
    made: list[tuple[str, Any]] = []
    yield lambda schema_name, room_id: made.append((schema_name, room_id))
    for schema_name, room_id in made:
        with schema_context(schema_name):
            Room.objects.filter(pk=room_id).delete()


def test_create_room_in_a_schema(alpha: TenantInfo, beta: TenantInfo, fresh_rooms: Any) -> None:
    with schema_context("alpha"):
        before = set(Room.objects.values_list("pk", flat=True))
    beta_before = counts("beta")
    out = run("chatter_create_room", "alice", "bob", "--schema", "alpha")
    room_id = uuid.UUID(out.strip())
    if room_id not in before:
        fresh_rooms("alpha", room_id)
    assert exists("alpha", room_id)
    assert not exists("beta", room_id)
    with schema_context("alpha"):
        emails = set(Room.objects.get(pk=room_id).members.values_list("email", flat=True))
    assert emails == {"alice@alpha.test.com", "bob@alpha.test.com"}
    # Again: the same id; beta untouched throughout.
    assert run("chatter_create_room", "bob", "alice", "--schema", "alpha") == out
    assert counts("beta") == beta_before


def test_the_same_users_in_beta_get_beta_s_own_room(
    alpha: TenantInfo, beta: TenantInfo, fresh_rooms: Any
) -> None:
    ids = {}
    for schema_name in ("alpha", "beta"):
        with schema_context(schema_name):
            before = set(Room.objects.values_list("pk", flat=True))
        ids[schema_name] = uuid.UUID(
            run("chatter_create_room", "alice", "bob", "--schema", schema_name).strip()
        )
        if ids[schema_name] not in before:
            fresh_rooms(schema_name, ids[schema_name])
    assert ids["alpha"] != ids["beta"]
    assert not exists("alpha", ids["beta"]) and not exists("beta", ids["alpha"])


@pytest.mark.parametrize(
    "args",
    [
        ("chatter_create_room", "alice", "bob"),
        ("chatter_rooms", "alice"),
        ("chatter_send", str(uuid.UUID(int=1)), "alice", "hi"),
    ],
)
def test_unknown_schema(tenants: Any, args: tuple[str, ...]) -> None:
    before = counts("alpha"), counts("beta")
    with pytest.raises(CommandError, match=r"^Unknown schema: nosuch$") as info:
        run(*args, "--schema", "nosuch")
    assert info.value.returncode == 1
    assert (counts("alpha"), counts("beta")) == before


def test_unknown_schema_exits_with_status_1(
    tenants: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """What ``manage.py`` does with the CommandError: one line on stderr, exit status 1."""
    before = counts("alpha"), counts("beta")
    command = load_command_class("chatter", "chatter_create_room")
    with pytest.raises(SystemExit) as info:
        command.run_from_argv(
            ["manage.py", "chatter_create_room", "alice", "bob", "--schema", "nosuch"]
        )
    assert info.value.code == 1
    # (after the system checks' warnings, if any)
    assert capsys.readouterr().err.endswith("\nCommandError: Unknown schema: nosuch\n")
    assert (counts("alpha"), counts("beta")) == before


def test_the_public_schema_is_no_tenant(tenants: Any) -> None:
    with pytest.raises(CommandError, match=r"^Unknown schema: public$"):
        run("chatter_rooms", "--schema", "public")


@pytest.mark.parametrize("command", ["chatter_rooms", "chatter_create_room alice bob"])
def test_the_public_schema_with_a_tenant_row_is_a_clear_error(
    tenants: Any, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A public tenant row (django-tenants' docs make one): exit status 1, no traceback."""
    from customers.models import Client

    with schema_context("public"):
        public = Client(schema_name="public", name="Public")
        public.save(verbosity=0)  # the schema exists: nothing is created or migrated
    try:
        before = counts("alpha"), counts("beta")
        name, *args = command.split()
        with pytest.raises(SystemExit) as info:
            load_command_class("chatter", name).run_from_argv(
                ["manage.py", name, *args, "--schema", "public"]
            )
        assert info.value.code == 1
        err = capsys.readouterr().err
        assert err.endswith(
            "\nCommandError: 'public' is the public schema: Chatter's tables are only in the "
            "tenants' schemas. Pass --schema with a tenant's schema.\n"
        ), err
        assert "Traceback" not in err
        assert (counts("alpha"), counts("beta")) == before
    finally:
        with schema_context("public"):
            # A queryset delete: the model's delete() could drop the schema.
            Client.objects.filter(pk=public.pk).delete()


def test_schema_without_django_tenants(tenants: Any, settings: Any) -> None:
    settings.TENANT_MODEL = None
    assert not tenancy.is_multitenant()
    with pytest.raises(CommandError, match=r"django-tenants.*not configured") as info:
        run("chatter_rooms", "--schema", "alpha")
    assert info.value.returncode == 1


def test_send_in_beta_stores_in_beta_only(
    alpha: TenantInfo, beta: TenantInfo, tenant_room: Any
) -> None:
    room = tenant_room("beta", beta.users["alice"], beta.users["bob"])
    alpha_before = counts("alpha")
    text = f"beta only {uuid.uuid4().hex}"

    layer = get_channel_layer()
    listen = {
        name: async_to_sync(layer.new_channel)() for name in ("alpha-bob", "beta-bob", "room")
    }
    bob_id = beta.users["bob"].pk
    assert bob_id == alpha.users["bob"].pk
    groups = {
        "alpha-bob": tenancy.user_group("alpha", bob_id),
        "beta-bob": tenancy.user_group("beta", bob_id),
        "room": tenancy.room_group("beta", room.pk),
    }
    for name, channel in listen.items():
        async_to_sync(layer.group_add)(groups[name], channel)
    try:
        out = run("chatter_send", str(room.pk), "alice", text, "--schema", "beta")
        assert out == f"#{room.last_seq + 1} in {room.pk}\n"
        with schema_context("beta"):
            assert Message.objects.get(room=room, seq=room.last_seq + 1).text == text
        assert counts("alpha") == alpha_before
        with schema_context("alpha"):
            assert not Message.objects.filter(text=text).exists()
        # Announced once, to beta's room group (message and room-list update in one
        # event); nothing per member, and nothing to alpha.
        event = async_to_sync(receive_within)(layer, listen["room"])
        assert text in event["html"] and text in event["list"]
        assert async_to_sync(nothing_for)(layer, listen["beta-bob"])
        assert async_to_sync(nothing_for)(layer, listen["alpha-bob"])
    finally:
        for name, channel in listen.items():
            async_to_sync(layer.group_discard)(groups[name], channel)


def test_send_to_a_room_of_another_schema(
    alpha: TenantInfo, beta: TenantInfo, tenant_room: Any
) -> None:
    room = tenant_room("beta", beta.users["alice"], beta.users["bob"])
    before = counts("alpha"), counts("beta")
    with pytest.raises(CommandError, match=f"No room has the id {room.pk}"):
        run("chatter_send", str(room.pk), "alice", "wrong tenant", "--schema", "alpha")
    assert (counts("alpha"), counts("beta")) == before


def test_rooms_lists_only_the_schemas_rooms(
    alpha: TenantInfo, beta: TenantInfo, tenant_user: Any, tenant_room: Any
) -> None:
    """alice has one id in both schemas; each schema lists its own rooms of hers."""
    tag, rooms = alice_room_in_each(alpha, beta, tenant_user, tenant_room)
    for schema_name, other in (("alpha", "beta"), ("beta", "alpha")):
        for args in (("chatter_rooms", "alice"), ("chatter_rooms",)):
            out = run(*args, "--schema", schema_name)
            assert f"{rooms[schema_name].pk}\t{schema_name} {tag}\t" in out
            assert str(rooms[other].pk) not in out and f"{other} {tag}" not in out


def test_rate_limit_is_per_tenant(
    alpha: TenantInfo, beta: TenantInfo, tenant_room: Any, settings: Any
) -> None:
    """alice of alpha and alice of beta share an id, not a rate-limit counter."""
    settings.CHATTER_RATE_LIMIT_MESSAGES = 2
    settings.CHATTER_RATE_LIMIT_SECONDS = 3600
    room_ids = {
        t.schema_name: str(tenant_room(t.schema_name, t.users["alice"], t.users["bob"]).pk)
        for t in (alpha, beta)
    }
    for _ in range(2):
        run("chatter_send", room_ids["alpha"], "alice", "fast", "--schema", "alpha")
    with pytest.raises(CommandError, match="too fast"):
        run("chatter_send", room_ids["alpha"], "alice", "fast", "--schema", "alpha")
    for _ in range(2):
        run("chatter_send", room_ids["beta"], "alice", "fast", "--schema", "beta")


@pytest.mark.parametrize(
    "args",
    [("chatter_create_room", "alice", "bob"), ("chatter_rooms",)],
)
def test_no_schema_in_the_public_schema_is_a_clear_error(
    tenants: Any, args: tuple[str, ...]
) -> None:
    with schema_context("public"), pytest.raises(CommandError, match="pass --schema NAME"):
        run(*args)
