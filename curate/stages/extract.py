"""Main-text extraction from HTML, with trafilatura (default, precise) or resiliparse (several times faster).

The extracted text replaces the `html` column by `text`. A page with no main text is rejected as `no_text`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import pyarrow as pa

from curate.stages.base import DocumentStage, Reject


def _trafilatura(html: str, url: str | None, fallback: bool) -> str | None:
    import trafilatura

    # favor_precision and no comments, as FineWeb's extraction (datatrove's Trafilatura block). deduplicate stays
    # off: trafilatura's deduplication keeps a process-wide cache, which would make a page's text depend on which
    # pages the same worker saw before it, and so on the executor. fast=True skips the fallback extractors
    # (readability-lxml, jusText) that trafilatura otherwise runs and compares against its own result.
    return trafilatura.extract(html, url=url, favor_precision=True, include_comments=False, include_tables=True,
                               deduplicate=False, fast=not fallback)


def _resiliparse(html: str, url: str | None, fallback: bool) -> str | None:
    from resiliparse.extract.html2text import extract_plain_text

    # main_content drops navigation, footers and the like; alt texts and form fields are not prose.
    return extract_plain_text(html, main_content=True, alt_texts=False, form_fields=False, preserve_formatting=True)


ENGINES = {"trafilatura": _trafilatura, "resiliparse": _resiliparse}


@dataclass
class Extract(DocumentStage):
    """HTML to main text. `engine`: trafilatura or resiliparse; `fallback` (trafilatura only): also run its fallback
    extractors; false is about 1.7x faster at a small cost in precision (numbers in docs/extraction.md)."""

    name: ClassVar[str] = "extract"
    reads: ClassVar[tuple[str, ...]] = ("html", "url")
    writes: ClassVar[tuple[pa.Field, ...]] = (pa.field("text", pa.string()),)
    drops: ClassVar[tuple[str, ...]] = ("html",)

    engine: Literal["trafilatura", "resiliparse"] = "trafilatura"
    fallback: bool = True

    def apply(self, html: str | None, url: str | None) -> tuple[str] | Reject:
        text = ENGINES[self.engine](html, url, self.fallback) if html else None
        if not text or not text.strip():
            return Reject("no_text", f"{self.engine} found no main text")
        return (text,)
