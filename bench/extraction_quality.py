"""How good is each extraction engine? Scores curate's Extract stage against ground truth in the shared corpus.

- trafilatura's evaluation set (html/trafilatura): each page lists snippets a good extraction must contain ("with")
  and must not contain ("without"); scored as trafilatura's own evaluation does: a found "with" snippet is a true
  positive, a found "without" snippet a false positive; precision, recall, F1 and accuracy over all snippets.
- the article extraction benchmark (html/aeb) and readability's test pages (html/readability): the reference article
  text; scored as token-level precision/recall/F1 per page (bag of whitespace tokens), averaged over pages.

    python bench/extraction_quality.py [--limit N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import lxml.html

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import corpus_or_exit  # noqa: E402

from curate.stages.base import Reject  # noqa: E402
from curate.stages.charset import decode_html  # noqa: E402
from curate.stages.extract import Extract  # noqa: E402

# (label, Extract options): trafilatura's three balances, without layout-table unwrapping, without its fallback
# extractors, and resiliparse.
ENGINES = (("traf-precision", {"engine": "trafilatura", "favor": "precision"}),
           ("traf-balanced", {"engine": "trafilatura", "favor": "balanced"}),
           ("traf-recall", {"engine": "trafilatura", "favor": "recall"}),
           ("traf-prec-tables", {"engine": "trafilatura", "favor": "precision", "unwrap_layout_tables": False}),
           ("traf-fast", {"engine": "trafilatura", "fallback": False}),
           ("resiliparse", {"engine": "resiliparse"}))
# A page whose extraction recalls less than this share of its reference text lost most of the article: counted
# apart, so that a few lost articles do not hide in an average.
LOST_RECALL = 0.5


def canonical(text: str) -> str:
    """NFC with whitespace collapsed, so that snippets match across line breaks. Example: 'a\\n b' -> 'a b'."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def pages(dataset_dir: Path, limit: int) -> Iterator[tuple[dict, str]]:
    with open(dataset_dir / "manifest.jsonl", encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if limit and number >= limit:
                return
            entry = json.loads(line)
            html = decode_html(gzip.decompress((dataset_dir / entry["file"]).read_bytes()), None).text
            yield entry, html


def extract(engine: Extract, html: str, url: str | None) -> str:
    outcome = engine.apply(html, url)
    return "" if isinstance(outcome, Reject) else outcome[0]


def token_scores(predicted: str, expected: str) -> tuple[float, float, float]:
    """Token-level precision, recall and F1 of two texts as bags of words.

    Example: token_scores("a b c", "a b d") -> (0.667, 0.667, 0.667)
    """
    got, want = Counter(predicted.split()), Counter(expected.split())
    overlap = sum((got & want).values())
    precision = overlap / max(sum(got.values()), 1)
    recall = overlap / max(sum(want.values()), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def score_snippets(corpus: Path, engine: Extract, limit: int) -> dict[str, float]:
    tp = fp = tn = fn = 0
    for entry, html in pages(corpus / "html" / "trafilatura", limit):
        expected = entry.get("expected") or {}
        if not expected:
            continue
        text = canonical(extract(engine, html, entry.get("url")))
        for snippet in expected.get("with", []):
            found = canonical(snippet) in text
            tp, fn = tp + found, fn + (not found)
        for snippet in expected.get("without", []):
            found = canonical(snippet) in text
            fp, tn = fp + found, tn + (not found)
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return {"precision": precision, "recall": recall, "f1": 2 * precision * recall / max(precision + recall, 1e-9),
            "accuracy": (tp + tn) / max(tp + tn + fp + fn, 1)}


def score_articles(corpus: Path, dataset: str, engine: Extract, limit: int) -> dict[str, float]:
    totals = [0.0, 0.0, 0.0]
    count = lost = 0
    for entry, html in pages(corpus / "html" / dataset, limit):
        expected = entry.get("expected") or {}
        if "articleBody" in expected:
            reference = expected["articleBody"]
        elif "expected_html_file" in expected:
            reference_html = gzip.decompress((corpus / "html" / dataset / expected["expected_html_file"]).read_bytes())
            reference = lxml.html.fromstring(reference_html).text_content()
        else:
            continue
        scores = token_scores(canonical(extract(engine, html, entry.get("url"))), canonical(reference))
        totals = [t + s for t, s in zip(totals, scores)]
        count += 1
        lost += scores[1] < LOST_RECALL
    return {**dict(zip(("precision", "recall", "f1"), (t / max(count, 1) for t in totals))), "lost": lost,
            "pages": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="pages per dataset (0: all)")
    args = parser.parse_args()
    corpus = corpus_or_exit()
    print(f"{'dataset':<26} {'engine':<16} {'precision':>9} {'recall':>7} {'F1':>6} {'accuracy':>8} "
          f"{'lost':>8} {'time s':>7}")
    for dataset in ("trafilatura (snippets)", "aeb (articleBody)", "readability (expected)"):
        for name, options in ENGINES:
            engine = Extract(**options)
            started = time.perf_counter()
            if dataset.startswith("trafilatura"):
                scores = score_snippets(corpus, engine, args.limit)
            else:
                scores = score_articles(corpus, dataset.split()[0], engine, args.limit)
            elapsed = time.perf_counter() - started
            accuracy = f"{scores['accuracy']:.3f}" if "accuracy" in scores else "-"
            lost = f"{scores['lost']:.0f}/{scores['pages']:.0f}" if "lost" in scores else "-"
            print(f"{dataset:<26} {name:<16} {scores['precision']:>9.3f} {scores['recall']:>7.3f} "
                  f"{scores['f1']:>6.3f} {accuracy:>8} {lost:>8} {elapsed:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
