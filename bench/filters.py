"""Filter throughput per core: curate's stages against datatrove's LanguageFilter, Gopher, C4, C4 bad words, FineWeb
and URL filters and its PII formatter; curate's KenLM perplexity on its own (datatrove's KenLM blocks download CCNet's
models, which cannot run here) and its RefinedWeb line corrections (datatrove has none; DCLM's are not a package).

Documents: every WARC file of the shared corpus, extracted with curate (resiliparse) and NFC-normalised. Each pair
runs over the same documents in this one process, one after the other, single-threaded: curate's stage through its
Arrow `process`, datatrove's block through its `run`. Both language filters use the same lid.176 file (curate's
shipped copy; datatrove would otherwise download lid.176.bin). Also printed: how often the two keep or reject the
same document (their rules differ in details such as tokenisation). The word-based rules run twice on curate's side:
with whitespace words (the default) and with English tokens (`words_language: en`, curate/stages/words.py), the unit
datatrove's spaCy tokenizer gives them.

    python bench/filters.py [--only langid gopher_quality/en ...]
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import corpus_or_exit, interleaved, timed  # noqa: E402

from curate.ops.train_kenlm import TrainKenLM  # noqa: E402
from curate.stages import STEPS  # noqa: E402
from curate.stages.extract import Extract  # noqa: E402
from curate.stages.langid import DEFAULT_MODEL  # noqa: E402
from curate.stages.normalize import Normalize  # noqa: E402
from curate.stages.perplexity import CUTOFFS_FILE, KenLMPerplexity, doc_perplexity, load_kenlm  # noqa: E402
from curate.stages.warc import WarcReader  # noqa: E402
from curate.stats import StageStats  # noqa: E402

LISTS = Path(__file__).resolve().parents[1] / "pipelines" / "lists"


def load_documents() -> pa.Table:
    corpus = corpus_or_exit()
    files = sorted((corpus / "warc").glob("*/*")) + sorted((corpus / "warc" / "real").glob("*/*"))
    tables = []
    for path in files:
        if path.is_file():
            for batch in WarcReader().read(str(path), StageStats("warc"), 500):
                text = Extract(engine="resiliparse").process(batch.kept, StageStats("extract")).kept
                tables.append(Normalize(form="NFC").process(text, StageStats("normalize")).kept)
    return pa.concat_tables(tables).select(["id", "url", "text"])


def url_lists(table: pa.Table, folder: Path) -> dict[str, Path]:
    """Lists that fire on this corpus: the host (less "www.") of every 7th document, the example word lists of
    pipelines/lists/ plus two words frequent in these URLs."""
    hosts = [urlsplit(u).hostname or "" for u in table.column("url").to_pylist()[::7]]
    lists = {"blocked_domains": sorted({h.removeprefix("www.") for h in hosts if "." in h}),
             "banned_url_words": read_list(LISTS / "banned_url_words.txt") + ["archive"],
             "soft_banned_url_words": read_list(LISTS / "soft_banned_url_words.txt") + ["news", "blog"]}
    for name, entries in lists.items():
        (folder / f"{name}.txt").write_text("\n".join(entries) + "\n")
    return {name: folder / f"{name}.txt" for name in lists}


def seed_datatrove_badwords() -> None:
    """Put curate's shipped English list (the same file, at the commit datatrove names) where datatrove's
    C4BadWordsFilter looks for its download, marked complete, so nothing is downloaded."""
    from datatrove.io import strip_protocol
    from datatrove.pipeline.filters.c4_filters import _EN_BADWORDS_URL
    from huggingface_hub import cached_assets_path

    folder = cached_assets_path(library_name="datatrove", namespace="filters", subfolder="c4_badwords")
    target = Path(folder) / strip_protocol(_EN_BADWORDS_URL).replace("/", "_")
    target.write_bytes((Path(__file__).resolve().parents[1] / "models" / "badwords" / "en.txt").read_bytes())
    Path(f"{target}.completed").touch()


def datatrove_blocks(lists: dict[str, Path]) -> dict:
    from datatrove.pipeline.filters import (
        C4BadWordsFilter,
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
        URLFilter,
    )
    from datatrove.pipeline.formatters import PIIFormatter
    from fasttext.FastText import _FastText

    language = LanguageFilter(languages=["en"], language_threshold=0.65)
    language.model._model = _FastText(DEFAULT_MODEL)  # the same model file as curate's langid
    return {"langid": (language, {"keep": ["en"], "min_score": 0.65}),
            "gopher_quality": (GopherQualityFilter(), {}),
            "gopher_quality/en": (GopherQualityFilter(), {"words_language": "en"}),
            "gopher_repetition": (GopherRepetitionFilter(), {}),
            "gopher_repetition/en": (GopherRepetitionFilter(), {"words_language": "en"}),
            "c4": (C4QualityFilter(), {}),
            "c4_badwords": (C4BadWordsFilter(), {}),  # English, keep_fraction 0 (seed_datatrove_badwords)
            "fineweb_quality": (FineWebQualityFilter(char_duplicates_ratio=0.1), {}),
            "fineweb_quality/en": (FineWebQualityFilter(char_duplicates_ratio=0.1), {"words_language": "en"}),
            # The same lists for both (pipelines/lists/); datatrove's own are off (they are downloaded).
            "url_filter": (URLFilter(use_integrated_lists=False, extra_domains=read_list(lists["blocked_domains"]),
                                     banned_words=read_list(lists["banned_url_words"]),
                                     soft_banned_words=read_list(lists["soft_banned_url_words"])),
                           {"domain_lists": [str(lists["blocked_domains"])],
                            "banned_words": [str(lists["banned_url_words"])],
                            "soft_banned_words": [str(lists["soft_banned_url_words"])]}),
            "pii": (PIIFormatter(), {})}


def read_list(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def kenlm_stage(table: pa.Table, folder: str) -> KenLMPerplexity:
    """A kenlm_perplexity step with a 5-gram model of the shared reference text, trained by lmplz as train_kenlm
    does, and cut-offs at the 30th and 60th percentiles of these documents."""
    trainer = TrainKenLM(text=sorted(str(p) for p in (corpus_or_exit() / "target_text").glob("*.jsonl")),
                         calibrate="")
    model = os.path.join(folder, "model.binary")
    trainer.train_model(folder, model, os.path.join(folder, "kenlm.log"))
    scores = [doc_perplexity(load_kenlm(model), t) for t in table.column("text").to_pylist()]
    head, tail = np.percentile([s for s in scores if s is not None], [30, 60])
    with open(os.path.join(folder, CUTOFFS_FILE), "w") as handle:
        json.dump({"head": head, "tail": tail}, handle)
    return KenLMPerplexity(model=model)


def main() -> None:
    import argparse

    from datatrove.data import Document

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; each figure is their median")
    parser.add_argument("--only", nargs="+", help="these rows only (a row is a step name, /en: English tokens)")
    args = parser.parse_args()
    from datatrove.utils.logging import logger

    logger.remove()
    logging.disable(logging.WARNING)
    seed_datatrove_badwords()
    table = load_documents()
    print(f"{table.num_rows} documents, {sum(len(t) for t in table.column('text').to_pylist()) / 1e6:.1f} M chars, "
          "one core\n")
    print(f"{'stage':<20} {'curate docs/s':>13} {'datatrove docs/s':>16} {'ratio':>7} {'same decision':>13}")
    list_folder = tempfile.TemporaryDirectory()
    for name, (block, options) in datatrove_blocks(url_lists(table, Path(list_folder.name))).items():
        if args.only and name not in args.only:
            continue
        stage = STEPS[name.split("/")[0]](**options)
        kept_ids: set[str] = set()

        rewrites = name == "pii"  # a formatter keeps every document: compare which ones it changed

        def run_curate() -> int:
            kept = stage.process(table, StageStats(name)).kept
            if rewrites:
                kept = kept.filter(pc.not_equal(kept.column("text"), table.column("text")))
            kept_ids.update(kept.column("id").to_pylist())
            return table.num_rows

        documents = [Document(text=t, id=i, metadata={"url": u}) for i, u, t in zip(
            table.column("id").to_pylist(), table.column("url").to_pylist(), table.column("text").to_pylist())]
        originals = {doc.id: doc.text for doc in documents}
        theirs: set[str] = set()

        def run_datatrove() -> int:
            for doc in block.run(iter(documents)):
                if not rewrites or doc.text != originals[doc.id]:
                    theirs.add(doc.id)
            return len(documents)

        timings = interleaved({"curate": run_curate, "datatrove": run_datatrove}, repeats=args.repeats)
        ours_time, their_time = timings["curate"], timings["datatrove"]
        same = sum((i in kept_ids) == (i in theirs) for i in table.column("id").to_pylist()) / table.num_rows
        print(f"{name:<20} {ours_time.per_second:>13,.0f} {their_time.per_second:>16,.0f} "
              f"{ours_time.per_second / their_time.per_second:>6.2f}x {same:>12.1%}")
    if not args.only or "refinedweb_lines" in args.only:  # DCLM's line modifiers are not a package: curate only
        lines = STEPS["refinedweb_lines"]()

        def correct_all() -> int:
            lines.process(table, StageStats(lines.name))
            return table.num_rows

        timing = timed(lines.name, correct_all)
        print(f"{'refinedweb_lines':<20} {timing.per_second:>13,.0f} {'-':>16} {'-':>7} {'-':>13}")
    if args.only and "kenlm_perplexity" not in args.only:
        return
    with tempfile.TemporaryDirectory() as folder:  # datatrove's KenLM blocks download CCNet's models: curate only
        perplexity = kenlm_stage(table, folder)

        def score_all() -> int:
            perplexity.process(table, StageStats(perplexity.name))
            return table.num_rows

        timing = timed(perplexity.name, score_all)
        print(f"{'kenlm_perplexity':<20} {timing.per_second:>13,.0f} {'-':>16} {'-':>7} {'-':>13}")


if __name__ == "__main__":
    main()
