"""Object storage and cluster overhead, measured side by side in one script:

1. the quickstart pipeline in-process with its inputs and workdir on a local S3 API server (moto, 127.0.0.1)
   against the same pipeline on local disk: runs interleaved (disk, S3, disk, S3, ...), median wall time each, and
   the ratio S3 / disk;
2. the same S3 pipeline through a Ray cluster of two nodes against one node (each node one CPU, started with
   `ray start` on this machine): median of interleaved runs, and the ratio. Both clusters share this machine's cores,
   so on a 2-core machine this measures Ray's overhead, not a speed-up.

    python bench/storage.py [--repeat 3] [--skip-cluster]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from curate.config import load_pipeline  # noqa: E402
from curate.dag import run_pipeline  # noqa: E402
from curate.executors.local import LocalExecutor  # noqa: E402
from tests.services import RayCluster, ray_cluster_running, s3_server_running  # noqa: E402

QUICKSTART = ROOT / "pipelines" / "quickstart.yaml"


def in_process(pipeline: Path, workdir: str) -> float:
    started = time.perf_counter()
    with LocalExecutor() as executor:
        run_pipeline(load_pipeline(str(pipeline), workdir=workdir), executor, log=lambda line: None)
    return time.perf_counter() - started


def on_cluster(cluster: RayCluster, pipeline: Path, workdir: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "curate.cli", "run", str(pipeline), "--address", cluster.address,
                    "--workdir", workdir], env=cluster.env, check=True, capture_output=True)
    return time.perf_counter() - started


def report(label: str, a: tuple[str, list[float]], b: tuple[str, list[float]]) -> None:
    (name_a, times_a), (name_b, times_b) = a, b
    median_a, median_b = statistics.median(times_a), statistics.median(times_b)
    print(f"{label}: {name_a} {median_a:.2f} s, {name_b} {median_b:.2f} s (medians of {len(times_a)}); "
          f"{name_b} / {name_a} = {median_b / median_a:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-cluster", action="store_true")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as folder, s3_server_running() as s3:
        for path in sorted((ROOT / "pipelines" / "sample").glob("*.warc*")):
            s3.upload(path, f"sample/{path.name}")
        s3_pipeline = Path(folder) / "quickstart-s3.yaml"
        s3_pipeline.write_text(QUICKSTART.read_text().replace('"sample/*.warc*"', f'"{s3.uri("sample/*.warc*")}"'))
        disk, remote = [], []
        for run in range(args.repeat):  # interleaved, so that load drifts hit both alike
            disk.append(in_process(QUICKSTART, f"{folder}/disk-{run}"))
            remote.append(in_process(s3_pipeline, s3.uri(f"bench/s3-{run}")))
        report("quickstart in-process, inputs and workdir", ("local disk", disk), ("S3 server", remote))
        if args.skip_cluster:
            return
        env = {**os.environ, **s3.env}
        with ray_cluster_running(1, Path(folder) / "one", env) as one, \
                ray_cluster_running(2, Path(folder) / "two", env) as two:
            single, double = [], []
            for run in range(args.repeat):
                single.append(on_cluster(one, s3_pipeline, s3.uri(f"bench/one-{run}")))
                double.append(on_cluster(two, s3_pipeline, s3.uri(f"bench/two-{run}")))
        report("quickstart on Ray, S3 inputs and workdir", ("1 node", single), ("2 nodes", double))
        print(f"(each node has 1 CPU of this machine's {os.cpu_count()}: with 2 cores, both clusters compete for the "
              "same cores, so the ratio shows Ray's overhead, not what a second machine would add)")


if __name__ == "__main__":
    main()
