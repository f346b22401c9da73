"""How well does a second worker help? cc_en.yaml run from scratch with 1 and 2 workers, on the embedded Ray and on
the local process pool, interleaved (A B C D, A B C D, ...; medians), each in a fresh workdir and a fresh process.

Prints, per executor, the wall times and the 2-vs-1 ratio, Ray's start-up, and, per node of the 2-worker run, its
wall time and the time during which only one thing was running anywhere and it was this node's (a task, or the
driver's own serial work: a model's training, DSIR's target counts, BPE's merges, dedup's resolution), from the
timeline curate records when CURATE_TIMELINE is set (curate/timeline.py). That single-task time is what a second
worker cannot shorten.

    python bench/scaling.py [--repeats 2] [--pipeline pipelines/cc_en.yaml]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import corpus_or_exit, load_line  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = (("ray", 1), ("ray", 2), ("local", 1), ("local", 2))


def run_once(pipeline: str, executor: str, workers: int, scratch: Path) -> dict:
    workdir = scratch / f"{executor}-{workers}-{time.monotonic_ns()}"
    timeline = scratch / f"{workdir.name}.timeline"
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "curate.cli", "run", pipeline, "--executor", executor, "--workers",
                             str(workers), "--workdir", str(workdir)], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "CURATE_TIMELINE": str(timeline)})
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"curate run failed:\n{result.stderr[-2000:]}")
    log = result.stdout + result.stderr
    ray_start = re.search(r"Ray started in ([0-9.]+) s", log)
    nodes = {m.group(1): float(m.group(2)) for m in re.finditer(r"^node (\S+): .*, ([0-9.]+)s$", log, re.MULTILINE)}
    return {"wall": wall, "ray_start": float(ray_start.group(1)) if ray_start else 0.0, "nodes": nodes,
            "single": single_task_time(timeline)}


def single_task_time(path: Path) -> dict[str, float]:
    """Per node, the seconds during which exactly one thing was running and it was that node's."""
    events = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    running: dict[str, int] = defaultdict(int)
    alone: dict[str, float] = defaultdict(float)
    last = events[0]["t"] if events else 0.0
    for event in sorted(events, key=lambda e: e["t"]):
        busy = [label for label, count in running.items() if count > 0]
        if sum(running[label] for label in busy) == 1:
            alone[busy[0].split(":")[0]] += event["t"] - last
        running[event["label"]] += event["delta"]
        last = event["t"]
    return dict(alone)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--pipeline", default=str(ROOT / "pipelines" / "cc_en.yaml"))
    args = parser.parse_args()
    corpus_or_exit()
    print(f"load before: {load_line()}")
    runs: dict[tuple[str, int], list[dict]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="curate-scaling-") as scratch:
        for repeat in range(args.repeats):
            for executor, workers in CONFIGS:
                run = run_once(args.pipeline, executor, workers, Path(scratch))
                runs[(executor, workers)].append(run)
                print(f"  round {repeat + 1}: {executor} x{workers}: {run['wall']:.1f} s", flush=True)
    print(f"load after: {load_line()}\n")
    print(f"{'executor':<8} {'1 worker s':>10} {'2 workers s':>11} {'ratio':>6} {'Ray start s':>11}")
    for executor in ("ray", "local"):
        one = statistics.median(r["wall"] for r in runs[(executor, 1)])
        two = statistics.median(r["wall"] for r in runs[(executor, 2)])
        start = statistics.median(r["ray_start"] for r in runs[(executor, 2)])
        print(f"{executor:<8} {one:>10.1f} {two:>11.1f} {one / two:>5.2f}x {start if executor == 'ray' else 0:>11.1f}")
    for executor in ("ray", "local"):
        print(f"\n{executor}, 2 workers (medians): node wall s, and s with only this node's one task running")
        best = runs[(executor, 2)]
        names = list(best[0]["nodes"])
        total_alone = 0.0
        for name in names:
            wall = statistics.median(r["nodes"].get(name, 0.0) for r in best)
            alone = statistics.median(r["single"].get(name, 0.0) for r in best)
            total_alone += alone
            print(f"  {name:<16} {wall:>6.1f} {alone:>6.1f}")
        wall = statistics.median(r["wall"] for r in best)
        print(f"  {'(one task alone)':<16} {total_alone:>6.1f} of {wall:.1f} s wall ({total_alone / wall:.0%})")


if __name__ == "__main__":
    main()
