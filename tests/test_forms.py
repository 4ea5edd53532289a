"""Tests of chatter.forms: the group room form."""

from __future__ import annotations

from typing import Any

import pytest

from chatter.forms import GroupRoomForm, split_usernames

pytestmark = pytest.mark.django_db


def test_split_usernames() -> None:
    assert split_usernames(" bob, carol;dave\n bob ,, ") == ["bob", "carol", "dave"]
    assert split_usernames("a@b.c x+y") == ["a@b.c", "x+y"]
    assert split_usernames("") == []


def test_valid_form_includes_creator_first(alice: Any, bob: Any, carol: Any) -> None:
    form = GroupRoomForm({"name": " Trip ", "usernames": "carol bob alice"}, user=alice)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["usernames"] == [alice, carol, bob]
    assert form.cleaned_data["name"] == "Trip"


@pytest.mark.parametrize(
    ("usernames", "code"),
    [("alice", "empty"), (" , ", "empty"), ("bob ghost spectre", "unknown")],
)
def test_invalid_usernames(alice: Any, bob: Any, usernames: str, code: str) -> None:
    form = GroupRoomForm({"usernames": usernames}, user=alice)
    assert not form.is_valid()
    assert form.has_error("usernames", code)


def test_unknown_users_are_named(alice: Any, bob: Any) -> None:
    form = GroupRoomForm({"usernames": "bob ghost spectre"}, user=alice)
    assert not form.is_valid()
    assert form.errors["usernames"] == ["No such user: ghost, spectre."]


def test_inactive_users_are_unknown(alice: Any, user_factory: Any) -> None:
    user_factory("gone", is_active=False)
    form = GroupRoomForm({"usernames": "gone"}, user=alice)
    assert form.has_error("usernames", "unknown")


def test_member_limit_counts_the_creator(settings: Any, alice: Any, bob: Any, carol: Any) -> None:
    settings.CHATTER_MAX_ROOM_MEMBERS = 3
    assert GroupRoomForm({"usernames": "bob carol"}, user=alice).is_valid()
    settings.CHATTER_MAX_ROOM_MEMBERS = 2
    form = GroupRoomForm({"usernames": "bob carol"}, user=alice)
    assert form.has_error("usernames", "too_many")


def test_name_too_long(alice: Any, bob: Any) -> None:
    form = GroupRoomForm({"name": "n" * 101, "usernames": "bob"}, user=alice)
    assert form.has_error("name", "max_length")


def test_fields_are_labelled(alice: Any) -> None:
    html = GroupRoomForm(user=alice).as_div()
    assert '<label for="id_name">' in html and '<label for="id_usernames">' in html
