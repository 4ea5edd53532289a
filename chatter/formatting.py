"""Message formatting: a little Markdown, rendered on the server, then sanitised.

A message's text is stored as typed. When a message is shown (the room page, the history,
a live frame: all through ``chatter/_message.html``) :func:`render` turns it into HTML in
two steps:

1. markdown-it-py parses it with the CommonMark rules a chat wants: bold, italic,
   strikethrough, inline code, fenced code blocks, block quotes, lists, links with a
   ``http``, ``https`` or ``mailto`` URL (typed as ``[text](url)``, ``<url>`` or just
   pasted), and every line break kept. Raw HTML is off, so ``<b>`` stays text. Headings,
   rules, images, indented code blocks, reference definitions and entities are off too:
   what they would match stays the text that was typed.
2. nh3 (the Rust sanitiser ammonia) keeps only the tags and attributes of the allow-list
   below, links only with an allowed scheme, and gives every link
   ``rel="noopener noreferrer nofollow"`` and ``target="_blank"``. The parser should never
   produce anything else; the sanitiser makes sure of it.

docs/formatting.rst is the user-facing description of the same rules.
"""

from __future__ import annotations

import functools
import re
import threading

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

# The only tags a rendered message may contain (``s``: ~~strikethrough~~).
TAGS = frozenset(
    {"p", "br", "strong", "em", "s", "code", "pre", "blockquote", "a", "ul", "ol", "li"}
)
# The only attributes: a link's address and where an ordered list starts ("3. third").
ATTRIBUTES = {"a": frozenset({"href"}), "ol": frozenset({"start"})}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"
LINK_TARGET = "_blank"

# Markdown rules of the CommonMark preset that a chat turns off: what they would match
# stays text. "# hi" is not a heading, "---" not a rule, "![x](url)" not an image (a "!"
# and a link), an indented line not a code block (fences are), "[x]: url" not a
# definition, "&amp;" shows as typed; raw HTML is off as well (``html: False``).
DISABLED_RULES = (
    "heading",
    "lheading",
    "hr",
    "code",
    "reference",
    "html_block",
    "html_inline",
    "image",
    "entity",
)

# An absolute URL with an allowed scheme: relative and protocol-relative links are refused.
_ALLOWED_URL = re.compile(r"(?:https?://|mailto:)", re.IGNORECASE)


class _ChatMarkdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:  # markdown-it's name
        """Make links of allowed URLs only: any other ``[text](url)`` stays text."""
        return _ALLOWED_URL.match(url) is not None


def _build_parser() -> MarkdownIt:
    md = _ChatMarkdown("commonmark", {"html": False, "linkify": True, "breaks": True})
    md.enable(["strikethrough", "linkify"]).disable(list(DISABLED_RULES))
    # Pasted URLs need their scheme: "setup.py" or "README.md" are not links.
    assert md.linkify is not None, "linkify-it-py is a requirement of Chatter"
    md.linkify.set({"fuzzy_link": False})
    return md


# One parser per thread: linkify-it-py before 2.2 keeps the last match in the instance,
# so a parser shared by threads (Django runs sync views and renders on several) could mix
# up the links of two messages. Each thread builds its own once, on first use.
_local = threading.local()


def _parser() -> MarkdownIt:
    parser: MarkdownIt | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _build_parser()
    return parser


# What nh3's attribute filter lets through: the allow-list, plus the two attributes nh3
# itself sets on links (the filter sees those too).
_FILTER = {**ATTRIBUTES, "a": ATTRIBUTES["a"] | {"rel", "target"}}


def _only_allowed(tag: str, attribute: str, value: str) -> str | None:
    """nh3's attribute filter, a second check: allowed attributes, absolute allowed URLs."""
    if attribute not in _FILTER.get(tag, ()):
        return None
    if attribute == "href" and not _ALLOWED_URL.match(value):
        return None
    return value


def sanitise(html: str) -> str:
    """``html`` with only the allow-list's tags, attributes and URL schemes left."""
    return nh3.clean(
        html,
        tags=set(TAGS),
        # "*": none on every tag (nh3 would keep ``lang`` and ``title`` anywhere).
        attributes={"*": set(), **{tag: set(names) for tag, names in ATTRIBUTES.items()}},
        attribute_filter=_only_allowed,
        link_rel=LINK_REL,
        set_tag_attribute_values={"a": {"target": LINK_TARGET}},
        url_schemes=set(URL_SCHEMES),
        strip_comments=True,
    )


# Each message is shown again on every page load and history page, and parsing Markdown in
# Python is not free: about 0.2 ms for a chat line, tens of ms for 4000 characters made to
# be slow ("[[[[..."). The newest renderings are kept; the rest are made again.
@functools.lru_cache(maxsize=1024)
def _html(text: str) -> str:
    return sanitise(_parser().render(text))


def render(text: str) -> SafeString:
    """A message's text as the HTML to show: Markdown rendered, then sanitised."""
    # The one mark_safe of Chatter: this is nh3's output with the fixed allow-list above
    # (no raw HTML reaches the parser's output either), so nothing the user typed is markup
    # beyond those tags; autoescaping it again would show the tags as text.
    return mark_safe(_html(text))  # noqa: S308
