"""The demo's URLs plus a view serving static files, as ``staticfiles_urlpatterns()`` adds."""

from __future__ import annotations

from django.contrib.staticfiles.views import serve
from django.urls import re_path
from urls import urlpatterns as demo_urlpatterns

urlpatterns = [*demo_urlpatterns, re_path(r"^static/(?P<path>.*)$", serve)]
