"""DSIR: on a mix of reference-like and web documents, the selection is closer to the target than a random sample
of the same size, by the paper's KL-reduction measure on hashed n-gram features."""

from __future__ import annotations

import json
import random
import re
import textwrap

import numpy as np
import pyarrow.parquet as pq
import pytest

from curate.config import load_pipeline
from curate.dag import run_pipeline
from curate.executors.local import LocalExecutor
from curate.ops.dsir import gumbel_keys, hashed_features, kl_divergence, log_weight

BUCKETS = 10_000


def features(texts) -> np.ndarray:
    return sum((hashed_features(t, BUCKETS) for t in texts), np.zeros(BUCKETS))


def test_selection_moves_toward_the_target(tmp_path, corpus, quickstart_local):
    speeches = [json.loads(line)["text"] for line in
                (corpus / "target_text" / "us_presidential_speeches.jsonl").read_text().splitlines()]
    reference_like = [chunk for s in speeches[:40] for i in range(0, 900, 300)
                      if (chunk := " ".join(s.split()[i : i + 300]))][:100]
    web = pq.read_table(quickstart_local / "text", columns=["text"]).column(0).to_pylist()
    documents = [("ref", t) for t in reference_like] + [("web", t) for t in web]
    data = tmp_path / "mix"
    data.mkdir()
    for part in range(2):  # two partitions, so the global cut-off spans tasks
        with open(data / f"mix-{part}.jsonl", "w") as handle:
            for i, (kind, text) in enumerate(documents[part::2]):
                handle.write(json.dumps({"id": f"{kind}-{part}-{i}", "text": text}) + "\n")
    target_files = [corpus / "target_text" / name for name in ("wikitext2_raw_test.jsonl", "gutenberg_nltk.jsonl")]
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(textwrap.dedent(f"""
        workdir: {tmp_path / "out"}
        nodes:
          mix: {{input: {{jsonl: "{data}/*.jsonl"}}}}
          selected: {{dsir: {{input: mix, target: {json.dumps([str(p) for p in target_files])}, keep_count: 100}}}}
    """))
    lines: list[str] = []
    with LocalExecutor() as executor:
        reports = run_pipeline(load_pipeline(str(pipeline)), executor, log=lines.append)
    (summary,) = [line for line in lines if "KL(target || input)" in line]
    before, after = (float(v) for v in re.findall(r"KL\(target \|\| \w+\) ([0-9.]+)", summary))
    assert after < before and "of the bytes" in summary
    assert reports[-1].docs_out == 100 and reports[-1].rejected_out == len(documents) - 100
    selected = pq.read_table(tmp_path / "out" / "selected")
    assert "dsir_logw" in selected.column_names
    chosen = selected.column("text").to_pylist()

    target = sum((features(json.loads(line)["text"] for line in p.read_text().splitlines()) for p in target_files),
                 np.zeros(BUCKETS))
    selected_kl = kl_divergence(target, features(chosen))
    random_kls = [kl_divergence(target, features(random.Random(seed).sample([t for _, t in documents], 100)))
                  for seed in range(5)]
    reference_share = sum(i.startswith("ref") for i in selected.column("id").to_pylist())
    print(f"\nKL(target || selected) {selected_kl:.4f}; random samples {np.mean(random_kls):.4f} "
          f"± {np.std(random_kls):.4f}; reference-like share {reference_share}%")
    assert selected_kl < min(random_kls)
    assert reference_share > 50  # of the 348 documents, 100 are reference-like


def test_gumbel_keys_are_deterministic_and_hashing_is_stable():
    weights = np.array([0.0, 1.0, 2.0])
    assert np.array_equal(gumbel_keys(weights, ["a", "b", "c"], 0), gumbel_keys(weights, ["a", "b", "c"], 0))
    assert not np.array_equal(gumbel_keys(weights, ["a", "b", "c"], 0), gumbel_keys(weights, ["a", "b", "c"], 1))
    assert hashed_features("The cat, the CAT", 50).sum() == 7  # 4 unigrams + 3 bigrams


def test_length_normalised_weights_do_not_grow_with_length(corpus):
    """The released code's sum scales with the document: the same text five times over weighs five times as much
    (in log space), so a selection keeps short documents and drops long ones. The normalised weight is the same."""
    speech = json.loads((corpus / "target_text" / "us_presidential_speeches.jsonl").read_text().splitlines()[0])
    text = " ".join(speech["text"].split()[:300])
    rng = np.random.default_rng(0)
    log_ratio = rng.normal(-0.2, 1.0, BUCKETS)
    once, five = hashed_features(text, BUCKETS), hashed_features(" ".join([text] * 5), BUCKETS)
    assert log_weight(five, log_ratio, 0) == pytest.approx(5 * log_weight(once, log_ratio, 0), rel=0.02)
    assert log_weight(five, log_ratio, 255) == pytest.approx(log_weight(once, log_ratio, 255), rel=0.02)
    assert log_weight(np.zeros(BUCKETS), log_ratio, 255) == 0.0  # no words, no evidence either way
