"""Failures that fail: a broken model, a mistyped field, a second run on the same workdir, a killed run's children.

Each case used to end in exit 0 with every document rejected, or in a race (issue 12).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from curate.cli import main
from curate.executors.ray import stall_message
from curate.lock import workdir_lock
from curate.stages.base import DocumentStage
from tests.conftest import ROOT
from tests.warc_factory import SAMPLE_DIR


def pipeline(tmp_path: Path, steps: str, input_: str | None = None) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(f"""
        workdir: {tmp_path / "out"}
        nodes:
          text:
            input: {input_ or f"{{warc: [{SAMPLE_DIR}/sample-0000.warc.gz, {SAMPLE_DIR}/sample-0001.warc.gz]}}"}
            steps: {steps}
    """))
    return str(path)


def test_a_model_that_does_not_load_fails_the_run(tmp_path, capsys):
    broken = tmp_path / "lid.bin"
    broken.write_bytes(b"not a fastText model")
    code = main(["run", pipeline(tmp_path, f"[extract, {{langid: {{model: {broken}}}}}]"), "--executor", "local"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert f"ModelError: language ID model {broken} cannot be loaded (ValueError: " in err  # named, not per document
    failures = [json.loads(line) for line in (tmp_path / "out" / "_failures.jsonl").read_text().splitlines()]
    assert len(failures) == 2 and {f["node"] for f in failures} == {"text"}
    assert not (tmp_path / "out" / "_curate" / "text" / "commit.json").exists()


def test_a_mistyped_text_field_fails_the_run(tmp_path, capsys):
    data = tmp_path / "docs.jsonl"
    data.write_text("".join(json.dumps({"id": str(i), "content": f"document {i} " * 20}) + "\n" for i in range(5)))
    code = main(["run", pipeline(tmp_path, "[]", f"{{jsonl: {data}, text_field: text}}"), "--executor", "local"])
    err = capsys.readouterr().err
    assert code == 1 and "no record has the field 'text' (the first record has 'id', 'content')" in err


def test_a_final_node_that_keeps_nothing_warns(tmp_path, capsys):
    assert main(["run", pipeline(tmp_path, "[extract, {min_length: {min_chars: 100000000}}]"),
                 "--executor", "local"]) == 0
    assert "warning: node text kept 0 documents" in capsys.readouterr().out


def test_a_second_run_on_the_same_workdir_is_refused(tmp_path, capsys):
    path = pipeline(tmp_path, "[extract]")
    with workdir_lock(str(tmp_path / "out")):
        assert main(["run", path, "--executor", "local"]) == 1
    err = capsys.readouterr().err
    assert "is in use by another curate run" in err and f'"pid": {os.getpid()}' in err
    assert main(["run", path, "--executor", "local"]) == 0  # released with the block


def test_shard_jobs_share_a_workdir_and_the_merge_waits_for_them(tmp_path, capsys):
    """Issue 26: the jobs of a sharded run hold locks of their own, so they run at once on one workdir; the same
    shard twice is refused, and so is the merge (a run without --shard) while a shard job runs, and a shard job
    while an unsharded run does."""
    path, workdir = pipeline(tmp_path, "[extract]"), str(tmp_path / "out")
    with workdir_lock(workdir, "0/2"), workdir_lock(workdir, "1/2"):
        assert main(["run", path, "--executor", "local", "--shard", "0/2"]) == 1
        assert "is in use by another curate run" in capsys.readouterr().err
        assert main(["run", path, "--executor", "local"]) == 1
        err = capsys.readouterr().err
        assert "is in use by shard job(s) 0/2, 1/2 of a sharded run" in err and "run the merge once" in err
    with workdir_lock(workdir):
        assert main(["run", path, "--executor", "local", "--shard", "1/2"]) == 1
        assert "is in use by an unsharded curate run" in capsys.readouterr().err
    assert main(["run", path, "--executor", "local", "--shard", "1/2"]) == 0
    assert "shard 1/2: 1 of the 2 input files of node text; this job runs text\n" in capsys.readouterr().out
    assert main(["run", path, "--executor", "local", "--shard", "2/2"]) == 2
    assert "--shard: shard '2/2': i must be at least 0 and below n" in capsys.readouterr().err


def test_apply_must_take_the_columns_a_stage_reads():
    with pytest.raises(TypeError, match=r"Bad.apply takes 1 value\(s\) \(text\) but reads 2 column\(s\)"):
        class Bad(DocumentStage):  # noqa: F841 - defining it is the test
            name = "bad"
            reads = ("text", "url")

            def apply(self, text):
                return ()


def test_a_stalled_ray_map_says_what_it_waits_for():
    line = stall_message(8, 61.2, {"memory": 1e9}, {"CPU": 4.0})
    assert line == ("no task finished in 61 s: 8 tasks pending; the cluster has 0 of 4 CPUs free (each task needs "
                    "1): add nodes with CPUs, or use --executor local")


def _children(pid: int) -> list[int]:
    """The pids whose parent is `pid`, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    """False for a process that is gone or a zombie (dead, waiting for a parent that no longer exists)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_pool_workers_die_with_a_killed_run(tmp_path):
    path = pipeline(tmp_path, "[extract]", f"{{warc: '{SAMPLE_DIR}/*.warc*'}}")
    run = subprocess.Popen([sys.executable, "-m", "curate.cli", "run", path, "--executor", "local", "--workers", "2"],
                           cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(_children(run.pid)) < 2 and time.monotonic() < deadline:  # the two workers (and the tracker)
        time.sleep(0.05)
    children = _children(run.pid)
    assert len(children) >= 2 and run.poll() is None
    run.send_signal(signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in children if _alive(pid)] == []
