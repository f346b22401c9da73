"""Main-text extraction from HTML, with trafilatura (default, precise) or resiliparse (several times faster).

The extracted text replaces the `html` column by `text`. A page with no main text is rejected as `no_text`; a page
whose extraction takes longer than `max_seconds` is rejected as `extract_timeout` (a pathological page, e.g.
megabytes of nested tables, must not hold a worker for minutes); a page whose text is mostly a JSON or JavaScript
payload is rejected as `code_payload` (curate/stages/payload.py). Tables used for layout are unwrapped first
(curate/stages/layout_tables.py), so an article laid out in a table comes out as paragraphs, and data tables as one
row per line.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar, Literal

import pyarrow as pa

from curate.stages.base import DocumentStage, Reject
from curate.stages.layout_tables import unwrap_layout_tables
from curate.stages.payload import MAX_PAYLOAD_SHARE, payload_share

Favor = Literal["precision", "balanced", "recall"]


def _trafilatura(html: str, url: str | None, fallback: bool, favor: Favor, unwrap_tables: bool) -> str | None:
    import trafilatura
    from trafilatura.utils import load_html

    tree = load_html(html)  # parsed once here, so layout tables can be unwrapped before trafilatura reads the page
    if tree is None:
        return None
    if unwrap_tables:
        unwrap_layout_tables(tree)
    # No comments, as FineWeb's extraction (datatrove's Trafilatura block); `favor` chooses trafilatura's balance
    # (FineWeb ran favor_precision; docs/extraction.md measures the three). deduplicate stays off: trafilatura's
    # deduplication keeps a process-wide cache, which would make a page's text depend on which pages the same worker
    # saw before it, and so on the executor. fast=True skips the fallback extractors (readability-lxml, jusText)
    # that trafilatura otherwise runs and compares against its own result.
    return trafilatura.extract(tree, url=url, favor_precision=favor == "precision", favor_recall=favor == "recall",
                               include_comments=False, include_tables=True, deduplicate=False, fast=not fallback)


def _resiliparse(html: str, url: str | None, fallback: bool, favor: Favor, unwrap_tables: bool) -> str | None:
    from resiliparse.extract.html2text import extract_plain_text

    # main_content drops navigation, footers and the like; alt texts and form fields are not prose.
    return extract_plain_text(html, main_content=True, alt_texts=False, form_fields=False, preserve_formatting=True)


ENGINES = {"trafilatura": _trafilatura, "resiliparse": _resiliparse}


class PageTimeout(Exception):
    """An extraction ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise PageTimeout in the block after `seconds` of wall time (SIGALRM through setitimer: one timer, two system
    calls a page). Python handles signals between bytecodes, so a single long C call (one lxml parse) finishes first;
    trafilatura's own work is Python. Only the main thread receives signals: elsewhere, no limit."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise PageTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Extract(DocumentStage):
    """HTML to main text. `engine`: trafilatura or resiliparse; `fallback` (trafilatura only): also run its fallback
    extractors; false is about 1.7x faster at a small cost in precision (numbers in docs/extraction.md); `favor`
    (trafilatura only): precision, balanced or recall; `unwrap_layout_tables` (trafilatura only)."""

    name: ClassVar[str] = "extract"
    reads: ClassVar[tuple[str, ...]] = ("html", "url")
    writes: ClassVar[tuple[pa.Field, ...]] = (pa.field("text", pa.string()),)
    drops: ClassVar[tuple[str, ...]] = ("html",)

    engine: Literal["trafilatura", "resiliparse"] = "trafilatura"
    fallback: bool = True
    favor: Favor = "balanced"
    unwrap_layout_tables: bool = True
    # The slowest of the shared corpus's 1,273 pages takes 0.55 s with trafilatura (iana.org's protocol registry,
    # 656 KB of HTML): 10 s leaves a wide margin on a slow machine. 0 turns the limit off.
    max_seconds: float = 10.0

    def apply(self, html: str | None, url: str | None) -> tuple[str] | Reject:
        try:
            with time_limit(self.max_seconds):
                text = (ENGINES[self.engine](html, url, self.fallback, self.favor, self.unwrap_layout_tables)
                        if html else None)
        except PageTimeout:
            return Reject("extract_timeout", f"{self.engine} took more than {self.max_seconds:g} s")
        return self.check_text(text)

    def check_text(self, text: str | None) -> tuple[str] | Reject:
        """The decisions `extract` takes on the text it found (also what `curate evaluate` scores for this step)."""
        if not text or not text.strip():
            return Reject("no_text", f"{self.engine} found no main text")
        share = payload_share(text)
        if share >= MAX_PAYLOAD_SHARE:
            return Reject("code_payload", f"{share:.0%} of the text is JSON or JavaScript")
        return (text,)
