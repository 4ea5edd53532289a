"""chatter.template_blocks: which blocks a template renders, following its {% extends %}.

The system check that uses it (chatter.E016) is tested in tests/test_checks.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.test import override_settings

from chatter.template_blocks import rendered_blocks


def templates(tmp_path: Path, **files: str) -> Any:
    """Django's template engine, with ``files`` (name: text) in a folder of its own."""
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return override_settings(TEMPLATES=[{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}])


def test_a_block_shown_by_two_versions_counts_once(tmp_path: Path) -> None:
    """With {{ block.super }} both versions render; a block in both is one block."""
    files = {
        "root.html": "{% block body %}<nav>{% block menu %}{% endblock %}</nav>{% endblock %}",
        "site.html": '{% extends "root.html" %}'
        "{% block body %}{{ block.super }}{% block menu %}links{% endblock %}{% endblock %}",
    }
    with templates(tmp_path, **files):
        assert rendered_blocks("site.html") == {"body", "menu"}


def test_a_template_of_another_engine_is_unknowable(tmp_path: Path) -> None:
    (tmp_path / "site.jinja").write_text("<main>{{ content }}</main>")
    jinja = {"BACKEND": "django.template.backends.jinja2.Jinja2", "DIRS": [str(tmp_path)]}
    with override_settings(TEMPLATES=[jinja, *settings.TEMPLATES]):
        assert rendered_blocks("site.jinja") is None


def test_an_extends_chain_longer_than_any_real_one_is_unknowable(tmp_path: Path) -> None:
    files = {"t0.html": "{% block content %}{% endblock %}"}
    for i in range(1, 30):
        files[f"t{i}.html"] = f'{{% extends "t{i - 1}.html" %}}'
    with templates(tmp_path, **files):
        assert rendered_blocks("t10.html") == {"content"}
        assert rendered_blocks("t29.html") is None
