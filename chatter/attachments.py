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
import uuid
from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage, storages
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Sum
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.template.defaultfilters import filesizeformat
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from chatter import conf, messages, tenancy
from chatter.models import Attachment, Message, Room
from chatter.types import User
from chatter.uploads import (
    EXTENSIONS,
    AttachmentRefused,
    LimitedUploadHandler,
    Upload,
    prepare,
    too_large,
)

__all__ = [
    "EXTENSIONS",
    "AttachmentRefused",
    "LimitedUploadHandler",
    "attach",
    "file_in",
    "prepare",
    "send",
    "storage",
    "too_large",
    "used_bytes",
]


def storage() -> Storage:
    """The storage of attachments: ``CHATTER_STORAGE`` (None: ``default_storage``; a
    ``STORAGES`` alias; or the dotted path of a Storage class, made without arguments)."""
    name = conf.get("CHATTER_STORAGE")
    if name is None:
        return default_storage
    if "." not in name:
        return storages[name]
    return import_string(name)()  # type: ignore[no-any-return]


def used_bytes(user: User) -> int:
    """The bytes of the files ``user`` sent that are still stored (one query)."""
    total = Attachment.objects.filter(uploader_id=user.pk).aggregate(total=Sum("size"))["total"]
    return int(total or 0)


def _check_quota(user: User, uploads: list[Upload], locked: bool = False) -> None:
    """Refuse ``uploads`` if they would take ``user`` over the quota. ``locked`` (inside
    the send's transaction): the user's row is locked first, so two uploads of one user
    at once are counted one after the other (PostgreSQL; SQLite writes one at a time)."""
    quota = conf.get("CHATTER_UPLOAD_QUOTA_BYTES")
    if quota is None:
        return
    if locked:
        users = get_user_model()._default_manager.select_for_update()
        list(users.filter(pk=user.pk).values_list("pk", flat=True))
    if used_bytes(user) + sum(len(u.data) for u in uploads) > quota:
        raise AttachmentRefused(
            _("You have no room left for files (%(size)s in all). Delete some first.")
            % {"size": filesizeformat(quota)},
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
    files: Sequence[UploadedFile[Any]] = (),
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
    messages.limited("upload", author, AttachmentRefused)
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
                )
            )
        with transaction.atomic():
            _check_quota(author, uploads, locked=True)
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
