"""Groups: rename a group, add and remove its members, leave it.

The one place that changes a room's members after it was created. Every action takes the
room and the acting user, checks who may do it, and either changes everything or
nothing (one transaction, the room's row locked first, so two changes of one room never
interleave), raising :class:`GroupRefused` with a sentence to show.

Each change is a **system line** in the room ("alice added carol"): a
:class:`~chatter.models.Message` of kind ``"system"`` whose ``data`` holds the facts
(``{"action": "added", "users": [[id, name], ...]}``, the actor being its sender). It
takes the room's next sequence number exactly as a message does
(:func:`chatter.messages._append`), so pages receive, resume and count it like one; the
frame of a group line also carries the room's header as it is then (see
:mod:`chatter.live.members`), which is how a page that was away gets the member list
right. The room's change counter is not used: nothing already shown changes.

Who may do what:

* rename, add: the group's members (and users with ``chatter.change_room`` /
  ``chatter.add_membership``, such as operators in the admin, without being members);
* remove: the group's creator (``Room.created_by``) while a member, and users with
  ``chatter.delete_membership``;
* leave: any member. The last member may leave too: the room stays, with no members
  and its history, until an operator deletes it.

Only groups can be managed: rooms with a name, more than two members, or members changed
before. A one-to-one room (two people, no name) or a notes room stays as it is.

A group whose members changed gets a key of its own (``"g:" + its id``), so
:func:`chatter.rooms.create_room` for some exact set of people never returns a group
whose members were changed by hand: it keeps finding (or makes) the room of exactly
those people.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from chatter import conf, moderation, rooms
from chatter.messages import MessageRefused, _append, limited
from chatter.models import ROOM_NAME_MAX_LENGTH, Membership, Message, Room
from chatter.types import AnyUser, RoomId, User, UserId

#: The ``data["action"]`` of the system lines written here.
ACTIONS = ("added", "removed", "left", "renamed")
#: The key of a group whose members changed: this prefix and the room's id in hex.
KEY_PREFIX = "g:"


class GroupRefused(MessageRefused):
    """A group change that cannot be made; ``str(exc)`` is a sentence to show.

    Codes: ``not_found``, ``not_member`` (the actor is not a member), ``forbidden``,
    ``not_group`` (a one-to-one room), ``invalid``, ``too_long``, ``already_member``,
    ``not_in_group``, ``too_many``, ``rate_limited``. Nothing was changed.
    """


def is_group(room: Room, member_count: int) -> bool:
    """Whether ``room`` (of ``member_count`` members) is a group whose members may change."""
    return bool(room.name) or room.members_key.startswith(KEY_PREFIX) or member_count > 2


def is_group_line(message: Message) -> bool:
    """Whether ``message`` is a system line of a group change (it changes the header)."""
    data = message.data
    return message.is_system and isinstance(data, dict) and data.get("action") in ACTIONS


def can_remove(room: Room, user: AnyUser) -> bool:
    """Whether ``user`` may remove members: the room's creator, or ``delete_membership``.

    (The creator must also still be a member; the actions check that.)
    """
    creator = room.created_by_id is not None and room.created_by_id == user.pk
    return creator or user.has_perm("chatter.delete_membership")


def header(room: Room | RoomId) -> tuple[Room, list[User], set[UserId]]:
    """What a room's header shows: the room (read again when given its id), its members
    and the active ones. Two queries for a room, three for an id."""
    if not isinstance(room, Room):
        room = Room.objects.get(pk=room)
    return room, rooms.members(room), rooms.active_ids(room)


# -- the actions ---------------------------------------------------------------------------


def rename_group(room: Room, actor: User, name: object) -> Message | None:
    """Rename the group; the system line, or None when the name is the same."""
    name = clean_name(name)
    with transaction.atomic():
        locked, _count, _present = _state(room, actor, "chatter.change_room")
        if locked.name == name:
            return None
        _limited(actor)
        Room.objects.filter(pk=locked.pk).update(name=name)
        locked.name = name
        line = _line(locked, actor, {"action": "renamed", "name": name})
    _copy(locked, room)
    return line


def add_members(room: Room, actor: User, users: Iterable[User]) -> Message:
    """Add ``users`` to the group; the system line ("alice added carol, dave").

    All or none: a user who is already a member, or one too many for
    ``CHATTER_MAX_ROOM_MEMBERS``, refuses the whole change. New members see the group's
    history; their read position starts just before the line that added them.
    """
    people = _people(users, adding=True)
    if not people:
        raise GroupRefused(_("Choose at least one person to add."), code="invalid")
    try:
        with transaction.atomic():
            locked, count, present = _state(
                room, actor, "chatter.add_membership", [u.pk for u in people]
            )
            blockers = moderation.blockers_among(actor, people)
            if blockers:
                raise GroupRefused(
                    _("%(name)s cannot be added.") % {"name": _names(blockers)},
                    code="blocked",
                )
            already = [u for u in people if u.pk in present]
            if already:
                raise GroupRefused(
                    ngettext(
                        "%(names)s is already a member.",
                        "%(names)s are already members.",
                        len(already),
                    )
                    % {"names": _names(already)},
                    code="already_member",
                )
            limit = conf.get("CHATTER_MAX_ROOM_MEMBERS")
            if count + len(people) > limit:
                raise GroupRefused(too_many_members(limit), code="too_many")
            _limited(actor)
            line = _line(locked, actor, {"action": "added", "users": _listed(people)})
            Membership.objects.bulk_create(
                Membership(room=locked, user=u, last_read_seq=line.seq - 1) for u in people
            )
            _rekey(locked)
    except IntegrityError:  # added meanwhile by someone else (where rows are not locked)
        raise GroupRefused(
            _("Someone changed the group meanwhile: try again."), code="invalid"
        ) from None
    _copy(locked, room)
    return line


def remove_members(room: Room, actor: User, users: Iterable[User]) -> Message:
    """Remove ``users`` from the group; the system line ("alice removed bob").

    The group's creator (while a member) and users with ``chatter.delete_membership``
    may. Removing only oneself is leaving (:func:`leave_group`).
    """
    people = _people(users)
    if not people:
        raise GroupRefused(_("Choose at least one person to remove."), code="invalid")
    if any(u.pk == actor.pk for u in people):
        if len(people) == 1:
            return leave_group(room, actor)
        raise GroupRefused(_("To leave the group, use Leave group."), code="invalid")
    with transaction.atomic():
        ids = [u.pk for u in people]
        locked, _count, present = _state(room, actor, "chatter.delete_membership", ids)
        if not can_remove(locked, actor):
            raise GroupRefused(
                _("Only the person who made the group can remove people from it."),
                code="forbidden",
            )
        missing = [u for u in people if u.pk not in present]
        if missing:
            raise GroupRefused(
                ngettext(
                    "%(names)s is not a member of this group.",
                    "%(names)s are not members of this group.",
                    len(missing),
                )
                % {"names": _names(missing)},
                code="not_in_group",
            )
        _limited(actor)
        line = _line(locked, actor, {"action": "removed", "users": _listed(people)})
        Membership.objects.filter(room=locked, user_id__in=ids).delete()
        _rekey(locked)
    _copy(locked, room)
    return line


def remove_member(room: Room, actor: User, user: User) -> Message:
    """Remove one member: :func:`remove_members` of ``[user]``."""
    return remove_members(room, actor, [user])


def leave_group(room: Room, actor: User) -> Message:
    """``actor`` leaves the group; the system line ("bob left the group").

    The last member may leave: the room then has no members (and nobody sees it).
    """
    with transaction.atomic():
        locked, _count, _present = _state(room, actor, None)
        _limited(actor)
        line = _line(locked, actor, {"action": "left"})
        Membership.objects.filter(room=locked, user_id=actor.pk).delete()
        _rekey(locked)
    _copy(locked, room)
    return line


# -- helpers -------------------------------------------------------------------------------


def too_many_members(limit: int) -> str:
    """The refusal of a group past ``CHATTER_MAX_ROOM_MEMBERS`` (here and in the form)."""
    return ngettext(
        "A group can have at most %(limit)d member.",
        "A group can have at most %(limit)d members.",
        limit,
    ) % {"limit": limit}


def clean_name(name: object) -> str:
    """A group's new name: stripped, 1 to 100 characters, or :class:`GroupRefused`."""
    if not isinstance(name, str):
        raise GroupRefused(_("A group name must be text."), code="invalid")
    name = name.replace("\x00", "").strip()
    if not name:
        raise GroupRefused(_("A group needs a name."), code="invalid")
    if len(name) > ROOM_NAME_MAX_LENGTH:
        raise GroupRefused(
            _("A group name can have at most %(max)d characters.") % {"max": ROOM_NAME_MAX_LENGTH},
            code="too_long",
        )
    return name


def _people(users: Iterable[User], adding: bool = False) -> list[User]:
    """Saved users (active ones when ``adding``), each once, in order; else refused."""
    user_model = get_user_model()
    if isinstance(users, str | bytes | user_model):
        raise TypeError(f"Expected a list of {user_model.__name__} objects, got {users!r}.")
    unique: dict[UserId, User] = {}
    for user in users:
        if not isinstance(user, user_model) or user.pk is None:
            raise TypeError(f"Expected saved {user_model.__name__} objects, got {user!r}.")
        if adding and getattr(user, "is_active", True) is False:
            raise GroupRefused(
                _("%(name)s cannot be added.") % {"name": rooms.display_name(user)},
                code="invalid",
            )
        unique.setdefault(user.pk, user)
    return list(unique.values())


def _state(
    room: Room, actor: User, permission: str | None, others: Iterable[UserId] = ()
) -> tuple[Room, int, set[UserId]]:
    """The room locked for this transaction, its number of members, and which of the
    actor and ``others`` are members; refuses outsiders (unless they have
    ``permission``) and rooms that are not groups. Three queries, whatever the size."""
    try:
        locked = Room.objects.select_for_update().get(pk=room.pk)
    except Room.DoesNotExist:
        raise GroupRefused(_("This room no longer exists."), code="not_found") from None
    memberships = Membership.objects.filter(room=locked)
    present = set(
        memberships.filter(user_id__in=[actor.pk, *others]).values_list("user_id", flat=True)
    )
    if actor.pk not in present and not (permission and actor.has_perm(permission)):
        raise GroupRefused(_("You are not a member of this room."), code="not_member")
    count = memberships.count()
    if not is_group(locked, count):
        raise GroupRefused(
            _(
                "This is a conversation of two: its people cannot change. "
                "Start a new group to chat with more people."
            ),
            code="not_group",
        )
    return locked, count, present


def _limited(actor: User) -> None:
    limited("group", actor, GroupRefused)


def _line(room: Room, actor: User, data: dict[str, Any]) -> Message:
    """The system line of a change: the room's next message."""
    return _append(room, actor, kind=Message.Kind.SYSTEM, data=data)


def _rekey(room: Room) -> None:
    """Key the group by its id from now on (see the module's doc)."""
    key = KEY_PREFIX + room.pk.hex
    if room.members_key != key:
        Room.objects.filter(pk=room.pk).update(members_key=key)
        room.members_key = key


def _copy(locked: Room, room: Room) -> None:
    """Give the caller's room object what the change wrote."""
    for name in ("name", "members_key", "last_seq", "updated_at", "last_message"):
        setattr(room, name, getattr(locked, name))


def _listed(people: list[User]) -> list[list[Any]]:
    """``[[id, name], ...]`` as a system line stores them (ids as JSON has them)."""
    return [[u.pk if isinstance(u.pk, int) else str(u.pk), rooms.display_name(u)] for u in people]


def _names(people: list[User]) -> str:
    return ", ".join(rooms.display_name(u) for u in people)
