"""Pages whose "main text" is a data or script payload: JSON state blobs, inlined JavaScript.

Single-page shops and apps ship their content as JSON in the page; when the extractor finds no prose it can return
that JSON as the text (the shared corpus's tmall.com home page came out as 166 KB of JSON). Such text is not
language, and its length makes it weigh heavily in every later statistic, so `extract` rejects it as `code_payload`.

A line is payload when it is at least `MIN_LINE_CHARS` long and at least `SYNTAX_SHARE` of its characters are
JSON/JavaScript syntax. Measured on the 1,219 pages the shared corpus extracts to: the tmall page is 100% payload
lines, the next page 7% (a blog post quoting shell code), then 3% and below (programming articles); prose has about
1% of these characters in a line, JSON 15-30%. A page is rejected when payload lines hold at least half its
characters, so an article that quotes code is kept.
"""

from __future__ import annotations

SYNTAX = '{}[]":;=<>\\'
SYNTAX_SHARE = 0.10
MIN_LINE_CHARS = 40
MAX_PAYLOAD_SHARE = 0.5


def is_payload_line(line: str) -> bool:
    """Example: is_payload_line('{"mockPage":{"100":{"bottomImg":"https://x.com/a.png"}}}') -> True."""
    return len(line) >= MIN_LINE_CHARS and sum(map(line.count, SYNTAX)) >= SYNTAX_SHARE * len(line)


def payload_share(text: str) -> float:
    """The share of the text's characters in payload lines. Example: payload_share("Plain prose, one line.") -> 0.0"""
    payload = sum(len(line) for line in text.split("\n") if is_payload_line(line))
    return payload / max(1, len(text))
