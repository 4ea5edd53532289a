"""Chatter's pages: thin views over :mod:`chatter.rooms`.

``chatroom(request, room_id)`` may also be called from a project's own view, as the
Utilities page shows: ``return chatroom(request, create_room([request.user, other]))``.

Every view is wrapped, outermost, in :func:`chatter.inputs.refuse_unstorable_text`: text
the database refuses (a NUL) anywhere in a request is a 400 before any query runs.
"""

from __future__ import annotations

import datetime
import re
import uuid
from typing import TYPE_CHECKING, Any, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chatter import conf, groups, live, messages, moderation, rooms, timeline
from chatter.forms import ADD_MEMBERS_ID, AddMembersForm, GroupRoomForm
from chatter.inputs import refuse_unstorable_text
from chatter.models import Message, Room
from chatter.types import RoomId, User

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails

    class HtmxHttpRequest(HttpRequest):
        """A request that went through django-htmx's ``HtmxMiddleware``."""

        htmx: HtmxDetails


_DIGITS = re.compile(r"[0-9]{1,19}")


#: The member pickers (``?picker=`` of the user search): the id their elements start with.
PICKERS = {"1": "chatter-picker", "add": "chatter-add-picker"}

#: Most messages a page loads at once to reach a quoted message (``?around=`` with
#: ``before``); an older one opens the room page around it instead.
AROUND_SPAN = 500


class BadBefore(ValueError):
    """A ``before`` query value that is not a positive integer."""


def _requester(request: HttpRequest) -> User:
    """The user of a request: every view here is behind ``login_required``."""
    return cast(User, request.user)


def _room_or_404(room_id: RoomId, user: User) -> Room:
    """The room if ``user`` is a member of it, else Http404."""
    try:
        return rooms.room_for_member(room_id, user)
    except Room.DoesNotExist:
        raise Http404(_("No such room.")) from None


def _before(request: HttpRequest, name: str = "before") -> int | None:
    """A sequence query value (``before``, ``after``, ``around``, ``reply``): None when
    absent, else a positive int or BadBefore."""
    raw = request.GET.get(name)
    if raw is None:
        return None
    # ASCII digits only (str.isdigit() accepts "²"), and within the database's bigint.
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) < 2**63:
        raise BadBefore(raw)
    return int(raw)


def _sequences(request: HttpRequest, *names: str) -> list[int | None]:
    """Several sequence query values at once; BadBefore names the first bad one."""
    return [_before(request, name) for name in names]


def _day_of(message: Message) -> datetime.date:
    """The local date of a message, for the day separators."""
    return timezone.localtime(message.created_at).date()


def _day_param(request: HttpRequest) -> datetime.date | None:
    """The ``day`` query value (the date of the message after this page), if valid."""
    try:
        return datetime.date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        return None


def _items(messages: list[Message], first_day: bool) -> list[dict[str, Any]]:
    """Messages with the day to announce before each one (or None), in ascending order."""
    items: list[dict[str, Any]] = []
    previous = None
    for index, message in enumerate(messages):
        day = _day_of(message)
        announce = day != previous and (index > 0 or first_day)
        items.append({"message": message, "day": message.created_at if announce else None})
        previous = day
    return items


def _base_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    """What every full page needs: the base template and the room list."""
    return {
        "base_template": conf.get("CHATTER_BASE_TEMPLATE"),
        "summaries": rooms.rooms_for(_requester(request)),
        "group_form": extra.pop("group_form", None) or GroupRoomForm(user=_requester(request)),
        # Whose messages this page collapses (the page's own style rules).
        "chatter_blocked_ids": moderation.blocked_ids(_requester(request)),
        **extra,
    }


@refuse_unstorable_text
@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The room list (and, on a wide screen, an empty conversation pane)."""
    return render(request, "chatter/index.html", _base_context(request))


@refuse_unstorable_text
@login_required
@require_http_methods(["GET", "POST"])
def create_group(request: HttpRequest) -> HttpResponse:
    """Create a named room from a list of usernames; the creator is always a member."""
    if request.method != "POST":
        return redirect("chatter:index")
    form = GroupRoomForm(request.POST, user=_requester(request))
    if not form.is_valid():
        context = _base_context(request, group_form=form, group_open=True)
        return render(request, "chatter/index.html", context, status=400)
    room_id = rooms.create_room(
        form.cleaned_data["usernames"],
        name=form.cleaned_data["name"],
        created_by=_requester(request),
    )
    return redirect("chatter:chatroom", room_id=room_id)


@refuse_unstorable_text
@login_required
@require_GET
def user_search(request: HttpRequest) -> HttpResponse:
    """Users matching ``?q=`` (bounded, never the requester): a partial, or a page without JS.

    With ``?picker=1`` the partial is the options of the "New group" member picker, with
    ``?picker=add&room=<id>`` those of a group's "Add people" picker, without the room's
    members (only for a member of the room).
    """
    query = request.GET.get("q", "").strip()[:100]
    me = _requester(request)
    picker = PICKERS.get(request.GET.get("picker", ""), PICKERS["1"])
    exclude_room = None
    if picker != PICKERS["1"] and request.GET.get("room"):
        try:
            exclude_room = rooms.room_for_member(request.GET["room"], me).pk
        except Room.DoesNotExist:
            exclude_room = None
    found = rooms.search_users(query, exclude=me, exclude_room=exclude_room)
    context = {"users": found, "query": query, "picker": picker}
    # The header itself, not request.htmx: without django-htmx's middleware (chatter.E015)
    # the search still answers instead of failing with an AttributeError.
    if request.headers.get("HX-Request") == "true":
        partial = "_user_options" if request.GET.get("picker") else "_user_results"
        return render(request, f"chatter/{partial}.html", context)
    return render(request, "chatter/index.html", _base_context(request, **context))


def _user_or_404(username: str) -> User:
    """The user with this username (``USERNAME_FIELD``), else Http404."""
    user_model = get_user_model()
    return get_object_or_404(user_model._default_manager, **{user_model.USERNAME_FIELD: username})


@refuse_unstorable_text
@login_required
@require_http_methods(["GET", "POST"])
def chat_with(request: HttpRequest, username: str) -> HttpResponse:
    """The room of the requester and ``username``: created only by a POST.

    A GET redirects to the room if it exists, else shows a page with a button that POSTs
    here; a link or an image on any page can therefore not make a visitor create rooms.
    The requester's own username is their notes room. Someone who blocks the requester
    cannot be messaged this way (403, nothing created); a room they already share opens.
    """
    other = _user_or_404(username)
    me = _requester(request)
    people = [me, other]
    if request.method == "POST":
        if moderation.is_blocked(other, me):
            return _cannot_message(request, other, username)
        return redirect("chatter:chatroom", room_id=rooms.create_room(people))
    room_id = rooms.find_room(people)
    if room_id is not None:
        return redirect("chatter:chatroom", room_id=room_id)
    if moderation.is_blocked(other, me):
        return _cannot_message(request, other, username)
    context = _base_context(request, other=other, username=username, notes=other.pk == me.pk)
    return render(request, "chatter/chat_with.html", context)


def _cannot_message(request: HttpRequest, other: User, username: str) -> HttpResponse:
    """The page of a conversation that cannot be started: the other person blocks the
    requester (said as for any refusal, not as "blocked")."""
    context = _base_context(
        request, other=other, username=username, error=moderation.CANNOT_MESSAGE
    )
    return render(request, "chatter/chat_with.html", context, status=403)


def _room_context(
    request: HttpRequest,
    room: Room,
    before: int | None = None,
    around: int | None = None,
    reply: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Everything the room page shows, in a bounded number of queries."""
    newer: int | None = None
    if around is not None:
        window = timeline.around(room, around)
        page = timeline.HistoryPage(window.messages, window.has_older)
        newer = window.after
    else:
        page = timeline.history(room, before=before)
    replying = None
    if reply is not None:
        try:
            replying = timeline.message_at(room, reply)
        except Message.DoesNotExist:
            replying = None
    people = rooms.members(room)
    me = _requester(request)
    others = [u for u in people if u.pk != me.pk]
    is_group = groups.is_group(room, len(people))
    seen: list[User] = []
    last = page.messages[-1] if page.messages else None
    if before is None and last is not None and last.sender_id == me.pk:
        seen = rooms.seen_by(room, room.last_seq, exclude=me)
    return _base_context(
        request,
        room=room,
        page=page,
        items=_items(page.messages, first_day=not page.has_more),
        members=people,
        title=rooms.room_title(room, others),
        # The other person of a room of two: the header offers to block them.
        peer=others[0] if len(others) == 1 else None,
        seen=seen,
        client_id=uuid.uuid4(),
        active_id=room.id,
        viewing_older=before is not None or around is not None,
        around=around,
        newer=newer,
        replying=replying,
        edit_window=conf.get("CHATTER_EDIT_WINDOW"),
        reactions=messages.DEFAULT_REACTIONS,
        moderator=_requester(request).has_perm("chatter.delete_message"),
        typing_timeout=conf.get("CHATTER_TYPING_TIMEOUT"),
        active=rooms.active_ids(room),
        presence_timeout=conf.get("CHATTER_PRESENCE_TIMEOUT"),
        **group_context(room, me, is_group, extra),
    )


def group_context(room: Room, me: User, is_group: bool, extra: dict[str, Any]) -> dict[str, Any]:
    """What the group panel shows (``chatter/_group_panel.html``), and ``extra``."""
    if not is_group:
        return extra
    return {
        "group": True,
        "can_remove": groups.can_remove(room, me),
        "add_form": AddMembersForm(auto_id=ADD_MEMBERS_ID),
        "add_search": f"picker=add&room={room.id}",
        **extra,
    }


@refuse_unstorable_text
@login_required
def chatroom(request: HttpRequest, room_id: uuid.UUID | str) -> HttpResponse:
    """The room page: newest messages (or the page before ``?before=``), marked read.

    Any method is accepted, so a project's view may return it after handling a POST.
    """
    room = _room_or_404(room_id, _requester(request))
    try:
        before, around, reply = _sequences(request, "before", "around", "reply")
    except BadBefore:
        return HttpResponseBadRequest(_("before, around and reply must be positive integers"))
    if before is None and around is None and rooms.mark_read(room, _requester(request)):
        live.announce_read(room)
    context = _room_context(request, room, before, around=around, reply=reply)
    return render(request, "chatter/room.html", context)


@refuse_unstorable_text
@login_required
@require_GET
def room_item(request: HttpRequest, room_id: uuid.UUID) -> HttpResponse:
    """One entry of the requester's room list (a page fetches it for a room it lacks)."""
    summary = rooms.room_summary(room_id, _requester(request))
    if summary is None:
        raise Http404(_("No such room."))
    return render(request, "chatter/_room_item.html", {"summary": summary, "active": False})


@refuse_unstorable_text
@login_required
@require_GET
def history(request: HttpRequest, room_id: uuid.UUID) -> HttpResponse:
    """A partial of messages, by keyset both ways.

    ``?before=B``: the page just older than B, led by a loader for the next older page.
    ``?after=A``: the page just newer than A, followed by a loader for the next newer one.
    ``?around=S&before=B``: from a little before S up to B (the oldest message the page
    shows), so that a page can show S and stay without a hole; when S is too far back
    for that, 404: the page opens ``?around=S`` instead.
    """
    room = _room_or_404(room_id, _requester(request))
    try:
        before, after, around = _sequences(request, "before", "after", "around")
    except BadBefore:
        return HttpResponseBadRequest(_("before, after and around must be positive integers"))
    if after is not None:
        window = timeline.history_after(room, after)
        context = {"room": room, "items": _items(window.messages, True), "newer": window.after}
        return render(request, "chatter/_history.html", context)
    if before is None:
        return HttpResponseBadRequest(_("before is required"))
    if around is not None:
        if not 0 < before - around <= AROUND_SPAN:
            raise Http404(_("That message is too far back to load here."))
        reach = before - around + conf.get("CHATTER_PAGE_SIZE") // 2
        page = timeline.history(room, before=before, limit=reach)
    else:
        page = timeline.history(room, before=before)
    newer_day = _day_param(request)
    last_day = _day_of(page.messages[-1]) if page.messages else None
    context = {
        "room": room,
        "page": page,
        "items": _items(page.messages, not page.has_more),
        "next_day": newer_day if newer_day and last_day and newer_day != last_day else None,
    }
    return render(request, "chatter/_history.html", context)


@refuse_unstorable_text
@login_required
@require_POST
def send(request: HtmxHttpRequest, room_id: uuid.UUID) -> HttpResponse:
    """HTTP fallback for sending: redirect, an htmx fragment, or the page with the error."""
    room = _room_or_404(room_id, _requester(request))
    text = request.POST.get("text", "")
    try:
        message, created = messages.send_message(
            room, _requester(request), text, request.POST.get("client_id"), _reply_to(request)
        )
    except messages.MessageRefused as exc:
        status = 403 if exc.code == "blocked" else 400
        return _refused(request, room, text, str(exc), status)
    if created:
        live.announce_message(message)
    if not request.htmx:
        return redirect("chatter:chatroom", room_id=room.id)
    context = {"room": room, "message": message, "client_id": uuid.uuid4()}
    return render(request, "chatter/_sent.html", context)


def _reply_to(request: HttpRequest) -> int | None:
    """The ``reply_to`` field of a send: a sequence, None when absent or empty, and a
    :class:`~chatter.messages.MessageRefused` (shown under the composer) when malformed."""
    raw = request.POST.get("reply_to", "")
    if _DIGITS.fullmatch(raw) and 1 <= int(raw) < 2**63:
        return int(raw)
    if raw:
        raise messages.MessageRefused(_("The message you answer is not in this room."), "invalid")
    return None


def _refused(
    request: HtmxHttpRequest, room: Room, text: str, error: str, status: int = 400
) -> HttpResponse:
    """A refused message: the composer with the error and the typed text kept."""
    if request.htmx:
        # htmx does not swap 4xx answers by default, so the error composer comes as a 200.
        context = {"room": room, "client_id": uuid.uuid4(), "error": error, "text": text}
        return render(request, "chatter/_composer.html", context)
    context = _room_context(request, room, error=error, text=text)
    return render(request, "chatter/room.html", context, status=status)
