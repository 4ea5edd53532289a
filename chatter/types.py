"""Names for annotations: the user of a project and the ids Chatter passes around.

``User`` is whatever ``AUTH_USER_MODEL`` names. At run time it is ``AbstractBaseUser``,
the base every user model of Django's auth has; for mypy it is django-stubs' placeholder
``_User``, which the django-stubs plugin turns into the project's own user model (and
which is ``AbstractBaseUser`` without the plugin). So a project that type-checks with
the plugin passes its own users to Chatter, and gets them back, with their own type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias
from uuid import UUID

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser

if TYPE_CHECKING:
    from django.contrib.auth.models import _User as User
else:
    User = AbstractBaseUser

__all__ = ["AnyUser", "RoomId", "User", "UserId"]

#: ``request.user``, ``scope["user"]``: a user, or ``AnonymousUser`` before login.
AnyUser: TypeAlias = User | AnonymousUser
#: A user's primary key: an int for Django's ``User``, a UUID or a string for others. Its
#: type is the project's user model's, which no annotation can name (the plugin checks
#: lookups such as ``user_id__in`` against the model's own), so it is ``Any`` here, as
#: django-stubs types ``Model.pk``; users themselves are always ``User``.
UserId: TypeAlias = Any
#: A room's id as URLs, frames and callers give it: the UUID or its text.
RoomId: TypeAlias = UUID | str
