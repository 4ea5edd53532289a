"""Message formatting (``chatter.formatting``): what Markdown becomes, and that nothing else does.

A corpus of inputs with the exact HTML each gives; a corpus of attacks whose output is
parsed (``html.parser``, as a browser would read it, entities decoded) and checked against
the allow-list; and a hypothesis property over arbitrary texts: rendering never raises, is
deterministic, and never leaves a tag, an attribute or a URL scheme outside the allow-list.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.template import Context, Template
from django.test import Client
from django.urls import reverse
from django.utils.safestring import SafeString
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatter import formatting, frames, messages, rooms
from chatter.models import Room
from tests import strategies
from tests.factories import make_user

EXAMPLES = int(os.environ.get("CHATTER_HYPOTHESIS_EXAMPLES", "1000"))
LINK = 'target="_blank" rel="noopener noreferrer nofollow"'


def a(href: str, text: str | None = None) -> str:
    """A link as render() writes it."""
    return f'<a href="{href}" {LINK}>{href if text is None else text}</a>'


CORPUS = [
    ("plain text", "<p>plain text</p>\n"),
    ("**bold** and __bold__", "<p><strong>bold</strong> and <strong>bold</strong></p>\n"),
    ("*italic* and _italic_", "<p><em>italic</em> and <em>italic</em></p>\n"),
    ("~~gone~~", "<p><s>gone</s></p>\n"),
    ("use `pip install` now", "<p>use <code>pip install</code> now</p>\n"),
    ("`<b>` & `{{ x }}`", "<p><code>&lt;b&gt;</code> &amp; <code>{{ x }}</code></p>\n"),
    # A fenced block keeps its text verbatim (indentation, blank-free lines), escaped.
    (
        '```\nif a < b:\n    print("<b>&amp;</b>")\n```',
        '<pre><code>if a &lt; b:\n    print("&lt;b&gt;&amp;amp;&lt;/b&gt;")\n</code></pre>\n',
    ),
    ("```python\nx = 1\n```", "<pre><code>x = 1\n</code></pre>\n"),  # no language class
    (
        "> quoted\n> twice\n\nreply",
        "<blockquote>\n<p>quoted<br>\ntwice</p>\n</blockquote>\n<p>reply</p>\n",
    ),
    (
        "> **quote** with `code`",
        "<blockquote>\n<p><strong>quote</strong> with <code>code</code></p>\n</blockquote>\n",
    ),
    # Line breaks are kept; blank lines separate paragraphs.
    ("first line\nsecond line", "<p>first line<br>\nsecond line</p>\n"),
    ("line  \nhard break", "<p>line<br>\nhard break</p>\n"),
    ("one\n\n\n\ntwo", "<p>one</p>\n<p>two</p>\n"),
    # Links: pasted URLs with a scheme, <autolinks>, [text](url), e-mail addresses.
    (
        "see https://example.com/a?b=1&c=2.",
        f"<p>see {a('https://example.com/a?b=1&amp;c=2')}.</p>\n",
    ),
    ("<https://example.com>", f"<p>{a('https://example.com')}</p>\n"),
    ("http://a.com/b_(c)", f"<p>{a('http://a.com/b_(c)')}</p>\n"),
    (
        '[docs](https://docs.djangoproject.com/ "Django")',  # the title is dropped
        f"<p>{a('https://docs.djangoproject.com/', 'docs')}</p>\n",
    ),
    ("**[link](https://e.com)**", f"<p><strong>{a('https://e.com', 'link')}</strong></p>\n"),
    ("mail bob@example.com", f"<p>mail {a('mailto:bob@example.com', 'bob@example.com')}</p>\n"),
    ("[write](mailto:bob@example.com)", f"<p>{a('mailto:bob@example.com', 'write')}</p>\n"),
    # Without a scheme, no link: "setup.py" is a file name, not a Paraguayan website.
    ("www.example.com and setup.py", "<p>www.example.com and setup.py</p>\n"),
    ("ftp://example.com/file", "<p>ftp://example.com/file</p>\n"),
    # An address nh3 cannot parse (IDNA refuses a cedilla as a host) loses its href.
    ("http://\u00b8", f"<p><a {LINK}>http://\u00b8</a></p>\n"),
    ("[home](/chat/)", "<p>[home](/chat/)</p>\n"),
    # What a chat does not want stays the text that was typed.
    ("# not a heading", "<p># not a heading</p>\n"),
    ("# hi\nthere", "<p># hi<br>\nthere</p>\n"),
    ("title\n===", "<p>title<br>\n===</p>\n"),
    ("---", "<p>---</p>\n"),
    (
        "![cat](https://example.com/cat.png)",  # no image: a "!" and a link
        f"<p>!{a('https://example.com/cat.png', 'cat')}</p>\n",
    ),
    ("    indented", "<p>indented</p>\n"),
    ("[x]: https://example.com\n\n[x]", f"<p>[x]: {a('https://example.com')}</p>\n<p>[x]</p>\n"),
    ("AT&T &amp; &copy;", "<p>AT&amp;T &amp;amp; &amp;copy;</p>\n"),
    ("<b>bold</b>", "<p>&lt;b&gt;bold&lt;/b&gt;</p>\n"),
    ("a_b_c snake_case_name", "<p>a_b_c snake_case_name</p>\n"),
    ("2 * 3 * 4", "<p>2 * 3 * 4</p>\n"),
    ("\\*not italic\\*", "<p>*not italic*</p>\n"),
    # Lists stay.
    ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"),
    ("3. three\n4. four", '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>\n'),
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), CORPUS, ids=[t[:30] for t, _ in CORPUS])
def test_markdown_becomes_this_html(text: str, expected: str) -> None:
    html = formatting.render(text)
    assert isinstance(html, SafeString)
    assert html == expected
    assert_only_allowed(html)


# -- the allow-list, checked on parsed output --------------------------------------------


class Elements(HTMLParser):
    """Every element of a fragment with its attributes (values decoded), and anything else."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.other: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    def handle_comment(self, data: str) -> None:
        self.other.append(f"comment {data!r}")

    def handle_decl(self, decl: str) -> None:
        self.other.append(f"declaration {decl!r}")

    def handle_pi(self, data: str) -> None:
        self.other.append(f"processing instruction {data!r}")

    def unknown_decl(self, data: str) -> None:
        self.other.append(f"declaration {data!r}")


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(html)
    parser.close()
    assert parser.other == [], html
    return [(tag, dict(attrs)) for tag, attrs in parser.elements]


def assert_allowed_url(href: str | None) -> None:
    """An absolute http(s) or mailto URL, with nothing a browser would strip or reinterpret."""
    assert href, "a link without an address"
    assert not re.search(r"[\x00-\x20\x7f]", href), href  # no spaces, tabs, controls
    parts = urlsplit(href)
    assert parts.scheme.lower() in formatting.URL_SCHEMES, href
    assert href.lower().startswith(parts.scheme.lower() + ":"), href
    if parts.scheme.lower() != "mailto":
        assert href.lower().startswith(parts.scheme.lower() + "://") and parts.netloc, href


def assert_only_allowed(html: str) -> None:
    """Only allowed tags and attributes, safe links, and no script in ``html``."""
    for tag, attrs in elements(html):
        assert tag in formatting.TAGS, (tag, html)
        allowed = formatting.ATTRIBUTES.get(tag, frozenset())
        if tag == "a":
            allowed |= {"rel", "target"}
            assert attrs.get("rel") == formatting.LINK_REL, html
            assert attrs.get("target") == "_blank", html
            # nh3 drops an address it cannot parse (a host IDNA refuses): then no link at all.
            if "href" in attrs:
                assert_allowed_url(attrs["href"])
        assert set(attrs) <= allowed, (tag, attrs, html)
        for name in attrs:
            assert not name.startswith(("on", "hx-", "data-", "style")), (name, html)
        if tag == "ol":
            assert re.fullmatch(r"\d{1,9}", attrs.get("start") or "1"), html
    assert "<script" not in html.lower()


XSS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<svg><script>alert(1)</script></svg>",
    "<img src=x onerror=alert(1)>",
    '<img src="x" onerror="alert(1)">',
    '"><svg onload=alert(4)>',
    "'><body onload=alert(1)>",
    "<iframe srcdoc='<script>alert(7)</script>'></iframe>",
    "<style>body{display:none}</style>",
    "<!-- comment --><a href=https://e.com>x</a>",
    '<b hx-get="/chat/" hx-trigger="load">x</b>',
    '<div hx-on::load="alert(5)">x</div>',
    '<a href="javascript:alert(3)">link</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;avascript:alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x](javascript&colon;alert(1))",
    "[x](%6Aavascript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](vbscript:msgbox(1))",
    "[x](file:///etc/passwd)",
    "[x](//evil.example)",
    "[x](/chat/with/mallory/)",
    "<javascript:alert(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "<vbscript:msgbox(1)>",
    "javascript:alert(1)",
    "![x](javascript:alert(1))",
    '![x](https://e.com/x.png" onerror="alert(1))',
    '[x](https://e.com/" onmouseover="alert(1))',
    '[x](<https://e.com/" onmouseover="alert(1)>)',
    '[x](https://e.com/"><script>alert(1)</script>)',
    "[x](https://e.com 'a' onclick='alert(1)')",
    "[x](https://e.com){hx-get=/chat/ onclick=alert(1)}",
    "https://e.com/<script>alert(1)</script>",
    'https://e.com/"onmouseover="alert(1)',
    '**<a href="javascript:alert(1)">x</a>**',
    "[**x**](javascript:alert(1))",
    "[[x](javascript:alert(1))](https://e.com)",
    "[a](https://e.com/[b](javascript:alert(1)))",
    "[x](https://e.com)(javascript:alert(1))",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    '```"><script>alert(1)</script>\nx\n```',
    "> <img src=x onerror=alert(1)>",
    "- <svg onload=alert(1)>",
    "[\u202egnp.exe](https://e.com/)",
    "https://e.com/\u202egnp.exe",
    "[x](https://e.com/\u202e)",
    "[x](mailto:a@b.com?body=<script>alert(1)</script>)",
    "[x](java\nscript:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](\u0000javascript:alert(1))",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "{{ 7*7 }}{% now 'Y' %}",
]


def test_the_sanitiser_alone_holds_the_allow_list() -> None:
    """The second step does not trust the first: hostile HTML straight into nh3."""
    html = formatting.sanitise(
        '<p title="t" lang="en" class="c" style="color:red" onclick="y" hx-get="/">'
        '<a href="/chat/">relative</a> <a href="//evil.example">no scheme</a> '
        '<a href="javascript:alert(1)">script</a> '
        '<a href="https://ok.example" target="_self" rel="opener">ok</a>'
        "<img src=x><script>alert(1)</script><!-- c --></p>"
    )
    assert_only_allowed(html)
    unlinked = {"rel": formatting.LINK_REL, "target": "_blank"}
    assert elements(html) == [
        ("p", {}),
        *[("a", unlinked)] * 3,  # relative, protocol-relative, javascript: no address
        ("a", {"href": "https://ok.example", **unlinked}),
    ]
    assert re.sub(r"<[^>]*>", "", html) == "relative no scheme script ok"
    assert formatting._only_allowed("p", "title", "t") is None  # were nh3 to pass one on


@pytest.mark.parametrize("text", XSS)
def test_attacks_leave_nothing_outside_the_allow_list(text: str) -> None:
    assert_only_allowed(formatting.render(text))


@pytest.mark.parametrize(
    "text",
    [t for t in XSS if re.search(r"(?i)javascript|vbscript|data:|file:|//evil|/chat/with", t)],
)
def test_links_to_other_schemes_or_places_are_not_links(text: str) -> None:
    """No link at all, or only one to the ``https://e.com`` the attack hides behind."""
    for tag, attrs in elements(formatting.render(text)):
        if tag == "a":
            href = attrs["href"] or ""
            assert href.startswith(("https://e.com", "mailto:a@b.com")), (text, href)


def test_typed_html_shows_as_text() -> None:
    html = formatting.render('<img src=x onerror="alert(1)"> <b hx-get="/">x</b>')
    assert html == ('<p>&lt;img src=x onerror="alert(1)"&gt; &lt;b hx-get="/"&gt;x&lt;/b&gt;</p>\n')


def test_a_rtl_override_stays_inside_the_link_text() -> None:
    """Markdown link text may differ from its address (hover shows it); it stays text."""
    override = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "exe.png" reads as "gnp.exe"
    html = formatting.render(f"[{override}gnp.exe](https://e.com/)")
    assert html == "<p>" + a("https://e.com/", f"{override}gnp.exe") + "</p>\n"


# -- properties ---------------------------------------------------------------------------


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(strategies.message_texts(), st.text()))
def test_any_text_renders_within_the_allow_list(text: str) -> None:
    html = formatting.render(text)
    assert_only_allowed(html)
    # Deterministic: the same again, and the same made afresh (not from the cache).
    assert formatting.render(text) == html == formatting._html.__wrapped__(text)


@settings(max_examples=EXAMPLES // 4, deadline=None)
@given(st.lists(st.from_regex(r"[A-Za-z0-9]{1,12}", fullmatch=True), min_size=1, max_size=12))
def test_plain_words_are_one_paragraph_of_themselves(words: list[str]) -> None:
    text = " ".join(words)
    assert formatting.render(text) == f"<p>{text}</p>\n"


def test_threads_render_the_same_as_one_thread() -> None:
    """Each thread has its own parser: renderings on many threads at once do not mix."""
    texts = [
        f"{i} see https://e{i}.example/{i} and mail u{i}@e.example, {'**b**' * (i % 3)}"
        for i in range(200)
    ]
    fresh = formatting._html.__wrapped__
    expected = [fresh(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            assert list(pool.map(fresh, texts)) == expected


# -- where it is used ----------------------------------------------------------------------


def test_the_template_filter_formats_and_escapes() -> None:
    template = Template("{% load chatter %}{{ text|chatter_format }}")
    html = template.render(Context({"text": "**hi** <i>there</i>"}))
    assert html == "<p><strong>hi</strong> &lt;i&gt;there&lt;/i&gt;</p>\n"


@pytest.mark.django_db
def test_room_list_previews_stay_plain_text(client: Client) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    text = "**bold** see https://example.com"
    message, _ = messages.send_message(room, alice, text)
    assert f">{text}</i>" in frames.room_update(message)
    client.force_login(bob)
    item = client.get(reverse("chatter:room_item", args=[room.pk])).content.decode()
    assert f">{text}</span>" in item and "<strong>" not in item and '<a href="http' not in item
