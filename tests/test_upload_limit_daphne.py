"""UploadLimitMiddleware in the demo under a real Daphne, over raw sockets.

Daphne (Twisted) receives a request's whole body before it calls the ASGI application,
so every request here sends all it declares; what the tests show is who answers: the
middleware's 413 page (``Connection: close``) where, without it, Django's view would
have run (a redirect to the login page for a stranger, the composer's refusal for a
member), and that uploads within the limit and other pages are served as before.
"""

from __future__ import annotations

import re
import secrets
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests import servers

pytestmark = pytest.mark.postgres

LIMIT = 10 * 1024 * 1024 + 256 * 1024  # the demo's CHATTER_MAX_UPLOAD_BYTES + allowance
CSRF = secrets.token_hex(16)  # 32 characters: a CSRF secret Django accepts as it is
BLOCK = 64 * 1024


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    media = tmp_path_factory.mktemp("media")
    with servers.database("upload_limit") as name:
        env = servers.server_env(name, redis_url=None, CHATTER_MEDIA_ROOT=str(media))
        chat = servers.prepare_chat(env)
        with servers.DaphneProcess(env) as server:
            yield {"port": server.port, "room": chat["room"], "cookie": chat["cookies"]["alice"]}


def request(
    site: dict[str, Any],
    path: str,
    head: dict[str, str],
    body_blocks: int = 0,
    tail: bytes = b"",
    chunked: bool = False,
    lead: bytes = b"",
) -> tuple[int, dict[str, str], bytes]:
    """Send a request (``lead``, ``body_blocks`` blocks of 64 KB, ``tail``), read the answer."""
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{site['port']}"]
    lines += [f"{k}: {v}" for k, v in head.items()]
    with socket.create_connection(("127.0.0.1", site["port"]), timeout=60) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        block = b"x" * BLOCK
        if lead:
            sock.sendall(b"%x\r\n%s\r\n" % (len(lead), lead) if chunked else lead)
        for _ in range(body_blocks):
            sock.sendall(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
        if chunked:
            sock.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(tail), tail) if tail else b"0\r\n\r\n")
        else:
            sock.sendall(tail)
        answer = b""
        while b"\r\n\r\n" not in answer or not _complete(answer):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    head_part, _, content = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head_part.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, content


def _complete(answer: bytes) -> bool:
    head, _, content = answer.partition(b"\r\n\r\n")
    found = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return found is not None and len(content) >= int(found[1])


def member(site: dict[str, Any], **extra: str) -> dict[str, str]:
    return {
        "Cookie": f"sessionid={site['cookie']}; csrftoken={CSRF}",
        "X-CSRFToken": CSRF,
        "Origin": f"http://127.0.0.1:{site['port']}",
        "HX-Request": "true",
        **extra,
    }


def multipart(text: str, name: str, data: bytes) -> tuple[str, bytes, bytes]:
    """A form as the composer posts it: its type, the part before the file's data (with
    ``data``) and the closing boundary."""
    boundary = secrets.token_hex(8)
    lead = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="text"\r\n\r\n{text}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="client_id"\r\n\r\n'
        f"{uuid.uuid4()}\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode() + data
    return f"multipart/form-data; boundary={boundary}", lead, f"\r\n--{boundary}--\r\n".encode()


def upload_url(site: dict[str, Any]) -> str:
    return f"/chat/{site['room']}/upload/"


def test_a_declared_length_over_the_limit_is_refused_by_the_middleware(site) -> None:
    # A stranger: without the middleware Django's view would send them to the login page.
    content_type, lead, end = multipart("big", "big.txt", b"")
    blocks = LIMIT // BLOCK + 1
    length = len(lead) + blocks * BLOCK + len(end)
    head = {"Content-Length": str(length), "Content-Type": content_type}
    status, headers, content = request(site, upload_url(site), head, blocks, end, lead=lead)
    assert status == 413, content[:500]
    assert headers["connection"] == "close"
    assert b"<title>413</title>" in content and b"too large" in content


def test_a_chunked_body_over_the_limit_is_refused_by_the_middleware(site) -> None:
    # A member: the view would have answered its own refusal (the composer's fragment).
    content_type, lead, end = multipart("big", "big.txt", b"")
    blocks = LIMIT // BLOCK + 2
    head = member(site, **{"Transfer-Encoding": "chunked", "Content-Type": content_type})
    status, headers, content = request(site, upload_url(site), head, blocks, end, True, lead)
    assert status == 413
    assert headers["connection"] == "close"
    assert b"<title>413</title>" in content


def test_an_upload_within_the_limit_is_sent(site) -> None:
    content_type, lead, end = multipart("a note", "note.txt", b"hello, files\n" * 1000)
    body = lead + end
    head = member(site, **{"Content-Length": str(len(body)), "Content-Type": content_type})
    status, _, content = request(site, upload_url(site), head, tail=body)
    assert status == 200, content[:500]
    assert b"<title>413</title>" not in content


def test_other_paths_are_untouched(site) -> None:
    # A big POST elsewhere reaches Django (CSRF refuses it: 403, not the middleware's 413).
    blocks = LIMIT // BLOCK + 1
    head = {"Content-Length": str(blocks * BLOCK), "Content-Type": "text/plain"}
    status, _, content = request(site, f"/chat/{site['room']}/", head, blocks)
    assert status == 403
    assert b"<title>413</title>" not in content
