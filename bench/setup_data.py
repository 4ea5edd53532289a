"""Users, rooms and logged-in sessions for a benchmark run, in bulk, in one Django process.

    DJANGO_SETTINGS_MODULE=settings python -m bench.setup_data SPEC.json OUT.json

SPEC is ``{"users": N, "rooms": {label: [user index, ...]}}``. Users ``bench0000``... get
one precomputed password hash; every user gets one session (what a login stores: user
id, backend, session auth hash); rooms and memberships are inserted directly, each room
with a members key of its own (several rooms may have the same members). OUT is
``{"cookies": [session key per user], "rooms": {label: room id}}``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from datetime import timedelta
from importlib import import_module
from pathlib import Path

import django


def main(spec_path: str, out_path: str) -> None:
    django.setup()
    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.models import Session
    from django.db import transaction
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from chatter.models import Membership, Room

    spec = json.loads(Path(spec_path).read_text())
    started = time.monotonic()
    user_model = get_user_model()
    password = make_password("pw")
    backend = settings.AUTHENTICATION_BACKENDS[0]
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    expires = timezone.now() + timedelta(days=1)
    with transaction.atomic():
        users = user_model.objects.bulk_create(
            user_model(username=f"bench{i:04d}", password=password) for i in range(spec["users"])
        )
        cookies, sessions = [], []
        for user in users:
            key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
            data = {
                SESSION_KEY: str(user.pk),
                BACKEND_SESSION_KEY: backend,
                HASH_SESSION_KEY: user.get_session_auth_hash(),
            }
            sessions.append(
                Session(
                    session_key=key, session_data=store_class().encode(data), expire_date=expires
                )
            )
            cookies.append(key)
        Session.objects.bulk_create(sessions)
        labels = list(spec["rooms"])
        rooms = Room.objects.bulk_create(
            Room(name=label, members_key=hashlib.sha256(f"bench:{label}".encode()).hexdigest())
            for label in labels
        )
        Membership.objects.bulk_create(
            Membership(room=room, user=users[index])
            for room, label in zip(rooms, labels, strict=True)
            for index in spec["rooms"][label]
        )
    out = {
        "cookies": cookies,
        "rooms": {label: str(room.pk) for label, room in zip(labels, rooms, strict=True)},
        "seconds": round(time.monotonic() - started, 2),
    }
    Path(out_path).write_text(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
