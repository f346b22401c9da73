"""The command line: help on every verb, exit codes, and one-line errors without tracebacks."""

from __future__ import annotations

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


def test_missing_pipeline_exits_2(tmp_path):
    result = run_cli("run", str(tmp_path / "none.yaml"), "--executor", "local")
    assert result.returncode == 2 and "no such pipeline file" in result.stderr


def test_address_needs_ray(tmp_path):
    assert main(["run", str(QUICKSTART), "--executor", "local", "--address", "auto"]) == 1


def test_bad_workers_exits_2():
    assert main(["run", str(QUICKSTART), "--workers", "0"]) == 2


def test_local_run_with_a_process_pool(tmp_path, quickstart_local):
    from tests.conftest import output_files

    result = run_cli("run", str(QUICKSTART), "--executor", "local", "--workers", "2", "--workdir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "node text: 10 partitions (10 computed, 0 reused)" in result.stdout
    assert output_files(tmp_path) == output_files(quickstart_local)
