"""train_kenlm with KenLM's real lmplz and build_binary: held-out reference text scores far better than web text
and than other languages; the cut-offs are multiples of the held-out reference perplexity (the default) or CCNet's
percentiles of the pipeline's documents; the step buckets and filters."""

from __future__ import annotations

import json
import random
import textwrap

import numpy as np
import pyarrow.parquet as pq
import pytest

from curate.config import load_pipeline
from curate.dag import run_pipeline
from curate.errors import RunError
from curate.executors.local import LocalExecutor
from curate.ops.train_kenlm import TrainKenLM, kenlm_tool
from curate.stages.perplexity import doc_perplexity, load_kenlm

NON_ENGLISH = ("de", "fr", "es", "it", "nl", "pt", "pl", "sv")


@pytest.fixture(scope="module")
def trained(corpus, quickstart_local, tmp_path_factory):
    pytest.importorskip("kenlm")  # the query module; test_missing_tool_is_a_clear_error needs neither
    try:
        kenlm_tool("lmplz")
    except RunError as error:
        pytest.skip(str(error))
    folder = tmp_path_factory.mktemp("kenlm")
    # the quickstart's extracted pages, as JSON Lines: the web text the cut-offs are computed on
    web = folder / "web"
    web.mkdir()
    for path in sorted((quickstart_local / "text").glob("part-*.parquet")):
        with open(web / f"{path.stem}.jsonl", "w") as handle:
            for row in pq.read_table(path, columns=["id", "text"]).to_pylist():
                handle.write(json.dumps(row) + "\n")
    pipeline = folder / "p.yaml"
    pipeline.write_text(textwrap.dedent(f"""
        workdir: {folder / "out"}
        nodes:
          web: {{input: {{jsonl: "{web}/*.jsonl"}}}}
          lm: {{train_kenlm: {{text: "{corpus}/target_text/*.jsonl", calibrate: web}}}}
          lm_ccnet: {{train_kenlm: {{text: "{corpus}/target_text/*.jsonl", calibrate: web, cutoffs: calibrate}}}}
          scored:
            input: web
            steps: [{{kenlm_perplexity: {{model: lm, keep: [head, middle]}}}}]
          scored_ccnet:
            input: web
            steps: [{{kenlm_perplexity: {{model: lm_ccnet, keep: [head, middle]}}}}]
    """))
    with LocalExecutor(workers=2) as executor:  # the two models train side by side
        reports = run_pipeline(load_pipeline(str(pipeline)), executor, log=lambda line: None)
    return folder / "out", reports


def test_built_by_lmplz_and_build_binary(trained):
    out, _ = trained
    log = (out / "_curate" / "lm" / "kenlm.log").read_text()  # bookkeeping, not the node's data
    assert not (out / "lm" / "kenlm.log").exists()
    assert "lmplz -o 5" in log and "=== 1/5 Counting and sorting n-grams ===" in log
    assert "build_binary trie" in log
    with open(out / "lm" / "model.binary", "rb") as model:
        assert model.read(40).startswith(b"mmap lm http://kheafield.com/code")  # KenLM's binary format header
    metrics = json.loads((out / "lm" / "metrics.json").read_text())
    assert metrics["ngrams"]["1"] > 10_000 and set(metrics["ngrams"]) == {"1", "2", "3", "4", "5"}


def test_reference_text_scores_below_web_and_other_languages(trained, corpus):
    out, _ = trained
    model = load_kenlm(str(out / "lm" / "model.binary"))
    metrics = json.loads((out / "lm" / "metrics.json").read_text())
    web = pq.read_table(out / "scored").column("perplexity").to_numpy().tolist()
    web += pq.read_table(out / "_rejected" / "scored").column("perplexity").to_numpy().tolist()
    rng = random.Random(0)
    foreign = {}
    for language in NON_ENGLISH:
        lines = (corpus / "multilingual" / "lingua" / "sentences" / f"{language}.txt").read_text().splitlines()
        foreign[language] = float(np.median([doc_perplexity(model, "\n".join(rng.sample(lines, 20)))
                                             for _ in range(10)]))
    reference = metrics["held_out_median_perplexity"]
    print(f"\nmedian perplexity: held-out reference {reference:.0f}, web text {np.median(web):.0f}, "
          + ", ".join(f"{language} {value:.0f}" for language, value in foreign.items()))
    assert metrics["held_out_documents"] >= 10
    assert reference * 5 < np.median(web)
    assert all(reference * 20 < value for value in foreign.values())


def test_default_cutoffs_are_multiples_of_the_held_out_reference_perplexity(trained):
    out, reports = trained
    cutoffs = json.loads((out / "lm" / "cutoffs.json").read_text())
    metrics = json.loads((out / "lm" / "metrics.json").read_text())
    reference = metrics["held_out_median_perplexity"]
    assert cutoffs["mode"] == "reference" and cutoffs["reference_median"] == reference
    assert np.allclose([cutoffs["head"], cutoffs["tail"]], [reference * 3.0, reference * 15.0])
    kept = pq.read_table(out / "scored")
    rejected = pq.read_table(out / "_rejected" / "scored")
    assert max(kept.column("perplexity").to_pylist()) < cutoffs["tail"]
    assert min(rejected.column("perplexity").to_pylist(), default=cutoffs["tail"]) >= cutoffs["tail"] * (1 - 1e-6)
    total = kept.num_rows + rejected.num_rows
    assert metrics["calibration_documents"] == total  # the calibrate node is scored for the bucket shares
    assert metrics["calibration_buckets"]["tail"] == pytest.approx(rejected.num_rows / total)
    stage = [r for r in reports if r.name == "scored"][0].stages[-1]
    assert stage.is_balanced() and stage.rejected.get("perplexity_tail", 0) == rejected.num_rows


def test_reference_cutoffs_need_no_calibration_node_and_calibrate_mode_needs_one():
    assert TrainKenLM(text=[]).calibrate is None
    with pytest.raises(ValueError, match="cutoffs: calibrate needs"):
        TrainKenLM(text=[], cutoffs="calibrate")
    with pytest.raises(ValueError, match="reference_multiples"):
        TrainKenLM(text=[], reference_multiples=[20.0, 3.0])


def test_ccnet_cutoffs_are_percentiles_of_the_calibration_documents(trained):
    out, reports = trained
    cutoffs = json.loads((out / "lm_ccnet" / "cutoffs.json").read_text())
    assert cutoffs["mode"] == "calibrate"
    kept = pq.read_table(out / "scored_ccnet")
    rejected = pq.read_table(out / "_rejected" / "scored_ccnet")
    everything = np.concatenate([kept.column("perplexity").to_numpy(), rejected.column("perplexity").to_numpy()])
    assert np.allclose(np.percentile(everything.astype(np.float64), [30, 60]), [cutoffs["head"], cutoffs["tail"]],
                       rtol=1e-5)
    assert set(kept.column("ppl_bucket").to_pylist()) == {"head", "middle"}
    assert set(rejected.column("reject_reason").to_pylist()) == {"perplexity_tail"}
    share_tail = rejected.num_rows / (kept.num_rows + rejected.num_rows)
    assert 0.35 <= share_tail <= 0.45  # 40% of the documents lie above the 60th percentile
    stage = [r for r in reports if r.name == "scored_ccnet"][0].stages[-1]
    assert stage.is_balanced() and stage.rejected["perplexity_tail"] == rejected.num_rows


def test_missing_tool_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("CURATE_KENLM_BIN", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("sys.prefix", str(tmp_path))
    with pytest.raises(RunError, match="models/build_kenlm.sh"):
        kenlm_tool("lmplz")
