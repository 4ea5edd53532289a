"""Forms of Chatter's pages."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from chatter import conf, groups, moderation
from chatter.models import ROOM_NAME_MAX_LENGTH, Preferences, Report
from chatter.types import User

_SEPARATORS = re.compile(r"[\s,;]+")


def split_usernames(value: str) -> list[str]:
    """Usernames from text separated by commas, semicolons or white space; duplicates dropped."""
    seen: dict[str, None] = {}
    for part in _SEPARATORS.split(value or ""):
        if part:
            seen.setdefault(part, None)
    return list(seen)


class UsernamesInput(forms.TextInput):
    """A text input of usernames that also takes the field several times.

    Without JavaScript people type the usernames; chatter.js replaces the input by a
    picker that submits one hidden ``usernames`` input per person chosen. Both arrive
    here as one text, e.g. ``"bob, carol"``.
    """

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        getlist = getattr(data, "getlist", None)
        if getlist is None:
            return super().value_from_datadict(data, files, name)
        values = [v for v in getlist(name) if isinstance(v, str)]
        return ", ".join(values) if values else None


class GroupRoomForm(forms.Form):
    """A named room for the requesting user and the users they list."""

    name = forms.CharField(
        label=_("Group name"),
        max_length=ROOM_NAME_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. Weekend trip")}),
    )
    usernames = forms.CharField(
        label=_("People"),
        help_text=_("Usernames, separated by commas or spaces."),
        widget=UsernamesInput(attrs={"placeholder": _("alice, bob"), "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_usernames(self) -> list[User]:
        """The listed users plus the creator, all existing, within the member limit."""
        me = self.user.get_username()
        names = [n for n in split_usernames(self.cleaned_data["usernames"]) if n != me]
        if not names:
            raise forms.ValidationError(_("Add at least one other person."), code="empty")
        limit = conf.get("CHATTER_MAX_ROOM_MEMBERS")
        if len(names) + 1 > limit:
            raise forms.ValidationError(groups.too_many_members(limit), code="too_many")
        people = users_named(names)
        blockers = moderation.blockers_among(self.user, people)
        if blockers:
            raise forms.ValidationError(
                _("You cannot start a conversation with %(names)s.")
                % {"names": ", ".join(u.get_username() for u in blockers)},
                code="blocked",
            )
        return [self.user, *people]


def users_named(names: list[str]) -> list[User]:
    """The active users with these usernames, in order; a ValidationError names any unknown."""
    user_model = get_user_model()
    field = user_model.USERNAME_FIELD
    qs = user_model._default_manager.filter(**{f"{field}__in": names})
    if any(f.name == "is_active" for f in user_model._meta.get_fields()):
        qs = qs.filter(is_active=True)
    found = {u.get_username(): u for u in qs}
    unknown = [n for n in names if n not in found]
    if unknown:
        raise forms.ValidationError(
            _("No such user: %(names)s.") % {"names": ", ".join(unknown)},
            code="unknown",
        )
    return [found[n] for n in names]


#: The ``auto_id`` of :class:`AddMembersForm`: its ids differ from the "New group" form's,
#: which the same page shows.
ADD_MEMBERS_ID = "id_add_%s"


class AddMembersForm(forms.Form):
    """People to add to a group (``chatter.groups.add_members`` checks the rest)."""

    usernames = forms.CharField(
        label=_("Add people"),
        help_text=_("Usernames, separated by commas or spaces."),
        widget=UsernamesInput(attrs={"placeholder": _("alice, bob"), "autocomplete": "off"}),
    )

    def clean_usernames(self) -> list[User]:
        """The listed users, all existing and active."""
        names = split_usernames(self.cleaned_data["usernames"])
        if not names:
            raise forms.ValidationError(_("Add at least one person."), code="empty")
        return users_named(names)


class ReportForm(forms.Form):
    """Why a member reports a message: a reason, and optionally a few words for staff."""

    reason = forms.ChoiceField(
        label=_("Why are you reporting this message?"),
        choices=Report.Reason.choices,
        widget=forms.RadioSelect,
    )
    details = forms.CharField(
        label=_("Anything the moderators should know (optional)"),
        max_length=moderation.DETAILS_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "chatter-report-%s")
        super().__init__(*args, **kwargs)


class MuteForm(forms.Form):
    """The room header's mute toggle: ``muted`` is 1 (mute) or 0 (unmute)."""

    muted = forms.TypedChoiceField(
        choices=[("1", "1"), ("0", "0")], coerce=lambda value: value == "1"
    )


class PreferencesForm(forms.Form):
    """A user's notification choices (``chatter.notify.save_preferences``)."""

    email_digest = forms.BooleanField(
        label=Preferences._meta.get_field("email_digest").verbose_name, required=False
    )
