"""Chatter's settings, each with its default, read at call time so tests can override them."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # The template every Chatter page extends; it must define the blocks "title" and "content".
    "CHATTER_BASE_TEMPLATE": "chatter/base.html",
    # Longest message accepted, in characters (after stripping surrounding white space).
    "CHATTER_MESSAGE_MAX_LENGTH": 4000,
    # Messages per history page (the room page and each "load older" step).
    "CHATTER_PAGE_SIZE": 50,
    # Most users a user search returns.
    "CHATTER_USER_SEARCH_LIMIT": 10,
    # Most members a group room created from the room list may have.
    "CHATTER_MAX_ROOM_MEMBERS": 50,
    # Rate limit on sends: at most this many messages per user in each window of seconds
    # (shared by all server processes when the channel layer is channels-redis).
    "CHATTER_RATE_LIMIT_MESSAGES": 20,
    "CHATTER_RATE_LIMIT_SECONDS": 10,
    # Limits on the other client frames, per user (and per socket): kind -> (count,
    # seconds). A count of 0 turns one off. A client over a limit is told when to retry.
    "CHATTER_FRAME_LIMITS": {
        "resume": (30, 10),
        "read": (20, 10),
        "typing": (5, 10),
        "ping": (60, 60),
        "edit": (10, 10),
        "delete": (10, 10),
        "react": (20, 10),
        # Group changes (rename, add, remove, leave), from pages, frames and commands.
        "group": (10, 10),
        # Blocking and unblocking people (pages), and reporting messages (pages, frames).
        "block": (10, 60),
        "report": (5, 60),
        # Messages with files (pictures are decoded and encoded again: work to bound).
        "upload": (10, 60),
    },
    # Most websockets one user may have open at once (0: no limit); one more is closed
    # with code 4429.
    "CHATTER_MAX_SOCKETS_PER_USER": 20,
    # Seconds a "typing" indicator stays up without a new keystroke.
    "CHATTER_TYPING_TIMEOUT": 5,
    # Seconds a member counts as active in a room after their socket's last sign of life;
    # open sockets refresh it at a third of this.
    "CHATTER_PRESENCE_TIMEOUT": 60,
    # Seconds after sending during which its author may edit a message (None: always).
    "CHATTER_EDIT_WINDOW": 48 * 60 * 60,
    # Most different emoji one message may carry.
    "CHATTER_MAX_REACTIONS": 20,
    # Largest websocket text frame the consumer reads, in bytes.
    "CHATTER_MAX_FRAME_BYTES": 64 * 1024,
    # The dotted path of a callable ``user -> str | None``: the URL of the user's picture,
    # shown in their avatars (None, or an empty answer: their initials). None: initials.
    "CHATTER_AVATAR_URL": None,
    # E-mail digests (manage.py chatter_notify): a message is e-mailed once it has been
    # unread this long (a number of seconds or a timedelta).
    "CHATTER_NOTIFY_DELAY": 10 * 60,
    # Most messages a digest shows per room (the rest are counted: "and 12 more").
    "CHATTER_NOTIFY_MAX_MESSAGES": 5,
    # The site's address for links in e-mails, e.g. "https://chat.example.com"; "{domain}"
    # in it is the tenant's primary domain under django-tenants (None there:
    # "https://{domain}").
    "CHATTER_SITE_URL": None,
    # The PostgreSQL text search configuration of the message search ("simple": words as
    # written, for every language; "english", "german"...: stemmed, without stop words).
    "CHATTER_SEARCH_CONFIG": "simple",
    # Most results one message search shows.
    "CHATTER_SEARCH_LIMIT": 20,
    # -- Attachments (chatter.attachments) --
    # Where files are kept: None for Django's default_storage, else an alias of the
    # STORAGES setting or the dotted path of a Storage class.
    "CHATTER_STORAGE": None,
    # Most bytes of the files of one message together, counted while the upload streams.
    "CHATTER_MAX_UPLOAD_BYTES": 10 * 1024 * 1024,
    # Most files one message may carry.
    "CHATTER_MAX_UPLOAD_FILES": 10,
    # The types accepted, as read from the files' content (never their names).
    "CHATTER_UPLOAD_TYPES": [
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/svg+xml",
        "application/pdf",
        "application/zip",
        "text/plain",
    ],
    # Most bytes one user's stored files may take together (None: no quota).
    "CHATTER_UPLOAD_QUOTA_BYTES": 200 * 1024 * 1024,
    # Largest image accepted, in pixels (width x height), read before it is decoded.
    "CHATTER_MAX_IMAGE_PIXELS": 40_000_000,
    # The box thumbnails fit in, in pixels (width, height).
    "CHATTER_THUMBNAIL_SIZE": (320, 320),
    # How files are served: None (by Django), "x-accel-redirect" (nginx; with
    # CHATTER_SENDFILE_PREFIX, its internal location) or "x-sendfile" (Apache, lighttpd).
    "CHATTER_SENDFILE": None,
    "CHATTER_SENDFILE_PREFIX": "",
    # Web Push (docs/push.rst): None (off), or a dict with "VAPID_PUBLIC_KEY",
    # "VAPID_PRIVATE_KEY" and "VAPID_SUBJECT", and optionally "BACKEND", "TIMEOUT", "TTL",
    # "QUEUE_SIZE" and "INSECURE_HOSTS" (their defaults: chatter.push.OPTIONS).
    "CHATTER_PUSH": None,
}


def get(name: str) -> Any:
    """Return the project's value of a CHATTER_* setting, or its default."""
    return getattr(settings, name, DEFAULTS[name])
