"""How good and how fast is each extraction engine? Scores curate's Extract stage (the code the pipeline runs, after
curate's charset decoding) against ground truth in the shared corpus, one table: engine x benchmark.

- trafilatura's evaluation set (html/trafilatura): snippets a good extraction must contain ("with") and must not
  contain ("without"), scored as trafilatura's own evaluation does: a found "with" snippet is a true positive, a
  found "without" snippet a false positive; precision, recall and F1 over all snippets.
- article texts: the article extraction benchmark (html/aeb, `articleBody`), readability's test pages
  (html/readability, the expected HTML's text) and cleaning_bench's gold main texts (CleanEval, CleanPortalEval,
  Dragnet; Dragnet's gold includes reader comments, which curate leaves out as FineWeb does, so Dragnet is scored
  both ways: `dragnet-article` without them, `dragnet` as its gold is). Scored as those
  benchmarks score: bag-of-words precision, recall and F1 over lower-cased word tokens, averaged over pages; a page
  whose F1 is under LOST_F1 is counted as lost.

Pages are split by a keyed hash of their id into `tune` and `test` halves; figures are reported on `test` unless
--split says otherwise, so that an engine tuned on these benchmarks is judged on pages it was not tuned on (the
`blocks` engine's classifier is trained on `tune` only, by models/train_block_classifier.py).
CPU milliseconds per page are the extraction's alone (process time, one process), comparable within one run.

    python bench/extraction_quality.py [--split test|tune|all] [--limit N] [--engines NAME ...]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import lxml.html

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import corpus_or_exit, load_line  # noqa: E402

from curate.stages.base import Reject  # noqa: E402
from curate.stages.charset import decode_html  # noqa: E402
from curate.stages.extract import Extract  # noqa: E402

ENGINES = {"blocks": {"engine": "blocks"},
           "trafilatura": {"engine": "trafilatura"},
           "traf-fast": {"engine": "trafilatura", "fallback": False},
           "resiliparse": {"engine": "resiliparse"},
           "plain": {"engine": "plain"}}
# (label, folder under the corpus, how it is scored: "snippets", "text" (the whole gold) or "article" (the gold less
# its reader comments)). curate's convention is FineWeb's: main text without reader comments (trafilatura runs with
# include_comments=False). Dragnet's gold holds the comments after a marker line, so it is scored both ways:
# `dragnet` as its gold is, `dragnet-article` by the convention.
BENCHMARKS = (("snippets", "html/trafilatura", "snippets"), ("aeb", "html/aeb", "text"),
              ("readability", "html/readability", "text"), ("cleaneval", "cleaning_bench/html/cleaneval", "text"),
              ("cleanportaleval", "cleaning_bench/html/cleanportaleval", "text"),
              ("dragnet-article", "cleaning_bench/html/dragnet", "article"),
              ("dragnet", "cleaning_bench/html/dragnet", "text"))
# Dragnet's annotators began the comments with a line of keyboard symbols: "!@#$%^&*() COMMENTS", in 279 of 967
# golds, with typing variants ("!@#$%^&* COMMENTS", "!@#$%^&*() COMMNENTS", "!@#$%^&*()")
COMMENTS_MARKER = re.compile(r"^!@#\$%.*$", re.MULTILINE)
LOST_F1 = 0.05  # a page under this F1 lost its article (the threshold issue 23 counts by)
SPLIT_KEY = b"extraction-quality-v1"
WORD = re.compile(r"\w+")


def split_of(page_id: str) -> str:
    """`tune` or `test`, half and half, by a keyed hash of the page id (fixed: it never depends on the engines)."""
    return "tune" if hashlib.sha256(SPLIT_KEY + page_id.encode()).digest()[0] < 128 else "test"


def canonical(text: str) -> str:
    """NFC with whitespace collapsed, so that snippets match across line breaks. Example: 'a\\n b' -> 'a b'."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def words(text: str) -> Counter[str]:
    """Lower-cased word tokens. Example: words("The cat, the hat") -> {'the': 2, 'cat': 1, 'hat': 1}"""
    return Counter(WORD.findall(unicodedata.normalize("NFC", text).lower()))


def bag_scores(predicted: str, expected: str) -> tuple[float, float, float]:
    """Bag-of-words precision, recall and F1. Example: bag_scores("a b c", "a b d") -> (0.667, 0.667, 0.667)"""
    got, want = words(predicted), words(expected)
    overlap = sum((got & want).values())
    precision = overlap / max(sum(got.values()), 1)
    recall = overlap / max(sum(want.values()), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def reference_text(folder: Path, expected: dict, how: str = "text") -> str | None:
    """A page's gold main text (`how` "article": less the reader comments Dragnet's gold appends after its marker
    line), or None where its benchmark gives none (the page is then not scored)."""
    if expected.get("articleBody"):
        return expected["articleBody"]
    if expected.get("gold_text"):
        gold = repaired_gold(expected["gold_text"])
        if gold is None:
            return None
        marker = COMMENTS_MARKER.search(gold)
        if marker is None:
            return gold
        return gold[:marker.start()] if how == "article" else gold[:marker.start()] + gold[marker.end():]
    if expected.get("expected_html_file"):
        # readability's expected pages are UTF-8 without a charset declaration, which lxml would read as Latin-1
        # (a Japanese article's gold then shares no word with any extraction)
        expected_html = gzip.decompress((folder / expected["expected_html_file"]).read_bytes()).decode("utf-8")
        return lxml.html.fromstring(expected_html).text_content()
    return None


def repaired_gold(gold: str) -> str | None:
    """A cleaning_bench gold text as its annotators wrote it. Two kinds of gold are not text as stored:
    - CleanPortalEval marks a page without an article by a gold that is only an HTML comment
      ("<!-- this page contains no article -->"): no main text to score against, so None;
    - five Dragnet golds were UTF-16LE files decoded as UTF-8 when the dataset was merged: a NUL after every ASCII
      character and U+FFFD for the byte-order mark ("\ufffd\ufffdP\x00a\x00u\x00l\x00o\x00" for "Paulo").
      Dropping the NULs gives back the ASCII text (a non-ASCII letter stays lost as U+FFFD, which is no word)."""
    stripped = gold.strip()
    if stripped.startswith("<!--") and stripped.endswith("-->") and "-->" not in stripped[4:-3]:
        return None
    if gold.count("\x00") > len(gold) // 4:
        return gold.replace("\x00", "").lstrip("\ufffd\ufeff")
    return gold


def pages(folder: Path, split: str, limit: int) -> Iterator[tuple[dict, str]]:
    """(manifest entry, decoded HTML) of the pages with ground truth in `split`."""
    count = 0
    with open(folder / "manifest.jsonl", encoding="utf-8") as lines:
        for entry in map(json.loads, lines):
            if not entry.get("expected") or (split != "all" and split_of(entry["id"]) != split):
                continue
            if limit and count >= limit:
                return
            count += 1
            yield entry, decode_html(gzip.decompress((folder / entry["file"]).read_bytes()), None).text


@dataclass
class Score:
    precision: float = 0.0
    recall: float = 0.0
    f1: float = 0.0
    pages: int = 0
    lost: int = 0
    cpu_s: float = 0.0
    lost_ids: list[str] = field(default_factory=list)


def extract(engine: Extract, html: str, url: str | None, score: Score) -> str:
    started = time.process_time()
    outcome = engine.apply(html, url)
    score.cpu_s += time.process_time() - started
    return "" if isinstance(outcome, Reject) else outcome[0]


def score_benchmark(folder: Path, how: str, engine: Extract, split: str, limit: int) -> Score:
    score = Score()
    tp = fp = fn = 0
    sums = [0.0, 0.0, 0.0]
    for entry, html in pages(folder, split, limit):
        text = extract(engine, html, entry.get("url"), score)
        score.pages += 1
        if how == "snippets":
            found_text = canonical(text)
            for snippet in entry["expected"].get("with", []):
                found = canonical(snippet) in found_text
                tp, fn = tp + found, fn + (not found)
            fp += sum(canonical(snippet) in found_text for snippet in entry["expected"].get("without", []))
            continue
        reference = reference_text(folder, entry["expected"], how)
        if reference is None:
            score.pages -= 1
            continue
        values = bag_scores(text, reference)
        sums = [s + v for s, v in zip(sums, values)]
        if values[2] < LOST_F1:
            score.lost += 1
            score.lost_ids.append(entry["id"])
    if how == "snippets":
        score.precision, score.recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        score.f1 = 2 * score.precision * score.recall / max(score.precision + score.recall, 1e-9)
    else:
        score.precision, score.recall, score.f1 = (s / max(score.pages, 1) for s in sums)
    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("test", "tune", "all"), default="test")
    parser.add_argument("--limit", type=int, default=0, help="pages per benchmark (0: all)")
    parser.add_argument("--engines", nargs="+", choices=sorted(ENGINES), default=list(ENGINES))
    parser.add_argument("--lost", action="store_true", help="list the lost pages' ids")
    args = parser.parse_args()
    corpus = corpus_or_exit()
    print(f"split {args.split}; {load_line()}")
    print(f"{'benchmark':<16} {'engine':<12} {'pages':>5} {'P':>6} {'R':>6} {'F1':>6} {'lost':>5} {'ms/page':>8}")
    totals: dict[str, Score] = {name: Score() for name in args.engines}
    counted: set[str] = set()  # the totals count each page once, by curate's convention (dragnet-article)
    for label, folder, how in BENCHMARKS:
        for name in args.engines:
            score = score_benchmark(corpus / folder, how, Extract(**ENGINES[name]), args.split, args.limit)
            total = totals[name]
            if folder not in counted:
                total.pages, total.cpu_s = total.pages + score.pages, total.cpu_s + score.cpu_s
                total.lost += score.lost
            lost = "-" if how == "snippets" else str(score.lost)
            print(f"{label:<16} {name:<12} {score.pages:>5} {score.precision:>6.3f} {score.recall:>6.3f} "
                  f"{score.f1:>6.3f} {lost:>5} {1000 * score.cpu_s / max(score.pages, 1):>8.1f}"
                  + (f"  lost: {' '.join(score.lost_ids)}" if args.lost and score.lost_ids else ""), flush=True)
        counted.add(folder)
    print()
    for name, total in totals.items():
        print(f"{'all':<16} {name:<12} {total.pages:>5} {'':>6} {'':>6} {'':>6} {total.lost:>5} "
              f"{1000 * total.cpu_s / max(total.pages, 1):>8.1f}")


if __name__ == "__main__":
    main()
