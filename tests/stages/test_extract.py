"""Main-text extraction with both engines on real pages."""

from __future__ import annotations

import gzip
import json

import lxml.html
import pyarrow as pa
import pytest
from warcio.archiveiterator import ArchiveIterator

from curate.stages.charset import decode_html
from curate.stages.extract import Extract
from curate.stages.layout_tables import is_layout_table, unwrap_layout_tables
from curate.stages.payload import payload_share
from curate.stats import StageStats
from tests.warc_factory import real_pages


@pytest.fixture(scope="module")
def batch() -> pa.Table:
    pages = real_pages(6)
    html = [body.decode("utf-8", "replace") for _, body in pages]
    return pa.table({"id": [str(i) for i in range(8)], "url": [u for u, _ in pages] + ["x", "y"],
                     "html": html + ["<html><body><script>var a;</script></body></html>", None]})


@pytest.mark.parametrize("engine", ["trafilatura", "resiliparse", "plain"])
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
    assert set(result.kept.column("extract_engine").to_pylist()) == {engine}


def test_extraction_is_repeatable_in_one_process(batch):
    # trafilatura's own deduplication would blank repeated paragraphs on a second pass; curate turns it off.
    first = Extract().process(batch, StageStats("extract")).kept
    second = Extract().process(batch, StageStats("extract")).kept
    assert first.equals(second)


def readability_page(corpus, page_id: str) -> str:
    entry = next(e for e in map(json.loads, (corpus / "html" / "readability" / "manifest.jsonl").read_text()
                                .splitlines()) if e["id"] == page_id)
    return decode_html(gzip.decompress((corpus / "html" / "readability" / entry["file"]).read_bytes()), None).text


def long_table_lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.startswith("|") and len(line) > 1000]


def test_an_article_laid_out_in_a_table_comes_out_as_paragraphs(corpus):
    """LWN's weekly edition puts the whole article in one table cell: without unwrapping, the article is one
    23,000-character line wrapped in `|`, which every line-level rule judges as a single line."""
    html = readability_page(corpus, "readability-0059")
    unwrapped, _ = Extract().apply(html, None)
    as_table, _ = Extract(unwrap_layout_tables=False).apply(html, None)
    assert len(long_table_lines(as_table)) == 1 and not long_table_lines(unwrapped)
    assert "The Arduino has been one of the biggest success stories" in unwrapped
    assert max(len(line) for line in unwrapped.split("\n")) < 3000


def test_a_data_table_with_a_header_row_stays_one_row_per_line(corpus):
    """Wikipedia's list of time-loop films has paragraphs in its description cells, but a header row: data."""
    text, _ = Extract().apply(readability_page(corpus, "readability-0123"), None)
    rows = [line for line in text.split("\n") if line.startswith("| ") and line.count("|") >= 4]
    assert len(rows) > 50 and rows[1] == "| Film | Year | Description | "
    assert any(line.startswith("| Groundhog Day |") for line in rows)


def test_layout_table_rule():
    def table(html: str) -> bool:
        return is_layout_table(lxml.html.fromstring(html).xpath("//table")[0])

    assert table("<table><tr><td><p>One.</p><p>Two.</p></td></tr></table>")
    assert table("<table><tr><td>a<br>b<br>c</td></tr></table>")
    assert not table("<table><tr><td>a<br>b</td><td>42</td></tr></table>")  # one line break: a value
    assert not table("<table><tr><th>Name</th></tr><tr><td><p>Prose.</p></td></tr></table>")
    # a data table nested in a layout table keeps its structure
    tree = lxml.html.fromstring("<div><table><tr><td><div>Intro.</div><table><tr><td>1</td><td>2</td></tr></table>"
                                "</td></tr></table></div>")
    assert unwrap_layout_tables(tree) == 1
    assert [t.xpath("count(.//td)") for t in tree.xpath("//table")] == [2.0]


def test_a_json_payload_page_is_rejected_and_prose_quoting_code_is_kept(corpus):
    """tmall.com's home page (a real capture in the shared corpus) extracts to 166 KB of JSON state."""
    warc = corpus / "warc" / "real" / "servo" / "Taobao__rec-20180404234925145940-userland.warc.gz"
    with open(warc, "rb") as handle:
        handle.seek(1393790)
        record = next(iter(ArchiveIterator(handle)))
        assert record.rec_headers.get_header("WARC-Target-URI") == "https://www.tmall.com/"
        html = decode_html(record.content_stream().read(), None).text
    outcome = Extract().apply(html, "https://www.tmall.com/")
    assert outcome.reason == "code_payload" and outcome.detail.startswith("100%")
    prose = "A careful explanation of how the parser reads its configuration, in plain sentences.\n" * 20
    quoting = prose + '{"retries": 3, "timeout": 10, "hosts": ["a.example", "b.example"], "verbose": true}\n'
    assert Extract().check_text(quoting, "trafilatura") == (quoting, "trafilatura")
    assert 0 < payload_share(quoting) < 0.1
    assert payload_share('{"a": [1, 2, 3], "b": {"c": "d"}, "e": "a longer string value"}') == 1.0
