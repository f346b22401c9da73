"""The command line: help on every verb, exit codes, and one-line errors without tracebacks."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from curate.cli import build_parser, main
from tests.conftest import QUICKSTART, ROOT

VERBS = sorted(build_parser()._subparsers._group_actions[0].choices)  # every verb the parser knows


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate.cli", *args], cwd=ROOT, capture_output=True, text=True)


def test_the_verbs_are_the_documented_ones():
    assert VERBS == ["evaluate", "export-tokens", "inspect", "run", "validate"]


@pytest.mark.parametrize("verb", [[]] + [[v] for v in VERBS], ids=["curate"] + VERBS)
def test_help_on_every_verb(verb, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*verb, "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and out.startswith(f"usage: curate {verb[0] if verb else ''}".rstrip())


def test_config_error_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes:\n  text:\n    input: {warc: 'x/*.warc.gz'}\n    stepz: []\n")
    result = run_cli("run", str(bad), "--executor", "local")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert "node 'text': unknown field 'stepz' (did you mean 'steps'?)" in result.stderr


@pytest.mark.parametrize("where", ["file", "under_file"])
def test_a_workdir_that_cannot_be_made_exits_2_with_one_line(tmp_path, where):
    (tmp_path / "file").write_text("in the way")
    workdir = tmp_path / "file" if where == "file" else tmp_path / "file" / "out"
    result = run_cli("run", str(QUICKSTART), "--executor", "local", "--workdir", str(workdir))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip() == (f"curate: error: workdir {workdir}: cannot create it or its lock file "
                                     f"({'File exists' if where == 'file' else 'Not a directory'}); give the run a "
                                     "writable folder with --workdir")


def test_missing_pipeline_exits_2(tmp_path):
    result = run_cli("run", str(tmp_path / "none.yaml"), "--executor", "local")
    assert result.returncode == 2 and "no such pipeline file" in result.stderr


def test_address_needs_ray(tmp_path, capsys):
    assert main(["run", str(QUICKSTART), "--executor", "local", "--address", "auto"]) == 2  # a mistake: exit 2
    assert capsys.readouterr().err.strip() == "curate: error: --address and --dashboard need --executor ray"


def test_a_missing_input_file_finishes_the_others_and_exits_1(tmp_path):
    """The other partitions are computed and committed (a re-run reuses them), and the exit status and one line say
    that the output lacks a file; it stays 1 on every re-run while the file is missing."""
    from tests.warc_factory import SAMPLE_DIR

    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"workdir: {tmp_path / 'out'}\nnodes:\n  text:\n    input: {{warc: [{tmp_path}/gone.warc.gz, "
                        f"{SAMPLE_DIR}/sample-0000.warc.gz]}}\n    steps:\n      - extract: {{engine: resiliparse}}\n")
    for computed in (2, 0):
        result = run_cli("run", str(pipeline), "--executor", "local")
        assert result.returncode == 1, result.stderr
        assert f"node text: 2 partitions ({computed} computed" in result.stdout
        assert result.stderr.strip() == ("curate: error: node text: 1 input file(s) missing or unreadable (their rows "
                                         "in _rejected/ name them; the other partitions are committed, a re-run "
                                         "reuses them)")


def test_bad_workers_exits_2():
    assert main(["run", str(QUICKSTART), "--workers", "0"]) == 2


def test_local_run_with_a_process_pool(tmp_path, quickstart_local):
    from tests.conftest import output_files

    result = run_cli("run", str(QUICKSTART), "--executor", "local", "--workers", "2", "--workdir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "node text: 10 partitions (10 computed, 0 reused)" in result.stdout
    assert output_files(tmp_path) == output_files(quickstart_local)


def test_sigterm_ends_a_run_with_one_line_and_143(tmp_path):
    """A scheduler's cancel (SIGTERM) unwinds the run as Ctrl-C does: one line, exit 143, and a re-run resumes."""
    process = subprocess.Popen([sys.executable, "-m", "curate.cli", "run", str(QUICKSTART), "--executor", "local",
                                "--workdir", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:  # until the run is under way
        if "partitions to compute" in line:
            break
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert stderr.strip() == "curate: terminated (SIGTERM); finished partitions are kept and a re-run resumes"


def test_a_full_disk_is_one_line_and_exit_1(monkeypatch, capsys, tmp_path):
    """The driver's own write (a model's upload, a commit record) meeting a full disk: one line naming the file, not a
    traceback from curate/storage.py."""
    import errno

    import curate.dag

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out" / "model.bin"))

    monkeypatch.setattr(curate.dag, "run_pipeline", full)
    assert main(["run", str(QUICKSTART), "--executor", "local", "--workdir", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == (f"curate: error: No space left on device: {tmp_path / 'out' / 'model.bin'}; "
                                       "make room (or fix the folder's permissions) and re-run: finished partitions "
                                       "are kept\n")


def test_main_gives_the_callers_sigterm_handler_back(tmp_path):
    """A script that calls curate's main() (train_stub.ablation runs a pipeline, then trains) keeps its own SIGTERM
    handling afterwards: left with curate's, a kill would raise Terminated into a process pool, which then waits for
    every running job before the script exits."""
    def own(signum: int, frame: object) -> None:
        pass

    before = signal.signal(signal.SIGTERM, own)
    try:
        assert main(["run", str(tmp_path / "missing.yaml")]) == 2
        assert signal.getsignal(signal.SIGTERM) is own
    finally:
        signal.signal(signal.SIGTERM, before)
