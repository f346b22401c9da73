"""What one Common Crawl snapshot would cost with curate, from rates measured here: core-hours per stage, wall time on
N nodes, peak memory per worker, shuffle scratch files and object-storage traffic, with the serial parts apart.

The rates come from running a FineWeb-style English pipeline (extract with `--engine`: cc_en.yaml's `blocks` by
default, or trafilatura as FineWeb; langid, Gopher, C4, FineWeb, MinHash dedup) over every WARC file of the shared
corpus on this machine, or from a workdir you give (`--workdir`,
any completed run whose first node reads WARC files). Per stage: CPU seconds per document entering it (whole
process CPU, readers included: curate/cpu.py), the share of documents each stage passes on, bytes of WARC per page.
They are multiplied out to a snapshot of `--pages` pages in `--files` WARC files (Common Crawl's recent snapshots:
about 2.5-3 billion pages in about 90,000 files of about 1 GB compressed each; see its announcements).

With `--requests`, the same pipeline runs again with its inputs and workdir on a local S3 API server that counts
every request (bench/s3_requests.py), from scratch and then fully reused; the counts are extrapolated to the
snapshot, reads of the WARC files by their 8 MB blocks (about 1 GB a file) and the other requests by files
(partitions), and priced at S3's request prices.

    python bench/cost_model.py [--engine blocks|trafilatura] [--pages 2.7e9] [--files 90000] [--nodes 10]
                               [--cores 64] [--workdir out/cc_en] [--requests]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, corpus_or_exit  # noqa: E402

from curate.ops.shuffle.files import RECORDS_PER_RANGE  # noqa: E402
from curate.storage import COPY_BLOCK  # noqa: E402

PIPELINE = """
workdir: {out}
nodes:
  text:
    input: {{warc: ["{corpus}/warc/real/*/*.warc*", "{corpus}/warc/packed/*.warc.gz"]}}
    steps: [{{extract: {{engine: {engine}}}}}, {{langid: {{keep: [en], min_score: 0.65}}}},
            {{gopher_repetition: {{}}}}, {{gopher_quality: {{}}}}, {{c4: {{}}}}, {{fineweb_quality: {{}}}}]
  deduped: {{minhash_dedup: {{input: text}}}}
"""
BAND_RECORD_BYTES = 16  # a MinHash band record in the shuffle: 8-byte key, 8-byte document number
BANDS = 14  # FineWeb's 14 x 8


def measured_workdir(workdir: Path | None, engine: str) -> Path:
    if workdir is not None:
        return workdir
    folder = Path(tempfile.mkdtemp(prefix="curate-cost-"))
    (folder / "p.yaml").write_text(PIPELINE.format(out=folder / "out", corpus=corpus_or_exit(), engine=engine))
    subprocess.run([sys.executable, "-m", "curate.cli", "run", str(folder / "p.yaml"), "--executor", "local",
                    "--workers", "2"], cwd=ROOT, check=True, capture_output=True)
    return folder / "out"


WARC_GLOBS = ("warc/real/*/*.warc*", "warc/packed/*.warc.gz")
SNAPSHOT_FILE_BYTES = 1.0e9  # Common Crawl's WARC files are about 1 GB compressed each


def print_requests(engine: str, snapshot_files: int, pages: int) -> None:
    """Count the cost pipeline's object-storage requests on a recording S3 server and extrapolate them."""
    from s3_requests import PRICE_PER_1000, count_requests, recording_server

    corpus = corpus_or_exit()
    files = sorted(path for pattern in WARC_GLOBS for path in corpus.glob(pattern))
    measured_bytes = sum(path.stat().st_size for path in files)
    with recording_server() as (server, recording), tempfile.TemporaryDirectory() as folder:
        for path in files:
            server.upload(path, f"corpus/{path.relative_to(corpus)}")
        pipeline = Path(folder) / "p.yaml"
        pipeline.write_text(PIPELINE.format(out="unused", corpus=server.uri("corpus"), engine=engine))
        first = count_requests(server, recording, pipeline, server.uri("run"), "corpus/")
        again = count_requests(server, recording, pipeline, server.uri("run"), "corpus/")
    # A worker streams a WARC object to its disk in COPY_BLOCK ranges (storage.local_file): one GET per block, so
    # input GETs scale with the blocks of the files; every other request with the files (one partition each).
    blocks = sum(math.ceil(path.stat().st_size / COPY_BLOCK) for path in files)
    by_blocks = snapshot_files * math.ceil(SNAPSHOT_FILE_BYTES / COPY_BLOCK) / blocks
    by_files = snapshot_files / len(files)
    print(f"\nobject-storage requests, counted on a local S3 API server (moto) for the {len(files)} WARC files "
          f"({measured_bytes / 1e6:.0f} MB), extrapolated to {snapshot_files:,} files of ~1 GB; priced at S3 "
          "Standard's request prices (us-east-1):")
    print(f"{'request':<9}{'where':<9}{'this run':>10}{'per file':>10}{'rerun':>8}{'snapshot':>16}{'dollars':>10}")
    total = 0.0
    for kind, where in sorted(set(first.counts) | set(again.counts)):
        count = first.counts[(kind, where)]
        snapshot = count * (by_blocks if (kind, where) == ("GET", "input") else by_files)
        dollars = snapshot / 1000 * PRICE_PER_1000.get(kind, 0.0004)
        total += dollars
        print(f"{kind:<9}{where:<9}{count:>10,}{count / len(files):>10,.1f}{again.counts[(kind, where)]:>8,}"
              f"{snapshot:>16,.0f}{dollars:>10,.2f}")
    rerun = sum(count * PRICE_PER_1000.get(kind, 0.0004) / 1000 * by_files for (kind, _), count in again.counts.items())
    print(f"requests of one snapshot: about ${total:,.0f}; uploaded {first.uploaded_bytes / 1e6:,.1f} MB "
          f"({first.uploaded_bytes / max(1, pages):,.0f} bytes per page read: kept and rejected rows, shuffle "
          f"files, records); a fully reused rerun: {sum(again.counts.values()) / len(files):,.0f} requests per file "
          f"(about ${rerun:,.2f} a snapshot), none of them a GET of an input "
          f"({again.counts[('GET', 'input')]} here: an input's identity is its size and ETag, from a HEAD)")


def node_records(workdir: Path) -> list[dict]:
    records = [json.loads(p.read_text()) for p in (workdir / "_curate").glob("*/commit.json")]
    return sorted(records, key=lambda r: r["committed_at"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=float, default=2.7e9, help="pages (WARC response records) in the snapshot")
    parser.add_argument("--files", type=int, default=90_000, help="WARC files in the snapshot")
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--cores", type=int, default=64, help="cores per node")
    parser.add_argument("--workdir", type=Path, help="a completed run to take the rates from")
    parser.add_argument("--engine", choices=("blocks", "trafilatura", "resiliparse"), default="blocks",
                        help="the extraction engine of the measured run (default: cc_en.yaml's)")
    parser.add_argument("--requests", action="store_true", help="also count object-storage requests on a local S3 "
                        "server and extrapolate them (runs the pipeline twice more)")
    args = parser.parse_args()
    nodes = node_records(measured_workdir(args.workdir, args.engine))
    first = nodes[0]
    reader = first["stages"][0]
    pages_measured = reader["kept"]
    bytes_per_page = reader["bytes_out"] / max(1, pages_measured)
    print(f"rates from {pages_measured:,} pages ({bytes_per_page / 1e3:.1f} kB of payload each) on this machine; "
          f"snapshot: {args.pages:,.0f} pages in {args.files:,} WARC files; {args.nodes} nodes x {args.cores} cores\n")
    print(f"{'node / stage':<32}{'CPU ms/doc':>11}{'docs in (snapshot)':>20}{'core-hours':>12}{'share':>7}")
    rows, total_hours = [], 0.0
    scale = args.pages / max(1, pages_measured)
    for node in nodes:
        for stage in node["stages"]:
            if stage["docs_in"] == 0:
                continue
            per_doc = stage["cpu_s"] / stage["docs_in"]
            docs = stage["docs_in"] * scale
            hours = per_doc * docs / 3600
            total_hours += hours
            rows.append((f"{node['node']} / {stage['stage']}", per_doc * 1e3, docs, hours))
    for label, per_doc_ms, docs, hours in rows:
        print(f"{label:<32}{per_doc_ms:>11.3f}{docs:>20,.0f}{hours:>12,.0f}{hours / total_hours:>7.1%}")
    cores = args.nodes * args.cores
    print(f"\ntotal: {total_hours:,.0f} core-hours; on {cores:,} cores at full use "
          f"{total_hours / cores:,.1f} h of wall")

    deduped = next((n for n in nodes if n.get("operation") == "minhash_dedup"), None)
    dedup_docs = (deduped["stages"][0]["docs_in"] if deduped else 0) * scale
    records = dedup_docs * BANDS
    ranges = max(1, math.ceil(records / RECORDS_PER_RANGE))
    warc_bytes = bytes_per_page * args.pages
    text_bytes = ((first.get("summary") or {}).get("kept", {}).get("text_bytes", 0)) * scale
    peak = max(n.get("peak_rss_mib") or 0 for n in nodes)
    print(f"peak memory per worker (largest measured): {peak:,.0f} MiB; {args.cores} workers a node: "
          f"{peak * args.cores / 1024:,.0f} GiB")
    print(f"MinHash shuffle: {records:,.0f} band records ({records * BAND_RECORD_BYTES / 1e12:,.2f} TB), "
          f"{ranges:,} key ranges; scratch files: {args.files:,} map files + {ranges:,} reduced + {args.files:,} "
          f"assignment files (grows with partitions and records, not partitions squared)")
    print(f"object storage: read {warc_bytes / 1e12:,.1f} TB of WARC payload once; write "
          f"{text_bytes / 1e12:,.2f} TB of kept text (Parquet, zstd, before compression), rejected rows beside it; "
          f"shuffle "
          f"{2 * records * BAND_RECORD_BYTES / 1e12:,.2f} TB written and read back")
    print("serial parts: in the driver, MinHash's component resolution, linear in duplicate edges, and tokenize's "
          "shard cuts, linear in documents; one task each (off the driver on a cluster), BPE merges, bounded by the "
          "vocabulary, and a model's training, bounded by the reference text. See docs/scale.md.")
    if args.requests:
        print_requests(args.engine, args.files, pages_measured)


if __name__ == "__main__":
    main()
