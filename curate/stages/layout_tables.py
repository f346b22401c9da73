"""Layout tables unwrapped before extraction, so an article laid out in a table comes out as paragraphs.

Pages from before CSS layouts (and some since: LWN, forum software, mail archives) put the whole page in a <table>:
the article is one cell. Extractors render a table row as one line, so the article became a single line of
thousands of characters, wrapped in `|` (measured: 15 of the shared corpus's 1,219 extracted pages had a table line
over 1,000 characters), and every line-level rule then judges the article as one line (C4 drops it for not ending
in punctuation). A table is *layout* when a cell holds block content: a nested table, paragraphs, divisions,
headings, lists, quotes or preformatted text, or at least two line breaks (HTML 4.01, section 11.1: tables "should
not be used purely as a means to layout document content"; data tables hold phrases in their cells, and headers). Its table, row
and cell elements become <div>s, so the extractor sees the cell's paragraphs; data tables are left as they are and
come out one row per line.
"""

from __future__ import annotations

from lxml.html import HtmlElement

BLOCK_TAGS = frozenset({"table", "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "blockquote",
                        "pre", "article", "section"})
TABLE_PARTS = frozenset({"table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption"})
MIN_BREAKS = 2  # <br> in one cell that make it a text block rather than a data value


def is_layout_table(table: HtmlElement) -> bool:
    """True when a cell of `table` (not of a table nested in it) holds block content and the table has no header
    cell (<th> marks a data table: a Wikipedia list whose description cells hold paragraphs stays a table).

    Example: <table><tr><td><p>One.</p><p>Two.</p></td></tr></table> -> True; <table><tr><td>42</td></tr></table>
    -> False.
    """
    cells = [cell for cell in table.iter("td", "th") if _owner_table(cell) is table]
    if any(cell.tag == "th" for cell in cells):
        return False
    for cell in cells:
        breaks = 0
        for element in cell.iterdescendants():
            tag = element.tag if isinstance(element.tag, str) else ""
            if tag in BLOCK_TAGS:
                return True
            breaks += tag == "br"
            if breaks >= MIN_BREAKS:
                return True
    return False


def _owner_table(element: HtmlElement) -> HtmlElement | None:
    parent = element.getparent()
    while parent is not None and parent.tag != "table":
        parent = parent.getparent()
    return parent


def unwrap_layout_tables(tree: HtmlElement) -> int:
    """Turn every layout table of `tree` (its table, row and cell elements) into <div>s, in place; returns how many
    tables were unwrapped. Data tables, including those nested in a layout table, keep their structure."""
    layout = [table for table in tree.iter("table") if is_layout_table(table)]  # decided before any change
    for table in layout:
        _to_divs(table)
    return len(layout)


def _to_divs(table: HtmlElement) -> None:
    """The table's own parts (not those of a table nested in it) become <div>s."""
    for element in list(table.iter()):
        if element.tag not in TABLE_PARTS:
            continue
        owner = element if element.tag == "table" else _owner_table(element)
        if owner is table:
            element.tag = "div"
            for attribute in ("colspan", "rowspan", "align", "valign", "width", "height"):
                element.attrib.pop(attribute, None)
