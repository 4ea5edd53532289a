"""Web Push's inputs (chatter.push_input): base64url, keys, subjects; and its system checks
(chatter.checks_push) and ``manage.py chatter_vapid_keys``."""

from __future__ import annotations

import base64
import builtins
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import given
from hypothesis import strategies as st

from chatter import checks, checks_push, push_input
from tests.test_push import PRIVATE, PUBLIC, push_settings


@given(st.binary(min_size=1, max_size=100))
def test_base64url_round_trips(data: bytes) -> None:
    text = push_input.b64encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert push_input.b64decode(text) == data
    assert push_input.b64decode(base64.urlsafe_b64encode(data).decode()) == data


@given(st.one_of(st.text(max_size=100), st.none(), st.integers(), st.binary(max_size=10)))
def test_b64decode_never_raises(value: Any) -> None:
    result = push_input.b64decode(value)
    assert result is None or isinstance(result, bytes)


@given(st.binary(max_size=70))
def test_is_point_accepts_only_curve_points(raw: bytes) -> None:
    assert push_input.is_point(raw) is False or (len(raw) == 65 and raw[0] == 4)


def test_a_generated_pair_is_a_pair() -> None:
    public, private = push_input.generate()
    assert push_input.public_of(private) == public
    assert push_input.is_point(push_input.b64decode(public))
    assert len(push_input.b64decode(private) or b"") == 32
    assert push_input.public_of("A" * 43) is None  # zero is no key
    assert push_input.public_of("short") is None


@pytest.mark.parametrize(
    ("subject", "ok"),
    [
        ("mailto:ops@example.com", True),
        ("https://example.com/contact", True),
        ("https://example.com", True),
        ("mailto:nobody", False),
        ("mailto:a b@example.com", False),
        ("http://example.com", False),
        ("ops@example.com", False),
        ("", False),
        (None, False),
    ],
)
def test_subjects(subject: Any, ok: bool) -> None:
    assert push_input.subject_ok(subject) is ok


# -- system checks ------------------------------------------------------------------------


def ids(settings: Any, value: Any) -> list[str]:
    settings.CHATTER_PUSH = value
    return [m.id for m in checks_push.check_push()]


def test_push_off_or_well_set_passes(settings: Any) -> None:
    assert ids(settings, None) == []
    assert ids(settings, push_settings()) == []
    settings.CHATTER_PUSH = push_settings()
    assert checks.check_settings() == []


def test_a_setting_of_the_wrong_type_is_e010(settings: Any) -> None:
    settings.CHATTER_PUSH = "on"
    assert [m.id for m in checks.check_settings()] == ["chatter.E010"]
    assert checks_push.check_push() == []


def test_keys_without_pywebpush_is_e040(settings: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(push_input, "available", lambda: False)
    settings.CHATTER_PUSH = push_settings()
    [message] = checks_push.check_push()
    assert message.id == "chatter.E060"
    assert "[push]" in message.hint
    assert push_input.enabled() is False


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"VAPID_PRIVATE_KEY": "not a key"}, ["chatter.E061"]),
        ({"VAPID_PUBLIC_KEY": ""}, ["chatter.E061"]),
        ({"VAPID_PUBLIC_KEY": "B" + "A" * 86}, ["chatter.E061"]),
        ({"VAPID_PUBLIC_KEY": push_input.generate()[0]}, ["chatter.E062"]),
        ({"VAPID_SUBJECT": "ops@example.com"}, ["chatter.E063"]),
        ({"VAPID_SUBJECT": ""}, ["chatter.E063"]),
        ({"TIMEOUT": 0}, ["chatter.E064"]),
        ({"TTL": "1d"}, ["chatter.E064"]),
        ({"QUEUE_SIZE": True}, ["chatter.E064"]),
        ({"BACKEND": "nowhere.at_all"}, ["chatter.E064"]),
        ({"BACKEND": "chatter.push.OPTIONS"}, ["chatter.E064"]),
        ({"INSECURE_HOSTS": "localhost"}, ["chatter.E064"]),
        ({"VAPID_KEY": PUBLIC}, ["chatter.E064"]),
    ],
)
def test_bad_push_settings(settings: Any, change: dict[str, Any], expected: list[str]) -> None:
    found = ids(settings, push_settings(**change))
    assert found == expected
    settings.CHATTER_PUSH = push_settings(**change)
    for message in checks_push.check_push():
        assert message.hint


# -- the command --------------------------------------------------------------------------


def test_chatter_vapid_keys_prints_a_setting_that_passes_the_checks(settings: Any) -> None:
    out = StringIO()
    call_command("chatter_vapid_keys", "--subject", "mailto:me@example.com", stdout=out)
    namespace: dict[str, Any] = {}
    exec(out.getvalue(), namespace)  # noqa: S102 (the command prints Python to paste)
    value = namespace["CHATTER_PUSH"]
    assert value["VAPID_SUBJECT"] == "mailto:me@example.com"
    assert value["VAPID_PUBLIC_KEY"] != PUBLIC and value["VAPID_PRIVATE_KEY"] != PRIVATE
    assert ids(settings, value) == []


def test_chatter_vapid_keys_refuses_a_bad_subject() -> None:
    with pytest.raises(CommandError, match="--subject must be"):
        call_command("chatter_vapid_keys", "--subject", "me@example.com", stdout=StringIO())


def test_chatter_vapid_keys_without_cryptography(monkeypatch: Any) -> None:
    real_import = builtins.__import__

    def no_crypto(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("cryptography"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_crypto)
    with pytest.raises(CommandError, match=r"extra \"push\""):
        call_command("chatter_vapid_keys", stdout=StringIO())
