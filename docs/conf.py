"""Sphinx configuration for Chatter's documentation."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import chatter

project = "Chatter"
author = "The Chatter developers"
copyright = "2026, the Chatter developers"
release = chatter.__version__
version = ".".join(release.split(".")[:2])
extensions: list[str] = []
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path: list[str] = []
