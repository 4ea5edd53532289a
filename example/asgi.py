"""ASGI entry point of the demo: HTTP through Django, websockets through Chatter.

One module for both settings: ``DJANGO_SETTINGS_MODULE=settings`` (one site) or
``settings_tenants`` (django-tenants). ``SameHostOriginValidator`` refuses sockets opened
from a page of another host (another tenant's subdomain included);
``ChatterMTMiddlewareStack`` puts the tenant (if any) and its logged-in user in the scope.
``UploadLimitMiddleware`` refuses an upload over ``CHATTER_MAX_UPLOAD_BYTES`` while its
body arrives, before Django has spooled it.
"""

from __future__ import annotations

import os

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
# The demo serves its own static files (htmx, the ws extension, Chatter's CSS and JS), as
# runserver does; a real deployment serves them with its web server or WhiteNoise.
django_asgi_app = ASGIStaticFilesHandler(get_asgi_application())

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

import chatter.routing  # noqa: E402
from chatter.utils import (  # noqa: E402
    ChatterMTMiddlewareStack,
    SameHostOriginValidator,
    UploadLimitMiddleware,
)

application = ProtocolTypeRouter(
    {
        "http": UploadLimitMiddleware(django_asgi_app),
        "websocket": SameHostOriginValidator(
            ChatterMTMiddlewareStack(URLRouter(chatter.routing.websocket_urlpatterns))
        ),
    }
)
