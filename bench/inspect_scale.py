"""`curate inspect` at two node sizes: its time and peak memory stay flat as the node grows tenfold, because it reads
commit records (curate/sketch.py), where reading every row (what inspect did before) grows with the data.

Two nodes are made by running a real pipeline (JSON Lines -> normalize, min_length) over synthetic documents: about
1 GB and 10 GB of text (the 10 GB input is the 1 GB input's files copied ten times under other names). Then, in a
fresh process each, side by side: `curate inspect WORKDIR --json`, and a full read of the node's rows (pyarrow,
every column, kept and rejected), with wall time and peak RSS.

    python bench/inspect_scale.py [--gigabytes 1 10] [--folder /tmp/curate-inspect-scale]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILE_BYTES = 50_000_000
WORDS = ("the of and to in a is that for it as was with be by on not he this are or his from at which but have an "
         "they you were her she there been one all we their has would when if so no will can more other what time "
         "river garden market council station history season library engine winter harbour village painting").split()

READ_ALL = """
import resource, sys, pyarrow.parquet as pq
from pathlib import Path
rows = 0
for folder in (Path(sys.argv[1]) / "docs", Path(sys.argv[1]) / "_rejected" / "docs"):
    for path in sorted(folder.glob("*.parquet")):
        table = pq.read_table(path)
        rows += table.num_rows
        del table
print(rows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
INSPECT = """
import resource, sys, json
from curate.report.collect import collect
report = collect(sys.argv[1])
print(report["nodes"][0]["docs_in"], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def write_inputs(folder: Path, total_bytes: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    written, number, file_index = 0, 0, 0
    while written < total_bytes:
        with open(folder / f"part-{file_index:04d}.jsonl", "w", encoding="utf-8") as handle:
            size = 0
            while size < FILE_BYTES and written + size < total_bytes:
                words = rng.choices(WORDS, k=rng.randrange(20, 1500))
                line = json.dumps({"id": f"doc-{number:09d}", "url": f"https://site{number % 997}.example/{number}",
                                   "text": " ".join(words).capitalize() + "."}) + "\n"
                handle.write(line)
                size += len(line)
                number += 1
        written += size
        file_index += 1


def build(folder: Path, gigabytes: int, base: Path) -> Path:
    data = folder / f"data-{gigabytes}gb"
    if not data.exists():
        data.mkdir(parents=True)
        for copy in range(gigabytes):
            for path in sorted(base.glob("*.jsonl")):
                shutil.copy(path, data / f"copy{copy:02d}-{path.name}")
    workdir = folder / f"out-{gigabytes}gb"
    pipeline = folder / f"p-{gigabytes}gb.yaml"
    pipeline.write_text(f"""
workdir: {workdir}
nodes:
  docs:
    input: {{jsonl: "{data}/*.jsonl"}}
    steps: [normalize, {{min_length: {{min_chars: 400}}}}]
""")
    subprocess.run([sys.executable, "-m", "curate.cli", "run", str(pipeline), "--executor", "local", "--workers", "2"],
                   cwd=ROOT, check=True, capture_output=True)
    return workdir


def measure(code: str, workdir: Path) -> tuple[float, float]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, str(workdir)], cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout.split()
    return time.perf_counter() - started, int(out[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=int, nargs="*", default=[1, 10])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/curate-inspect-scale"))
    args = parser.parse_args()
    base = args.folder / "base"
    if not base.exists():
        write_inputs(base, 1_000_000_000)
    print(f"{'node':>8} {'documents':>11} {'data MB':>9} {'inspect s':>10} {'inspect RSS MiB':>16} "
          f"{'read all rows s':>16} {'read RSS MiB':>13}")
    for gigabytes in args.gigabytes:
        workdir = build(args.folder, gigabytes, base)
        size = sum(p.stat().st_size for p in workdir.rglob("*.parquet")) / 1e6
        inspect_s, inspect_rss = measure(INSPECT, workdir)
        read_s, read_rss = measure(READ_ALL, workdir)
        documents = json.loads((workdir / "_curate" / "docs" / "commit.json").read_text())["stages"][0]["docs_in"]
        print(f"{gigabytes:>6}GB {documents:>11,} {size:>9,.0f} {inspect_s:>10.2f} {inspect_rss:>16.0f} "
              f"{read_s:>16.2f} {read_rss:>13.0f}", flush=True)


if __name__ == "__main__":
    main()
