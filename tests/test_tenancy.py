"""chatter.tenancy: group names and helpers (without django-tenants; see tests/tenants)."""

from __future__ import annotations

import re
import uuid

import pytest

from chatter import tenancy

VALID_GROUP = re.compile(r"^[A-Za-z0-9._-]{1,99}$")
ROOM = uuid.UUID("12345678-1234-5678-1234-567812345678")


def test_single_tenant_names() -> None:
    assert not tenancy.is_multitenant()
    assert tenancy.current_schema() == ""
    assert tenancy.group_prefix("") == "chatter"
    assert tenancy.room_group("", ROOM) == f"chatter.r{ROOM.hex}"
    assert tenancy.room_group(None, str(ROOM)) == f"chatter.r{ROOM.hex}"
    assert tenancy.user_group("", 7) == "chatter.u7"
    assert tenancy.user_group(None, "7") == "chatter.u7"


def test_tenant_names() -> None:
    assert tenancy.group_prefix("alpha") == "chatter.talpha"
    assert tenancy.room_group("alpha", ROOM) == f"chatter.talpha.r{ROOM.hex}"
    assert tenancy.user_group("alpha", 7) == "chatter.talpha.u7"
    assert tenancy.room_group("alpha", ROOM) != tenancy.room_group("beta", ROOM)
    assert tenancy.user_group("alpha", 7) != tenancy.user_group("beta", 7)


@pytest.mark.parametrize(
    "schema",
    [
        "a" * 40,
        "a" * 41,
        "x" * 63,  # the longest PostgreSQL identifier
        "Tenant_With-Dashes",
        "schema with spaces",
        "ünïcode",
        "a.b",
        "a-b",
    ],
)
def test_names_are_valid_and_short(schema: str) -> None:
    for name in (
        tenancy.room_group(schema, ROOM),
        tenancy.user_group(schema, 2**63),
        tenancy.user_group(schema, uuid.uuid4()),
        tenancy.user_group(schema, "x" * 150),
    ):
        assert VALID_GROUP.match(name), name
        assert len(name) < 100


def test_unsafe_or_long_schemas_are_hashed_without_collisions() -> None:
    assert tenancy.group_prefix("a" * 40) == "chatter.t" + "a" * 40
    long_a, long_b = "a" * 63, "a" * 62 + "b"
    assert tenancy.group_prefix(long_a).startswith("chatter.t.")
    assert tenancy.group_prefix(long_a) != tenancy.group_prefix(long_b)
    assert tenancy.group_prefix(long_a) == tenancy.group_prefix(long_a)  # stable
    # Sanitising would map both to "a-b"; hashing keeps them apart.
    assert tenancy.group_prefix("a.b") != tenancy.group_prefix("a-b")
    assert tenancy.group_prefix("a-b") == "chatter.ta-b"


def test_room_group_needs_a_uuid() -> None:
    with pytest.raises(ValueError, match="room id"):
        tenancy.room_group("alpha", "not-a-uuid")
    with pytest.raises(ValueError, match="user id"):
        tenancy.user_group("alpha", None)


def test_scope_schema() -> None:
    assert tenancy.scope_schema({}) == ""
    assert tenancy.scope_schema({"schema_name": None}) == ""
    assert tenancy.scope_schema({"schema_name": "alpha"}) == "alpha"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("alpha.test.com", "alpha.test.com"),
        ("ALPHA.Test.COM:8000", "alpha.test.com"),
        ("www.alpha.test.com", "alpha.test.com"),
        (b"www.alpha.test.com:80", "alpha.test.com"),
        ("alpha.test.com.", "alpha.test.com"),
        ("[::1]:8000", "[::1]"),
        ("", ""),
        (None, ""),
        ("bad host", ""),
        ("a@b.com", ""),
    ],
)
def test_hostname_from_host(host: str | bytes | None, expected: str) -> None:
    assert tenancy.hostname_from_host(host) == expected


def test_schema_is_a_no_op_without_tenants() -> None:
    with tenancy.schema("alpha"):
        assert tenancy.current_schema() == ""
    assert tenancy.tenant_for_host("alpha.test.com") is None


@pytest.mark.django_db
def test_a_database_failure_inside_a_transaction_is_not_retried() -> None:
    """Outside one, in_schema retries once on a new connection (tests/test_faults.py); inside,
    the transaction is already lost: retrying would run half of it again."""
    from django.db import OperationalError, transaction

    calls: list[int] = []

    def fail() -> None:
        calls.append(1)
        raise OperationalError("server closed the connection unexpectedly")

    with transaction.atomic(), pytest.raises(OperationalError):
        tenancy._run_in_schema("", fail)
    assert calls == [1]
