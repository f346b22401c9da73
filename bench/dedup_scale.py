"""Deduplication at 10k, 100k and 1M documents, and at a fixed number of documents cut into 10 to 10,000
partitions: wall time, peak memory and the shuffle's scratch files, on one core.

Documents are synthesised from the real extracted pages of the shared corpus: each is a 150-word window of a page
with 30% of its words replaced by words drawn from the whole corpus (so two documents share almost no 5-gram), and
one document in ten is instead a near-copy of an earlier one (2% of its words replaced: Jaccard about 0.85). Every
size is written as JSON Lines files of 10,000 documents, one partition each, and the pipeline
docs -> exact_dedup -> minhash_dedup runs in a fresh process on the in-process executor; its peak RSS is read from
the kernel (getrusage of the child) and each node's wall time from the run's report.

Memory should stay flat as the corpus grows, apart from the duplicate edges the driver resolves (about 0.1 per
document here): map and write tasks hold one partition, reduce tasks one key range. With the documents fixed and the
partitions multiplied, time and scratch files should grow linearly (one shuffle file per map task; key ranges
sized by records, not by partitions), never with partitions squared.

    python bench/dedup_scale.py [--sizes 10000 100000 1000000] [--partitions 10 100 1000 10000 --documents 50000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT  # noqa: E402
from filters import load_documents  # noqa: E402

DOCS_PER_FILE = 10_000
WINDOW_WORDS = 150
REPLACED = 0.30  # of a fresh document's words
NEAR_COPY_SHARE = 0.10  # of documents that copy an earlier one
NEAR_COPY_EDITS = 0.02  # of a near-copy's words


def synthesise(size: int, pages: list[list[str]], vocabulary: list[str], folder: Path, seed: int = 0,
               docs_per_file: int = DOCS_PER_FILE) -> None:
    rng = random.Random(seed)
    pages = [p for p in pages if len(p) >= WINDOW_WORDS]
    recent: list[list[str]] = []  # the last documents, for near-copies (bounded: the generator's memory is flat)
    folder.mkdir(parents=True)
    for start in range(0, size, docs_per_file):
        with open(folder / f"docs-{start // docs_per_file:05d}.jsonl", "w") as handle:
            for number in range(start, min(size, start + docs_per_file)):
                if recent and rng.random() < NEAR_COPY_SHARE:
                    words = list(rng.choice(recent))
                    edits = NEAR_COPY_EDITS
                else:
                    page = rng.choice(pages)
                    offset = rng.randrange(len(page) - WINDOW_WORDS + 1)
                    words = page[offset : offset + WINDOW_WORDS]
                    edits = REPLACED
                for position in rng.sample(range(len(words)), int(edits * len(words))):
                    words[position] = rng.choice(vocabulary)
                recent = (recent + [words])[-1000:]
                handle.write(json.dumps({"id": f"doc-{number:08d}", "text": " ".join(words)}) + "\n")


def run(folder: Path) -> dict:
    pipeline = folder / "pipeline.yaml"
    pipeline.write_text(f"""
workdir: {folder / "out"}
nodes:
  docs: {{input: {{jsonl: "{folder / "data"}/*.jsonl"}}}}
  unique: {{exact_dedup: {{input: docs}}}}
  deduped: {{minhash_dedup: {{input: unique}}}}
""")
    # The child counts each node's scratch files when the node deletes them at commit, and reports its own peak RSS.
    code = ("import json, os, resource, sys\n"
            "from curate import storage\nfrom curate.config import load_pipeline\nfrom curate.dag import run_pipeline\n"
            "from curate.executors.local import LocalExecutor\n"
            "scratch, rmtree = {}, storage.rmtree\n"
            "def counting_rmtree(path):\n"
            "    scratch[os.path.basename(os.path.dirname(path))] = len(storage.list_files(path))\n"
            "    rmtree(path)\n"
            "storage.rmtree = counting_rmtree\n"
            "with LocalExecutor() as executor:\n"
            "    reports = run_pipeline(load_pipeline(sys.argv[1]), executor, log=lambda line: None)\n"
            "print(json.dumps({'nodes': {r.name: [r.wall_s, r.docs_out, r.rejected_out] for r in reports},\n"
            "                  'scratch': scratch, 'peak_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))\n")
    timeline = folder / "timeline.jsonl"
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code, str(pipeline)], cwd=ROOT, capture_output=True, text=True,
                            check=True, env={**os.environ, "CURATE_TIMELINE": str(timeline)})
    wall = time.perf_counter() - started
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return {"wall_s": wall, "peak_rss_mib": report["peak_kib"] / 1024, "nodes": report["nodes"],
            "scratch": report["scratch"], "resolve_s": resolve_seconds(timeline)}


def resolve_seconds(timeline: Path) -> float:
    """The driver's serial time resolving duplicates (both nodes), from the run's timeline (curate/timeline.py)."""
    events = [json.loads(line) for line in timeline.read_text().splitlines()] if timeline.exists() else []
    spans = [e for e in events if e["label"].endswith(":resolve")]
    return sum(-e["t"] if e["delta"] > 0 else e["t"] for e in spans)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--partitions", type=int, nargs="*", default=[10, 100, 1_000, 10_000])
    parser.add_argument("--documents", type=int, default=50_000, help="documents of the partition-count axis")
    parser.add_argument("--folder", type=Path, default=Path("/tmp/curate-dedup-scale"))
    args = parser.parse_args()
    texts = load_documents().column("text").to_pylist()
    pages = [t.split() for t in texts]
    vocabulary = sorted({w for page in pages for w in page})
    print(f"{len(pages)} real pages, {len(vocabulary)} distinct words")
    rows = [(size, max(1, size // DOCS_PER_FILE)) for size in sorted(args.sizes)]
    rows += [(args.documents, count) for count in sorted(args.partitions)]
    print(f"{'documents':>10}{'parts':>7}{'total s':>9}{'read s':>8}{'exact s':>9}{'minhash s':>11}{'us/doc':>8}"
          f"{'peak RSS MiB':>14}{'scratch files':>15}{'exact dups':>12}{'near dups':>11}{'resolve s':>11}")
    for size, partitions in rows:
        folder = args.folder / f"{size}-{partitions}"
        shutil.rmtree(folder, ignore_errors=True)
        synthesise(size, pages, vocabulary, folder / "data", docs_per_file=-(-size // partitions))
        result = run(folder)
        nodes, scratch = result["nodes"], result["scratch"]
        print(f"{size:>10,}{partitions:>7,}{result['wall_s']:>9.1f}{nodes['docs'][0]:>8.1f}{nodes['unique'][0]:>9.1f}"
              f"{nodes['deduped'][0]:>11.1f}{1e6 * result['wall_s'] / size:>8.0f}{result['peak_rss_mib']:>14.0f}"
              f"{scratch.get('unique', 0) + scratch.get('deduped', 0):>15,}{nodes['unique'][2]:>12,}"
              f"{nodes['deduped'][2]:>11,}{result['resolve_s']:>11.2f}", flush=True)
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
