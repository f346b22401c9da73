"""Decontamination recall and false positives by n-gram length: GSM8K test and HumanEval items planted into real
pages, verbatim and lightly edited (numbers changed, one word in eight dropped, case and punctuation changed), and
the 1,075 clean pages of the shared corpus's extraction sets, all scored by curate's decontaminate index.

No reference tool runs beside it: datatrove's NGramsDecontIndexer reads its benchmarks through lighteval from the
Hugging Face hub, which this machine cannot reach; the method is GPT-3's (appendix C), which the table varies.

    python bench/decontamination.py
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from pathlib import Path

import numpy as np
from resiliparse.extract.html2text import extract_plain_text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import corpus_or_exit  # noqa: E402

from curate.ops.decontaminate import informative_ngrams, words  # noqa: E402
from tests.ops.test_decontaminate import edited, planted  # noqa: E402

SAMPLE_ITEMS = 300
LENGTHS = (8, 10, 13, 15)


def clean_pages(corpus: Path) -> list[str]:
    pages = sorted(p for p in (corpus / "html").glob("*/pages/*.html.gz") if not p.name.endswith(".expected.html.gz"))
    return [extract_plain_text(gzip.open(p).read().decode("utf-8", "replace"), main_content=True) for p in pages]


def items(corpus: Path) -> list[str]:
    texts = []
    with open(corpus / "eval" / "gsm8k_test.jsonl", encoding="utf-8") as lines:
        texts += [json.loads(line)["question"] + "\n" + json.loads(line)["answer"] for line in lines]
    with gzip.open(corpus / "eval" / "humaneval.jsonl.gz", "rt", encoding="utf-8") as lines:
        texts += [json.loads(line)["prompt"] + json.loads(line)["canonical_solution"] for line in lines]
    return texts


def main() -> None:
    corpus = corpus_or_exit()
    pages, benchmark = clean_pages(corpus), items(corpus)
    rng = random.Random(1)
    sample = rng.sample(range(len(benchmark)), SAMPLE_ITEMS)
    print(f"{len(benchmark)} benchmark items (GSM8K test, HumanEval), {SAMPLE_ITEMS} planted each way into real pages; "
          f"{len(pages)} clean pages\n")
    print(f"{'n':>3} {'index n-grams':>14} {'recall verbatim':>16} {'recall edited':>14} {'clean pages flagged':>20}")
    for n in LENGTHS:
        cache: dict[str, int] = {}
        index = np.unique(np.concatenate([informative_ngrams(words(t), n, cache) for t in benchmark]))

        def flagged(text: str) -> bool:
            return bool(np.isin(informative_ngrams(words(text), n, cache), index).any())

        verbatim = edited_found = 0
        for i in sample:
            page = pages[rng.randrange(len(pages))]
            verbatim += flagged(planted(page, benchmark[i], rng))
            edited_found += flagged(planted(page, edited(benchmark[i], rng), rng))
        false = sum(flagged(page) for page in pages)
        print(f"{n:>3} {len(index):>14,} {verbatim / SAMPLE_ITEMS:>16.3f} {edited_found / SAMPLE_ITEMS:>14.3f} "
              f"{false:>13} of {len(pages)}")


if __name__ == "__main__":
    main()
