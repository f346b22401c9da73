"""Main-text extraction with both engines on real pages."""

from __future__ import annotations

import pyarrow as pa
import pytest

from curate.stages.extract import Extract
from curate.stats import StageStats
from tests.warc_factory import real_pages


@pytest.fixture(scope="module")
def batch() -> pa.Table:
    pages = real_pages(6)
    html = [body.decode("utf-8", "replace") for _, body in pages]
    return pa.table({"id": [str(i) for i in range(8)], "url": [u for u, _ in pages] + ["x", "y"],
                     "html": html + ["<html><body><script>var a;</script></body></html>", None]})


@pytest.mark.parametrize("engine", ["trafilatura", "resiliparse"])
def test_engines_extract_main_text_and_reject_empty_pages(batch, engine):
    stats = StageStats("extract")
    result = Extract(engine=engine).process(batch, stats)
    assert stats.is_balanced() and stats.docs_in == 8
    assert "html" not in result.kept.column_names and "html" not in result.rejected.column_names
    texts = result.kept.column("text").to_pylist()
    assert len(texts) >= 5 and all(len(t) > 100 for t in texts)
    assert all("<div" not in t and "<script" not in t for t in texts)
    assert {"6", "7"} <= set(result.rejected.column("id").to_pylist())
    assert set(result.rejected.column("reject_reason").to_pylist()) == {"no_text"}


def test_extraction_is_repeatable_in_one_process(batch):
    # trafilatura's own deduplication would blank repeated paragraphs on a second pass; curate turns it off.
    first = Extract().process(batch, StageStats("extract")).kept
    second = Extract().process(batch, StageStats("extract")).kept
    assert first.equals(second)
