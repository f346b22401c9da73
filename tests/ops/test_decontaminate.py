"""decontaminate: GSM8K test and HumanEval items planted into real pages, verbatim and lightly edited, are found and
named; the clean pages stay. (bench/decontamination.py measures the same on the shared corpus's 1,075 pages.)"""

from __future__ import annotations

import gzip
import json
import random
import re
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.config import load_pipeline
from curate.dag import run_pipeline
from curate.executors.local import LocalExecutor


def benchmark_items(corpus: Path) -> list[tuple[str, str]]:
    """(name, text) of the first 40 GSM8K test problems and the first 20 HumanEval problems."""
    items = []
    with open(corpus / "eval" / "gsm8k_test.jsonl", encoding="utf-8") as lines:
        for number, line in zip(range(1, 41), lines):
            record = json.loads(line)
            items.append((f"gsm8k_test:{number}", record["question"] + "\n" + record["answer"]))
    with gzip.open(corpus / "eval" / "humaneval.jsonl.gz", "rt", encoding="utf-8") as lines:
        for _, line in zip(range(20), lines):
            record = json.loads(line)
            items.append((f"humaneval:{record['task_id']}", record["prompt"] + record["canonical_solution"]))
    return items


def edited(text: str, rng: random.Random) -> str:
    """A light edit, as a copied problem often has: numbers changed, one word in eight dropped, case and punctuation
    changed."""
    text = re.sub(r"\d+", lambda m: str(int(m.group()) + 1), text)
    words = [w for w in text.split() if rng.random() > 1 / 8]
    return " ".join(words).upper().replace(".", "!")


def planted(page: str, item: str, rng: random.Random) -> str:
    paragraphs = page.split("\n")
    at = rng.randrange(len(paragraphs) + 1)
    return "\n".join(paragraphs[:at] + [item] + paragraphs[at:])


def run_decontaminate(folder: Path, documents: list[dict], benchmarks: list[Path]) -> dict[str, str]:
    """Run `docs` (the documents, as JSON Lines) -> `clean` (decontaminate against `benchmarks`) in `folder`; return
    the rejected documents' ids with their reject detail."""
    (folder / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in documents))
    pipeline = folder / "p.yaml"
    pipeline.write_text(textwrap.dedent(f"""
        workdir: {folder / "out"}
        nodes:
          docs: {{input: {{jsonl: docs.jsonl}}}}
          clean:
            decontaminate: {{input: docs, benchmarks: {json.dumps([str(path) for path in benchmarks])}}}
    """))
    with LocalExecutor() as executor:
        run_pipeline(load_pipeline(str(pipeline)), executor, log=lambda line: None)
    return {r["id"]: r["reject_detail"] for r in pq.read_table(folder / "out" / "_rejected" / "clean").to_pylist()}


@pytest.fixture(scope="module")
def outcome(quickstart_local, corpus, tmp_path_factory):
    folder = tmp_path_factory.mktemp("decontaminate")
    # by id: a folder's row order follows its partitions' names, which hash the inputs' absolute paths, so it
    # changes with the checkout's location (and with it which pages the items are planted in)
    pages = sorted(pq.read_table(quickstart_local / "text", columns=["id", "text"]).to_pylist(), key=lambda p: p["id"])
    rng = random.Random(0)
    items = benchmark_items(corpus)
    documents, expected = [], {}
    for index, (name, item) in enumerate(items):
        for kind, text in (("verbatim", item), ("edited", edited(item, rng))):
            doc_id = f"{kind}-{index}"
            documents.append({"id": doc_id, "text": planted(rng.choice(pages)["text"], text, rng)})
            expected[doc_id] = name
    documents += [{"id": page["id"], "text": page["text"]} for page in pages]
    rejected = run_decontaminate(folder, documents, [corpus / "eval" / "gsm8k_test.jsonl",
                                                     corpus / "eval" / "humaneval.jsonl.gz"])
    return rejected, expected, len(pages)


def test_verbatim_items_are_all_found_and_named(outcome):
    found, expected, _ = outcome
    verbatim = {k: v for k, v in expected.items() if k.startswith("verbatim")}
    assert all(found.get(doc, "").startswith(name + " ") for doc, name in verbatim.items())


def test_lightly_edited_items_are_found(outcome):
    found, expected, _ = outcome
    edits = [doc for doc in expected if doc.startswith("edited")]
    named = [doc for doc in edits if found.get(doc, "").startswith(expected[doc] + " ")]
    # bench/decontamination.py measures 0.953 on 300 edited items; on these 60 the share moves with which words the
    # edit happened to drop (52 and 55 of 60 seen with two orders of the same pages), hence the margin
    assert len(named) / len(edits) >= 0.8


def test_clean_pages_are_kept(outcome):
    found, expected, pages = outcome
    assert set(found) <= set(expected) and pages > 200


def test_thirteen_shared_words_contaminate_and_twelve_do_not(tmp_path):
    """GPT-3's rule at its edge: a page sharing 13 consecutive words (lower-cased, punctuation dropped) with an item
    is contaminated, one sharing 12 is not, wherever the run sits in the item."""
    item = ("Janet owns ducks that lay sixteen eggs per day, she eats three for breakfast every morning and bakes "
            "muffins for her friends with four more, selling the remainder at the market daily")
    words = item.split()
    filler = "an unrelated paragraph about gardening tools and the weather in spring"
    documents = [{"id": "thirteen-start", "text": f"{filler} {' '.join(words[:13])} {filler}"},
                 {"id": "thirteen-middle", "text": f"{filler}\n{' '.join(words[7:20]).upper()}! {filler}"},
                 {"id": "twelve", "text": f"{filler} {' '.join(words[:12])} {filler}"},
                 {"id": "two-twelves", "text": f"{' '.join(words[:12])} {filler} {' '.join(words[14:26])}"}]
    (tmp_path / "bench.jsonl").write_text(json.dumps({"task_id": "ducks", "question": item}) + "\n")
    rejected = run_decontaminate(tmp_path, documents, [tmp_path / "bench.jsonl"])
    kept = set(pq.read_table(tmp_path / "out" / "clean", columns=["id"]).column("id").to_pylist())
    assert set(rejected) == {"thirteen-start", "thirteen-middle"} and "bench:ducks" in rejected["thirteen-start"]
    assert kept == {"twelve", "two-twelves"}
