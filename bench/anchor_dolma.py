"""A Dolma-style recipe (AI2's Dolma v1.5 web pipeline, Soldaini et al. 2024, section 3.1 and its configs/dolma-v1_5)
over documents of whole-page text, with dolma's own taggers, for the training ablation (issue 29). dolma pins numpy < 2
and tokenizers <= 0.19, which curate's environment cannot share, so this file runs in its own (`make ablation` makes
.venv-dolma); bench/anchor_recipes.py writes its input and reads its output.

    .venv-dolma/bin/python bench/anchor_dolma.py DOCUMENTS.jsonl.gz OUT.jsonl.gz LANGID_MODEL

Dolma's web text is Common Crawl's WET text (the page's whole text), passed through CCNet; its steps, and how each is
taken here:
1. Language: CCNet's fastText language ID, English >= 0.5: dolma's `ft_lang_id_en_doc_v2` tagger with the lid.176
   model the other arms use (its own is downloaded).
2. C4's NoPunc rule on the text ("v1-c4-cleaned"): the lines dolma's `c4_v1` tagger marks as not ending in
   punctuation are removed.
3. Gopher's rules as dolma's `gopher_v1` tagger measures them, at the thresholds of configs/dolma-v1_5/mixing/cc-*.yaml
   (GOPHER_LIMITS; the configs name the 2-4-gram attributes "..._2gram" while the tagger writes "..._2grams", so those
   three rules never fired there; they are applied here as written).
4. Paragraph deduplication: a paragraph (line) seen before in reading order is removed, as dolma's Bloom-filter
   `dedupe` marks it and the mixer removes it (span_replacement, min_score 0.5); an exact set stands for the Bloom
   filter. A document left empty is dropped.
Left out, and why: the toxicity and NSFW classifiers (Jigsaw fastText models, downloaded), PII masking (no arm
redacts), CCNet's perplexity buckets (Dolma keeps head, middle and tail alike), URL deduplication (one capture of a
URL per document here).
"""

from __future__ import annotations

import gzip
import json
import sys

# configs/dolma-v1_5/mixing/cc-head.yaml's `exclude` rules on gopher_v1's attributes: (attribute, low, high), a
# document is dropped when the value is below low or above high
GOPHER_LIMITS = (
    ("word_count", 50, 100_000),
    ("median_word_length", 3, 10),
    ("symbol_to_word_ratio", None, 0.1),
    ("fraction_of_words_with_alpha_character", 0.8, None),
    ("required_word_count", 2, None),
    ("fraction_of_lines_starting_with_bullet_point", None, 0.9),
    ("fraction_of_lines_ending_with_ellipsis", None, 0.3),
    ("fraction_of_duplicate_lines", None, 0.3),
    ("fraction_of_characters_in_duplicate_lines", None, 0.3),
    ("fraction_of_characters_in_most_common_2grams", None, 0.2),
    ("fraction_of_characters_in_most_common_3grams", None, 0.18),
    ("fraction_of_characters_in_most_common_4grams", None, 0.16),
    ("fraction_of_characters_in_duplicate_5grams", None, 0.15),
    ("fraction_of_characters_in_duplicate_6grams", None, 0.14),
    ("fraction_of_characters_in_duplicate_7grams", None, 0.13),
    ("fraction_of_characters_in_duplicate_8grams", None, 0.12),
    ("fraction_of_characters_in_duplicate_9grams", None, 0.11),
    ("fraction_of_characters_in_duplicate_10grams", None, 0.10),
)
MIN_ENGLISH = 0.5  # CCNet's language threshold, which Dolma's web text went through


def remove_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` less the character spans (sorted by start). Example: remove_spans("abcdef", [(1, 3)]) -> "adef"."""
    pieces, last = [], 0
    for start, end in spans:
        pieces.append(text[last:start])
        last = max(last, end)
    pieces.append(text[last:])
    return "".join(pieces)


def gopher_failed(values: dict[str, float]) -> str | None:
    """The first Gopher rule (GOPHER_LIMITS) that a document's gopher_v1 values fail, or None."""
    for name, low, high in GOPHER_LIMITS:
        value = values.get(name)
        if value is not None and ((low is not None and value < low) or (high is not None and value > high)):
            return name
    return None


def new_paragraphs(text: str, seen: set[str]) -> str:
    """`text` less its paragraphs (lines) found in `seen`; the others join `seen`. Empty lines are not judged."""
    kept = []
    for line in text.split("\n"):
        if line.strip() and line in seen:
            continue
        seen.add(line)
        kept.append(line)
    return "\n".join(kept).strip()


def main(documents_path: str, out_path: str, langid_model: str) -> None:
    from dolma.core.data_types import Document
    from dolma.taggers.c4 import C4Tagger
    from dolma.taggers.gopher import GopherTagger
    from dolma.taggers.language import FastTextEnglishLanguageDocumentTagger

    class EnglishLanguage(FastTextEnglishLanguageDocumentTagger):
        MODEL_PATH = langid_model  # a local file: dolma loads it as it is

    language, c4, gopher = EnglishLanguage(), C4Tagger(), GopherTagger()
    counts = {"documents": 0, "english": 0, "gopher": 0, "kept": 0}
    seen: set[str] = set()
    with (gzip.open(documents_path, "rt", encoding="utf-8") as source,
          gzip.open(out_path, "wt", encoding="utf-8") as out):
        for line in source:
            record = json.loads(line)
            counts["documents"] += 1
            document = Document(source="cc", id=record["id"], text=record["text"])
            english = max((span.score for span in language.predict(document).spans if span.type == "en"), default=0.0)
            if english < MIN_ENGLISH:
                continue
            counts["english"] += 1
            no_punctuation = [(span.start, span.end) for span in c4.predict(document).spans
                              if span.type == "lines_with_no_ending_punctuation"]
            text = remove_spans(document.text, no_punctuation).strip()
            if not text:
                continue
            # dedupe tags every document it reads (the mixer drops some later): its paragraphs are seen from here
            deduplicated = new_paragraphs(text, seen)
            values = {span.type: span.score for span in gopher.predict(Document("cc", record["id"], text)).spans}
            if gopher_failed(values):
                continue
            counts["gopher"] += 1
            text = deduplicated
            if not text:
                continue
            counts["kept"] += 1
            out.write(json.dumps({"text": text, "id": record["id"], "url": record.get("url", "")}) + "\n")
    print(json.dumps(counts))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
