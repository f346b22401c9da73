"""Main-text extraction from HTML: trafilatura (default, precise), resiliparse (ten times faster), `blocks` (curate's
own: a classifier over the page's text blocks, trained from pages with gold main text; five times faster than
trafilatura and the best mean F1 over six benchmarks, docs/extraction.md), or the whole page's text (`plain`, what
Common Crawl's WET files hold: the baseline a corpus without extraction starts from).

The extracted text replaces the `html` column by `text`, and `extract_engine` records which engine produced it. A
page with no main text is rejected as `no_text`; a page whose text is mostly a JSON or JavaScript payload as
`code_payload` (curate/stages/payload.py). Tables used for layout are unwrapped first
(curate/stages/layout_tables.py), so an article laid out in a table comes out as paragraphs.

No decision depends on the clock. A page's work is bounded by its size instead: the WARC reader caps the payload
(`max_payload_bytes`, 5 MiB), and a page whose parsed DOM holds more than `max_elements` elements is extracted by
resiliparse, whose cost is linear in the page and in C, instead of by trafilatura, whose Python passes over the tree
are the slow path (about 25 us an element on the development machine; 0.4 s for the corpus's largest 10,000-element
page). The same page therefore gets the same text on an idle laptop and on a cluster node at load 30, and nothing
interrupts a library in the middle of its own code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import pyarrow as pa
from lxml import etree

from curate.stages.base import DocumentStage, Reject, StageResult
from curate.stages.block_classifier import DEFAULT_MODEL, block_features, load_classifier, read_classifier
from curate.stages.html_blocks import page_blocks
from curate.stages.layout_tables import unwrap_layout_tables
from curate.stages.payload import MAX_PAYLOAD_SHARE, payload_share
from curate.stats import StageStats

Engine = Literal["blocks", "trafilatura", "resiliparse", "plain"]
ENGINES = ("blocks", "trafilatura", "resiliparse", "plain")
Favor = Literal["precision", "balanced", "recall"]
_UTF8_PARSER = etree.HTMLParser(encoding="utf-8")


def parse_html(html: str) -> etree._Element | None:
    """A page parsed by libxml2's HTML parser (which repairs what browsers repair) into plain lxml elements, None
    when it holds nothing. The text is handed over as UTF-8 bytes so that an encoding declaration inside the page
    cannot contradict the charset curate already decoded it with."""
    return etree.fromstring(html.encode("utf-8", "replace"), _UTF8_PARSER)


def resiliparse_text(html: str, *, main_content: bool = True) -> str:
    """resiliparse's text of a page: its main content (navigation, footers and the like dropped) or, with
    `main_content=False`, every visible block. Alt texts and form fields are not prose."""
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(html, main_content=main_content, alt_texts=False, form_fields=False,
                              preserve_formatting=True)


def blocks_text(html: str, model: str = DEFAULT_MODEL) -> str:
    """The `blocks` engine's text of a page: its blocks (curate/stages/html_blocks.py) that the classifier
    (curate/stages/block_classifier.py; by default the shipped models/block_classifier.json) judges main text, one
    per line."""
    tree = parse_html(html)
    blocks = page_blocks(tree) if tree is not None else []
    if not blocks:
        return ""
    keep = load_classifier(model).keep(block_features(blocks))
    return "\n".join(block.text for block, kept in zip(blocks, keep) if kept)


# Engines whose modules this process has imported: a property of the process, not of a stage object (a stage
# pickled to another process must import there again).
_IMPORTED_ENGINES: set[str] = set()


def import_engine(engine: Engine) -> None:
    """Import an engine's modules up front, once a process, so that no page's processing runs an import (trafilatura
    imports some of its dependencies on first use): an interrupt during a page can then never leave a library
    half-imported."""
    if engine in _IMPORTED_ENGINES:
        return
    if engine == "trafilatura":
        import trafilatura
        from trafilatura.utils import load_html

        trafilatura.extract(load_html("<html><body><article><p>warm-up</p></article></body></html>"), fast=True)
    elif engine == "blocks":
        blocks_text("<html><body><article><p>warm-up</p></article></body></html>")
    else:
        resiliparse_text("<p>warm-up</p>")
    _IMPORTED_ENGINES.add(engine)


@dataclass
class Extract(DocumentStage):
    """HTML to main text. `engine`: trafilatura, resiliparse, blocks or plain (the whole page's text); `fallback`
    (trafilatura only): also run its fallback extractors; false is about 1.7x faster at a small cost in precision
    (numbers in docs/extraction.md); `favor` (trafilatura only): precision, balanced or recall;
    `unwrap_layout_tables` (trafilatura only); `max_elements` (trafilatura only): pages with a larger DOM go to
    resiliparse; `model` (blocks only): the classifier file, models/block_classifier.json unless given (one trained
    by models/train_block_classifier.py on other pages, for example); it enters the node's fingerprint by content."""

    name: ClassVar[str] = "extract"
    reads: ClassVar[tuple[str, ...]] = ("html", "url")
    writes: ClassVar[tuple[pa.Field, ...]] = (pa.field("text", pa.string()), pa.field("extract_engine", pa.string()))
    drops: ClassVar[tuple[str, ...]] = ("html",)

    engine: Engine = "trafilatura"
    fallback: bool = True
    favor: Favor = "balanced"
    unwrap_layout_tables: bool = True
    # The largest page of the shared corpus and cleaning_bench (2,989 pages) has 10,476 elements (p99: 2,934) and
    # takes 0.4 s in trafilatura; 50,000 bounds a page at about 1.5 s of CPU while leaving every real page there to
    # trafilatura. A 5 MiB page of nested tables (about 200,000 elements) goes to resiliparse instead.
    max_elements: int = 50_000
    model: str | None = None
    file_options: ClassVar[tuple[str, ...]] = ("model",)

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.model is not None and self.engine != "blocks":
            raise ValueError("model is an option of the blocks engine only")
        if self.engine == "blocks" and self.model is None:
            self.model = DEFAULT_MODEL  # named, so that the fingerprint holds the shipped model's content
        if self.max_elements < 1:
            raise ValueError("max_elements must be at least 1")

    def process(self, batch: pa.Table, stats: StageStats) -> StageResult:
        import_engine(self.engine)
        if self.model is not None:
            read_classifier(self.model)  # as the file is now, read before the first page as the engines' modules are
        return super().process(batch, stats)

    def apply(self, html: str | None, url: str | None) -> tuple[str, str] | Reject:
        if not html:
            return self.check_text(None, self.engine)
        if self.engine == "plain":
            return self.check_text(resiliparse_text(html, main_content=False), "plain")
        if self.engine == "resiliparse":
            return self.check_text(resiliparse_text(html), "resiliparse")
        if self.engine == "blocks":
            assert self.model is not None
            return self.check_text(blocks_text(html, self.model), "blocks")
        return self._trafilatura(html, url)

    def _trafilatura(self, html: str, url: str | None) -> tuple[str, str] | Reject:
        import trafilatura
        from trafilatura.utils import load_html

        tree = load_html(html)  # parsed once here, to count its elements and unwrap layout tables
        if tree is None:
            return self.check_text(None, "trafilatura")
        if sum(1 for _ in tree.iter()) > self.max_elements:
            return self.check_text(resiliparse_text(html), "resiliparse")
        if self.unwrap_layout_tables:
            unwrap_layout_tables(tree)
        # No comments, as FineWeb's extraction (datatrove's Trafilatura block); `favor` chooses trafilatura's balance
        # (FineWeb ran favor_precision; docs/extraction.md measures the three). deduplicate stays off: trafilatura's
        # deduplication keeps a process-wide cache, which would make a page's text depend on which pages the same
        # worker saw before it, and so on the executor. fast=True skips the fallback extractors (readability-lxml,
        # jusText) that trafilatura otherwise runs and compares against its own result.
        text = trafilatura.extract(tree, url=url, favor_precision=self.favor == "precision",
                                   favor_recall=self.favor == "recall", include_comments=False, include_tables=True,
                                   deduplicate=False, fast=not self.fallback)
        return self.check_text(text, "trafilatura")

    def check_text(self, text: str | None, engine: str) -> tuple[str, str] | Reject:
        """The decisions `extract` takes on the text it found (also what `curate evaluate` scores for this step)."""
        if not text or not text.strip():
            return Reject("no_text", f"{engine} found no main text")
        share = payload_share(text)
        if share >= MAX_PAYLOAD_SHARE:
            return Reject("code_payload", f"{share:.0%} of the text is JSON or JavaScript")
        return text, engine
