"""A `kill -9` of curate leaves none of its embedded Ray's processes running (curate/executors/ray_reaper.py)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from curate.executors.ray_reaper import descendants, kill_marked, marked, process_table
from tests.conftest import QUICKSTART, ROOT

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the watcher reads /proc")


def running(noted: dict[int, int]) -> dict[int, int]:
    table = process_table()
    return {pid: start for pid, start in noted.items() if pid in table and table[pid][1] == start
            and table[pid][2] != "Z"}


def test_only_the_processes_carrying_the_mark_are_killed():
    marked_sleeper = subprocess.Popen(["sleep", "60"], env={**os.environ, "CURATE_REAP": "test-mark"})
    other = subprocess.Popen(["sleep", "60"], env={**os.environ, "CURATE_REAP": "test-mark-2"})
    try:
        assert marked("test-mark") == [marked_sleeper.pid]
        assert kill_marked("test-mark") == [marked_sleeper.pid]
        assert marked_sleeper.wait(timeout=5) == -signal.SIGKILL and other.poll() is None
    finally:
        marked_sleeper.kill()
        other.kill()


@pytest.mark.slow
def test_kill_9_of_curate_leaves_no_ray_process_behind(tmp_path):
    """Ray's agents outlive a killed raylet by up to 60 s (they report its death to the dead GCS): measured 55 s
    without the watcher. With it, every process under the raylet is gone within seconds."""
    ray_temp = Path(tempfile.mkdtemp(prefix="curate-ray-k9-"))  # short: Ray's socket paths must fit 107 bytes
    curate = subprocess.Popen([sys.executable, "-m", "curate.cli", "run", str(QUICKSTART), "--executor", "ray",
                               "--workers", "2", "--workdir", str(tmp_path / "out")], cwd=ROOT,
                              env={**os.environ, "RAY_TMPDIR": str(ray_temp)}, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        assert curate.stdout is not None
        for line in curate.stdout:
            if "Ray started" in line:
                break
        else:
            pytest.fail("curate's Ray did not start")
        table = process_table()
        raylets = [pid for pid, (parent, _, _) in table.items() if parent == curate.pid
                   and b"raylet" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]]
        assert len(raylets) == 1
        noted = {raylets[0]: table[raylets[0]][1], **descendants(raylets, table)}
        assert len(noted) >= 3  # the raylet, its dashboard agent and its runtime-env agent at least
        curate.send_signal(signal.SIGKILL)
        curate.wait(timeout=10)
        deadline = time.monotonic() + 15
        while running(noted) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = running(noted)
        assert not left, [Path(f"/proc/{pid}/cmdline").read_bytes()[:60] for pid in left]
    finally:
        curate.kill()
        shutil.rmtree(ray_temp, ignore_errors=True)


def processes_naming(folder: Path) -> list[int]:
    """Live processes whose command line or environment names `folder` (this run's RAY_TMPDIR)."""
    found = []
    for pid, (_, _, state) in process_table().items():
        try:
            named = str(folder).encode() in Path(f"/proc/{pid}/cmdline").read_bytes() or \
                f"RAY_TMPDIR={folder}".encode() in Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if named and state != "Z" and pid != os.getpid():
            found.append(pid)
    return found


def default_signals() -> None:
    """SIGINT and SIGTERM at their defaults in the child, whatever this process inherited (a background job ignores
    SIGINT)."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)


# curate run, with the signal sent to itself inside ray.init, after Ray installed its own SIGTERM handler (the moment
# the fault campaign hit by chance, which a timer cannot aim at)
SIGNAL_INSIDE_RAY_INIT = """
import os, signal, sys
import ray._private.worker as worker
connect, signum = worker.connect, int(sys.argv.pop(1))
def signalled_connect(*args, **kwargs):
    os.kill(os.getpid(), signum)
    return connect(*args, **kwargs)
worker.connect = signalled_connect
from curate.cli import main
sys.exit(main())
"""


@pytest.mark.slow
@pytest.mark.parametrize(("how", "code", "line"), [(signal.SIGTERM, 143, "curate: terminated"),
                                                   (signal.SIGKILL, -9, "")])
def test_a_signal_while_ray_starts_is_one_line_and_leaves_no_ray_process(tmp_path, how, code, line):
    """A SIGTERM inside ray.init once exited 15 with Ray's C++ stack dump (Ray's handler, a bare sys.exit), or left
    2 of Ray's processes running, and a SIGKILL there left the agents a watcher had not noted yet (the fault
    campaign): a held signal ends the run as at any other moment, with curate's line (SIGINT is held the same way,
    and the campaign tries it), and after either none of Ray's processes is left."""
    ray_temp = Path(tempfile.mkdtemp(prefix="curate-ray-sig-"))
    curate = subprocess.run([sys.executable, "-c", SIGNAL_INSIDE_RAY_INIT, str(int(how)), "run", str(QUICKSTART),
                             "--executor", "ray", "--workers", "2", "--workdir", str(tmp_path / "out")], cwd=ROOT,
                            env={**os.environ, "RAY_TMPDIR": str(ray_temp)}, capture_output=True, text=True,
                            timeout=300, preexec_fn=default_signals)
    try:
        assert curate.returncode == code, curate.stderr[-2000:]
        if line:
            assert "Traceback" not in curate.stderr and curate.stderr.strip().splitlines()[-1].startswith(line)
        deadline = time.monotonic() + 15
        while processes_naming(ray_temp) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert processes_naming(ray_temp) == []
    finally:
        shutil.rmtree(ray_temp, ignore_errors=True)


@pytest.mark.slow
def test_a_sigint_the_process_ignores_stays_ignored_while_ray_starts(tmp_path):
    """In a shell's background job SIGINT is ignored; holding it during Ray's start once caught it anyway and
    stopped the run half-way ("the run is stopping", exit 1): the fault campaign, run in the background."""
    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    ray_temp = Path(tempfile.mkdtemp(prefix="curate-ray-ign-"))
    pipeline = tmp_path / "one.yaml"  # one node of one file: the run only has to get past Ray's start
    pipeline.write_text(f'nodes:\n  text: {{input: {{warc: "{QUICKSTART.parent}/sample/sample-0000.warc.gz"}}}}\n')
    try:
        done = subprocess.run([sys.executable, "-c", SIGNAL_INSIDE_RAY_INIT, str(int(signal.SIGINT)), "run",
                               str(pipeline), "--executor", "ray", "--workers", "2", "--workdir",
                               str(tmp_path / "out")], cwd=ROOT, env={**os.environ, "RAY_TMPDIR": str(ray_temp)},
                              capture_output=True, text=True, timeout=300, preexec_fn=ignore_sigint)
        assert done.returncode == 0, done.stderr[-2000:]
    finally:
        shutil.rmtree(ray_temp, ignore_errors=True)
