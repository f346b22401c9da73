"""A run killed by SIGKILL at any task of any phase resumes where it stopped and ends with the bytes of a run that
was never interrupted (issue 12). The kills come from tests/kill_run.py, in a child process, in-process executor.

The pipeline is cc_en.yaml's shape on the shipped sample: extraction, repeated-line removal, language ID, a fastText
quality model trained by curate, exact and MinHash dedup, scoring, DSIR, BPE training and token shards.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.warc_factory import SAMPLE_DIR

pytestmark = pytest.mark.slow

PIPELINE = """
    workdir: {workdir}
    nodes:
      text:
        input: {{warc: "{sample}/*.warc*"}}
        steps:
          - extract: {{engine: resiliparse}}
          - normalize: {{form: NFC}}
      lines: {{repeated_lines: {{input: text, max_documents: 2, shuffle_ranges: 3}}}}
      english:
        input: lines
        steps:
          - langid: {{keep: [en], min_score: 0.5}}
          - min_length: {{min_chars: 200}}
      quality_model:
        train_fasttext: {{positive: "{target}", negative: text, epoch: 2}}
      unique: {{exact_dedup: {{input: english}}}}
      deduped: {{minhash_dedup: {{input: unique, shuffle_ranges: 4}}}}
      scored:
        input: deduped
        steps: [{{fasttext_quality: {{model: quality_model, min_score: 0.2}}}}]
      selected: {{dsir: {{input: scored, target: "{target}", keep_fraction: 0.8}}}}
      bpe: {{train_bpe: {{input: selected, vocab_size: 1024}}}}
      shards: {{tokenize: {{input: selected, tokenizer: bpe, shard_tokens: 20000, shuffle_seed: 0}}}}
"""
TASK_LINE = re.compile(r"node (\w+): (?:(\w+): )?(\d+) of (\d+) (?:tasks|partitions) to compute")


def write_pipeline(folder: Path, corpus: Path) -> Path:
    path = folder / "pipeline.yaml"
    path.write_text(textwrap.dedent(PIPELINE.format(
        workdir=folder / "out", sample=SAMPLE_DIR, target=corpus / "target_text" / "wikitext2_raw_test.jsonl")))
    return path


def run(pipeline: Path, kill_at: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "tests.kill_run", str(pipeline)] + (["--kill-at", kill_at] if kill_at else [])
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def phases(log: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(node, phase) -> (tasks computed, tasks in all), from a run's log; a map node's phase is "partitions"."""
    return {(m[1], m[2] or "partitions"): (int(m[3]), int(m[4])) for m in TASK_LINE.finditer(log)}


def result_files(workdir: Path) -> dict[str, bytes]:
    """Every output a user reads, by relative path: data, rejected rows, models, tokenizer, shards, manifests (not
    the commit records, which hold timings, nor the lock and the failure log)."""
    return {str(p.relative_to(workdir)): p.read_bytes() for p in sorted(workdir.rglob("*"))
            if p.is_file() and not p.name.startswith("_") and p.name != "commit.json" and "partitions" not in p.parts}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, corpus) -> tuple[dict[str, bytes], int]:
    folder = tmp_path_factory.mktemp("uninterrupted")
    result = run(write_pipeline(folder, corpus))
    assert result.returncode == 0, result.stderr[-2000:]
    return result_files(folder / "out"), int(result.stdout.rsplit("tasks run: ", 1)[1])


@pytest.mark.parametrize(("node", "kill_at"), [
    ("lines", "reduce_units:2"),
    ("lines", "write_partition:6"),
    ("deduped", "map_keys:14"),  # 10 map_keys tasks are exact_dedup's, so this is minhash_dedup's 4th
    ("deduped", "reduce_keys:3"),  # exact_dedup has one key range here, minhash_dedup 4: its 2nd
    ("deduped", "write_deduplicated:14"),
    ("selected", "weigh_documents:4"),
    ("selected", "select_partition:6"),
    ("shards", "encode_partition:5"),
    ("shards", "write_shard:2"),
])
def test_a_kill_inside_an_operation_phase_resumes_there(tmp_path, corpus, uninterrupted, node, kill_at):
    pipeline = write_pipeline(tmp_path, corpus)
    killed = run(pipeline, kill_at)
    assert killed.returncode == -9, killed.stderr[-2000:]
    resumed = run(pipeline)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    phase = kill_at.split(":")[0]
    computed, total = phases(resumed.stdout)[(node, phase)]
    assert 0 < computed < total  # the tasks finished before the kill were not run again
    assert result_files(tmp_path / "out") == uninterrupted[0]


def test_six_random_kills_end_with_the_uninterrupted_bytes(tmp_path, corpus, uninterrupted):
    """Kill the run at 6 random points of its 160-odd tasks, resuming after each, then finish (tests/fault_campaign.py
    kills at a random task of every phase, by hand)."""
    expected, total = uninterrupted
    pipeline = write_pipeline(tmp_path, corpus)
    points = sorted(random.Random(12).sample(range(1, total + 1), 6))
    kills = 0
    for before, point in zip([0] + points, points):
        result = run(pipeline, f"task:{point - before}")
        assert result.returncode in (0, -9), result.stderr[-2000:]
        kills += result.returncode == -9
    final = run(pipeline)
    assert final.returncode == 0, final.stderr[-2000:]
    assert kills >= 4  # a point may fall in work a kill made the run repeat
    assert result_files(tmp_path / "out") == expected
