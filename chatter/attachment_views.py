"""Sending files and serving them: thin views over :mod:`chatter.attachments`.

``upload`` is where the composer posts a message with files (multipart; also a message
without files, so the form works without JavaScript). The room and the membership are
checked and the request's ``Content-Length`` is compared with the limit *before* the body
is read; then :class:`~chatter.attachments.LimitedUploadHandler` is installed, so the
limit also holds while the body streams. The view is ``csrf_exempt`` only so that the
handler can be installed first (the CSRF check reads the body); the check itself runs
right after (``csrf_protect``).

``attachment`` and ``thumbnail`` serve a file to members of its room only (404 for
anyone else), ``nosniff``, in a sandbox, and as a download unless it is a raster image
Chatter re-encoded.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from chatter import attachments, conf, live, messages
from chatter.inputs import has_unstorable_text
from chatter.models import INLINE_IMAGE_TYPES, Attachment, Room
from chatter.upload_limit import FORM_ALLOWANCE
from chatter.views import _refused, _reply_to, _requester, _room_or_404

#: The HTTP status of each refusal code (others: 400).
STATUS = {"too_large": 413, "too_many": 413, "quota": 413, "blocked": 403, "rate_limited": 429}

#: What every served file is sent with: its type is the one Chatter found, it runs
#: nothing, and it stays with the site that serves it.
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "private, max-age=3600",
}


def _wants_fragment(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _refusal(
    request: HttpRequest,
    room: Room,
    exc: messages.MessageRefused,
    text: str = "",
    client_id: str = "",
) -> HttpResponse:
    """The refusal under the composer (a fragment for the page's script), or the room
    page with it and the text kept. It reads nothing of the request's body."""
    status = STATUS.get(exc.code, 400)
    if _wants_fragment(request):
        context = {"error": str(exc), "client_id": client_id}
        return render(request, "chatter/frames/composer_error.html", context, status=status)
    request.htmx = False  # type: ignore[attr-defined]  # the whole page, not htmx's composer
    return _refused(request, room, text, str(exc), status)  # type: ignore[arg-type]


@csrf_exempt
@login_required
@require_POST
def upload(request: HttpRequest, room_id: uuid.UUID) -> HttpResponse:
    """Send a message with files (``files``), text (``text``, optional with files),
    ``client_id`` and ``reply_to``, as the composer's form has them."""
    room = _room_or_404(room_id, _requester(request))
    declared = str(request.META.get("CONTENT_LENGTH") or "")
    length = int(declared) if declared.isdigit() else 0
    if length > conf.get("CHATTER_MAX_UPLOAD_BYTES") + FORM_ALLOWANCE:
        # Refused before a byte of the body is read (the fragment has no client id).
        return _refusal(request, room, attachments.too_large())
    handler = attachments.LimitedUploadHandler(request)
    request.upload_handlers.insert(0, handler)
    return _upload(request, room, handler)


@csrf_protect
def _upload(
    request: HttpRequest, room: Room, handler: attachments.LimitedUploadHandler
) -> HttpResponse:
    if has_unstorable_text(request):
        raise BadRequest(_("The request has characters that cannot be stored."))
    text = request.POST.get("text", "")
    client_id = request.POST.get("client_id", "")
    if handler.refusal is not None:
        return _refusal(request, room, handler.refusal, text, client_id)
    try:
        message, created = attachments.send(
            room,
            _requester(request),
            text,
            request.FILES.getlist("files"),
            client_id,
            _reply_to(request),
        )
    except messages.MessageRefused as exc:
        return _refusal(request, room, exc, text, client_id)
    if created:
        live.announce_message(message)
    if _wants_fragment(request):
        return render(request, "chatter/frames/sent.html", {"client_id": client_id})
    return redirect("chatter:chatroom", room_id=room.id)


def _file_or_404(request: HttpRequest, room_id: uuid.UUID, attachment_id: uuid.UUID) -> Attachment:
    room = _room_or_404(room_id, _requester(request))
    try:
        return attachments.file_in(room, attachment_id)
    except Attachment.DoesNotExist:
        raise Http404(_("No such file.")) from None


def _serve(file: Attachment, path: str, content_type: str) -> HttpResponseBase:
    """The stored file ``path``: by Django, or by the web server (``CHATTER_SENDFILE``)."""
    inline = content_type in INLINE_IMAGE_TYPES
    how = conf.get("CHATTER_SENDFILE")
    response: HttpResponseBase
    if how is None:
        response = FileResponse(
            attachments.open_stored(path),
            as_attachment=not inline,
            filename=file.name,
            content_type=content_type,
        )
    else:
        response = HttpResponse(content_type=content_type)
        if how == "x-accel-redirect":
            prefix = conf.get("CHATTER_SENDFILE_PREFIX").rstrip("/")
            response["X-Accel-Redirect"] = f"{prefix}/{quote(path)}"
        else:
            response["X-Sendfile"] = attachments.local_path(path)
        response["Content-Disposition"] = content_disposition_header(not inline, file.name) or ""
    for name, value in SAFE_HEADERS.items():
        response[name] = value
    return response


@login_required
@require_GET
def attachment(
    request: HttpRequest, room_id: uuid.UUID, attachment_id: uuid.UUID
) -> HttpResponseBase:
    """A file of a message, for members of its room only."""
    file = _file_or_404(request, room_id, attachment_id)
    return _serve(file, file.path, file.content_type)


@login_required
@require_GET
def thumbnail(
    request: HttpRequest, room_id: uuid.UUID, attachment_id: uuid.UUID
) -> HttpResponseBase:
    """The small picture of an image attachment (the image itself when it is small)."""
    file = _file_or_404(request, room_id, attachment_id)
    if not file.is_image:
        raise Http404(_("No such file."))
    if not file.thumb_path:
        return _serve(file, file.path, file.content_type)
    return _serve(file, file.thumb_path, attachments.type_of(file.thumb_path))
