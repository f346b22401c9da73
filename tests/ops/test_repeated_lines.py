"""repeated_lines on the sample WARCs: exactly the lines in more than max_documents documents go (checked against a
plain count over the input), documents left empty are rejected, and the output does not depend on the shuffle."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.ops.repeated_lines import normalise, sentences
from curate.report.collect import collect
from tests.conftest import output_files
from tests.ops.dedup_helpers import run_on_sample_pages
from tests.warc_factory import SAMPLE_DIR


def run(folder: Path, options: str) -> Path:
    return run_on_sample_pages(folder, f"repeated_lines: {{input: text, {options}}}")


def documents_per_line(texts: list[str], separator: str) -> Counter[str]:
    """In how many documents each normalised unit occurs, counted directly."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update({n for n in (normalise(u) for u in text.split(separator)) if n})
    return counts


@pytest.mark.parametrize("unit, max_documents", [("line", 1), ("line", 5), ("paragraph", 2)])
def test_exactly_the_repeated_units_are_removed(tmp_path, unit, max_documents):
    out = run(tmp_path, f"unit: {unit}, max_documents: {max_documents}")
    separator = "\n\n" if unit == "paragraph" else "\n"
    before = {r["id"]: r["text"] for r in pq.read_table(out / "text", columns=["id", "text"]).to_pylist()}
    counts = documents_per_line(list(before.values()), separator)
    kept = pq.read_table(out / "clean").to_pylist()
    rejected = pq.read_table(out / "_rejected" / "clean").to_pylist()
    assert len(kept) + len(rejected) == len(before)
    removed_total = 0
    for row in kept:
        units = [normalise(u) for u in before[row["id"]].split(separator)]
        left = [normalise(u) for u in row["text"].split(separator)]
        assert [u for u in units if u and counts[u] <= max_documents] == [u for u in left if u]
        removed_total += row["repeated_units_removed"]
        assert row["repeated_units_removed"] == sum(1 for u in units if u and counts[u] > max_documents)
    for row in rejected:
        assert row["reject_reason"] == "all_lines_repeated"
        assert all(counts[n] > max_documents for n in map(normalise, before[row["id"]].split(separator)) if n)
    assert removed_total > 0
    node = next(n for n in collect(str(out))["nodes"] if n["name"] == "clean")
    assert node["stages"][0]["events"][f"{unit}s_removed"] >= removed_total
    assert all(counts[normalise(line)] > max_documents for line, _ in node["top_removed_lines"])


def test_the_output_does_not_depend_on_the_shuffle(tmp_path):
    one = output_files(run(tmp_path / "a", "shuffle_ranges: 1"))
    three = output_files(run(tmp_path / "b", "shuffle_ranges: 3"))
    assert one == three and any(name.startswith("clean/") for name in one)


def test_sentence_spans_in_more_than_max_documents_are_removed_from_each(tmp_path):
    """`unit: sentence`: every run of 3 sentences (datatrove's SentenceDedup span) that more than max_documents
    documents hold is removed from each of them, checked against a direct count of the spans; the sentences of the
    other spans stay, in order, with the text between them."""
    out = run(tmp_path, "unit: sentence, span: 3, max_documents: 1")
    before = {r["id"]: r["text"] for r in pq.read_table(out / "text", columns=["id", "text"]).to_pylist()}

    def spans(text: str) -> list[tuple[str, range]]:
        pieces = sentences(text)
        found = [(normalise("".join(pieces[i : i + 3])), range(i, i + 3)) for i in range(len(pieces) - 2)]
        return [(normal, window) for normal, window in found if normal]

    held: Counter[str] = Counter()
    for text in before.values():
        held.update({normal for normal, _ in spans(text)})
    kept = {r["id"]: r for r in pq.read_table(out / "clean").to_pylist()}
    rejected = pq.read_table(out / "_rejected" / "clean").to_pylist()
    assert len(kept) + len(rejected) == len(before)
    changed = 0
    for doc_id, text in before.items():
        pieces = sentences(text)
        gone = {i for normal, window in spans(text) if held[normal] > 1 for i in window}
        expected = "".join(p for i, p in enumerate(pieces) if i not in gone).strip() if gone else text
        if doc_id in kept:
            assert kept[doc_id]["text"] == expected and kept[doc_id]["repeated_units_removed"] == len(gone)
        else:
            assert expected == ""
        changed += bool(gone)
    assert changed > 10  # the sample's pages share boilerplate sentences


def test_sentences_are_cut_so_that_they_join_back():
    assert sentences("It rains. Yes!\nOk") == ["It rains. ", "Yes!\n", "Ok"]
    assert sentences('He said "go." Then left... Fine') == ['He said "go." ', "Then left... ", "Fine"]
    assert sentences("他来了。你好！ok") == ["他来了。", "你好！", "ok"]
    text = (SAMPLE_DIR / "SOURCES.md").read_text()
    assert "".join(sentences(text)) == text
