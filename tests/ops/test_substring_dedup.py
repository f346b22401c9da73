"""substring_dedup on the sample WARCs' pages: the struck bytes are exactly those in a window of min_bytes bytes
that occurs twice (checked against a plain count of every window), every document is kept or rejected, the signal
column is on both, and keep_first leaves each repeated stretch on its first page."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from curate.ops.substring_dedup import SEPARATOR, duplicated_bytes
from tests.ops.dedup_helpers import run_on_sample_pages


def run(folder: Path, options: str) -> Path:
    return run_on_sample_pages(folder, f"substring_dedup: {{input: text, {options}}}", "sample-*.warc.gz")


def counted_windows(documents: list[bytes], width: int) -> tuple[np.ndarray, np.ndarray, Counter[bytes]]:
    """The documents joined as substring_dedup joins them, each document's end, and how often each window of
    `width` bytes inside a document occurs: the answer by brute force."""
    data = SEPARATOR.join(documents) + SEPARATOR
    ends, counts, position = [], Counter(), 0
    for document in documents:
        ends.append(position + len(document))
        counts.update(document[i : i + width] for i in range(len(document) - width + 1))
        position += len(document) + 1
    return np.frombuffer(data, dtype=np.uint8).copy(), np.array(ends, dtype=np.int64), counts


def test_the_struck_bytes_are_the_repeated_windows_of_real_pages(tmp_path):
    out = run(tmp_path, "min_bytes: 60")
    documents = [(t or "").encode() for t in pq.read_table(out / "text", columns=["text"]).column(0).to_pylist()]
    width = 60
    data, ends, counts = counted_windows(documents, width)
    expected = np.zeros(len(data), dtype=bool)
    position = 0
    for document in documents:
        for i in range(len(document) - width + 1):
            if counts[document[i : i + width]] >= 2:
                expected[position + i : position + i + width] = True
        position += len(document) + 1
    found = duplicated_bytes(data, ends, width, keep_first=False)
    assert expected.sum() > 1000  # the sample's pages do repeat stretches (navigation, footers)
    assert np.array_equal(found, expected)
    first_kept = duplicated_bytes(data, ends, width, keep_first=True)
    assert (first_kept <= found).all() and 0 < first_kept.sum() < found.sum()


def test_every_document_leaves_kept_or_rejected_with_its_signal(tmp_path):
    out = run(tmp_path / "all", "min_bytes: 100")
    before = {r["id"]: r["text"] for r in pq.read_table(out / "text", columns=["id", "text"]).to_pylist()}
    kept = pq.read_table(out / "clean").to_pylist()
    rejected = pq.read_table(out / "_rejected" / "clean").to_pylist()
    assert len(kept) + len(rejected) == len(before)
    assert {r["reject_reason"] for r in rejected} <= {"substring_duplicate"}
    changed = [r for r in kept if r["substring_dup_chars"]]
    assert changed and all(len(before[r["id"]]) - len(r["text"]) == r["substring_dup_chars"] for r in changed)
    assert all(r["substring_dup_chars"] == len(before[r["id"]]) or not before[r["id"]].strip() for r in rejected)
    first = run(tmp_path / "first", "min_bytes: 100, keep_first: true")
    kept_first = pq.read_table(first / "clean").to_pylist()
    assert sum(r["substring_dup_chars"] for r in kept_first) < sum(r["substring_dup_chars"] for r in kept)
    assert len(kept_first) >= len(kept)
