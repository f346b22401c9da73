"""WARC -> text throughput on one core: curate's reader + extractor against datatrove's WarcReader + Trafilatura.

Both read the same WARC files (the shared corpus's packed pages: real HTML from the trafilatura, readability and
article-extraction benchmarks) in this one process, one after the other, single-threaded, so the figure is documents
per second per core. datatrove runs with its FineWeb defaults (favour_precision, 1 s timeout in a sandbox process,
trafilatura's deduplication on); curate with its own (favor_precision, deduplication off for determinism).

    python bench/extract.py [--files N]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Timing, corpus_or_exit, interleaved  # noqa: E402

from curate.stages.extract import Extract  # noqa: E402
from curate.stages.warc import WarcReader  # noqa: E402
from curate.stats import StageStats  # noqa: E402


def curate_path(files: list[Path], **options: object) -> int:
    """Documents extracted by curate's WARC reader and Extract stage."""
    reader, extract = WarcReader(), Extract(**options)
    read_stats, extract_stats = StageStats("warc"), StageStats("extract")
    for path in files:
        for batch in reader.read(str(path), read_stats, batch_docs=256):
            extract.process(batch.kept, extract_stats)
    return extract_stats.docs_in


def datatrove_path(files: list[Path]) -> int:
    """Documents extracted by datatrove's WarcReader + Trafilatura (the FineWeb extraction blocks)."""
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.readers import WarcReader as DatatroveWarcReader
    from datatrove.utils.logging import logger

    logger.remove()
    folder = str(files[0].parent)
    names = {f.name for f in files}
    reader = DatatroveWarcReader(folder, glob_pattern="*.warc.gz")
    reader.data_folder.list_files = lambda *a, **k: sorted(n for n in names)  # the same files, in the same order
    extractor = Trafilatura(favour_precision=True, timeout=1.0)
    read = 0

    def counted():
        nonlocal read
        for document in reader.run(None, rank=0, world_size=1):
            read += 1
            yield document

    for _ in extractor.run(counted()):
        pass
    return read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=0, help="use only the first N packed WARC files (0: all)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; each figure is their median")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    files = sorted((corpus_or_exit() / "warc" / "packed").glob("*.warc.gz"))
    files = files[: args.files] if args.files else files
    print(f"{len(files)} WARC files, {sum(f.stat().st_size for f in files) / 1e6:.1f} MB, one core each\n")
    timings = interleaved({
        "datatrove WarcReader + Trafilatura": lambda: datatrove_path(files),
        "curate warc + extract (trafilatura)": lambda: curate_path(files, engine="trafilatura"),
        "curate ... (trafilatura, fallback off)": lambda: curate_path(files, engine="trafilatura", fallback=False),
        "curate warc + extract (resiliparse)": lambda: curate_path(files, engine="resiliparse"),
    }, repeats=args.repeats)
    reference = timings["datatrove WarcReader + Trafilatura"]
    results: list[Timing] = [*list(timings.values())[1:], reference]
    print(f"{'path':<40} {'docs':>6} {'wall s':>8} {'docs/s':>8} {'vs datatrove':>13}")
    for result in results:
        print(f"{result.label:<40} {result.items:>6} {result.wall_s:>8.2f} {result.per_second:>8.1f} "
              f"{result.per_second / reference.per_second:>12.2f}x")


if __name__ == "__main__":
    main()
