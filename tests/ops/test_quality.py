"""The quality classifier: trained by a train_fasttext node, used by a fasttext_quality step that names the node."""

from __future__ import annotations

import json
import textwrap

import pyarrow.parquet as pq
import pytest

from curate.config import load_pipeline
from curate.dag import run_pipeline
from curate.errors import ConfigError, RunError
from curate.executors.local import LocalExecutor
from curate.ops.train_fasttext import TrainFastText, check_saved_model, roc_auc
from curate.stages.langid import load_model
from curate.stages.quality import FastTextQuality, hq_probability, quantile_score
from tests.warc_factory import SAMPLE_DIR
from train_stub.train import REFERENCE_TEXT

BOILERPLATE = [
    "Home | About us | Contact | Login | Register | Privacy Policy | Cookie settings | Follow us on Facebook",
    "Click here to subscribe to our newsletter and get 10% off your first order! Free shipping over $50.",
    "Copyright 2018 All rights reserved. Terms of use. Sitemap. Back to top. Share this page on Twitter.",
    "Add to cart Wishlist Compare Quick view Sale! Price: $19.99 In stock Sort by popularity newest",
]


def pipeline(tmp_path, corpus, model_ref: str = "quality_model") -> str:
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(f"""
        workdir: {tmp_path / "out"}
        nodes:
          text:
            input: {{warc: "{SAMPLE_DIR}/*.warc*"}}
            steps: [{{extract: {{engine: resiliparse}}}}, {{normalize: {{form: NFC}}}}]
          quality_model:
            train_fasttext: {{positive: "{corpus}/target_text/*.jsonl", negative: text, max_examples: 3000}}
          scored:
            input: text
            steps: [{{fasttext_quality: {{model: {model_ref}, min_score: 0.5}}}}]
    """))
    return str(path)


def test_trains_scores_and_ranks_reference_text_above_boilerplate(tmp_path, corpus):
    spec = load_pipeline(pipeline(tmp_path, corpus))
    assert [n.name for n in spec.nodes] == ["text", "quality_model", "scored"]
    with LocalExecutor() as executor:
        reports = run_pipeline(spec, executor, log=lambda line: None)
    metrics = json.loads((tmp_path / "out" / "quality_model" / "metrics.json").read_text())
    print(f"\nheld-out {metrics}")
    # held-out documents never seen in training, not chunks of trained documents: 0.87, 0.97, 0.97
    assert metrics["auc"] > 0.8 and metrics["precision"] > 0.7 and metrics["recall"] > 0.8
    scored = reports[-1].stages[-1]
    assert scored.is_balanced() and scored.kept + sum(scored.rejected.values()) == scored.docs_in
    kept = pq.read_table(tmp_path / "out" / "scored")
    assert min(kept.column("quality").to_pylist()) >= 0.5

    model = load_model(str(tmp_path / "out" / "quality_model" / "model.bin"))
    reference = [p for p in open(REFERENCE_TEXT, encoding="utf-8").read().split("\n") if len(p.split()) > 40][:20]
    reference_scores = [hq_probability(model, p) for p in reference]
    boilerplate_scores = [hq_probability(model, p) for p in BOILERPLATE]
    assert roc_auc(reference_scores, boilerplate_scores) > 0.9

    # A model cut short (fastText writes it without checking for a full disk) still loads, so it is compared with
    # the trained model before the node commits; a damaged committed model is trained again, not carried on.
    model_file = tmp_path / "out" / "quality_model" / "model.bin"
    good = model_file.read_bytes()
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(good[: int(len(good) * 0.93)])
    load_model(str(truncated)).predict("still loads")
    with pytest.raises(RunError, match="does not score like the model trained"):
        check_saved_model(model, str(truncated), reference)
    check_saved_model(model, str(model_file), reference)
    model_file.write_bytes(truncated.read_bytes())
    with LocalExecutor() as executor:
        again = {r.name: r.computed for r in run_pipeline(spec, executor, log=lambda line: None)}
    assert again == {"text": 0, "quality_model": 1, "scored": 0} and model_file.read_bytes() == good
    (model_file.parent / "metrics.json").write_text(json.dumps({**metrics, "auc": 0.5}))
    with pytest.raises(RunError, match="no better than chance"):
        TrainFastText(positive=[], negative="text").check_artefacts(str(model_file.parent))


def transfer_pipeline(tmp_path, corpus) -> str:
    """Two classifiers of the same data, one trained on ten times the examples of the other, each filtering the
    same documents by a quantile cut and by a raw score cut."""
    path = tmp_path / "transfer.yaml"
    nodes = [f"""
          model_{size}:
            train_fasttext: {{positive: "{corpus}/target_text/*.jsonl", negative: text, max_examples: {size}}}
          by_quantile_{size}:
            input: text
            steps: [{{fasttext_quality: {{model: model_{size}, min_quantile: 0.3}}}}]
          by_score_{size}:
            input: text
            steps: [{{fasttext_quality: {{model: model_{size}, min_score: 0.3}}}}]""" for size in (150, 1500)]
    nodes.append(f"""
          model_calibrated:
            train_fasttext: {{positive: "{corpus}/target_text/*.jsonl", negative: text, max_examples: 1500,
                              calibrate: text}}
          by_calibrated_quantile:
            input: text
            steps: [{{fasttext_quality: {{model: model_calibrated, min_quantile: 0.3}}}}]""")
    path.write_text(textwrap.dedent(f"""
        workdir: {tmp_path / "out"}
        nodes:
          text:
            input: {{warc: "{SAMPLE_DIR}/*.warc*"}}
            steps: [{{extract: {{engine: resiliparse}}}}, {{normalize: {{form: NFC}}}}, {{min_length: {{}}}}]""")
                    + "".join(textwrap.dedent(n) for n in nodes).replace("\n", "\n  ") + "\n")
    return str(path)


def test_a_quantile_cut_rejects_the_same_share_whatever_the_model_size(tmp_path, corpus):
    """The reason min_quantile is the default: a raw score cut rejects a share of the documents that moves with how
    much data the model saw; a cut at a quantile of held-out web documents rejects about the same share."""
    with LocalExecutor() as executor:
        reports = {r.name: r for r in run_pipeline(load_pipeline(transfer_pipeline(tmp_path, corpus)), executor,
                                                   log=lambda line: None)}

    def rejected_share(node: str) -> float:
        stage = reports[node].stages[-1]
        return sum(stage.rejected.values()) / stage.docs_in

    by_quantile = [rejected_share(f"by_quantile_{size}") for size in (150, 1500)]
    by_score = [rejected_share(f"by_score_{size}") for size in (150, 1500)]
    print(f"\nrejected by min_quantile 0.3: {by_quantile}; by min_score 0.3: {by_score}")
    assert abs(by_quantile[0] - by_quantile[1]) < 0.15 and all(0.1 < s < 0.55 for s in by_quantile)
    assert abs(by_score[0] - by_score[1]) > 2 * abs(by_quantile[0] - by_quantile[1])
    # with a calibrate node, the quantiles are those of the documents judged: 30% of them fall below the cut
    assert rejected_share("by_calibrated_quantile") == pytest.approx(0.3, abs=0.02)
    for size in (150, 1500):
        table = json.loads((tmp_path / "out" / f"model_{size}" / "quantiles.json").read_text())
        assert len(table["negative"]) == 101 and table["negative"] == sorted(table["negative"])
        cut = quantile_score(table["negative"], 0.3)
        kept = pq.read_table(tmp_path / "out" / f"by_quantile_{size}").column("quality").to_pylist()
        rejected = pq.read_table(tmp_path / "out" / "_rejected" / f"by_quantile_{size}").column("quality")
        assert min(kept) >= cut - 1e-6 and max(rejected.to_pylist()) < cut + 1e-6


def test_quality_options():
    assert FastTextQuality(model="m").min_quantile == 0.02  # the default cut
    assert FastTextQuality(model="m", min_score=0.2).min_quantile is None
    with pytest.raises(ValueError, match="not both"):
        FastTextQuality(model="m", min_score=0.2, min_quantile=0.1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        FastTextQuality(model="m", min_quantile=1.5)
    assert quantile_score([i / 100 for i in range(101)], 0.105) == pytest.approx(0.105)
    assert quantile_score([i / 100 for i in range(101)], 1.0) == pytest.approx(1.0)


def test_a_step_must_name_a_model_node_of_the_right_kind(tmp_path, corpus):
    with pytest.raises(ConfigError, match="which is not a train_fasttext node"):
        load_pipeline(pipeline(tmp_path, corpus, model_ref="text"))


def test_roc_auc_handles_ties():
    assert roc_auc([0.9, 0.8], [0.1, 0.85]) == 0.75
    assert roc_auc([0.5], [0.5]) == 0.5
