"""What Web Push takes in: its settings (VAPID keys), and the subscriptions browsers post.

Text only: no database and no network here. :mod:`chatter.push` stores and sends,
:mod:`chatter.checks_push` reports a bad setting, ``manage.py chatter_vapid_keys`` prints
a new key pair (:func:`generate`). Keys are
base64url text (RFC 4648 section 5, without padding), as browsers and push services use
them: the public key is the 65 bytes of an uncompressed P-256 point (what
``pushManager.subscribe`` takes as ``applicationServerKey``), the private key the 32
bytes of its scalar.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from django.utils.translation import gettext_lazy as _

from chatter import conf

#: base64url without padding (a padded value is accepted too).
_B64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
#: Bytes of an uncompressed P-256 point, and of a private scalar.
PUBLIC_KEY_BYTES = 65
PRIVATE_KEY_BYTES = 32
#: Bytes of a subscription's authentication secret (RFC 8291).
AUTH_BYTES = 16


#: The entries of ``CHATTER_PUSH`` and their defaults.
OPTIONS: dict[str, Any] = {
    "VAPID_PUBLIC_KEY": "",
    "VAPID_PRIVATE_KEY": "",
    "VAPID_SUBJECT": "",
    # The dotted path of a callable that takes a job (a small dict) and runs deliver(job).
    "BACKEND": "chatter.push.thread_backend",
    # Seconds to connect to, and to wait for, a push service.
    "TIMEOUT": 10,
    # Seconds a push service keeps a push for a browser that is offline.
    "TTL": 24 * 60 * 60,
    # Most pushes waiting in the default backend's queue; one more is dropped and logged.
    "QUEUE_SIZE": 200,
    # Hosts whose push endpoints may be plain http (for tests; browsers' are https).
    "INSECURE_HOSTS": [],
}
#: Largest request body the subscribe views read.
MAX_BODY_BYTES = 4096


def options() -> dict[str, Any]:
    """``CHATTER_PUSH`` over :data:`OPTIONS` (the defaults when it is not a dict)."""
    value = conf.get("CHATTER_PUSH")
    return {**OPTIONS, **value} if isinstance(value, dict) else dict(OPTIONS)


def enabled() -> bool:
    """Whether push is on: both VAPID keys set, and pywebpush installed."""
    opts = options()
    return bool(opts.get("VAPID_PUBLIC_KEY") and opts.get("VAPID_PRIVATE_KEY")) and available()


def public_key() -> str:
    """The VAPID public key for ``applicationServerKey``, or "" when push is off."""
    return str(options()["VAPID_PUBLIC_KEY"]) if enabled() else ""


# -- subscriptions posted by browsers --------------------------------------------------


class SubscriptionError(ValueError):
    """A subscription the views refuse (400); ``str(exc)`` says what is wrong."""


@dataclass(frozen=True)
class Subscription:
    """A browser's subscription, as ``PushSubscription.toJSON()`` gives it, checked."""

    endpoint: str
    p256dh: str
    auth: str


def _json_object(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise SubscriptionError(_("The request is too large."))
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SubscriptionError(_("The request is not JSON.")) from None
    if not isinstance(data, dict):
        raise SubscriptionError(_("The request is not a JSON object."))
    return data


def parse_endpoint(value: object) -> str:
    """A push endpoint: an https URL (http only for ``INSECURE_HOSTS``) of at most 1024
    characters, with a host and no user name or password."""
    if not isinstance(value, str) or not 0 < len(value) <= 1024 or not value.isprintable():
        raise SubscriptionError(_("The endpoint is not a valid URL."))
    try:
        url = urlsplit(value)
        host = url.hostname
    except ValueError:
        raise SubscriptionError(_("The endpoint is not a valid URL.")) from None
    if not host or url.username is not None or url.password is not None or " " in value:
        raise SubscriptionError(_("The endpoint is not a valid URL."))
    insecure = [str(h).lower() for h in options()["INSECURE_HOSTS"]]
    if url.scheme != "https" and not (url.scheme == "http" and host in insecure):
        raise SubscriptionError(_("The endpoint must be an https URL."))
    return value


def parse_subscription(body: bytes) -> Subscription:
    """The subscription a browser posted (``JSON.stringify(subscription)``)."""
    data = _json_object(body)
    if set(data) - {"endpoint", "expirationTime", "keys"}:
        raise SubscriptionError(_("The subscription has unknown fields."))
    expiration = data.get("expirationTime")
    if expiration is not None and (
        isinstance(expiration, bool) or not isinstance(expiration, int | float)
    ):
        raise SubscriptionError(_("The expiration time is not a number."))
    endpoint = parse_endpoint(data.get("endpoint"))
    keys = data.get("keys")
    if not isinstance(keys, dict) or set(keys) != {"p256dh", "auth"}:
        raise SubscriptionError(_("The subscription needs the keys p256dh and auth."))
    if not is_point(b64decode(keys["p256dh"])):
        raise SubscriptionError(_("The key p256dh is not a P-256 public key in base64url."))
    auth = b64decode(keys["auth"])
    if auth is None or len(auth) != AUTH_BYTES:
        raise SubscriptionError(_("The key auth is not 16 bytes in base64url."))
    return Subscription(endpoint, keys["p256dh"].rstrip("="), keys["auth"].rstrip("="))


def parse_unsubscribe(body: bytes) -> str:
    """The endpoint of a request to unsubscribe (``{"endpoint": ...}``, or a subscription)."""
    return parse_endpoint(_json_object(body).get("endpoint"))


def b64decode(value: object) -> bytes | None:
    """The bytes of base64url text, or None when ``value`` is not base64url text."""
    if not isinstance(value, str) or not _B64URL.fullmatch(value):
        return None
    stripped = value.rstrip("=")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError):
        return None


def b64encode(data: bytes) -> str:
    """base64url text of ``data``, without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@cache
def available() -> bool:
    """Whether pywebpush (the extra ``push``) is installed (looked up once)."""
    return importlib.util.find_spec("pywebpush") is not None


def is_point(raw: bytes | None) -> bool:
    """Whether ``raw`` is an uncompressed point of the P-256 curve."""
    if raw is None or len(raw) != PUBLIC_KEY_BYTES or raw[0] != 4:
        return False
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        return False
    return True


def public_of(private: str) -> str | None:
    """The public key (base64url) of a private key (base64url), or None if malformed."""
    raw = b64decode(private)
    if raw is None or len(raw) != PRIVATE_KEY_BYTES:
        return None
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except ValueError:  # zero, or not below the curve's order
        return None
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64encode(point)


def generate() -> tuple[str, str]:
    """A new VAPID key pair: (public key, private key), both base64url."""
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private = b64encode(key.private_numbers().private_value.to_bytes(PRIVATE_KEY_BYTES, "big"))
    public = public_of(private)
    assert public is not None
    return public, private


def subject_ok(subject: object) -> bool:
    """Whether ``subject`` is a VAPID subject push services accept: mailto: or https:."""
    if not isinstance(subject, str):
        return False
    if subject.startswith("mailto:"):
        return "@" in subject[7:] and not any(c.isspace() for c in subject)
    return re.fullmatch(r"https://[^\s/?#]+(?:[/?#]\S*)?", subject) is not None
