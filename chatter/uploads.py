"""Uploads: what a file sent to Chatter must be, checked before anything is stored.

No database and no storage here (:mod:`chatter.attachments` stores what passes): the
file's type read from its content (puremagic's signatures, never the name or the
browser's word), images re-encoded by :mod:`chatter.images`, the sender's file name made
safe to show, and :class:`LimitedUploadHandler`, which holds ``CHATTER_MAX_UPLOAD_BYTES``
and ``CHATTER_MAX_UPLOAD_FILES`` while the request body streams.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import puremagic
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from chatter import conf, images, messages
from chatter.models import ATTACHMENT_NAME_MAX_LENGTH

#: The types Chatter knows how to name and serve, with the extension of their stored
#: files. ``CHATTER_UPLOAD_TYPES`` chooses among them (a system check says so).
EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/svg+xml": "svg",
    "application/pdf": "pdf",
    "application/zip": "zip",
    "text/plain": "txt",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "video/mp4": "mp4",
    "video/webm": "webm",
}

#: What puremagic may call a type Chatter names otherwise (a zip is also the start of
#: an office document: the bytes that tell them apart lie deeper in the archive).
_ALIASES = {
    "application/x-zip-compressed": "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "application/zip",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "application/zip",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "application/zip",
    "audio/mp3": "audio/mpeg",
    "image/jpg": "image/jpeg",
}


class AttachmentRefused(messages.MessageRefused):
    """Files that cannot be sent; ``str(exc)`` is a sentence to show the sender."""


def clean_name(name: object) -> str:
    """A file name as the sender gave it, made safe to show: its last path part only,
    without control or format characters, at most ``ATTACHMENT_NAME_MAX_LENGTH``
    characters (its extension kept), never empty."""
    text = unicodedata.normalize("NFC", name if isinstance(name, str) else "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch)[0] != "C"
    )
    text = " ".join(text.split()).strip(" .")
    if len(text) > ATTACHMENT_NAME_MAX_LENGTH:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            text = stem[: ATTACHMENT_NAME_MAX_LENGTH - len(ext) - 2].rstrip() + "…." + ext
        else:
            text = text[: ATTACHMENT_NAME_MAX_LENGTH - 1] + "…"
    return text or "file"


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A sample cut in the middle of a character is still text.
        return exc.start >= len(data) - 3 and exc.reason == "unexpected end of data"
    return True


def detect_type(data: bytes) -> str | None:
    """The type of ``data`` read from its content (puremagic's signatures; UTF-8 text
    without a signature is ``text/plain``), or None when nothing is recognised."""
    if not data:
        return None
    try:
        found: str = puremagic.from_string(data, mime=True)
    except (puremagic.PureError, ValueError):
        found = ""
    found = _ALIASES.get(found, found)
    if found:
        return found
    return "text/plain" if _is_text(data[:65536]) else None


@dataclass
class Upload:
    """A file checked and ready to store."""

    name: str
    content_type: str
    data: bytes
    width: int | None = None
    height: int | None = None
    thumb: bytes | None = None
    thumb_width: int | None = None
    thumb_height: int | None = None


class LimitedUploadHandler(FileUploadHandler):
    """Counts the bytes and files of a multipart body while it streams; past
    ``CHATTER_MAX_UPLOAD_BYTES`` or ``CHATTER_MAX_UPLOAD_FILES`` it stops the parsing at
    once (the rest of the body is not read) and keeps the reason in ``refusal``.

    Install it first in ``request.upload_handlers`` before the body is read; the next
    handlers (Django's) keep the data.
    """

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.limit: int = conf.get("CHATTER_MAX_UPLOAD_BYTES")
        self.max_files: int = conf.get("CHATTER_MAX_UPLOAD_FILES")
        self.received = 0
        self.files = 0
        self.refusal: AttachmentRefused | None = None

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.files += 1
        if self.files > self.max_files:
            self.refusal = too_many_files()
            raise StopUpload(connection_reset=True)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.refusal = too_large()
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def too_large() -> AttachmentRefused:
    return AttachmentRefused(
        _("These files are too large: at most %(size)s together.")
        % {"size": filesizeformat(conf.get("CHATTER_MAX_UPLOAD_BYTES"))},
        code="too_large",
    )


def too_many_files() -> AttachmentRefused:
    return AttachmentRefused(
        _("Too many files: at most %(count)d per message.")
        % {"count": conf.get("CHATTER_MAX_UPLOAD_FILES")},
        code="too_many",
    )


def _check(name: str, data: bytes) -> Upload:
    """One file, checked: a type of ``CHATTER_UPLOAD_TYPES`` by its content; an image
    re-encoded with its thumbnail. :class:`AttachmentRefused` otherwise."""
    content_type = detect_type(data)
    if not data or content_type is None or content_type not in conf.get("CHATTER_UPLOAD_TYPES"):
        raise AttachmentRefused(
            _("“%(name)s” is not a kind of file this chat accepts.") % {"name": name},
            code="type",
        )
    if content_type not in images.FORMATS:
        return Upload(name, content_type, data)
    try:
        done = images.process(data, content_type)
    except images.ImageRefused as exc:
        raise AttachmentRefused(f"{name}: {exc}", code="image") from None
    return Upload(
        name,
        content_type,
        done.data,
        done.width,
        done.height,
        done.thumb,
        done.thumb_width,
        done.thumb_height,
    )


def prepare(files: Sequence[UploadedFile[Any]]) -> list[Upload]:
    """The files of one message, checked (no database, no storage): their number and
    total size are limited again here, for callers that did not stream them through
    :class:`LimitedUploadHandler`."""
    if len(files) > conf.get("CHATTER_MAX_UPLOAD_FILES"):
        raise too_many_files()
    if sum(f.size or 0 for f in files) > conf.get("CHATTER_MAX_UPLOAD_BYTES"):
        raise too_large()
    uploads = []
    for file in files:
        file.seek(0)
        uploads.append(_check(clean_name(file.name), file.read()))
    return uploads
