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
from curate.stages.quality import hq_probability
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
    assert metrics["auc"] > 0.9 and metrics["precision"] > 0.7 and metrics["recall"] > 0.8  # 0.94, 0.78, 0.96
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


def test_a_step_must_name_a_model_node_of_the_right_kind(tmp_path, corpus):
    with pytest.raises(ConfigError, match="which is not a train_fasttext node"):
        load_pipeline(pipeline(tmp_path, corpus, model_ref="text"))


def test_roc_auc_handles_ties():
    assert roc_auc([0.9, 0.8], [0.1, 0.85]) == 0.75
    assert roc_auc([0.5], [0.5]) == 0.5
