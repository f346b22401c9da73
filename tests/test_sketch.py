"""Mergeable summaries: a node's summary merged from its partitions' equals the summary of all its documents at once,
whatever the split and the order, and the samples are uniform, seeded and capped."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from curate.sketch import DOC_SAMPLE, SIGNAL_SAMPLE, SummaryBuilder, merge


def documents(count: int, seed: int = 0) -> tuple[pa.Table, pa.Table]:
    rng = random.Random(seed)
    kept = pa.table({
        "id": [f"doc-{i}" for i in range(count)],
        "url": [f"https://{rng.choice(['a.org', 'www.b.com', 'c.net'])}/{i}" for i in range(count)],
        "text": ["word " * rng.randrange(1, 400) for _ in range(count)],
        "lang": [rng.choice(["en", "de"]) for _ in range(count)],
        "lang_score": [rng.random() for _ in range(count)]})
    rejected = pa.table({"id": [f"bad-{i}" for i in range(count // 4)], "url": ["https://a.org/x"] * (count // 4),
                         "text": ["short"] * (count // 4), "lang": ["en"] * (count // 4),
                         "lang_score": [0.1] * (count // 4), "reject_stage": ["langid"] * (count // 4),
                         "reject_reason": [rng.choice(["language", "low_language_score"]) for _ in range(count // 4)],
                         "reject_detail": ["x"] * (count // 4)})
    return kept, rejected


def summarise(kept: pa.Table, rejected: pa.Table, cuts: list[int]) -> dict:
    builder = SummaryBuilder()
    bounds = [0, *cuts, kept.num_rows]
    for start, end in zip(bounds, bounds[1:]):  # batches, as run_partition feeds them
        builder.add(kept.slice(start, end - start), rejected if start == 0 else rejected.slice(0, 0))
    return builder.to_json()


@pytest.mark.parametrize("split", [[1500], [100, 2000, 2900], [2999]])
def test_merged_partitions_equal_the_whole(split):
    kept, rejected = documents(3000)
    whole = summarise(kept, rejected, [])
    bounds = [0, *split, 3000]
    parts = [summarise(kept.slice(a, b - a), rejected.slice(a // 4, b // 4 - a // 4), [])
             for a, b in zip(bounds, bounds[1:])]
    assert merge(parts) == merge([whole]) == merge(reversed(parts))
    merged = merge(parts)
    assert merged["kept"]["docs"] == 3000 and len(merged["kept"]["sample"]["keys"]) == SIGNAL_SAMPLE
    assert sum(k + r for _, k, r in merged["domains"]) == 3000 + 750
    assert {label: len(rows) for label, rows in merged["samples"].items()} == {
        "kept": DOC_SAMPLE, "langid: language": DOC_SAMPLE, "langid: low_language_score": DOC_SAMPLE}


def test_the_signal_sample_is_uniform():
    kept, rejected = documents(20_000, seed=1)
    summary = summarise(kept, rejected, [5000, 12000])
    scores = summary["kept"]["sample"]["values"]["lang_score"]
    assert len(scores) == SIGNAL_SAMPLE and 0.45 < sum(scores) / len(scores) < 0.55  # uniform scores: mean 0.5
    ids = {f"doc-{i}" for i in range(20_000)}
    assert summary["kept"]["categorical"]["lang"]["en"] + summary["kept"]["categorical"]["lang"]["de"] == len(ids)
