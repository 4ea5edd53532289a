"""Attachments: files sent with a message, checked, stored and found again.

The one place that reads and writes the :class:`~chatter.models.Attachment` table and the
files in the storage (``CHATTER_STORAGE``). A message with files is sent by one call,
:func:`send`: every file is checked first (its type read from its content by puremagic,
never from its name or the browser's word; images decoded and re-encoded by
:mod:`chatter.images`), the sender's quota is checked, the files are written under
generated names, and the message and its attachment rows are stored in one transaction.
If anything fails, the files written are removed again: a refusal leaves no row and no
file. Deleting an attachment row (with its message, its room, or by
:func:`chatter.messages.delete_message`) deletes its files once the transaction commits.

The upload itself is limited while it streams: :class:`LimitedUploadHandler` counts the
bytes of the files as the request body is parsed and stops the parsing at
``CHATTER_MAX_UPLOAD_BYTES``, before the rest of the body is read.
"""

from __future__ import annotations

import posixpath
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import puremagic
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage, storages
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.db import transaction
from django.db.models import Sum
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from chatter import conf, images, messages, tenancy
from chatter.models import ATTACHMENT_NAME_MAX_LENGTH, Attachment, Message, Room
from chatter.types import User

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


def storage() -> Storage:
    """The storage of attachments: ``CHATTER_STORAGE`` (None: ``default_storage``; a
    ``STORAGES`` alias; or the dotted path of a Storage class, made without arguments)."""
    name = conf.get("CHATTER_STORAGE")
    if name is None:
        return default_storage
    if "." not in name:
        return storages[name]
    return import_string(name)()  # type: ignore[no-any-return]


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
        % {"size": _megabytes(conf.get("CHATTER_MAX_UPLOAD_BYTES"))},
        code="too_large",
    )


def too_many_files() -> AttachmentRefused:
    return AttachmentRefused(
        _("Too many files: at most %(count)d per message.")
        % {"count": conf.get("CHATTER_MAX_UPLOAD_FILES")},
        code="too_many",
    )


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.3g} MB"


def _check(name: str, data: bytes) -> Upload:
    """One file, checked: a type of ``CHATTER_UPLOAD_TYPES`` by its content; an image
    re-encoded with its thumbnail. :class:`AttachmentRefused` otherwise."""
    content_type = detect_type(data)
    if not data or content_type not in conf.get("CHATTER_UPLOAD_TYPES"):
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
        name, content_type, done.data, done.width, done.height,
        done.thumb, done.thumb_width, done.thumb_height,
    )  # fmt: skip


def prepare(files: Sequence[UploadedFile]) -> list[Upload]:
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


def used_bytes(user: User) -> int:
    """The bytes of the files ``user`` sent that are still stored (one query)."""
    total = Attachment.objects.filter(uploader_id=user.pk).aggregate(total=Sum("size"))["total"]
    return int(total or 0)


def _check_quota(user: User, uploads: list[Upload]) -> None:
    quota = conf.get("CHATTER_UPLOAD_QUOTA_BYTES")
    if quota is None:
        return
    if used_bytes(user) + sum(len(u.data) for u in uploads) > quota:
        raise AttachmentRefused(
            _("You have no room left for files (%(size)s in all). Delete some first.")
            % {"size": _megabytes(quota)},
            code="quota",
        )


def _stored_name(content_type: str) -> str:
    """A new storage name: ``chatter/<schema>/<random>.<ext of the detected type>``."""
    schema = tenancy.current_schema() or "public"
    return posixpath.join("chatter", schema, f"{uuid.uuid4().hex}.{EXTENSIONS[content_type]}")


def _remove(paths: list[str]) -> None:
    store = storage()
    for path in paths:
        if path:
            store.delete(path)


def send(
    room: Room,
    author: User,
    text: Any,
    files: Sequence[UploadedFile] = (),
    client_id: Any = None,
    reply_to: int | None = None,
) -> tuple[Message, bool]:
    """Send a message with ``files`` (its text may then be empty): ``(message, created)``.

    Without files it is :func:`chatter.messages.send_message`. With files: all are
    checked before anything is written, then stored, then the message and its rows go in
    one transaction; any refusal (:class:`~chatter.messages.MessageRefused`) or error
    removes the files written. A resend (the same ``client_id``) stores nothing new.
    """
    if not files:
        return messages.send_message(room, author, text, client_id, reply_to)
    messages.valid_text(text, blank_ok=True)  # a refusal before any work on the files
    uploads = prepare(files)
    _check_quota(author, uploads)
    store = storage()
    written: list[str] = []
    rows: list[Attachment] = []
    try:
        for position, upload in enumerate(uploads):
            path = store.save(_stored_name(upload.content_type), ContentFile(upload.data))
            written.append(path)
            thumb = ""
            if upload.thumb is not None:
                thumb_type = "image/png" if upload.content_type == "image/gif" else None
                thumb = store.save(
                    _stored_name(thumb_type or upload.content_type), ContentFile(upload.thumb)
                )
                written.append(thumb)
            rows.append(
                Attachment(
                    uploader_id=author.pk,
                    position=position,
                    name=upload.name,
                    content_type=upload.content_type,
                    size=len(upload.data),
                    path=path,
                    width=upload.width,
                    height=upload.height,
                    thumb_path=thumb,
                    thumb_width=upload.thumb_width,
                    thumb_height=upload.thumb_height,
                )  # fmt: skip
            )
        with transaction.atomic():
            message, created = messages.send_message(
                room, author, text, client_id, reply_to, files=len(rows)
            )
            if created:
                for row in rows:
                    row.message = message
                Attachment.objects.bulk_create(rows)
    except BaseException:
        _remove(written)
        raise
    if not created:
        _remove(written)  # a resend: the first send's files are the message's
        return message, False
    message.attachment_list = rows
    return message, True


def attach(rows: Sequence[Message]) -> None:
    """Set ``attachment_list`` on messages loaded for showing: one query for a page,
    none when no message of it has files."""
    by_pk = {m.pk: m for m in rows if m.files and not m.is_deleted}
    for message in rows:
        message.attachment_list = []
    if by_pk:
        for row in Attachment.objects.filter(message_id__in=list(by_pk)).order_by(
            "message_id", "position"
        ):
            by_pk[row.message_id].attachment_list.append(row)


def remove_for(message: Message) -> None:
    """Delete the attachments of ``message`` (its files go once the transaction commits)."""
    Attachment.objects.filter(message=message).delete()


def open_stored(path: str) -> Any:
    """The stored file ``path``, open for reading (the response closes it)."""
    return storage().open(path, "rb")


def local_path(path: str) -> str:
    """Where the stored file ``path`` is on this machine's disk (``X-Sendfile``)."""
    return storage().path(path)


def type_of(path: str) -> str:
    """The type of a file Chatter stored, from the extension it gave it."""
    ext = path.rsplit(".", 1)[-1]
    return next((t for t, e in EXTENSIONS.items() if e == ext), "application/octet-stream")


def file_in(room: Room, attachment_id: uuid.UUID) -> Attachment:
    """The attachment ``attachment_id`` of a message of ``room`` that is not deleted, or
    ``Attachment.DoesNotExist``."""
    return Attachment.objects.get(
        pk=attachment_id, message__room=room, message__deleted_at__isnull=True
    )


@receiver(post_delete, sender=Attachment, dispatch_uid="chatter.attachments.delete_files")
def _delete_files(sender: type[Attachment], instance: Attachment, **kwargs: Any) -> None:
    """A deleted attachment's files leave the storage, once the deletion committed."""
    paths = [instance.path, instance.thumb_path]
    transaction.on_commit(lambda: _remove(paths), robust=True)
