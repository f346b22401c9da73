"""Running DAGs in-process: accounting, reuse of finished partitions, and recomputation when config changes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pyarrow.parquet as pq

from curate.config import load_pipeline
from curate.dag import run_pipeline
from curate.executors.local import LocalExecutor
from tests.warc_factory import SAMPLE_DIR

PIPELINE = """
    workdir: {workdir}
    nodes:
      text:
        input: {{warc: [{sample}/sample-0000.warc.gz, {sample}/warcfile.warc.gz, {sample}/sample-0001.warc.gz]}}
        steps:
          - extract: {{engine: resiliparse}}
      clean:
        input: text
        steps:
          - normalize: {{form: {form}}}
          - min_length: {{min_chars: 300}}
"""


def run(tmp_path: Path, form: str = "NFD", files: str | None = None) -> dict[str, tuple[int, int]]:
    text = PIPELINE.format(workdir=tmp_path / "out", sample=SAMPLE_DIR, form=form)
    if files is not None:
        text = text.replace(text[text.index("[") : text.index("]") + 1], files)
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(text))
    with LocalExecutor() as executor:
        reports = run_pipeline(load_pipeline(str(path)), executor, log=lambda line: None)
    return {r.name: (r.computed, r.reused) for r in reports}


def test_counts_add_up_through_the_chain(tmp_path):
    run(tmp_path)
    for node in ("text", "clean"):
        success = json.loads((tmp_path / "out" / node / "_SUCCESS.json").read_text())
        stages = success["stages"]
        for stage, following in zip(stages, stages[1:]):
            assert following["docs_in"] == stage["kept"]
        for stage in stages:
            lost = sum(stage["skipped"].values()) + sum(stage["rejected"].values()) + sum(stage["failed"].values())
            assert stage["docs_in"] == stage["kept"] + lost
        assert success["docs_out"] == stages[-1]["kept"]
        rows = sum(pq.read_metadata(p).num_rows for p in (tmp_path / "out" / node / "_rejected").glob("*.parquet"))
        assert rows == success["rejected_out"] == sum(
            sum(s["rejected"].values()) + sum(s["failed"].values()) for s in stages)
    text_out = json.loads((tmp_path / "out" / "text" / "_SUCCESS.json").read_text())["docs_out"]
    clean_in = json.loads((tmp_path / "out" / "clean" / "_SUCCESS.json").read_text())["stages"][0]["docs_in"]
    assert text_out == clean_in > 0


def test_rerun_reuses_everything(tmp_path):
    assert run(tmp_path) == {"text": (3, 0), "clean": (3, 0)}
    assert run(tmp_path) == {"text": (0, 3), "clean": (0, 3)}


def test_changed_step_recomputes_that_node_only(tmp_path):
    run(tmp_path)
    before = (tmp_path / "out" / "clean" / "part-00000.parquet").read_bytes()
    assert run(tmp_path, form="NFC") == {"text": (0, 3), "clean": (3, 0)}
    assert (tmp_path / "out" / "clean" / "part-00000.parquet").read_bytes() != before


def test_a_lost_partition_is_recomputed_alone(tmp_path):
    run(tmp_path)
    (tmp_path / "out" / "text" / "_stats" / "part-00001.json").unlink()
    assert run(tmp_path) == {"text": (1, 2), "clean": (0, 3)}


def test_fewer_inputs_remove_stale_partitions(tmp_path):
    run(tmp_path)
    assert run(tmp_path, files=f"[{SAMPLE_DIR}/sample-0000.warc.gz]") == {"text": (0, 1), "clean": (0, 1)}
    for node in ("text", "clean"):
        assert sorted(p.name for p in (tmp_path / "out" / node).rglob("part-*")) == [
            "part-00000.json", "part-00000.parquet", "part-00000.parquet"]
        assert json.loads((tmp_path / "out" / node / "_SUCCESS.json").read_text())["partitions"] == 1


def test_a_missing_input_file_fails_alone(tmp_path):
    report = run(tmp_path, files=f"[{SAMPLE_DIR}/sample-0000.warc.gz, {tmp_path}/gone.warc.gz]")
    assert report == {"text": (2, 0), "clean": (2, 0)}
    success = json.loads((tmp_path / "out" / "text" / "_SUCCESS.json").read_text())
    assert success["stages"][0]["failed"] == {"missing_file": 1} and success["docs_out"] > 0
