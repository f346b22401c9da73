"""The `ftfy` step: mojibake that real pages published is repaired, and text that is not damaged is left alone."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa

from curate.stages import STEPS
from curate.stages.base import Reject
from curate.stages.charset import decode_html
from curate.stages.extract import Extract
from curate.stages.mojibake import Ftfy
from curate.stats import StageStats


def page_text(corpus, page_id: str) -> str:
    """The main text curate extracts from one page of cleaning_bench's Dragnet set."""
    folder = corpus / "cleaning_bench" / "html" / "dragnet"
    with open(folder / "manifest.jsonl", encoding="utf-8") as lines:
        entry = next(e for e in map(json.loads, lines) if e["id"] == page_id)
    html = decode_html(gzip.decompress((folder / entry["file"]).read_bytes()), None).text
    outcome = Extract(engine="resiliparse").apply(html, None)
    assert not isinstance(outcome, Reject)
    return outcome[0]


def test_mojibake_a_real_page_published_is_repaired(corpus):
    """The page is UTF-8, as it declares, and its bytes already spell "youâ€™re": UTF-8 read as Windows-1252
    before it was published."""
    text = page_text(corpus, "dragnet-ec7c5d65e8")
    assert "youâ€™re" in text
    fixed, changed = Ftfy().apply(text)
    assert "you’re" in fixed and "â€™" not in fixed and changed


def test_text_that_is_not_damaged_is_left_as_written():
    text = "Ærøskøbing’s “café” — ﬁne ＡＢＣ naïve 漢字\nline two &amp; more"
    assert Ftfy().apply(text) == (text, False)  # quotes, ligatures, full width and entities are the author's
    assert Ftfy().apply("Hello\x1b[31m red\x1b[0m") == ("Hello red", True)  # a terminal escape is damage


def test_the_step_is_registered_and_writes_its_signal_for_kept_documents():
    assert STEPS["ftfy"] is Ftfy
    batch = pa.table({"text": ["It doesnâ€™t matter.", "Clean text.", "\x1b[0m"]})
    stats = StageStats("ftfy")
    result = Ftfy().process(batch, stats)
    assert result.kept.column("text").to_pylist() == ["It doesn’t matter.", "Clean text."]
    assert result.kept.column("ftfy_fixed").to_pylist() == [True, False]
    assert stats.rejected == {"empty_after_ftfy": 1} and stats.docs_in == 3
