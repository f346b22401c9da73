"""The anchors' own recipes over the training ablation's pages (issue 29): each recipe's kept documents, written as
JSON Lines that pipelines/ablation/ablation.yaml reads as an arm and tokenizes with the ablation's one tokenizer, so
that curate's curation and the anchors' are trained and judged alike (train_stub/ablation.py).

    python bench/anchor_recipes.py [--pipeline pipelines/ablation/ablation.yaml] [--workers 2]   (make ablation runs it)

The input is exactly the WARC files the ablation's `raw` node reads (so never a held-out page), less WAT and WET
files, which hold no HTML responses (datatrove's WarcReader would read a WET file's converted text as documents).
Recipes:
- `fineweb`: datatrove's FineWeb recipe (its examples/fineweb.py) with the blocks bench/end_to_end.py runs: WarcReader,
  Trafilatura(favour_precision), LanguageFilter(en >= 0.65, lid.176), GopherRepetitionFilter, GopherQualityFilter,
  C4QualityFilter(filter_no_terminal_punct=False), FineWebQualityFilter, then MinHash deduplication (5-grams, 14
  buckets of 8 hashes). Left out: URLFilter (its blocklist is downloaded, and nothing may be here) and the final
  PIIFormatter (no arm of the ablation redacts).
Each recipe writes out/ablation_anchors/<recipe>/*.jsonl.gz (text, id, url) and is skipped when that folder holds a
finished run for the same input files (a `done.json` naming them).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT  # noqa: E402
from end_to_end import DATATROVE, seed_datatrove_model  # noqa: E402

OUT = ROOT / "out" / "ablation_anchors"
# warcio's decoder of brotli-encoded bodies sets `unused_data` on brotli's Decompressor, which brotli >= 1.1 no longer
# allows: datatrove's WarcReader then fails the whole file (9 of the shared corpus's servo captures hold such pages,
# which curate reads). Put before datatrove's script, this gives warcio a decoder with the interface it expects.
WARCIO_BROTLI_FIX = """
import brotli
from warcio.bufferedreaders import BufferedReader

class BrotliDecoder:
    unused_data = None

    def __init__(self):
        self.decoder = brotli.Decompressor()

    def decompress(self, data):
        return self.decoder.process(data)

    def flush(self):
        return b""

BufferedReader.DECOMPRESSORS["br"] = BrotliDecoder
"""
NO_RESPONSES = (".wat.gz", ".wet.gz")  # Common Crawl's metadata and text-conversion files


def ablation_warcs(pipeline: str) -> list[str]:
    """The WARC files the ablation's `raw` node reads, less WAT and WET files. Read from the pipeline file's YAML
    rather than loaded as a pipeline: the pipeline also reads this script's output, which may not exist yet."""
    import yaml

    from curate.config import resolve_files

    with open(pipeline, encoding="utf-8") as handle:
        globs = yaml.safe_load(handle)["nodes"]["raw"]["input"]["warc"]
    files = resolve_files(globs, os.path.dirname(os.path.abspath(pipeline)), f"{pipeline}: node 'raw'")
    return sorted(path for path in files if not path.endswith(NO_RESPONSES))


def run_fineweb(warcs: list[str], out: Path, workers: int) -> None:
    """datatrove's FineWeb recipe (bench/end_to_end.py's script) over `warcs`, deduplicated documents to `out`."""
    seed_datatrove_model()
    with tempfile.TemporaryDirectory(prefix="curate-anchor-") as scratch:
        data = Path(scratch) / "warc"
        data.mkdir()
        for number, path in enumerate(warcs):  # one folder, names kept unique and their extensions intact
            (data / f"{number:04d}-{os.path.basename(path)}").symlink_to(os.path.abspath(path))
        script = WARCIO_BROTLI_FIX + DATATROVE.replace('glob_pattern="*.warc.gz"', 'glob_pattern="*.warc*"')
        subprocess.run([sys.executable, "-c", script, str(data), scratch, str(workers), str(len(warcs))], check=True,
                       stdout=subprocess.DEVNULL)
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("*.jsonl.gz"):
            old.unlink()
        for written in sorted((Path(scratch) / "deduped").glob("*.jsonl.gz")):
            (out / written.name).write_bytes(written.read_bytes())


RECIPES = {"fineweb": run_fineweb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", default=str(ROOT / "pipelines" / "ablation" / "ablation.yaml"))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--recipes", nargs="+", choices=sorted(RECIPES), default=sorted(RECIPES))
    args = parser.parse_args()
    warcs = ablation_warcs(args.pipeline)
    for name in args.recipes:
        out = OUT / name
        done = {"recipe": name, "inputs": [os.path.basename(path) for path in warcs]}
        marker = out / "done.json"
        if marker.exists() and json.loads(marker.read_text()) == done:
            print(f"anchor_recipes: {name}: done before ({out})")
            continue
        marker.unlink(missing_ok=True)
        RECIPES[name](warcs, out, args.workers)
        marker.write_text(json.dumps(done))
        documents = sum(1 for path in out.glob("*.jsonl.gz") for _ in gzip.open(path, "rt"))
        print(f"anchor_recipes: {name}: {documents} documents from {len(warcs)} WARC files -> {out}")


if __name__ == "__main__":
    main()
