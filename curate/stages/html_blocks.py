"""A page cut into text blocks, each with what a boilerplate classifier needs to judge it: the `blocks` extraction
engine's first half (curate/stages/block_classifier.py is the second).

A block is the text between two block-level tag boundaries (a paragraph, a heading, a list item, a table cell, the
text of a <div> before its first nested block ...), in document order, as boilerpipe (Kohlschütter et al. 2010,
"Boilerplate Detection using Shallow Text Features") and Dragnet (Peters and Lecocq 2013) cut pages. Each block
records its words, how many of its characters are link text, its tag, and its context: which structural tags
(nav, footer, article, li ...) and which class/id keywords (comment, sidebar, share, content ...) its ancestors
carry (inline elements, such as <span> and <b>, add their text and nothing else: their classes are style, rarely
structure). One pass over the parsed tree collects all of it, in C (curate/stages/_html_blocks.c, reading libxml2's
nodes) where that module is built and otherwise in Python over lxml's `etree.iterwalk` (page_blocks_python, the
reference the C walk is tested against); elements that never hold prose (script, style, forms' controls, SVG ...) are
skipped with their subtrees, and so is every element the page hides from its readers (`hidden`, or an inline style
with display: none or visibility: hidden), as a browser and Readability.js leave them out: collapsed menus, modal
dialogs, a second copy of a post kept for a comment widget, Wikipedia's MathML kept for screen readers. A <math>
element is text: the LaTeX the page gives for it, or else its symbols (math_text).

Example: `<div class="post"><h1>Title</h1><p>Text with <a href="/">a link</a>.</p></div>` gives two blocks,
("Title", tag h1) and ("Text with a link.", tag p, 6 of 17 characters link text), both inside class "post".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

# Elements whose start and end cut the text into blocks (HTML's block-level and table elements).
BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog", "dir", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hgroup", "hr", "html", "legend", "li", "main", "menu", "nav", "ol", "p", "pre", "section", "summary", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "ul"})
# Elements whose subtree holds no prose; skipped whole.
SKIP_TAGS = frozenset({
    "audio", "button", "canvas", "datalist", "embed", "head", "iframe", "input", "map", "meter", "noscript",
    "object", "option", "progress", "script", "select", "style", "svg", "template", "textarea", "video"})
# MathML's token elements: identifiers, numbers, operators, text and string literals (MathML Core, section 3.2).
MATH_TOKENS = ("mi", "mn", "mo", "mtext", "ms")
# The encoding a MathML <annotation> of LaTeX source declares (MathML 3, section 5.1.3; MathJax and KaTeX write it).
TEX_ENCODING = "application/x-tex"

# Structural tags an ancestor may be, one context bit each.
CONTEXT_TAGS = ("nav", "footer", "header", "aside", "article", "main", "form", "li", "table", "blockquote", "figure",
                "a", "h")
# Class and id keyword groups, one context bit each. The lists gather the names readability (Mozilla's
# Readability.js, `unlikelyCandidates` / `positive` / `negative`) and trafilatura's boilerplate XPaths look for.
KEYWORD_GROUPS = {
    "comment": r"comment|disqus|respond|reply|discussion",
    "navigation": r"nav|menu|breadcrumb|pagination|pager|skip|toc\b|tabs?\b|dropdown",
    "page_frame": r"footer|header|masthead|copyright|legal|bottom|top-?bar|banner",
    "sidebar": r"sidebar|side\b|aside|widget|rail|column-?right|col-?right|secondary",
    "social": r"share|sharing|social|facebook|twitter|follow|subscribe|newsletter|signup|sign-up|login|rss",
    "related": r"related|recommend|popular|trending|more-?stories|read-?more|also|teaser|promo|outbrain|taboola",
    "ads": r"\bads?\b|advert|sponsor|cookie|consent|popup|modal|overlay|gdpr",
    "metadata": r"meta\b|byline|author|date|time|tags?\b|categor|caption|credit|infobox|label",
    "content": r"article|content|entry|main|post|story|text|body|blog|prose|paragraph|hentry|single",
    # the article containers trafilatura's BODY_XPATH names (post-body, entry-content, article-body, ...)
    "article_body": (r"post[-_]?(?:text|body|entry|content|inner)|entry[-_]?content|article[-_]?(?:text|body|content)"
                     r"|article__(?:content|body|container)|story[-_]?(?:body|text|content)|body[-_]?text"
                     r"|(?:page|text|art|main)[-_]content|^post\b|^entry\b"),
    # schema.org's itemprop="articleBody" and ARIA's role="main" / role="article" name the article outright
    "marked_article": r"articlebody|\bmain\b|\barticle\b|\btext\b|\bdescription\b",
}
_KEYWORD_PATTERNS = [(1 << position, re.compile(pattern))
                     for position, pattern in enumerate(KEYWORD_GROUPS.values())]
KEYWORD_BITS = {name: 1 << position for position, name in enumerate(KEYWORD_GROUPS)}
TAG_BITS = {tag: 1 << position for position, tag in enumerate(CONTEXT_TAGS)}
TAG_BITS.update(dict.fromkeys(("h1", "h2", "h3", "h4", "h5", "h6"), TAG_BITS["h"]))
_LINK_BIT = TAG_BITS["a"]


@dataclass(slots=True)
class Block:
    """One block of text, its link share and its context (see the module docstring)."""

    tag: str  # the innermost block element around the text
    path: tuple[int, ...]  # numbers of the enclosing block elements, outermost first (0 is the document)
    tag_bits: int  # CONTEXT_TAGS of the element itself and its ancestors
    keyword_bits: int  # KEYWORD_GROUPS found in the class or id of the element or an ancestor
    own_keyword_bits: int  # KEYWORD_GROUPS in the class or id of the innermost block element alone
    text: str  # spaces collapsed, a <br> starts a new line, empty lines dropped
    chars: int  # characters other than spaces and line breaks, before collapsing
    link_chars: int  # of those, the ones inside links
    starts_in_link: bool  # its first text is link text (a teaser's headline, a menu entry)


def block_text(raw: str) -> str:
    """A block's collected text as Block.text. Example: block_text("  Text with\n a  link. ") -> "Text with\na link."."""
    if "\n" not in raw:
        return " ".join(raw.split())
    return "\n".join(line for line in (" ".join(part.split()) for part in raw.split("\n")) if line)


def counted_chars(text: str) -> int:
    """Characters other than spaces and line breaks (Block.chars, Block.link_chars)."""
    return len(text) - text.count(" ") - text.count("\n")


@dataclass(slots=True)
class _Pending:
    """The block receiving text: only the innermost open block element's newest block ever does."""

    opened: _Open
    tag_bits: int
    keyword_bits: int
    starts_in_link: bool
    parts: list[str] = field(default_factory=list)
    link_chars: int = 0

    def block(self) -> Block:
        raw = "".join(self.parts)
        return Block(self.opened.tag, self.opened.path, self.tag_bits, self.keyword_bits,
                     self.opened.own_keyword_bits, block_text(raw), counted_chars(raw), self.link_chars,
                     self.starts_in_link)


@dataclass(slots=True)
class _Open:
    """A block element whose end the walk has not reached yet."""

    number: int
    path: tuple[int, ...]  # the numbers of the open block elements down to this one
    tag: str
    own_keyword_bits: int


# (class, id, itemprop or role) seen in this process, with their bits: pages of a site share them
_KNOWN_NAMES: dict[tuple[str | None, str | None, str | None], int] = {}
_MAX_KNOWN_NAMES = 200_000
_MARKED_BIT = KEYWORD_BITS["marked_article"]


def name_bits(class_name: str | None, element_id: str | None, marker: str | None) -> int:
    """The KEYWORD_GROUPS in an element's class and id, and `marked_article` when its itemprop or role (`marker`)
    names the article (itemprop="articleBody", role="main"). Example: name_bits("entry-content", None, None) -> the
    content and article_body bits."""
    key = (class_name, element_id, marker)
    known = _KNOWN_NAMES.get(key)
    if known is not None:
        return known
    names = f"{class_name or ''} {element_id or ''}".lower()
    bits = 0
    for bit, pattern in _KEYWORD_PATTERNS:
        if bit == _MARKED_BIT:
            if marker and pattern.search(marker.lower()):
                bits |= bit
        elif pattern.search(names):
            bits |= bit
    if len(_KNOWN_NAMES) >= _MAX_KNOWN_NAMES:
        _KNOWN_NAMES.clear()
    _KNOWN_NAMES[key] = bits
    return bits


def keyword_bits(element: etree._Element) -> int:
    """name_bits of an element's class, id and itemprop (or role)."""
    return name_bits(element.get("class"), element.get("id"), element.get("itemprop") or element.get("role"))


# an inline style that hides the element, read with ASCII spaces removed and ASCII letters lower-cased (the C walk
# reads it the same way): "display: none !important" hides, "display:block" does not
_HIDING_STYLES = ("display:none", "visibility:hidden")
_STYLE_FOLD = {**dict.fromkeys(b" \t\n\r\f\v"), **{code: code + 32 for code in range(ord("A"), ord("Z") + 1)}}


def is_hidden(element: etree._Element) -> bool:
    """Whether the page hides `element` from its readers: a `hidden` attribute (with any value, as HTML reads it) or
    an inline style setting display: none or visibility: hidden. Example: <div style="DISPLAY: None"> is hidden."""
    if element.get("hidden") is not None:
        return True
    style = element.get("style")
    if not style:
        return False
    folded = style.translate(_STYLE_FOLD)
    return any(hiding in folded for hiding in _HIDING_STYLES)


def math_text(element: etree._Element) -> str:
    """The text a <math> element stands for in its block: its `alttext` (the LaTeX Wikipedia and MathJax write there),
    else an <annotation> of LaTeX, else its token elements' text joined by spaces. Example:
    <math><mi>x</mi><mo>+</mo><mn>1</mn></math> -> "x + 1"."""
    alttext = element.get("alttext")
    if alttext and not alttext.isspace():
        return alttext
    for annotation in element.iter("annotation"):
        if (annotation.get("encoding") or "").lower() == TEX_ENCODING:
            return "".join(annotation.itertext())
    symbols = ("".join(token.itertext()).strip() for token in element.iter(*MATH_TOKENS))
    return " ".join(symbol for symbol in symbols if symbol)


# What the walk does at an element, by tag (the Python walk looks it up here; the C walk gets the same table through
# configure() below).
_SKIP, _CONTEXT, _BLOCK, _MATH = 1, 2, 4, 8  # an inline element is none of these (0)
_KIND = {tag: _SKIP for tag in SKIP_TAGS}
_KIND["math"] = _MATH
for _tag in TAG_BITS:
    _KIND[_tag] = _KIND.get(_tag, 0) | _CONTEXT
for _tag in BLOCK_TAGS:
    _KIND[_tag] = _KIND.get(_tag, 0) | _BLOCK


def page_blocks_python(tree: etree._Element) -> list[Block]:
    """The blocks of a parsed page, in document order (see the module docstring), walked in Python: the reference
    the C walk (page_blocks) is tested against, and the walk where that module is not built."""
    blocks: list[Block] = []
    opened: list[_Open] = [_Open(0, (0,), "html", 0)]
    pending: _Pending | None = None
    # for every block, context, math or skipped element whose start has been walked and end not yet: (tag bits,
    # keyword bits, whether it is inside a link) in force inside it, and whether it was skipped
    context: list[tuple[int, int, bool, bool]] = [(0, 0, False, False)]
    numbers = 0
    kinds, tag_bits_of = _KIND, TAG_BITS

    def add(text: str, in_link: bool) -> None:
        nonlocal pending
        if pending is None:
            if text.isspace():  # the indentation between tags starts no block
                return
            tag_bits, keywords, _, _ = context[-1]
            pending = _Pending(opened[-1], tag_bits, keywords, in_link)
        pending.parts.append(text)
        if in_link:
            pending.link_chars += counted_chars(text)

    def finish() -> None:
        nonlocal pending
        if pending is not None:
            block = pending.block()
            if block.text:  # (text of format characters alone collapses to nothing)
                blocks.append(block)
            pending = None

    # comments and processing instructions come only when asked for; their tails are page text
    walk = etree.iterwalk(tree, events=("start", "end", "comment", "pi"))
    for event, element in walk:
        if event == "start":
            tag = element.tag  # libxml2's HTML parser lower-cases element names
            kind = kinds.get(tag, 0)
            if kind & _SKIP or is_hidden(element):  # its end event still comes, and pops this
                walk.skip_subtree()
                tags, keywords, in_link, _ = context[-1]
                context.append((tags, keywords, in_link, True))
                continue
            if kind & _MATH:
                walk.skip_subtree()
                context.append(context[-1])
                add(f" {math_text(element)} ", context[-1][2])
                continue
            if not kind:  # an inline element: its parent's context holds
                if tag == "br":
                    add("\n", False)
                text = element.text
                if text:
                    add(text, context[-1][2])
                continue
            parent_tags, parent_keywords, _, _ = context[-1]
            own_keywords = keyword_bits(element)
            tag_bits = parent_tags | tag_bits_of[tag] if kind & _CONTEXT else parent_tags
            in_link = bool(tag_bits & _LINK_BIT)
            context.append((tag_bits, parent_keywords | own_keywords, in_link, False))
            if kind & _BLOCK:
                finish()
                numbers += 1
                opened.append(_Open(numbers, opened[-1].path + (numbers,), tag, own_keywords))
            text = element.text
            if text:
                add(text, in_link)
        elif event == "end":
            kind = kinds.get(element.tag, 0)
            if kind or is_hidden(element):  # (shown inline elements pushed no context)
                _, _, _, skipped = context.pop()
                if kind & _BLOCK and not skipped and len(opened) > 1:
                    opened.pop()
                    finish()
            tail = element.tail
            if tail:
                add(tail, context[-1][2])
        elif element.tail:  # a comment or processing instruction
            add(element.tail, context[-1][2])
    finish()
    return blocks


try:  # built from curate/stages/_html_blocks.c by setup.py; optional, page_blocks_python gives the same blocks
    from curate.stages._html_blocks import LIBXML_MAJOR_VERSION, configure, walk as c_walk
except ImportError:  # pragma: no cover - a machine without a C compiler
    LIBXML_MAJOR_VERSION, c_walk = None, None
# The C walk reads libxml2's nodes through the headers of the libxml2 it was built against: used only where lxml
# runs a libxml2 of that major version (its node layout has not changed within 2.x).
C_WALK = c_walk is not None and LIBXML_MAJOR_VERSION == etree.LIBXML_VERSION[0]
if C_WALK:
    configure(etree._Element, {tag: (kind, TAG_BITS.get(tag, 0)) for tag, kind in _KIND.items()}, name_bits, Block,
              _LINK_BIT)


def page_blocks(tree: etree._Element) -> list[Block]:
    """The blocks of a parsed page, in document order (see the module docstring): the C walk where it is built,
    page_blocks_python's blocks either way."""
    return c_walk(tree) if C_WALK else page_blocks_python(tree)
