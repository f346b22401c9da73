"""Integration: the quickstart on the embedded Ray gives the same bytes as in-process, and its counts add up."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.config import load_pipeline
from curate.dag import run_pipeline
from curate.executors import make_executor
from tests.conftest import QUICKSTART, ROOT, output_files

pytestmark = pytest.mark.ray


def test_quickstart_on_ray_matches_local_byte_for_byte(ray_cluster, quickstart_local, tmp_path):
    with make_executor("ray") as executor:
        reports = run_pipeline(load_pipeline(str(QUICKSTART), workdir=str(tmp_path)), executor, log=lambda line: None)
    assert [r.computed for r in reports] == [10, 10, 10, 10, 10]
    local, distributed = output_files(quickstart_local), output_files(tmp_path)
    # text, unique, deduped: kept and rejected, 10 each; 3 shards (scratch files are deleted when a node commits)
    assert len(local) == 63 and local == distributed
    for name in ("bpe/tokenizer.curate.json", "bpe/tokenizer.json", "_curate/shards/manifest.json"):
        assert (quickstart_local / name).read_bytes() == (tmp_path / name).read_bytes()


def test_quickstart_accounting(quickstart_local):
    success = json.loads((quickstart_local / "_curate" / "text" / "commit.json").read_text())
    stages = {s["stage"]: s for s in success["stages"]}
    assert list(stages) == ["warc", "extract", "normalize", "min_length"]
    for stage in stages.values():
        assert stage["docs_in"] == stage["kept"] + sum(stage["skipped"].values()) + sum(
            stage["rejected"].values()) + sum(stage["failed"].values())
    assert stages["warc"]["kept"] == stages["extract"]["docs_in"] > 200
    reasons: dict[str, int] = {}
    for path in (quickstart_local / "_rejected" / "text").glob("*.parquet"):
        for reason in pq.read_table(path, columns=["reject_reason"]).column(0).to_pylist():
            reasons[reason] = reasons.get(reason, 0) + 1
    expected = {}
    for stage in stages.values():
        for reason, count in {**stage["rejected"], **stage["failed"]}.items():
            expected[reason] = expected.get(reason, 0) + count
    assert reasons == expected
    kept = sum(pq.read_metadata(p).num_rows for p in (quickstart_local / "text").glob("part-*.parquet"))
    assert kept == success["docs_out"] == stages["min_length"]["kept"]


def test_a_ray_task_error_is_reported_per_task(ray_cluster):
    with make_executor("ray") as executor:
        outcomes = {task: (result, error) for task, result, error in executor.map(_fail_on_two, [1, 2, 3])}
    assert outcomes[1] == (10, None) and outcomes[3] == (30, None)
    assert outcomes[2][0] is None and "ValueError: two" in outcomes[2][1]


def _fail_on_two(x: int) -> int:
    if x == 2:
        raise ValueError("two")
    return x * 10


def test_serial_work_is_a_ray_task_on_a_joined_cluster_and_a_process_of_its_own_otherwise(ray_cluster):
    """A node's serial work (a model's training) leaves the driver: a task with the node's options on a cluster the
    run joined, a child process on the Ray it started (this machine is then the cluster, and the work need not wait
    for Ray's start-up). Its errors come back as RunError with the function's message."""
    import ray

    from curate.errors import RunError
    from curate.executors.base import TaskOptions

    joined = make_executor("ray", address=ray.get_runtime_context().gcs_address)
    with joined as executor:
        where, cpu_s = executor.run_serial(_where_it_runs, 3, TaskOptions("lm:train"))
        assert where[0] == "ray task" and where[1] != os.getpid() and cpu_s >= 0
        with pytest.raises(RunError, match="^lmplz failed: no memory$"):
            executor.run_serial(_fail_as_lmplz, 0, TaskOptions("lm:train"))
    with make_executor("ray") as executor:
        assert executor.run_serial(_where_it_runs, 3)[0][0] == "child process"


def _where_it_runs(_: int) -> tuple[str, int]:
    import ray

    in_task = ray.is_initialized() and ray.get_runtime_context().get_task_id() is not None
    return ("ray task" if in_task else "child process"), os.getpid()


def _fail_as_lmplz(_: int) -> None:
    from curate.errors import RunError

    raise RunError("lmplz failed: no memory")


@pytest.mark.slow
def test_curate_starts_its_own_ray_without_the_cluster_services_and_stops_it(quickstart_local, tmp_path):
    """With no cluster to join, `curate run` starts a Ray for the run: without the autoscaler's monitor and the log
    monitor (curate/executors/ray.py, start_local_ray), with the in-process bytes, and none of its processes left."""
    ray_temp = Path(tempfile.mkdtemp(prefix="curate-ray-test-"))  # short: Ray's socket paths must fit 107 bytes
    try:
        done = subprocess.run([sys.executable, "-m", "curate.cli", "run", str(QUICKSTART), "--executor", "ray",
                               "--workers", "2", "--workdir", str(tmp_path / "out")], cwd=ROOT,
                              env={**os.environ, "RAY_TMPDIR": str(ray_temp)}, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "starting a local Ray" in done.stdout
        ray_log = done.stdout.split("(Ray's own messages: ")[1].split(")")[0]
        assert not os.path.exists(ray_log) or os.path.getsize(ray_log) > 0  # no empty log left behind, one per run
        assert output_files(tmp_path / "out") == output_files(quickstart_local)
        logs = {name.split(".")[0] for name in os.listdir(next(ray_temp.glob("**/session_2*")) / "logs")}
        assert {"gcs_server", "raylet"} <= logs  # Ray's own processes ran ...
        assert not {"monitor", "log_monitor"} & logs  # ... but not these two
        processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
        assert str(ray_temp) not in processes
    finally:
        shutil.rmtree(ray_temp, ignore_errors=True)


def test_a_rerun_with_everything_committed_starts_no_ray(quickstart_local, tmp_path):
    """Ray starts with the first task: a rerun that reuses every node never starts it (2-6 s saved)."""
    workdir = tmp_path / "out"
    shutil.copytree(quickstart_local, workdir)
    done = subprocess.run([sys.executable, "-m", "curate.cli", "run", str(QUICKSTART), "--workdir", str(workdir)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "on ray" in done.stdout and "starting a local Ray" not in done.stdout
    assert "(0 computed, 10 reused)" in done.stdout


def test_a_ray_that_does_not_start_is_one_line_and_leaves_no_node_behind(monkeypatch, tmp_path):
    """On a loaded host Ray's start fails with "node timed out during startup": one line naming Ray's own log, exit
    1 (RunError), and the head node curate started is stopped rather than left running."""
    import ray

    from curate.errors import RunError
    from curate.executors import ray as ray_executor

    stopped: list[dict] = []

    class StartedNode:
        address = "127.0.0.1:6379"

        def kill_all_processes(self, **how: bool) -> None:
            stopped.append(how)

    def timed_out(**options: object) -> None:
        raise Exception("The current node timed out during startup. This could happen because some of the Ray\n"
                        "processes failed to startup.")

    monkeypatch.setattr(ray_executor, "start_local_ray", lambda cpus, dashboard: StartedNode())
    monkeypatch.setattr(ray, "init", timed_out)
    monkeypatch.setattr(ray_executor, "ray_log_file", lambda: str(tmp_path / "ray.log"))
    executor = ray_executor.RayExecutor(workers=1, log=lambda line: None)
    with pytest.raises(RunError) as caught:
        executor._start_ray()
    assert str(caught.value) == ("could not start a local Ray: Exception: The current node timed out during startup. "
                                 "This could happen because some of the Ray processes failed to startup. (Ray's own "
                                 f"messages: {tmp_path / 'ray.log'})")
    assert stopped and executor._node is None


def test_errors_the_cluster_publishes_go_to_ray_s_log_not_the_terminal(ray_cluster, tmp_path, capfd):
    """Ray's driver prints what the cluster publishes (a worker killed, a node lost: the agents' "Raylet is
    terminated" included) from a thread straight to stdout; curate's runs send it to the log file they name."""
    import ray
    from ray._private.utils import publish_error_to_driver

    from curate.executors.ray import cluster_errors_to_log, ray_messages_to

    log_file = tmp_path / "ray.log"
    cluster_errors_to_log()
    with ray_messages_to(str(log_file)):
        message = "Raylet is terminated. Termination is unexpected (published by the test)"
        publish_error_to_driver("raylet_died", message, gcs_client=ray._private.worker.global_worker.gcs_client)
        deadline = time.monotonic() + 20
        while message not in log_file.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
    assert "(raylet) " + message in log_file.read_text()
    captured = capfd.readouterr()
    assert message not in captured.out and message not in captured.err
