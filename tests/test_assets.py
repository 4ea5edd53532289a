"""The page's assets and the notice it shows while they are missing (no silent dead page)."""

from __future__ import annotations

import re
from typing import Any

from django.urls import reverse

from chatter import rooms

NOTICE = re.compile(
    r'<div id="chatter-assets-missing" class="chatter-assets-missing" style="[^"]+">'
)


def test_every_page_carries_the_notice_visible_without_css_or_script(
    alice_client: Any, alice: Any, bob: Any
) -> None:
    room = rooms.create_room([alice, bob])
    for url in (reverse("chatter:index"), reverse("chatter:chatroom", args=[room])):
        html = alice_client.get(url).content.decode()
        notice = NOTICE.search(html)
        assert notice, url
        style = notice.group(0)
        assert "display" not in style and "hidden" not in style, style
        assert "The chat cannot start." in html
        # No inline script anywhere: every <script> has a src (CSP without unsafe-inline).
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert scripts and all(" src=" in tag for tag in scripts), scripts
        # The notice comes after the scripts that remove it, which are all deferred.
        assert html.index("chatter/chatter.js") < notice.start()
        assert all(" defer" in tag for tag in scripts), scripts
