"""Sphinx configuration for Chatter's documentation."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

project = "Chatter"
author = "The Chatter developers"
copyright = "2026, the Chatter developers"
release = "0.1.0"
extensions: list[str] = []
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path: list[str] = []
