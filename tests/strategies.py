"""Hypothesis strategies for what a client may send on the socket."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

FRAME_TYPES = [
    "send", "resume", "read", "typing", "ping", "edit", "delete", "react",
    "rename", "add", "remove", "leave", "report", "x",
]  # fmt: skip


def json_values(text_size: int | None = None, width: int = 4, leaves: int = 20) -> Any:
    """Any JSON value: scalars (floats include inf and nan), lists and objects of them."""
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=text_size),
        lambda children: (
            st.lists(children, max_size=width)
            | st.dictionaries(st.text(max_size=2 * width), children, max_size=width)
        ),
        max_leaves=leaves,
    )


def frames(values: Any) -> Any:
    """Objects shaped like the protocol's frames, each field any of ``values`` (or absent)."""
    fields = (
        "text", "client_id", "after", "seq", "HEADERS", "changes", "oldest", "reply_to", "emoji",
        "name", "users", "user", "reason", "details",
    )  # fmt: skip
    return st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(FRAME_TYPES) | values,
            **dict.fromkeys(fields, values),
        },
    )


# Pieces of Markdown, HTML and URLs that message texts are made of, so that arbitrary
# texts hit the parser's and the sanitiser's interesting paths, not only plain words.
MARKUP_PIECES = [
    "*", "**", "_", "__", "~~", "`", "```", "\n", "\n\n", "> ", "- ", "1. ", "# ", "    ",
    "[", "]", "(", ")", "![", "<", ">", "</", "/>", '"', "'", "=", "&", "&#", "&#x", ";", "\\",
    "http://", "https://", "mailto:", "javascript:", "data:", "vbscript:", "//", "www.",
    "example.com", "a@b.co", "<script>", "<img src=x onerror=alert(1)>", " hx-get=/x ",
    "onclick=", "\u202e", "\u200b", "\x00", "\t", "%0a",
]  # fmt: skip


def message_texts(max_pieces: int = 40) -> Any:
    """Texts a user may type: markup pieces mixed with any characters."""
    piece = st.sampled_from(MARKUP_PIECES) | st.text(max_size=8)
    return st.lists(piece, max_size=max_pieces).map("".join)
