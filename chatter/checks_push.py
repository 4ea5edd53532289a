"""System checks of ``CHATTER_PUSH`` (Web Push, docs/push.rst).

Ids: E060 keys set but pywebpush missing, E061 a key missing or malformed, E062 the
keys are not a pair, E063 the subject is not a mailto: or https: URL, E064 an entry of
the wrong type or an unknown one. Nothing is checked while ``CHATTER_PUSH`` is None.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from chatter import conf, push_input

GENERATE_HINT = "python manage.py chatter_vapid_keys --subject mailto:you@example.com"

_TYPES: dict[str, tuple[type | tuple[type, ...], ...]] = {
    "VAPID_PUBLIC_KEY": (str,),
    "VAPID_PRIVATE_KEY": (str,),
    "VAPID_SUBJECT": (str,),
    "BACKEND": (str,),
    "TIMEOUT": (int, float),
    "TTL": (int,),
    "QUEUE_SIZE": (int,),
    "INSECURE_HOSTS": (list, tuple),
}


def _error(message: str, hint: str, number: int) -> Error:
    return Error(message, hint=hint, id=f"chatter.E0{number}")


@register()
def check_push(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The VAPID keys and subject, pywebpush, and the other entries of CHATTER_PUSH."""
    value = conf.get("CHATTER_PUSH")
    if not isinstance(value, dict):
        return []  # None: push is off; another type is chatter.E010
    messages = _check_entries(value)
    if messages:
        return messages
    if not push_input.available():
        return [
            _error(
                _("CHATTER_PUSH is set but pywebpush is not installed."),
                _('Install Chatter\'s extra "push": pip install "django-chatter-live[push]".'),
                60,
            )
        ]
    return _check_keys(push_input.options())


def _check_entries(value: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for name, entry in value.items():
        types = _TYPES.get(name)
        ok = types is not None and isinstance(entry, types) and not isinstance(entry, bool)
        if ok and name in ("TIMEOUT", "TTL", "QUEUE_SIZE"):
            ok = entry > 0
        if ok and name == "BACKEND":
            try:
                ok = callable(import_string(entry))
            except ImportError:
                ok = False
        if not ok:
            messages.append(
                _error(
                    _("CHATTER_PUSH[%(name)r] is %(value)r, which is not valid.")
                    % {"name": name, "value": entry},
                    _(
                        "Its entries are VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT "
                        "(text), BACKEND (the dotted path of a callable), TIMEOUT, TTL and "
                        "QUEUE_SIZE (numbers above 0), INSECURE_HOSTS (a list of host names)."
                    ),
                    64,
                )
            )
    return messages


def _check_keys(opts: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    public, private = opts["VAPID_PUBLIC_KEY"], opts["VAPID_PRIVATE_KEY"]
    derived = push_input.public_of(private)
    public_ok = push_input.is_point(push_input.b64decode(public))
    if derived is None or not public_ok:
        name = "VAPID_PUBLIC_KEY" if derived is not None else "VAPID_PRIVATE_KEY"
        messages.append(
            _error(
                _("CHATTER_PUSH[%(name)r] is missing or is not a P-256 key in base64url.")
                % {"name": name},
                _("Generate a key pair with: %(command)s") % {"command": GENERATE_HINT},
                61,
            )
        )
    elif derived != public.rstrip("="):
        messages.append(
            _error(
                _("CHATTER_PUSH's VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY."),
                _("Copy both keys from one run of: %(command)s") % {"command": GENERATE_HINT},
                62,
            )
        )
    if not push_input.subject_ok(opts["VAPID_SUBJECT"]):
        messages.append(
            _error(
                _("CHATTER_PUSH['VAPID_SUBJECT'] is %(value)r; push services need a contact.")
                % {"value": opts["VAPID_SUBJECT"]},
                _(
                    'Set it to a "mailto:" address or an "https:" URL, such as '
                    '"mailto:you@example.com".'
                ),
                63,
            )
        )
    return messages
