"""A DCLM-style recipe (DataComp-LM's DCLM-Baseline, Li et al. 2024, section 4 and appendix G) over a folder of WARC
files, for the training ablation (issue 29): bench/anchor_recipes.py runs this file in a fresh process.

    python bench/anchor_dclm.py WARC_FOLDER SCRATCH WORKERS FILES POSITIVE_JSONL...

DCLM-Baseline's steps, as its code in github.com/mlfoundations/dclm runs them, and how each is taken here:
1. resiliparse's main-content text (`extract_plain_text(html, main_content=True)`, its
   tools/commoncrawl/process_common_crawl_w_ray.py), read by datatrove's WarcReader as the FineWeb arm reads.
2. RefinedWeb's filters (its baselines_configs/dclm_baseline_refinedweb.yaml): runs of more than two newlines cut to
   two; IPv4 addresses removed; fastText language ID, English >= 0.65 (datatrove's LanguageFilter, as the FineWeb
   arm); RefinedWeb's page rules (`page_rule_failed`) and Gopher's repetition rules (`repetition_failed`) as DCLM's
   code counts them: words split at whitespace, not datatrove's word tokenizer, whose punctuation tokens would fail
   many more pages on the 80%-alphabetic-words rule (40 of 295 Dragnet pages on a trial); then RefinedWeb's line
   corrections, with curate's `refinedweb_lines` code (curate/stages/refinedweb.py, written from DCLM's; the same
   code in both recipes, so that the ablation's swap of that stage changes nothing else): lines over half upper
   case, lines all digits, counter lines ("12 likes"), lines of one word, and the "items in cart" / "Read more..." /
   "Sign-in" fragments of short lines are removed, and a page that lost more than 5% of its words to them is
   dropped.
3. BFF deduplication (its dedup/bff, `--remove-type old-both --min-ngram-size 13 --max-ngram-size 13
   --filtering-threshold 0.8`, `bff_dedup`): in reading order, a line whose 13-grams are more than 80% seen before is
   removed, and a page whose 13-grams are more than 80% seen before is dropped; a line's 13-grams enter the filter
   when the line is kept. An exact set stands for the Bloom filter (at this size, a Bloom filter without false
   positives), so the result does not depend on a false-positive rate.
4. A fastText quality classifier (its baselines/train_fasttext_classifier.py: bigrams, lr 0.1, dim 100, 5 epochs),
   positive: the reference text curate's ablation trains its own classifier on (DCLM's OpenHermes-2.5 and ELI5 data
   cannot be downloaded here), negative: the deduplicated pages; both cut into 100-word chunks and balanced, as
   curate's classifier is, so that neither class is told by length. The pages scoring in the top 10% are kept (DCLM
   set its threshold, 0.018112, to keep about the top 10% of its pool).
Left out, and why: the URL ban lists (downloaded from DCLM's repository; the FineWeb arm leaves its URL filter out
too) and the TLD-based URL removal (it needs IANA's TLD list; it applies only where a page's text begins with a
domain, as DCLM's code matches at the start).

Writes SCRATCH/dclm/kept.jsonl.gz (text, id, url) and SCRATCH/dclm/counts.json (documents after each step).
"""

from __future__ import annotations

import gzip
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from anchor_recipes import WARCIO_BROTLI_FIX

from curate.stages.refinedweb import MAX_REMOVED_WORDS, correct_lines, words

IPV4 = re.compile(r"\s{0,10}\b((https?|ftp)://)?(?:[0-2]?[0-9]{1,2}\.){3}[0-2]?[0-9]{1,2}[-a-zA-Z0-9()@:%_\+.~#?&//=]*")
NEWLINE_RUNS = re.compile(r"\n{3,}")

# RefinedWeb's page rules as dclm_baseline_refinedweb.yaml sets them (Gopher's quality rules, Rae et al. 2021, A.1.1)
PAGE_WORDS = (50, 100_000)  # page_length_filter, words that begin with a letter or digit
MEAN_WORD_LENGTH = (3, 10)  # word_length_filter, whitespace-separated words
MAX_SYMBOLS_PER_WORD = 0.1  # symbol_ratio_filter: "#" and ellipses
SYMBOLS = ("#", "...", ". . .", "\u2026")
MAX_BULLET_LINES = 0.9  # bullet_count_filter
BULLETS = ("\u25cf", "\u2022", "*", "-")
MAX_ELLIPSIS_LINES = 0.3  # ellipsis_count_filter
ELLIPSES = ("...", ". . .", "\u2026")
MAX_NON_ALPHABETIC_WORDS = 0.2  # alphabetic_word_ratio_filter
STOP_WORDS = {"the", "be", "to", "of", "and", "that", "have", "with"}  # stop_word_filter
MIN_STOP_WORDS = 2
# Gopher's repetition rules (massive_web_repetition_filters): lines and paragraphs by count, then by characters;
# the most common 2-4-gram's characters; the characters of 5-10-grams that occur more than once
MAX_DUPLICATE_SEGMENTS = 0.3
MAX_DUPLICATE_SEGMENT_CHARS = 0.2
MAX_TOP_NGRAM_CHARS = {2: 0.2, 3: 0.18, 4: 0.16}
MAX_DUPLICATE_NGRAM_CHARS = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
UNISEG_WORD = re.compile(r"\w+(?:['\u2019]\w+)*")  # uniseg's word boundaries, which DCLM's n-grams use, roughly

# BFF as DCLM-Baseline ran it (dedup/bff/README.md)
BFF_NGRAM = 13
BFF_THRESHOLD = 0.8
WORD = re.compile(r"\w+")

# The quality classifier (baselines/train_fasttext_classifier.py's defaults, bigrams as DCLM's "bigram_200k" model)
FASTTEXT_PARAMETERS = {"lr": 0.1, "dim": 100, "ws": 5, "epoch": 5, "minCount": 1, "wordNgrams": 2, "thread": 1,
                       "seed": 0}
CHUNK_WORDS = 100  # curate's own classifier's chunks (curate/ops/train_fasttext.py), so neither class is told by length
KEEP_TOP = 0.10


def segments(text: str, separator: str) -> list[str]:
    """The non-empty stripped pieces of `text` between `separator`s (DCLM's split_paragraphs)."""
    return [piece for part in text.split(separator) if (piece := part.strip())]


def page_rule_failed(text: str) -> str | None:
    """The first of RefinedWeb's page rules `text` fails, in DCLM's order, or None.

    Example: page_rule_failed("too short") -> "page_words"
    """
    counted = words(text)
    if not PAGE_WORDS[0] <= len(counted) <= PAGE_WORDS[1]:
        return "page_words"
    split = text.split()
    if not MEAN_WORD_LENGTH[0] <= sum(map(len, split)) / len(split) <= MEAN_WORD_LENGTH[1]:
        return "mean_word_length"
    if sum(text.count(symbol) for symbol in SYMBOLS) / len(split) > MAX_SYMBOLS_PER_WORD:
        return "symbols"
    lines = segments(text, "\n")
    if sum(line.startswith(BULLETS) for line in lines) > MAX_BULLET_LINES * len(lines):
        return "bullet_lines"
    if sum(line.endswith(ELLIPSES) for line in lines) > MAX_ELLIPSIS_LINES * len(lines):
        return "ellipsis_lines"
    if sum(not any(c.isalpha() for c in word) for word in split) / len(split) > MAX_NON_ALPHABETIC_WORDS:
        return "non_alphabetic_words"
    if sum(word.lower() in STOP_WORDS for word in split) < MIN_STOP_WORDS:
        return "stop_words"
    return None


def repetition_failed(text: str) -> str | None:
    """The first of Gopher's repetition rules `text` fails, in DCLM's order, or None.

    Example: repetition_failed("same line\\nsame line\\nother") -> "duplicate_line"
    """
    for name, separator in (("line", "\n"), ("paragraph", "\n\n")):
        pieces = segments(text, separator)
        counts = Counter(pieces)
        if len(pieces) > 1 and sum(n for n in counts.values() if n > 1) / len(pieces) > MAX_DUPLICATE_SEGMENTS:
            return f"duplicate_{name}"
    for name, separator in (("line", "\n"), ("paragraph", "\n\n")):
        pieces = segments(text, separator)
        counts = Counter(pieces)
        repeated = sum(len(piece) * n for piece, n in counts.items() if n > 1)
        if len(pieces) > 1 and repeated / sum(map(len, pieces)) > MAX_DUPLICATE_SEGMENT_CHARS:
            return f"duplicate_{name}_chars"
    tokens = UNISEG_WORD.findall(text)
    total = sum(map(len, tokens))
    for n, limit in (MAX_TOP_NGRAM_CHARS | MAX_DUPLICATE_NGRAM_CHARS).items():
        grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        counts = Counter(grams)
        if not grams or max(counts.values()) == 1:
            continue
        if n in MAX_TOP_NGRAM_CHARS:
            top = max(counts.values())
            repeated = top * max(sum(map(len, gram)) for gram, count in counts.items() if count == top)
        else:
            covered = {i + k for i, gram in enumerate(grams) if counts[gram] > 1 for k in range(n)}
            repeated = sum(len(tokens[i]) for i in covered)
        if repeated / total > limit:
            return f"{'top' if n in MAX_TOP_NGRAM_CHARS else 'duplicate'}_{n}_grams"
    return None


def bff_dedup(texts: Iterable[str]) -> Iterator[str]:
    """BFF's `old-both` removal over texts in order: each text less its lines already seen (by 13-grams), or "" when
    the text as a whole was seen. Lines of fewer than 13 words are never judged, as in BFF.

    Example: with lines L and M of 13 words or more, bff_dedup([L, "new\\n" + L + "\\n" + M, M]) -> L, "new\\n" + M, ""
    """
    seen: set[tuple[str, ...]] = set()
    for text in texts:
        # BFF splits at each newline and keeps the newline with the line after it
        starts = [0] + [match.start() for match in re.finditer("\n", text)] + [len(text)]
        removed: list[tuple[int, int]] = []
        total = contained = 0
        for start, end in zip(starts, starts[1:]):
            tokens = WORD.findall(text[start:end])
            grams = [tuple(tokens[i : i + BFF_NGRAM]) for i in range(len(tokens) - BFF_NGRAM + 1)]
            hits = sum(gram in seen for gram in grams)
            total += len(grams)
            contained += hits
            if grams and hits / len(grams) > BFF_THRESHOLD:
                removed.append((start, end))
            else:
                seen.update(grams)
        if total and contained / total > BFF_THRESHOLD:
            yield ""
            continue
        pieces, last = [], 0
        for start, end in removed:
            pieces.append(text[last:start])
            last = end
        pieces.append(text[last:])
        yield "".join(pieces)


def top_by_quality(documents: list[dict], positives: list[str], scratch: Path) -> list[dict]:
    """The documents a fastText classifier of `positives` against `documents` scores in the top KEEP_TOP."""
    import fasttext

    from curate.ops.train_fasttext import chunks
    from curate.stages.quality import POSITIVE, hq_probability

    positive = [chunk for text in positives for chunk in chunks(text, CHUNK_WORDS)]
    negative = [chunk for document in documents for chunk in chunks(document["text"], CHUNK_WORDS)]
    shuffle = random.Random(0)
    shuffle.shuffle(positive)
    shuffle.shuffle(negative)
    count = min(len(positive), len(negative))
    lines = [f"{POSITIVE} {chunk}" for chunk in positive[:count]] + [f"__label__cc {chunk}" for chunk in
                                                                       negative[:count]]
    shuffle.shuffle(lines)
    train_file = scratch / "fasttext_train.txt"
    train_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    model = fasttext.train_supervised(input=str(train_file), verbose=0, **FASTTEXT_PARAMETERS)

    scores = [hq_probability(model, document["text"]) for document in documents]
    keep = max(1, round(KEEP_TOP * len(documents)))
    ranked = sorted(range(len(documents)), key=lambda i: (-scores[i], documents[i]["id"]))
    return [documents[i] for i in sorted(ranked[:keep])]


def filter_pages(data: str, out: str, workers: int, files: int) -> None:
    """Steps 1 and 2 with datatrove's executor: the pages that pass RefinedWeb's filters to OUT/filtered."""
    from datatrove.data import Document
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.extractors.base import BaseExtractor
    from datatrove.pipeline.filters import LanguageFilter
    from datatrove.pipeline.filters.base_filter import BaseFilter
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import JsonlWriter

    class ResiliparseMainContent(BaseExtractor):
        """resiliparse's main-content text, as DCLM's Common Crawl processing extracts it."""

        name = "resiliparse main content"

        def __init__(self, timeout: float) -> None:
            super().__init__(timeout=timeout)

        def extract(self, text: str) -> str:
            from resiliparse.extract.html2text import extract_plain_text

            return extract_plain_text(text, main_content=True)

    class Cleanup(BaseFilter):
        """DCLM's newline_removal_modifier (max 2) and the IPv4 half of its url_removal_modifier."""

        name = "newlines and IP addresses"

        def filter(self, doc: Document) -> bool | tuple[bool, str]:
            doc.text = IPV4.sub("", NEWLINE_RUNS.sub("\n\n", doc.text))
            return bool(doc.text) or (False, "empty")

    class RefinedWebPages(BaseFilter):
        """RefinedWeb's page rules, then Gopher's repetition rules, as DCLM runs them."""

        name = "RefinedWeb pages"

        def filter(self, doc: Document) -> bool | tuple[bool, str]:
            failed = page_rule_failed(doc.text) or repetition_failed(doc.text)
            return failed is None or (False, failed)

    class RefinedWebLines(BaseFilter):
        """RefinedWeb's line corrections; a page that lost more than 5% of its words is dropped."""

        name = "RefinedWeb lines"

        def filter(self, doc: Document) -> bool | tuple[bool, str]:
            doc.text, _, removed = correct_lines(doc.text)
            if not doc.text:
                return False, "empty"
            return removed <= MAX_REMOVED_WORDS or (False, "words_removed")

    LocalPipelineExecutor(pipeline=[
        WarcReader(data, glob_pattern="*.warc*"), ResiliparseMainContent(timeout=10.0), Cleanup(),
        LanguageFilter(languages=["en"], language_threshold=0.65), RefinedWebPages(), RefinedWebLines(),
        JsonlWriter(f"{out}/filtered"),
    ], tasks=files, workers=workers, start_method="fork", logging_dir=f"{out}/logs").run()


def read_documents(folder: Path) -> list[dict]:
    """Every document of a datatrove JsonlWriter folder, in file order (task by task, as each task read them)."""
    documents = []
    for path in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            documents += [json.loads(line) for line in handle]
    return documents


def main(data: str, scratch: str, workers: int, files: int, positive_files: list[str]) -> None:
    out = Path(scratch) / "dclm"
    filter_pages(data, str(out), workers, files)
    filtered = read_documents(out / "filtered")
    deduped = [{**document, "text": text} for document, text in
               zip(filtered, bff_dedup(document["text"] for document in filtered)) if text.strip()]
    positives = []
    for path in positive_files:
        with open(path, encoding="utf-8") as handle:
            positives += [json.loads(line)["text"] for line in handle if line.strip()]
    kept = top_by_quality(deduped, positives, out)
    with gzip.open(out / "kept.jsonl.gz", "wt", encoding="utf-8") as handle:
        for document in kept:
            url = document.get("metadata", {}).get("url", "")
            handle.write(json.dumps({"text": document["text"], "id": document["id"], "url": url}) + "\n")
    counts = {"filtered": len(filtered), "deduplicated": len(deduped), "kept": len(kept)}
    (out / "counts.json").write_text(json.dumps(counts))


if __name__ == "__main__":
    exec(WARCIO_BROTLI_FIX)  # before datatrove's WarcReader imports warcio's decoders (see anchor_recipes.py)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:])
