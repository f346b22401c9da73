"""A run killed with SIGKILL mid-way, then re-run, produces the uninterrupted run's bytes, recomputing only the rest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import QUICKSTART, ROOT, output_files


def curate(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "curate.cli", "run", str(QUICKSTART), "--executor", "local",
                             *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_killed_run_resumes_to_identical_output(tmp_path, quickstart_local):
    workdir = tmp_path / "out"
    process = curate("--workdir", str(workdir))
    stats_dir = workdir / "text" / "_stats"
    deadline = time.monotonic() + 120
    while not (stats_dir.is_dir() and len(list(stats_dir.glob("*.json"))) >= 2):
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = {p.name: p.stat().st_mtime_ns for p in stats_dir.glob("*.json")}
    assert not (workdir / "text" / "_SUCCESS.json").exists() and 2 <= len(done) < 10

    rerun = curate("--workdir", str(workdir))
    output, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, output
    assert f"{10 - len(done)} of 10 partitions to compute" in output
    assert all((stats_dir / name).stat().st_mtime_ns == mtime for name, mtime in done.items())
    assert output_files(workdir) == output_files(quickstart_local)
    assert not [p for p in workdir.rglob("*.tmp*")]
