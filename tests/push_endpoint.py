"""A local Web Push service for tests: an HTTP server on 127.0.0.1 that receives pushes and
decrypts them as a browser would (RFC 8291 aes128gcm), and checks their VAPID signature.

Each subscription made by :meth:`PushEndpoint.subscription` gets its own path, its own
P-256 key pair and authentication secret (made here, as a browser makes them), and an
answer status (201 unless a test sets another one).
"""

from __future__ import annotations

import base64
import json
import os
import queue
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """One subscribed browser: its endpoint, its keys, and the status its service answers."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey
    auth: bytes
    status: int = 201

    @property
    def p256dh(self) -> str:
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64(point)

    def json(self) -> dict[str, Any]:
        """What ``JSON.stringify(subscription)`` gives in a browser."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64(self.auth)},
        }


@dataclass
class Push:
    """A push the service received, decrypted."""

    browser: Browser
    headers: dict[str, str]
    data: dict[str, Any] = field(default_factory=dict)


class PushEndpoint:
    def __init__(self) -> None:
        self.browsers: dict[str, Browser] = {}
        self.received: queue.Queue[Push] = queue.Queue()
        #: Set to an unset Event to hold every answer until the test sets it.
        self.gate: threading.Event | None = None
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                browser = endpoint.browsers.get(self.path)
                if browser is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                plain = http_ece.decrypt(
                    body, private_key=browser.key, auth_secret=browser.auth, version="aes128gcm"
                )
                headers = {k.lower(): v for k, v in self.headers.items()}
                endpoint.received.put(Push(browser, headers, json.loads(plain)))
                if endpoint.gate is not None:  # the test holds the answer back
                    endpoint.gate.wait(60)
                self.send_response(browser.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> PushEndpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def browser(self, status: int = 201) -> Browser:
        path = f"/push/{b64(os.urandom(12))}"
        made = Browser(self.origin + path, ec.generate_private_key(ec.SECP256R1()), os.urandom(16))
        made.status = status
        self.browsers[path] = made
        return made

    def next(self, timeout: float = 60) -> Push:
        return self.received.get(timeout=timeout)

    def all(self) -> list[Push]:
        found = []
        while not self.received.empty():
            found.append(self.received.get_nowait())
        return found


def vapid_claims(authorization: str, public_key: str) -> dict[str, Any]:
    """The claims of a ``vapid t=JWT,k=KEY`` header, after checking its ES256 signature
    with ``public_key`` (and that the header names that key); raises if it does not verify."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid", authorization
    fields = dict(part.split("=", 1) for part in params.split(","))
    assert fields["k"] == public_key
    header, claims, signature = fields["t"].split(".")
    assert json.loads(unb64(header)) == {"typ": "JWT", "alg": "ES256"}
    raw = unb64(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(public_key))
    key.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    result: dict[str, Any] = json.loads(unb64(claims))
    return result
