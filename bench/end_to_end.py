"""End to end, curate against datatrove with the same blocks: WARC reading, trafilatura, language ID (lid.176, en >=
0.65), Gopher repetition and quality, C4, FineWeb quality, MinHash deduplication (5-grams, 14 bands x 8 rows), at 1
and 2 workers, on every packed WARC file of the shared corpus.

Each run is a fresh process (curate: `curate run --executor local --workers N`; datatrove: its FineWeb-style
LocalPipelineExecutor stages, signatures written beside the filtered documents, then buckets, clusters, filter), the
two tools interleaved (A B, A B, ...) and each figure the median of the rounds. Measured per run: wall time,
whole-tree CPU (the process and every child it waited for, from getrusage), documents per second per core, the
peak resident memory of the largest process, and at the end how many of the kept documents (by WARC record id) the
two share. datatrove's language model is lid.176 too: curate's copy is placed where datatrove looks for it, since
nothing may be downloaded.

    python bench/end_to_end.py [--workers 1 2] [--repeats 3] [--files 13]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, corpus_or_exit, load_line  # noqa: E402

from curate.stages.langid import DEFAULT_MODEL  # noqa: E402

DATATROVE = """
import sys
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
from datatrove.pipeline.dedup.minhash import MinhashConfig
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                        GopherRepetitionFilter, LanguageFilter)
from datatrove.pipeline.readers import JsonlReader, WarcReader
from datatrove.pipeline.writers import JsonlWriter

data, out, workers, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
config = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8)
common = dict(workers=workers, start_method="fork")
LocalPipelineExecutor(pipeline=[
    WarcReader(data, glob_pattern="*.warc.gz"), Trafilatura(favour_precision=True, timeout=1.0),
    LanguageFilter(languages=["en"], language_threshold=0.65), GopherRepetitionFilter(), GopherQualityFilter(),
    C4QualityFilter(filter_no_terminal_punct=False), FineWebQualityFilter(),
    JsonlWriter(f"{out}/filtered"), MinhashDedupSignature(output_folder=f"{out}/signatures", config=config),
], tasks=files, logging_dir=f"{out}/logs/1", **common).run()
LocalPipelineExecutor(pipeline=[MinhashDedupBuckets(input_folder=f"{out}/signatures", output_folder=f"{out}/buckets",
                                                    config=config)], tasks=config.num_buckets,
                      logging_dir=f"{out}/logs/2", **common).run()
LocalPipelineExecutor(pipeline=[MinhashDedupCluster(input_folder=f"{out}/buckets", output_folder=f"{out}/remove",
                                                    config=config)], tasks=1, logging_dir=f"{out}/logs/3",
                      **common).run()
LocalPipelineExecutor(pipeline=[JsonlReader(f"{out}/filtered"), MinhashDedupFilter(input_folder=f"{out}/remove"),
                                JsonlWriter(f"{out}/deduped")], tasks=files, logging_dir=f"{out}/logs/4",
                      **common).run()
"""

CURATE_PIPELINE = """
workdir: {out}
nodes:
  text:
    input: {{warc: "{data}/*.warc.gz"}}
    steps:
      - extract: {{engine: trafilatura}}
      - langid: {{keep: [en], min_score: 0.65}}
      - gopher_repetition: {{}}
      - gopher_quality: {{}}
      - c4: {{}}
      - fineweb_quality: {{}}
  deduped: {{minhash_dedup: {{input: text}}}}
"""


def seed_datatrove_model() -> None:
    """Put lid.176 where datatrove's FT176LID looks for it, marked complete, so it downloads nothing."""
    from datatrove.io import strip_protocol
    from datatrove.utils.lid import FT176LID
    from huggingface_hub import cached_assets_path

    folder = cached_assets_path(library_name="datatrove", namespace="lid", subfolder=FT176LID.MODEL_SUBFOLDER)
    target = Path(folder) / strip_protocol(FT176LID.MODEL_URL).replace("/", "_")  # as datatrove names it
    if not target.exists():
        shutil.copy(DEFAULT_MODEL, target)
    Path(f"{target}.completed").touch()


# Runs a command and prints the CPU and peak RSS of its whole process tree: a process's RUSAGE_CHILDREN covers every
# descendant it (or they) waited for, and only those, so each run is measured on its own.
RUNNER = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
if done.returncode:
    sys.exit(done.stderr[-3000:])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mib": usage.ru_maxrss / 1024}))
"""


def measured_run(command: list[str]) -> dict[str, float]:
    """Run `command` to completion; its wall time, whole-tree CPU and the peak RSS of its largest process."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RUNNER, *command], cwd=ROOT, check=True, capture_output=True,
                          text=True)
    return {"wall_s": time.perf_counter() - started, **json.loads(done.stdout.strip().splitlines()[-1])}


def datatrove_kept(out: Path) -> set[str]:
    ids = set()
    for path in (out / "deduped").glob("*.jsonl.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            ids.update(json.loads(line)["id"].strip("<>").removeprefix("urn:uuid:") for line in lines)
    return ids


def curate_kept(out: Path) -> set[str]:
    import pyarrow.parquet as pq

    return {i.strip("<>").removeprefix("urn:uuid:")
            for i in pq.read_table(out / "deduped", columns=["id"]).column(0).to_pylist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--files", type=int, default=0, help="the first N packed WARC files (0: all)")
    args = parser.parse_args()
    corpus = corpus_or_exit()
    seed_datatrove_model()
    files = sorted((corpus / "warc" / "packed").glob("*.warc.gz"))
    files = files[: args.files] if args.files else files
    print(f"{len(files)} WARC files, {sum(f.stat().st_size for f in files) / 1e6:.1f} MB; {load_line()}; "
          f"{args.repeats} interleaved rounds, medians")
    print(f"\n{'tool':<10}{'workers':>8}{'docs':>7}{'kept':>6}{'wall s':>8}{'CPU s':>8}{'docs/s/core':>12}"
          f"{'peak MiB':>9}{'wall vs dt':>11}{'CPU vs dt':>10}")
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "warc"
        data.mkdir()
        for path in files:
            os.symlink(path, data / path.name)
        documents = 0
        kept: dict[str, set[str]] = {}
        for workers in args.workers:
            runs: dict[str, list[dict[str, float]]] = {"curate": [], "datatrove": []}
            for round_number in range(args.repeats):
                out = Path(scratch) / f"curate-{workers}-{round_number}"
                pipeline = Path(scratch) / f"curate-{workers}-{round_number}.yaml"
                pipeline.write_text(CURATE_PIPELINE.format(out=out, data=data))
                runs["curate"].append(measured_run([sys.executable, "-m", "curate.cli", "run", str(pipeline),
                                                    "--executor", "local", "--workers", str(workers)]))
                kept["curate"] = curate_kept(out)
                report = json.loads((out / "_curate" / "text" / "commit.json").read_text())
                documents = report["stages"][0]["kept"]
                theirs = Path(scratch) / f"datatrove-{workers}-{round_number}"
                runs["datatrove"].append(measured_run([sys.executable, "-c", DATATROVE, str(data), str(theirs),
                                                       str(workers), str(len(files))]))
                kept["datatrove"] = datatrove_kept(theirs)
            medians = {tool: {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
                       for tool, rounds in runs.items()}
            for tool, figures in medians.items():
                reference = medians["datatrove"]
                print(f"{tool:<10}{workers:>8}{documents:>7}{len(kept[tool]):>6}{figures['wall_s']:>8.1f}"
                      f"{figures['cpu_s']:>8.1f}{documents / figures['cpu_s']:>12.1f}"
                      f"{figures['peak_rss_mib']:>9.0f}{reference['wall_s'] / figures['wall_s']:>10.2f}x"
                      f"{reference['cpu_s'] / figures['cpu_s']:>9.2f}x")
        shared = kept["curate"] & kept["datatrove"]
        union = kept["curate"] | kept["datatrove"]
        print(f"\nkept by both: {len(shared)}; by curate only: {len(kept['curate'] - shared)}; by datatrove only: "
              f"{len(kept['datatrove'] - shared)} (Jaccard {len(shared) / max(1, len(union)):.3f})")


if __name__ == "__main__":
    main()
