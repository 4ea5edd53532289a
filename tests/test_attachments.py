"""Tests of attachments: the upload view, the checks of chatter.attachments, images,
storage, serving and the statement counts of pages with files."""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import WSGIRequest
from django.db import connection
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from chatter import attachment_views, attachments, frames, messages, rooms, timeline, uploads
from chatter.models import ATTACHMENT_NAME_MAX_LENGTH, Attachment, Message, Room

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    """Every test stores its files in a fresh directory of its own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def stored(media: Path) -> list[str]:
    """The files in the storage now."""
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())


def png(size: tuple[int, int] = (40, 30), color: str = "red", mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps(size: tuple[int, int] = (600, 400)) -> bytes:
    """A photo as a phone takes it: GPS position, camera make, orientation "rotate 90"."""
    image = Image.new("RGB", size, "blue")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90 CW to show
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}  # GPS
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def upload_file(name: str, data: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def _room(*users: Any) -> Room:
    return Room.objects.get(pk=rooms.create_room(list(users)))


def _post(client: Any, room: Room, files: list[Any], text: str = "", **extra: Any) -> Any:
    data = {"text": text, "client_id": str(uuid.uuid4()), "files": files, **extra}
    return client.post(reverse("chatter:upload", args=[room.id]), data, **HTMX)


# -- names and types ------------------------------------------------------------------------


def test_clean_name_keeps_only_the_last_part_and_shows_no_controls() -> None:
    assert uploads.clean_name("../../etc/passwd") == "passwd"
    assert uploads.clean_name("C:\\Users\\me\\photo.JPG") == "photo.JPG"
    assert uploads.clean_name("a\u202eb\x00c\nd.txt") == "abc d.txt"
    assert uploads.clean_name("") == "file"
    assert uploads.clean_name(None) == "file"
    long = uploads.clean_name("x" * 500 + ".pdf")
    assert len(long) == ATTACHMENT_NAME_MAX_LENGTH and long.endswith("….pdf")


@given(st.text(max_size=600))
def test_clean_name_of_anything_is_short_shown_and_has_no_path(name: str) -> None:
    cleaned = uploads.clean_name(name)
    assert 0 < len(cleaned) <= ATTACHMENT_NAME_MAX_LENGTH
    assert "/" not in cleaned and "\\" not in cleaned
    assert not any(ch in cleaned for ch in "\x00\n\r\t\u202e\u200b")


def test_detect_type_reads_the_content_not_the_name() -> None:
    assert uploads.detect_type(png()) == "image/png"
    assert uploads.detect_type(b"%PDF-1.7\n%\xe2\xe3\n1 0 obj\n") == "application/pdf"
    assert uploads.detect_type("Grüße\n".encode()) == "text/plain"
    assert uploads.detect_type(b"<svg xmlns='http://www.w3.org/2000/svg'/>") == "image/svg+xml"
    assert uploads.detect_type(b"MZ\x90\x00\x03" + b"\x00" * 60) is None  # a program
    assert uploads.detect_type(b"\x00\x01\x02garbage\xff") is None
    assert uploads.detect_type(b"") is None


def test_a_wrong_type_behind_a_right_extension_is_refused_and_nothing_stored(
    alice_client: Any, alice: Any, bob: Any, media: Path
) -> None:
    room = _room(alice, bob)
    program = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200  # a Windows program
    response = _post(alice_client, room, [upload_file("holiday.png", program)], "look")
    assert response.status_code == 400
    assert "holiday.png" in response.content.decode()
    assert "is not a kind of file this chat accepts" in response.content.decode()
    assert not Message.objects.exists() and not Attachment.objects.exists()
    assert stored(media) == []


def test_a_pdf_named_png_is_stored_as_a_pdf_under_a_generated_name(
    alice_client: Any, alice: Any, bob: Any, media: Path
) -> None:
    room = _room(alice, bob)
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    response = _post(alice_client, room, [upload_file("../../me.png", pdf)])
    assert response.status_code == 200
    file = Attachment.objects.get()
    assert file.content_type == "application/pdf" and file.name == "me.png"
    assert file.path.startswith("chatter/public/") and file.path.endswith(".pdf")
    assert "me" not in file.path and stored(media) == [file.path]
    assert Message.objects.get().text == ""  # files need no text


# -- limits ---------------------------------------------------------------------------------


class CountingStream(io.BytesIO):
    """A request body that counts the bytes the server read of it."""

    taken = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.taken += len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        data = super().readline(size)
        self.taken += len(data)
        return data


def _streamed(room: Room, user: Any, body: bytes, **meta: Any) -> tuple[Any, CountingStream]:
    stream = CountingStream(body)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": reverse("chatter:upload", args=[room.id]),
        "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "CONTENT_TYPE": MULTIPART_CONTENT,
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HX_REQUEST": "true",
        "wsgi.input": stream,
        "wsgi.url_scheme": "http",
        **meta,
    }
    request = WSGIRequest(environ)
    request.user = user
    request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
    return attachment_views.upload(request, room_id=room.id), stream


def test_over_the_limit_the_upload_stops_while_streaming(
    settings: Any, alice: Any, bob: Any, media: Path
) -> None:
    """A body within Content-Length's allowance whose files pass the limit: the handler
    stops the parsing there, and the rest of the body is never read."""
    settings.CHATTER_MAX_UPLOAD_BYTES = 1024 * 1024
    room = _room(alice, bob)
    big = upload_file("big.txt", b"a" * (1024 * 1024 + 200 * 1024), "text/plain")
    body = encode_multipart(
        BOUNDARY, {"text": "hi", "client_id": str(uuid.uuid4()), "files": [big]}
    )
    response, stream = _streamed(room, alice, body)
    print(f"\nstreamed: read {stream.taken} of {len(body)} bytes")
    assert response.status_code == 413
    assert "too large" in response.content.decode()
    assert stream.taken < len(body) - 100 * 1024  # stopped ~1 MB in, not at the end
    assert not Message.objects.exists() and stored(media) == []


def test_a_declared_length_over_the_limit_is_refused_before_reading_the_body(
    settings: Any, alice: Any, bob: Any, media: Path
) -> None:
    settings.CHATTER_MAX_UPLOAD_BYTES = 1024 * 1024
    room = _room(alice, bob)
    big = upload_file("big.txt", b"a" * (3 * 1024 * 1024), "text/plain")
    body = encode_multipart(BOUNDARY, {"text": "hi", "files": [big]})
    response, stream = _streamed(room, alice, body)
    assert response.status_code == 413 and stream.taken == 0
    assert not Message.objects.exists() and stored(media) == []


def test_too_many_files_are_refused(settings: Any, alice_client: Any, alice: Any, bob: Any) -> None:
    settings.CHATTER_MAX_UPLOAD_FILES = 2
    room = _room(alice, bob)
    files = [upload_file(f"{n}.png", png()) for n in range(3)]
    response = _post(alice_client, room, files)
    assert response.status_code == 413 and "at most 2" in response.content.decode()
    assert not Message.objects.exists()


def test_the_quota_counts_what_a_user_has_stored(
    settings: Any, alice_client: Any, alice: Any, bob: Any, media: Path
) -> None:
    room = _room(alice, bob)
    text = b"x" * 3000
    settings.CHATTER_UPLOAD_QUOTA_BYTES = 5000
    assert _post(alice_client, room, [upload_file("a.txt", text, "text/plain")]).status_code == 200
    assert attachments.used_bytes(alice) == 3000
    response = _post(alice_client, room, [upload_file("b.txt", text, "text/plain")], "again")
    assert response.status_code == 413 and "no room left" in response.content.decode()
    assert Message.objects.count() == 1 and len(stored(media)) == 1
    # Deleting the first frees its bytes.
    messages.delete_message(room, alice, 1)
    assert attachments.used_bytes(alice) == 0
    assert _post(alice_client, room, [upload_file("b.txt", text, "text/plain")]).status_code == 200


# -- images ---------------------------------------------------------------------------------


def test_an_image_bomb_is_refused_before_it_is_decoded(
    alice_client: Any, alice: Any, bob: Any, media: Path
) -> None:
    # 100 million pixels, a few kilobytes on the wire; 400 MB if it were decoded as RGBA.
    bomb = png((10_000, 10_000), color="white", mode="1")
    assert len(bomb) < 100_000
    response = _post(alice_client, _room(alice, bob), [upload_file("bomb.png", bomb)])
    assert response.status_code == 400 and "too large" in response.content.decode()
    assert not Attachment.objects.exists() and stored(media) == []


def test_the_pixel_limit_is_a_setting(
    settings: Any, alice_client: Any, alice: Any, bob: Any
) -> None:
    settings.CHATTER_MAX_IMAGE_PIXELS = 100
    response = _post(alice_client, _room(alice, bob), [upload_file("a.png", png((20, 20)))])
    assert response.status_code == 400 and "too large" in response.content.decode()


def test_a_broken_image_is_refused(alice_client: Any, alice: Any, bob: Any) -> None:
    broken = png((300, 300))[:200]  # the header of a PNG and no more
    response = _post(alice_client, _room(alice, bob), [upload_file("a.png", broken)])
    assert response.status_code == 400 and "cannot be read" in response.content.decode()


def test_exif_and_gps_are_gone_from_what_members_download(
    alice_client: Any, alice: Any, bob: Any, client: Any
) -> None:
    room = _room(alice, bob)
    photo = jpeg_with_gps()
    assert Image.open(io.BytesIO(photo)).getexif()[0x0112] == 6
    assert (
        _post(alice_client, room, [upload_file("me.jpg", photo, "image/jpeg")]).status_code == 200
    )
    file = Attachment.objects.get()
    client.force_login(bob)
    got = b"".join(
        client.get(reverse("chatter:attachment", args=[room.id, file.id])).streaming_content
    )
    image = Image.open(io.BytesIO(got))
    assert dict(image.getexif()) == {} and "exif" not in image.info
    assert b"PhoneMaker" not in got
    assert image.size == (400, 600) == (file.width, file.height)  # orientation applied
    thumb = client.get(reverse("chatter:attachment_thumb", args=[room.id, file.id]))
    small = Image.open(io.BytesIO(b"".join(thumb.streaming_content)))
    assert small.size == (file.thumb_width, file.thumb_height) and max(small.size) <= 320
    assert dict(small.getexif()) == {}


def test_an_image_is_shown_inline_with_its_size_and_dimensions(
    alice_client: Any, alice: Any, bob: Any
) -> None:
    room = _room(alice, bob)
    _post(alice_client, room, [upload_file("red.png", png((40, 30)))], "a red one")
    file = Attachment.objects.get()
    html = alice_client.get(reverse("chatter:chatroom", args=[room.id])).content.decode()
    thumb = reverse("chatter:attachment_thumb", args=[room.id, file.id])
    assert f'<img src="{thumb}" width="40" height="30" alt="red.png"' in html
    assert f"{file.size}\xa0bytes" in html
    response = alice_client.get(reverse("chatter:attachment", args=[room.id, file.id]))
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")


# -- serving --------------------------------------------------------------------------------


SVG = (
    b"""<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>"""
)


def test_an_svg_is_never_inline_and_is_served_as_a_sandboxed_download(
    alice_client: Any, alice: Any, bob: Any
) -> None:
    room = _room(alice, bob)
    assert (
        _post(alice_client, room, [upload_file("logo.svg", SVG, "image/svg+xml")]).status_code
        == 200
    )
    file = Attachment.objects.get()
    assert file.content_type == "image/svg+xml" and not file.is_image
    html = alice_client.get(reverse("chatter:chatroom", args=[room.id])).content.decode()
    assert "<img" not in html.split('id="chatter-messages"')[1].split("chatter-composer")[0]
    assert 'class="chatter-file-card"' in html and "image/svg+xml" in html
    response = alice_client.get(reverse("chatter:attachment", args=[room.id, file.id]))
    assert response["Content-Disposition"].startswith("attachment")
    assert 'filename="logo.svg"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "default-src 'none'" in response["Content-Security-Policy"]
    thumb = alice_client.get(reverse("chatter:attachment_thumb", args=[room.id, file.id]))
    assert thumb.status_code == 404


def test_non_members_and_strangers_get_404(
    alice_client: Any, alice: Any, bob: Any, carol: Any, client: Any
) -> None:
    room = _room(alice, bob)
    _post(alice_client, room, [upload_file("a.png", png())])
    file = Attachment.objects.get()
    other = _room(alice, carol)
    client.force_login(carol)
    for name in ("chatter:attachment", "chatter:attachment_thumb"):
        assert client.get(reverse(name, args=[room.id, file.id])).status_code == 404
        # Carol's own room does not open a file of another room either.
        assert client.get(reverse(name, args=[other.id, file.id])).status_code == 404
        assert client.get(reverse(name, args=[room.id, uuid.uuid4()])).status_code == 404
    response = _post(client, room, [upload_file("b.png", png())])
    assert response.status_code == 404 and Attachment.objects.count() == 1
    client.logout()
    response = client.get(reverse("chatter:attachment", args=[room.id, file.id]))
    assert response.status_code == 302


def test_sendfile_hands_the_file_to_the_web_server(
    settings: Any, alice_client: Any, alice: Any, bob: Any, media: Path
) -> None:
    room = _room(alice, bob)
    _post(alice_client, room, [upload_file("notes.txt", b"hello\n", "text/plain")])
    file = Attachment.objects.get()
    url = reverse("chatter:attachment", args=[room.id, file.id])
    settings.CHATTER_SENDFILE = "x-accel-redirect"
    settings.CHATTER_SENDFILE_PREFIX = "/chatter-files/"
    response = alice_client.get(url)
    assert response["X-Accel-Redirect"] == f"/chatter-files/{file.path}"
    assert response.content == b"" and response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == 'attachment; filename="notes.txt"'
    settings.CHATTER_SENDFILE = "x-sendfile"
    response = alice_client.get(url)
    assert response["X-Sendfile"] == os.path.join(str(media), file.path)


# -- messages and deletion ------------------------------------------------------------------


def test_deleting_the_message_deletes_its_files(
    alice_client: Any, alice: Any, bob: Any, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    room = _room(alice, bob)
    _post(
        alice_client,
        room,
        [upload_file("big.png", png((800, 600))), upload_file("b.txt", b"b", "text/plain")],
    )
    assert len(stored(media)) == 3  # the image, its thumbnail, the text
    with django_capture_on_commit_callbacks(execute=True):
        message, changed = messages.delete_message(room, alice, 1)
    assert changed and message.files == 0 and message.attachment_list == []
    assert not Attachment.objects.exists() and stored(media) == []


def test_deleting_the_room_deletes_its_files(
    alice_client: Any, alice: Any, bob: Any, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    room = _room(alice, bob)
    _post(alice_client, room, [upload_file("a.png", png())])
    with django_capture_on_commit_callbacks(execute=True):
        Room.objects.filter(pk=room.pk).delete()
    assert stored(media) == []


def test_a_failed_transaction_leaves_no_file(
    alice_client: Any, alice: Any, bob: Any, media: Path, monkeypatch: Any
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise messages.MessageRefused("the database said no", code="invalid")

    monkeypatch.setattr(Attachment.objects, "bulk_create", refuse)
    response = _post(alice_client, _room(alice, bob), [upload_file("a.png", png((900, 900)))])
    assert response.status_code == 400
    assert not Message.objects.exists() and stored(media) == []


def test_a_resend_stores_nothing_twice(
    alice_client: Any, alice: Any, bob: Any, media: Path
) -> None:
    room = _room(alice, bob)
    cid = str(uuid.uuid4())
    for _ in range(2):
        response = _post(alice_client, room, [upload_file("a.png", png())], client_id=cid)
        assert response.status_code == 200 and f'data-sent="{cid}"' in response.content.decode()
    assert Message.objects.count() == 1 and Attachment.objects.count() == 1
    assert len(stored(media)) == 1


def test_a_live_frame_carries_the_attachments(alice: Any, bob: Any) -> None:
    room = _room(alice, bob)
    message, _ = attachments.send(room, alice, "see", [upload_file("a.png", png((500, 500)))])
    html = frames.message(message)
    file = message.attachment_list[0]
    assert reverse("chatter:attachment_thumb", args=[room.id, file.id]) in html
    assert 'width="320" height="320"' in html
    # A resume reads it back from the database the same way.
    again = timeline.messages_after(room, 0)
    assert frames.messages(again).count("chatter-file-image") == 1


def test_text_without_files_goes_through_the_upload_view_too(
    client: Any, alice: Any, bob: Any
) -> None:
    room = _room(alice, bob)
    client.force_login(alice)
    response = client.post(reverse("chatter:upload", args=[room.id]), {"text": "plain"})
    assert response.status_code == 302 and Message.objects.get().text == "plain"
    response = client.post(reverse("chatter:upload", args=[room.id]), {"text": "  "})
    assert response.status_code == 400 and Message.objects.count() == 1


def test_the_composer_offers_a_file_input_and_posts_to_upload(
    alice_client: Any, alice: Any, bob: Any
) -> None:
    room = _room(alice, bob)
    html = alice_client.get(reverse("chatter:chatroom", args=[room.id])).content.decode()
    assert '<input type="file" name="files" id="chatter-files"' in html and " multiple>" in html
    assert '<label for="chatter-files"' in html
    assert 'enctype="multipart/form-data"' in html
    assert f'formaction="{reverse("chatter:upload", args=[room.id])}"' in html


# -- statement counts -----------------------------------------------------------------------


@pytest.fixture
def no_upload_limit(settings: Any) -> None:
    """For tests that send many messages with files in a row."""
    settings.CHATTER_FRAME_LIMITS = {"upload": (0, 0)}


def _with_files(room: Room, user: Any, count: int, per_message: int) -> None:
    for n in range(count):
        files = [upload_file(f"{n}-{k}.txt", b"x", "text/plain") for k in range(per_message)]
        attachments.send(room, user, f"m{n}", files)


@pytest.mark.parametrize("per_message", [1, 3])
def test_statement_counts_do_not_grow_with_messages_or_files(
    alice: Any, bob: Any, carol: Any, per_message: int, no_upload_limit: None
) -> None:
    counts = []
    for other, size in ((bob, 5), (carol, 40)):
        room = _room(alice, other)
        _with_files(room, alice, size, per_message)
        with CaptureQueriesContext(connection) as ctx:
            page = timeline.history(room)
            assert sum(len(m.attachment_list) for m in page.messages) == size * per_message
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] == 2  # the messages, and their files in one query


def test_the_room_page_costs_the_same_with_more_messages_with_files(
    alice: Any, bob: Any, carol: Any, alice_client: Any, no_upload_limit: None
) -> None:
    counts = []
    for other, size in ((bob, 3), (carol, 30)):
        room = _room(alice, other)
        _with_files(room, alice, size, 2)
        url = reverse("chatter:chatroom", args=[room.id])
        with CaptureQueriesContext(connection) as ctx:
            html = alice_client.get(url).content.decode()
        assert html.count('class="chatter-file-card"') == size * 2
        counts.append(len(ctx.captured_queries))
    print(f"\nroom page statements: {counts}")
    assert counts[0] == counts[1]


# -- the form, fuzzed -----------------------------------------------------------------------

texts = st.characters(blacklist_categories=("Cs",))
names = st.text(texts, max_size=300)
contents = st.one_of(st.binary(max_size=2000), st.just(png()), st.just(SVG))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.text(texts, max_size=200),
    client_id=st.one_of(st.just(""), st.uuids().map(str), st.text(texts, max_size=40)),
    reply_to=st.one_of(st.just(""), st.integers(-5, 2**64).map(str), st.text(texts, max_size=10)),
    files=st.lists(st.tuples(names, contents), max_size=3),
)
def test_any_upload_form_gets_an_answer_and_leaves_nothing_half_written(
    alice_client: Any,
    alice: Any,
    bob: Any,
    no_upload_limit: None,
    text: str,
    client_id: str,
    reply_to: str,
    files: list[Any],
) -> None:
    room = _room(alice, bob)
    before = Message.objects.count()
    # The test client refuses to send a name whose last part is "", "." or "..".
    sent_files = [
        SimpleUploadedFile(name if os.path.basename(name) not in ("", ".", "..") else "f", d)
        for name, d in files
    ]
    data = {"text": text, "client_id": client_id, "reply_to": reply_to, "files": sent_files}
    response = alice_client.post(reverse("chatter:upload", args=[room.id]), data, **HTMX)
    assert response.status_code in (200, 400, 403, 413, 429)
    made = Message.objects.count() - before
    if response.status_code == 200:
        assert made in (0, 1)  # 0: a resend of a client id already stored
        assert 'data-sent="' in response.content.decode()
    else:
        assert made == 0  # a refusal under the composer, or 400 for a NUL (chatter.inputs)
    for message in Message.objects.filter(files__gt=0):
        assert message.attachments.count() == message.files


def test_the_docs_example_sends_a_file_from_code(
    alice: Any, bob: Any, media: Path, capsys: Any
) -> None:
    """The shell snippet of docs/attachments.rst, run here against the test database."""
    from tests import docs

    [snippet] = [s for s in docs.groups()["attachments"] if s.action == "shell"]
    exec(compile(snippet.code, snippet.block.where, "exec"), {})  # noqa: S102
    assert "[('report.txt', 'text/plain', 21)]" in capsys.readouterr().out
    message = Message.objects.get(text="The weekly report")
    assert message.files == 1 and len(stored(media)) == 1


# -- images, format by format ---------------------------------------------------------------


def _encoded(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def test_each_picture_format_is_re_encoded_in_its_own_format() -> None:
    from chatter import images

    cmyk = _encoded(Image.new("CMYK", (500, 300), (0, 255, 255, 0)), "JPEG")
    webp = _encoded(Image.new("RGB", (700, 350), "teal"), "WEBP")
    frames = [Image.new("RGB", (400, 400), c) for c in ("red", "green", "blue")]
    gif = _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    for data, content_type, thumb in (
        (cmyk, "image/jpeg", (320, 192)),
        (webp, "image/webp", (320, 160)),
        (gif, "image/gif", (320, 320)),
    ):
        done = images.process(data, content_type)
        again = Image.open(io.BytesIO(done.data))
        assert again.format == images.FORMATS[content_type]
        assert (done.thumb_width, done.thumb_height) == thumb
        assert done.thumb is not None and Image.open(io.BytesIO(done.thumb)).size == thumb
    assert Image.open(io.BytesIO(images.process(gif, "image/gif").data)).n_frames == 3


@pytest.mark.parametrize("data", [b"not a picture at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20])
def test_what_pillow_cannot_open_is_refused(data: bytes) -> None:
    from chatter import images

    with pytest.raises(images.ImageRefused, match="cannot be read"):
        images.process(data, "image/png")


def test_a_small_picture_is_its_own_thumbnail(alice_client: Any, alice: Any, bob: Any) -> None:
    room = _room(alice, bob)
    _post(alice_client, room, [upload_file("dot.png", png((10, 10)))])
    file = Attachment.objects.get()
    assert file.thumb_path == "" and (file.thumb_width, file.thumb_height) == (10, 10)
    response = alice_client.get(reverse("chatter:attachment_thumb", args=[room.id, file.id]))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"


def test_code_that_sends_files_is_held_to_the_same_limits(
    settings: Any, alice: Any, bob: Any, media: Path
) -> None:
    room = _room(alice, bob)
    settings.CHATTER_MAX_UPLOAD_FILES = 1
    files = [upload_file(f"{n}.txt", b"x", "text/plain") for n in range(2)]
    with pytest.raises(attachments.AttachmentRefused, match="at most 1"):
        attachments.send(room, alice, "two", files)
    settings.CHATTER_MAX_UPLOAD_BYTES = 10
    with pytest.raises(attachments.AttachmentRefused, match="too large"):
        attachments.send(room, alice, "big", [upload_file("a.txt", b"x" * 11, "text/plain")])
    settings.CHATTER_UPLOAD_QUOTA_BYTES = None
    attachments.send(room, alice, "ok", [upload_file("a.txt", b"x" * 10, "text/plain")])
    assert Message.objects.count() == 1 and len(stored(media)) == 1


def test_a_long_name_without_an_extension_is_cut() -> None:
    assert uploads.clean_name("y" * 300) == "y" * (ATTACHMENT_NAME_MAX_LENGTH - 1) + "…"


def test_the_room_list_previews_a_message_of_files_only(
    alice_client: Any, alice: Any, bob: Any
) -> None:
    room = _room(alice, bob)
    _post(alice_client, room, [upload_file(f"{n}.txt", b"x", "text/plain") for n in range(2)])
    html = alice_client.get(reverse("chatter:index")).content.decode()
    assert "You: \N{PAPERCLIP} 2 files" in html
    message = Message.objects.get()
    assert "\N{PAPERCLIP} 2 files" in frames.room_update(message)


def test_a_moderator_deleting_a_reported_message_deletes_its_files(
    alice: Any, bob: Any, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    from chatter import moderation
    from tests.test_moderation import staff_with

    room = _room(alice, bob)
    attachments.send(room, alice, "look", [upload_file("a.png", png((900, 600)))])
    report = moderation.report_message(room, bob, 1, "abuse")
    assert len(stored(media)) == 2
    moderator = staff_with("mod", "chatter.delete_message")
    with django_capture_on_commit_callbacks(execute=True):
        assert moderation.delete_reported(report, moderator) is not None
    assert stored(media) == [] and not Attachment.objects.exists()


def test_sending_files_costs_the_same_in_a_room_of_200(alice: Any, bob: Any) -> None:
    from tests.factories import crowd

    small = _room(alice, bob)
    big = Room.objects.get(pk=rooms.create_room([alice, *crowd("member", 199)]))
    assert big.memberships.count() == 200
    counts = []
    for room in (small, big):
        files = [upload_file(f"{n}.png", png((400, 300))) for n in range(3)]
        with CaptureQueriesContext(connection) as ctx:
            message, created = attachments.send(room, alice, "three", files)
        assert created and len(message.attachment_list) == 3
        counts.append(len(ctx.captured_queries))
    print(f"\nstatements to send 3 files: room of 2 {counts[0]}, room of 200 {counts[1]}")
    assert counts[0] == counts[1]


def test_a_broken_multipart_body_is_a_400(alice_client: Any, alice: Any, bob: Any) -> None:
    room = _room(alice, bob)
    response = alice_client.generic(
        "POST",
        reverse("chatter:upload", args=[room.id]),
        b"--nope\r\nContent-Disposition: form-data; name=files; filename=a.png\r\n\r\nxx",
        content_type="multipart/form-data; boundary=",
        **HTMX,
    )
    assert response.status_code == 400 and not Message.objects.exists()


def test_csrf_is_checked_after_the_handler_is_installed(alice: Any, bob: Any) -> None:
    from django.test import Client

    room = _room(alice, bob)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    data = {"text": "x", "files": [upload_file("a.png", png())]}
    response = client.post(reverse("chatter:upload", args=[room.id]), data)
    assert response.status_code == 403 and not Message.objects.exists()


def test_uploads_are_limited_before_their_files_are_checked(
    settings: Any, alice_client: Any, alice: Any, bob: Any, media: Path, monkeypatch: Any
) -> None:
    settings.CHATTER_FRAME_LIMITS = {"upload": (1, 60)}
    room = _room(alice, bob)
    assert _post(alice_client, room, [upload_file("a.png", png())]).status_code == 200
    checked: list[bytes] = []
    monkeypatch.setattr(uploads, "_check", lambda name, data: checked.append(data))
    response = _post(alice_client, room, [upload_file("b.png", png())], "again")
    assert response.status_code == 429 and "too often" in response.content.decode()
    assert checked == [] and Message.objects.count() == 1 and len(stored(media)) == 1


def test_a_reply_quotes_a_message_of_files_only_by_its_files(
    alice_client: Any, alice: Any, bob: Any
) -> None:
    room = _room(alice, bob)
    _post(alice_client, room, [upload_file("a.png", png())])
    answer, _ = messages.send_message(room, bob, "nice", reply_to=1)
    html = frames.message(timeline.message_at(room, answer.seq))
    assert '<span class="chatter-quote-text">\N{PAPERCLIP} 1 file</span>' in html


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_of_one_user_keep_the_quota(settings: Any, media: Path) -> None:
    """Four uploads of one user at once with room for two: two are stored, two refused,
    and the refused ones leave no file behind."""
    from django.core.cache import cache

    from tests.factories import make_users
    from tests.test_rooms import run_threads

    cache.clear()
    settings.CHATTER_UPLOAD_QUOTA_BYTES = 2500
    settings.CHATTER_FRAME_LIMITS = {"upload": (0, 0)}
    sender, other = make_users("sender", "other")
    room_id = rooms.create_room([sender, other])

    def work(index: int) -> Any:
        room = Room.objects.get(pk=room_id)
        file = upload_file(f"{index}.txt", b"x" * 1000, "text/plain")
        try:
            return attachments.send(room, sender, f"#{index}", [file])[0].seq
        except attachments.AttachmentRefused as exc:
            return exc.code

    results = run_threads(4, work)
    assert sorted(map(str, results)) == ["1", "2", "quota", "quota"]
    assert attachments.used_bytes(sender) == 2000 and len(stored(media)) == 2


def test_the_message_page_and_older_history_show_the_files(
    alice_client: Any, alice: Any, bob: Any
) -> None:
    room = _room(alice, bob)
    _post(alice_client, room, [upload_file("plan.pdf", b"%PDF-1.4\n%\xe2\xe3\n", "x/y")])
    messages.send_message(room, alice, "after")
    page = alice_client.get(reverse("chatter:message", args=[room.id, 1])).content.decode()
    history = alice_client.get(reverse("chatter:history", args=[room.id]) + "?before=2")
    for html in (page, history.content.decode()):
        assert 'class="chatter-file-card"' in html and "plan.pdf" in html
        assert "application/pdf" in html
