"""exact_dedup: the smallest id of each group of equal texts (or URLs) survives, every other member is rejected
naming it, and the counts add up."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from curate.ops.exact_dedup import exact_key
from tests.ops.dedup_helpers import run_dedup, write_partitions

DOCUMENTS = [
    {"id": "c", "text": "The same page.", "url": "http://a/1"},
    {"id": "a", "text": "The  same\npage.", "url": "http://a/2"},  # equal after whitespace is collapsed
    {"id": "b", "text": "Another page.", "url": "http://a/1"},
    {"id": "e", "text": "the same page.", "url": "http://a/3"},  # differs in case
    {"id": "d", "text": "The same page.", "url": None},
    {"id": "f", "text": "Third page.", "url": "http://a/4"},
    {"id": "g", "text": "Third page. ", "url": "http://a/5"},
]


def test_smallest_id_survives_and_rejections_name_it(tmp_path):
    write_partitions(tmp_path / "data", DOCUMENTS, 3)
    reports = run_dedup(tmp_path, tmp_path / "data", "{exact_dedup: {input: docs, shuffle_ranges: 4}}")
    kept = pq.read_table(tmp_path / "out" / "deduped")
    rejected = pq.read_table(tmp_path / "out" / "_rejected" / "deduped")
    assert sorted(kept.column("id").to_pylist()) == ["a", "b", "e", "f"]
    assert {r["id"]: (r["reject_reason"], r["reject_detail"], r["dup_cluster_size"]) for r in rejected.to_pylist()} == {
        "c": ("exact_duplicate", "duplicate of a", 3), "d": ("exact_duplicate", "duplicate of a", 3),
        "g": ("exact_duplicate", "duplicate of f", 2)}
    clusters = dict(zip(kept.column("id").to_pylist(), kept.column("dup_cluster").to_pylist()))
    assert clusters == {"a": "a", "b": "b", "e": "e", "f": "f"}
    stage = reports[-1].stages[0]
    assert stage.docs_in == 7 and stage.kept == 4 and stage.rejected["exact_duplicate"] == 3 and stage.is_balanced()
    assert not (tmp_path / "out" / "deduped" / "_exact_dedup").exists()  # scratch removed once written


def test_lowercase_and_url_keys(tmp_path):
    write_partitions(tmp_path / "data", DOCUMENTS, 2)
    run_dedup(tmp_path, tmp_path / "data", "{exact_dedup: {input: docs, lowercase: true}}", workdir="lower")
    assert sorted(pq.read_table(tmp_path / "lower" / "deduped").column("id").to_pylist()) == ["a", "b", "f"]
    run_dedup(tmp_path, tmp_path / "data", "{exact_dedup: {input: docs, field: url}}", workdir="url")
    kept = sorted(pq.read_table(tmp_path / "url" / "deduped").column("id").to_pylist())
    assert kept == ["a", "b", "d", "e", "f", "g"]  # c shares b's URL; d has none, so it is nobody's duplicate


def test_key_ignores_whitespace_runs_only():
    assert exact_key("a  b\n", False) == exact_key("a b", False)
    assert exact_key("A b", False) != exact_key("a b", False) and exact_key("A b", True) == exact_key("a b", True)
    assert len(exact_key("x", False)) == 16


def test_a_node_without_text_is_a_one_line_error(tmp_path):
    from curate.config import load_pipeline
    from curate.dag import run_pipeline
    from curate.errors import RunError
    from curate.executors.local import LocalExecutor
    from tests.conftest import ROOT

    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"""
workdir: {tmp_path / "out"}
nodes:
  pages: {{input: {{warc: "{ROOT}/pipelines/sample/warcfile.warc.gz"}}}}
  unique: {{exact_dedup: {{input: pages}}}}
""")
    with LocalExecutor() as executor, pytest.raises(RunError) as caught:
        run_pipeline(load_pipeline(str(pipeline)), executor, log=lambda line: None)
    assert "has no column 'text'" in str(caught.value) and "extract text" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_resumed_run_reports_what_it_reused(tmp_path):
    """One output partition lost: the rerun writes that one and says so (it reported every partition computed and
    none reused, whatever it reused)."""
    write_partitions(tmp_path / "data", DOCUMENTS, 3)
    first = run_dedup(tmp_path, tmp_path / "data", "{exact_dedup: {input: docs}}")[-1]
    assert (first.computed, first.reused) == (3, 0)
    next((tmp_path / "out" / "deduped").glob("*.parquet")).unlink()
    again = run_dedup(tmp_path, tmp_path / "data", "{exact_dedup: {input: docs}}")[-1]
    assert (again.computed, again.reused) == (1, 2)
