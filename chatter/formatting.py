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

Mentions (:mod:`chatter.mentions`) are stored as tokens ``<@ID>``. The parser turns a
token in text (not in code) into an empty ``<span class="chatter-mention" data-user="ID">``,
the sanitiser keeps exactly that, and the cached HTML is the same whoever is mentioned.
:func:`render` then fills each span with "@" and the user's current name, escaped, from the
users it is given (``message.mentioned``, loaded with the message); a token of anyone else
is shown as the text it is.

docs/formatting.rst is the user-facing description of the same rules.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

import nh3
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from chatter.mention_text import ID, TOKEN

# The only tags a rendered message may contain (``s``: ~~strikethrough~~, ``span``: a
# mention).
TAGS = frozenset(
    {"p", "br", "strong", "em", "s", "code", "pre", "blockquote", "a", "ul", "ol", "li", "span"}
)
# The only attributes: a link's address, where an ordered list starts ("3. third"), and
# whom a mention names.
ATTRIBUTES = {
    "a": frozenset({"href"}),
    "ol": frozenset({"start"}),
    "span": frozenset({"class", "data-user"}),
}
MENTION_CLASS = "chatter-mention"
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


def _mentions(state: StateCore) -> None:
    """Split each text token at mention tokens: a ``mention`` token each (code is left)."""
    for block in state.tokens:
        if block.type != "inline" or not block.children or "<@" not in block.content:
            continue
        children: list[Token] = []
        for token in block.children:
            if token.type != "text" or "<@" not in token.content:
                children.append(token)
                continue
            at = 0
            for match in TOKEN.finditer(token.content):
                if match.start() > at:
                    children.append(_text(token, token.content[at : match.start()]))
                mention = Token("mention", "span", 0, level=token.level)
                mention.meta = {"user": match.group(1)}
                children.append(mention)
                at = match.end()
            if at < len(token.content):
                children.append(_text(token, token.content[at:]))
        block.children = children


def _text(like: Token, content: str) -> Token:
    token = Token("text", "", 0, level=like.level)
    token.content = content
    return token


def _render_mention(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    user = escape(tokens[idx].meta["user"])
    return f'<span class="{MENTION_CLASS}" data-user="{user}"></span>'


def _build_parser() -> MarkdownIt:
    md = _ChatMarkdown("commonmark", {"html": False, "linkify": True, "breaks": True})
    md.enable(["strikethrough", "linkify"]).disable(list(DISABLED_RULES))
    md.core.ruler.push("chatter_mentions", _mentions)
    md.add_render_rule("mention", _render_mention)
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
    """nh3's attribute filter, a second check: allowed attributes, absolute allowed URLs,
    a span only as a mention."""
    if attribute not in _FILTER.get(tag, ()):
        return None
    if attribute == "href" and not _ALLOWED_URL.match(value):
        return None
    if attribute == "class" and value != MENTION_CLASS:
        return None
    if attribute == "data-user" and not ID.fullmatch(value):
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


# An empty mention as the parser writes it and the sanitiser keeps it: only the parser
# makes spans (raw HTML is off), so each one in the sanitised HTML is a mention.
_EMPTY_MENTION = re.compile(rf'<span class="{MENTION_CLASS}" data-user="({ID.pattern})"></span>')


def render(text: str, mentioned: dict[str, Any] | None = None) -> SafeString:
    """A message's text as the HTML to show: Markdown rendered, then sanitised.

    ``mentioned``: the users its mentions name, by id (``message.mentioned``); each is
    shown with its current name. A token of a user not in it stays the text it is.
    """
    html = _html(text)
    if "<span" in html:
        html = _EMPTY_MENTION.sub(lambda match: _mention(match.group(1), mentioned or {}), html)
    # The one mark_safe of Chatter: this is nh3's output with the fixed allow-list above
    # (no raw HTML reaches the parser's output either), so nothing the user typed is markup
    # beyond those tags; autoescaping it again would show the tags as text. The names put
    # in the mentions are escaped (format_html).
    return mark_safe(html)  # noqa: S308


def _mention(user_id: str, mentioned: dict[str, Any]) -> str:
    user = mentioned.get(user_id)
    if user is None:
        return str(escape(f"<@{user_id}>"))
    from chatter.rooms import display_name  # rooms -> messages -> formatting (templates)

    return str(
        format_html(
            '<span class="{}" data-user="{}">@{}</span>', MENTION_CLASS, user_id, display_name(user)
        )
    )
