"""A real Ray cluster of two nodes on this machine, started with `ray start` (token authentication on, as Ray 2.59+
does by default), each node with its own temp dir and working directory and no shared disk: the pipeline's inputs
and workdir are on the S3 server. The run spreads over both nodes, gives the bytes of the local run, and writes no
local file; `ray job submit` runs curate as the README shows (issue 11)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import QUICKSTART, ROOT
from tests.services import RAY, RayCluster, S3Server, ray_cluster_running
from tests.test_object_storage import by_content, local_files, put_path_list

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(s3_server: S3Server, tmp_path_factory) -> Iterator[RayCluster]:
    folder = tmp_path_factory.mktemp("cluster")
    with ray_cluster_running(2, folder, {**os.environ, **s3_server.env}) as running:
        running.folders["driver"] = folder / "driver"
        running.folders["driver"].mkdir()
        yield running


def quickstart_on_s3(s3_server: S3Server, folder: Path) -> Path:
    pipeline = folder / "quickstart.yaml"
    pipeline.write_text(QUICKSTART.read_text().replace('"sample/*.warc*"', f'"{s3_server.uri("sample/*.warc*")}"'))
    return pipeline


def submit_job(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """`ray job submit`, again while the head's job agent is still starting (Ray answers "No available agent to
    submit job" for a while after `ray start` on a loaded machine): at most 12 tries, 5 s apart."""
    for _ in range(12):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        if "No available agent" not in result.stderr:
            return result
        time.sleep(5)
    return result


def test_two_nodes_without_a_shared_disk_give_the_local_bytes(cluster, s3_server, quickstart_local, tmp_path):
    pipeline = quickstart_on_s3(s3_server, tmp_path)
    result = subprocess.run([sys.executable, "-m", "curate.cli", "run", str(pipeline), "--address", cluster.address,
                             "--workdir", s3_server.uri("cluster/quickstart")], cwd=cluster.folders["driver"],
                            env=cluster.env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "joined the Ray cluster at " in result.stdout and ": 2 nodes, 2 CPUs" in result.stdout, result.stdout[:500]
    written = s3_server.objects("cluster/quickstart")
    assert by_content(written) == by_content(local_files(quickstart_local))
    hosts = json.loads(written["_curate/text/commit.json"])["hosts"]  # where the partitions ran, for inspect
    assert len(hosts) == 2 and sum(hosts.values()) == 10 and all("(Ray node " in host for host in hosts), hosts
    tasks = subprocess.run([RAY, "list", "tasks", "--address", cluster.dashboard, "--detail", "--format", "json",
                            "--limit", "10000"], env=cluster.env, capture_output=True, text=True, check=True)
    nodes_by_task: dict[str, set[str]] = {}
    for task in json.loads(tasks.stdout):
        nodes_by_task.setdefault(task["name"], set()).add(task["node_id"])
    assert len(nodes_by_task["curate text:partitions"]) == 2  # the partitions ran on both nodes
    assert {"curate deduped:map_keys", "curate deduped:reduce_keys", "curate shards:encode_partition"} <= set(
        nodes_by_task)
    for name, folder in cluster.folders.items():  # no worker (and not the driver) wrote a local file
        assert [p for p in folder.rglob("*")] == [], name


def test_a_crawl_as_three_shard_jobs_at_once_and_a_merge_on_the_cluster(cluster, s3_server, quickstart_local,
                                                                         tmp_path):
    """Issue 26: a path list, three `--shard i/3` jobs running at once on one S3 workdir (each writes its share of
    the per-document node, none deletes another's), then the merge on the two-node cluster, which reuses every
    shard's partitions and deduplicates, trains the tokenizer and tokenizes across all of them: the quickstart's
    one-job bytes."""
    put_path_list(s3_server, "lists/quickstart.paths.gz")
    pipeline = tmp_path / "quickstart.yaml"
    pipeline.write_text(QUICKSTART.read_text().replace(
        '{warc: "sample/*.warc*"}',
        f'{{warc: {{paths: "{s3_server.uri("lists/quickstart.paths.gz")}", prefix: "s3://{s3_server.bucket}/"}}}}'))
    workdir = s3_server.uri("crawl/quickstart")
    command = [sys.executable, "-m", "curate.cli", "run", str(pipeline), "--executor", "local", "--workdir", workdir]
    env = cluster.env
    jobs = [subprocess.Popen([*command, "--shard", f"{i}/3"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for i in range(3)]
    outputs = [job.communicate(timeout=300) for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0, 0], [err[-2000:] for _, err in outputs]
    assert "shard 0/3: 4 of the 10 input files of node text; this job runs text; the merge" in outputs[0][0]
    shared = s3_server.objects("crawl/quickstart")
    assert {key.split("/")[0] for key in shared} == {"text", "_rejected", "_curate"}  # each lock gone with its job
    assert len([key for key in shared if key.startswith("text/part-")]) == 10  # 4 + 3 + 3 partitions, none lost
    merge = subprocess.run([*command[:-4], "--address", cluster.address, "--workdir", workdir],
                           cwd=cluster.folders["driver"], env=env, capture_output=True, text=True, timeout=300)
    assert merge.returncode == 0, merge.stderr[-2000:]
    assert "node text: 10 partitions (0 computed, 10 reused)" in merge.stdout
    assert by_content(s3_server.objects("crawl/quickstart")) == by_content(local_files(quickstart_local))
    # the tokenizer's merges, the merge's serial work, ran as a task on a cluster node, not in the driver
    tasks = subprocess.run([RAY, "list", "tasks", "--address", cluster.dashboard, "--detail", "--format", "json",
                            "--filter", "name=curate bpe:merges"], env=cluster.env, capture_output=True, text=True,
                           check=True)
    nodes = {node["node_id"] for node in json.loads(subprocess.run(
        [RAY, "list", "nodes", "--address", cluster.dashboard, "--format", "json"], env=cluster.env,
        capture_output=True, text=True, check=True).stdout)}
    merges = json.loads(tasks.stdout)
    assert merges and all(task["state"] == "FINISHED" and task["node_id"] in nodes for task in merges), merges


def test_ray_job_submit_as_the_readme_shows(cluster, s3_server, quickstart_local, tmp_path):
    job_folder = tmp_path / "job"
    job_folder.mkdir()
    quickstart_on_s3(s3_server, job_folder)
    submit = [RAY, "job", "submit", "--address", cluster.dashboard, "--working-dir", str(job_folder), "--",
              "curate", "run", "quickstart.yaml"]
    # (a relative workdir inside the job's package is refused: tests/test_object_storage.py, with Ray's path form)
    done = submit_job([*submit, "--workdir", s3_server.uri("job/quickstart")], cluster.env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert by_content(s3_server.objects("job/quickstart")) == by_content(local_files(quickstart_local))
