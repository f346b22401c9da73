"""pipelines/multilingual.yaml on the shared corpus's WARC files: one node per language, each holding only its
language above its own language-score threshold, with German, English and Spanish all present."""

from __future__ import annotations

import pyarrow.parquet as pq
import yaml

from curate.config import load_pipeline
from curate.dag import run_pipeline
from curate.executors.local import LocalExecutor
from tests.conftest import ROOT

PIPELINE = ROOT / "pipelines" / "multilingual.yaml"


def test_languages_are_routed_with_their_own_thresholds(corpus, tmp_path):
    with LocalExecutor(workers=2) as executor:
        reports = run_pipeline(load_pipeline(str(PIPELINE), workdir=str(tmp_path)), executor, log=lambda line: None)
    kept = {r.name: r.docs_out for r in reports}
    assert kept["en"] >= 300 and kept["de"] >= 400 and kept["es"] >= 40
    config = yaml.safe_load(PIPELINE.read_text())["nodes"]
    for language in ("en", "de", "es", "ja"):
        minimum = next(s["where"]["min"] for s in config[language]["steps"] if s.get("where", {}).get("min"))
        rows = pq.read_table(tmp_path / language, columns=["lang", "lang_score"]).to_pylist()
        assert all(r["lang"] == language and r["lang_score"] >= minimum for r in rows)
    routed = sum(kept[language] for language in ("en", "de", "es", "ja"))
    rejected = pq.read_table(tmp_path / "_rejected" / "de", columns=["reject_reason"]).column(0).to_pylist()
    assert rejected.count("where_lang") == kept["lines"] - sum(
        1 for _ in pq.read_table(tmp_path / "lines", columns=["lang"]).column(0).to_pylist() if _ == "de")
    assert routed < kept["lines"]
