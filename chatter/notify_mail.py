"""The e-mail digest as mail: its links, its HTML and plain text, and sending it.

What to send is decided by :mod:`chatter.notify`; this renders it with the templates
``chatter/email/digest_subject.txt``, ``digest.txt`` and ``digest.html`` (user text only
through autoescaped templates) and sends it after the selection is committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse

from chatter import conf, notify, tenancy

logger = logging.getLogger("chatter.notify")


class NoSiteURL(Exception):
    """Links cannot be made: ``CHATTER_SITE_URL`` is not set (or the tenant has no domain)."""


def site_url(schema_name: str = "") -> str:
    """The address links in e-mails start with, without a trailing slash.

    ``CHATTER_SITE_URL``, with ``{domain}`` replaced by the tenant's primary domain under
    django-tenants (where it defaults to ``https://{domain}``).
    """
    base = conf.get("CHATTER_SITE_URL")
    if schema_name and tenancy.is_multitenant():
        tenant = tenancy.tenant_for_schema(schema_name)
        domain = tenant.get_primary_domain() if tenant is not None else None
        if domain is None:
            raise NoSiteURL(f"The tenant of the schema {schema_name!r} has no primary domain.")
        return (base or "https://{domain}").replace("{domain}", domain.domain).rstrip("/")
    if not base:
        raise NoSiteURL("CHATTER_SITE_URL is not set: e-mails need the site's address.")
    return str(base).rstrip("/")


@dataclass
class Outcome:
    """What a run did: digests sent, digests that failed to send, messages in them."""

    sent: int = 0
    failed: int = 0
    messages: int = 0


def render(digest: notify.Digest, base: str) -> EmailMultiAlternatives:
    """One user's digest as an e-mail, plain text with an HTML alternative."""
    rooms = [(r, base + reverse("chatter:chatroom", args=[r.room.pk])) for r in digest.rooms]
    context = {
        "digest": digest,
        "user": digest.user,
        "rooms": rooms,
        "site_url": base,
        "preferences_url": base + reverse("chatter:preferences"),
    }
    subject = " ".join(render_to_string("chatter/email/digest_subject.txt", context).split())
    context["subject"] = subject
    text = render_to_string("chatter/email/digest.txt", context)
    html = render_to_string("chatter/email/digest.html", context)
    address = getattr(digest.user, digest.user.get_email_field_name())
    mail = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [address])
    mail.attach_alternative(html, "text/html")
    return mail


def run(schema_name: str = "", *, dry_run: bool = False) -> tuple[Outcome, list[str]]:
    """Select, mark and send this schema's digests; returns the outcome and, per digest,
    a line saying to whom it went (for ``-v 2`` and ``--dry-run``).

    The links' base is checked before anything is selected, so a misconfigured site marks
    nothing. A digest that fails to send is logged and counted, not retried: it was
    already marked (at most once, never twice).
    """
    base = site_url(schema_name)
    digests = notify.collect(dry_run=dry_run)
    outcome = Outcome()
    lines = []
    mails = [(d, render(d, base)) for d in digests]
    for digest, mail in mails:
        outcome.messages += digest.total
        lines.append(f"{mail.to[0]}: {digest.total} message(s) in {len(digest.rooms)} room(s)")
    if not dry_run and mails:
        _send(mails, outcome)
    return outcome, lines


def _send(mails: list[tuple[notify.Digest, EmailMultiAlternatives]], outcome: Outcome) -> None:
    """Send each digest on one connection; one that fails is logged and counted."""
    connection = get_connection()
    try:
        connection.open()  # one SMTP session for all; a failure here is retried per mail
    except Exception:
        logger.exception("Could not connect to send the chat digests")
    try:
        for digest, mail in mails:
            try:
                connection.send_messages([mail])
            except Exception:  # any backend's error: the other users still get theirs
                logger.exception("Could not send the chat digest to user %s", digest.user.pk)
                outcome.failed += 1
            else:
                outcome.sent += 1
    finally:
        connection.close()
