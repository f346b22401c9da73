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
- `dclm`: a DCLM-Baseline-style recipe (bench/anchor_dclm.py): resiliparse's main content, RefinedWeb's filters and
  line corrections, BFF deduplication, then the top 10% by a fastText classifier of the reference text curate's
  ablation classifier trains on against the recipe's own pages.
- `dolma`: a Dolma-v1.5-style recipe (bench/anchor_dolma.py, run in dolma's own environment): whole-page text,
  English, C4's NoPunc lines, Gopher's rules and paragraph deduplication with dolma's own taggers.
Each recipe writes out/ablation_anchors/<recipe>/*.jsonl.gz (text, id, url) and is skipped when that folder holds a
finished run for the same input files and reference text (a `done.json` naming them).
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


def ablation_node_files(pipeline: str, node: str, keys: tuple[str, ...]) -> list[str]:
    """The files a glob option of one of the ablation's nodes names (`keys`: the path to it in the node). Read from
    the pipeline file's YAML rather than loaded as a pipeline: the pipeline also reads this script's output, which may
    not exist yet."""
    import yaml

    from curate.config import resolve_files

    with open(pipeline, encoding="utf-8") as handle:
        globs = yaml.safe_load(handle)["nodes"][node]
    for key in keys:
        globs = globs[key]
    return sorted(resolve_files(globs, os.path.dirname(os.path.abspath(pipeline)), f"{pipeline}: node {node!r}"))


def ablation_warcs(pipeline: str) -> list[str]:
    """The WARC files the ablation's `raw` node reads, less WAT and WET files."""
    return [path for path in ablation_node_files(pipeline, "raw", ("input", "warc")) if not path.endswith(NO_RESPONSES)]


def linked_warcs(warcs: list[str], scratch: str) -> Path:
    """One folder of links to `warcs` (datatrove reads a folder), names kept unique and their extensions intact."""
    data = Path(scratch) / "warc"
    data.mkdir()
    for number, path in enumerate(warcs):
        (data / f"{number:04d}-{os.path.basename(path)}").symlink_to(os.path.abspath(path))
    return data


def replace_output(out: Path, written: list[Path]) -> None:
    """`out` holds the files `written` and no other recipe output."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.jsonl.gz"):
        old.unlink()
    for path in written:
        (out / path.name).write_bytes(path.read_bytes())


def run_fineweb(warcs: list[str], out: Path, workers: int, pipeline: str) -> None:
    """datatrove's FineWeb recipe (bench/end_to_end.py's script) over `warcs`, deduplicated documents to `out`."""
    seed_datatrove_model()
    with tempfile.TemporaryDirectory(prefix="curate-anchor-") as scratch:
        data = linked_warcs(warcs, scratch)
        script = WARCIO_BROTLI_FIX + DATATROVE.replace('glob_pattern="*.warc.gz"', 'glob_pattern="*.warc*"')
        subprocess.run([sys.executable, "-c", script, str(data), scratch, str(workers), str(len(warcs))], check=True,
                       stdout=subprocess.DEVNULL)
        replace_output(out, sorted((Path(scratch) / "deduped").glob("*.jsonl.gz")))


def run_dclm(warcs: list[str], out: Path, workers: int, pipeline: str) -> None:
    """The DCLM-style recipe (bench/anchor_dclm.py) over `warcs`, its kept documents to `out`; its classifier's
    positive text is the ablation quality model's."""
    seed_datatrove_model()
    positives = ablation_node_files(pipeline, "quality_model", ("train_fasttext", "positive"))
    with tempfile.TemporaryDirectory(prefix="curate-anchor-") as scratch:
        data = linked_warcs(warcs, scratch)
        subprocess.run([sys.executable, str(Path(__file__).with_name("anchor_dclm.py")), str(data), scratch,
                        str(workers), str(len(warcs)), *positives], check=True, stdout=subprocess.DEVNULL)
        replace_output(out, [Path(scratch) / "dclm" / "kept.jsonl.gz"])
        counts = (Path(scratch) / "dclm" / "counts.json").read_text()
        print(f"anchor_recipes: dclm: documents after each step: {counts}")


DOLMA_PYTHON = ROOT / ".venv-dolma" / "bin" / "python"  # dolma's own environment (the Makefile's .venv-dolma)


def whole_page_texts(warcs: list[str], path: Path) -> int:
    """The whole text of every HTML page of `warcs` (curate's `plain` engine, as the ablation's `raw` arm: what
    Common Crawl's WET files hold) to a JSON Lines file; returns the documents written."""
    from curate.stages.extract import resiliparse_text
    from curate.stages.warc import WarcReader
    from curate.stats import StageStats

    written = 0
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for warc in warcs:
            for result in WarcReader().read(warc, StageStats("read"), 1000):
                table = result.kept
                for doc_id, url, html in zip(*(table.column(name).to_pylist() for name in ("id", "url", "html"))):
                    text = resiliparse_text(html, main_content=False).strip() if html else ""
                    if text:
                        out.write(json.dumps({"id": doc_id, "url": url or "", "text": text}) + "\n")
                        written += 1
    return written


def run_dolma(warcs: list[str], out: Path, workers: int, pipeline: str) -> None:
    """The Dolma-style recipe (bench/anchor_dolma.py, in dolma's own environment) over the whole-page text of
    `warcs`, its kept documents to `out`."""
    from curate.stages.langid import DEFAULT_MODEL

    if not DOLMA_PYTHON.exists():
        raise SystemExit(f"anchor_recipes: dolma's environment is not at {DOLMA_PYTHON}: `make .venv-dolma/.installed`")
    with tempfile.TemporaryDirectory(prefix="curate-anchor-") as scratch:
        documents, kept = Path(scratch) / "documents.jsonl.gz", Path(scratch) / "kept.jsonl.gz"
        pages = whole_page_texts(warcs, documents)
        counts = subprocess.run([str(DOLMA_PYTHON), str(Path(__file__).with_name("anchor_dolma.py")), str(documents),
                                 str(kept), DEFAULT_MODEL], check=True, capture_output=True, text=True).stdout
        replace_output(out, [kept])
        print(f"anchor_recipes: dolma: {pages} pages with text; documents after each step: "
              f"{counts.strip().splitlines()[-1]}")


RECIPES = {"fineweb": run_fineweb, "dclm": run_dclm, "dolma": run_dolma}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", default=str(ROOT / "pipelines" / "ablation" / "ablation.yaml"))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--recipes", nargs="+", choices=sorted(RECIPES), default=sorted(RECIPES))
    args = parser.parse_args()
    warcs = ablation_warcs(args.pipeline)
    reference = ablation_node_files(args.pipeline, "quality_model", ("train_fasttext", "positive"))
    for name in args.recipes:
        out = OUT / name
        done = {"recipe": name, "inputs": [os.path.basename(path) for path in warcs],
                "reference": [os.path.basename(path) for path in reference]}
        marker = out / "done.json"
        if marker.exists() and json.loads(marker.read_text()) == done:
            print(f"anchor_recipes: {name}: done before ({out})")
            continue
        marker.unlink(missing_ok=True)
        RECIPES[name](warcs, out, args.workers, args.pipeline)
        marker.write_text(json.dumps(done))
        documents = sum(1 for path in out.glob("*.jsonl.gz") for _ in gzip.open(path, "rt"))
        print(f"anchor_recipes: {name}: {documents} documents from {len(warcs)} WARC files -> {out}")


if __name__ == "__main__":
    main()
