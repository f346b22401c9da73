"""KenLM perplexity, CCNet-style (Wenzek et al. 2020, "CCNet", section 3.3): the `kenlm_perplexity` step adds
`perplexity` and `ppl_bucket` (head / middle / tail) to each document, using the model and cut-offs that a
`train_kenlm` node wrote.

Text is normalised the same way for training and scoring, as CCNet's text_normalizer: lower case, accents stripped
(NFD, then combining marks dropped), every digit 0, typographic punctuation mapped to ASCII, control characters
removed. CCNet then cuts words with a SentencePiece model; curate splits words from punctuation instead, so the
model's vocabulary is words and a word the reference never used scores as KenLM's <unk>. A document's perplexity is
CCNet's: 10 ** (-sum of line log10 scores / (words + one end-of-line per line)), over its non-empty lines.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from curate import storage
from curate.model_cache import load_model_file
from curate.stages.base import DocumentStage, Reject

BUCKETS = ("head", "middle", "tail")
CUTOFFS_FILE = "cutoffs.json"
# Typographic punctuation and full-width forms -> ASCII, so "“word”" and "\"word\"" are one n-gram to the model.
PUNCTUATION = str.maketrans({
    "“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "「": '"', "」": '"', "《": '"', "》": '"',
    "‘": "'", "’": "'", "´": "'", "–": "-", "—": " - ", "━": "-", "►": "-", "…": "...",
    "，": ",", "、": ",", "。": ".", "．": ".", "：": ":", "∶": ":", "；": ";", "？": "?", "！": "!",
    "（": "(", "）": ")", "【": "[", "】": "]", "〈": "<", "〉": ">", "％": "%", "～": "~",
})
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_DIGIT = re.compile(r"\d")
_TOKEN = re.compile(r"\w+|[^\w\s]")


def normalize_line(line: str) -> str:
    """CCNet's normalisation of one line. Example: normalize_line("Élan, 1984!") -> "elan, 0000!" """
    line = line.strip().lower()
    line = "".join(c for c in unicodedata.normalize("NFD", line) if unicodedata.category(c) != "Mn")
    line = _DIGIT.sub("0", line).translate(PUNCTUATION)
    return _CONTROL.sub("", line)


def lm_tokens(line: str) -> str:
    """A line as the model sees it: normalised, words and punctuation marks separated by single spaces.

    Example: lm_tokens("Hello, World 42.") -> "hello , world 00 ."
    """
    return " ".join(_TOKEN.findall(normalize_line(line)))


def load_kenlm(path: str) -> Any:
    """A KenLM model, local or on object storage, loaded once per worker process and per version of the file
    (curate/model_cache.py)."""
    import kenlm

    return load_model_file(path, kenlm.Model, "KenLM model")


def doc_perplexity(model: Any, text: str) -> float | None:
    """The document's perplexity under `model`, or None when it has no word to score."""
    log_score, length = 0.0, 0
    for line in text.split("\n"):
        tokens = lm_tokens(line)
        if tokens:
            log_score += model.score(tokens, bos=True, eos=True)
            length += tokens.count(" ") + 2  # words, plus the end of the line
    return 10.0 ** (-log_score / length) if length else None


def bucket_of(perplexity: float, head_cutoff: float, tail_cutoff: float) -> str:
    """CCNet's PerplexityBucket: below the head cut-off "head", below the tail cut-off "middle", else "tail"."""
    return "head" if perplexity < head_cutoff else "middle" if perplexity < tail_cutoff else "tail"


@dataclass
class KenLMPerplexity(DocumentStage):
    """Add `perplexity` and `ppl_bucket`; keep documents whose bucket is in `keep` and, if set, whose perplexity is
    at most `max_perplexity`."""

    name: ClassVar[str] = "kenlm_perplexity"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[pa.Field, ...]] = (pa.field("perplexity", pa.float32()), pa.field("ppl_bucket", pa.string()))
    model_inputs: ClassVar[dict[str, str]] = {"model": "train_kenlm"}

    model: str
    keep: list[str] = field(default_factory=lambda: list(BUCKETS))
    max_perplexity: float | None = None

    def __post_init__(self) -> None:
        unknown = [b for b in self.keep if b not in BUCKETS]
        if unknown or not self.keep:
            raise ValueError(f"keep must list some of {', '.join(BUCKETS)}, got {self.keep}")
        self.model_path = storage.absolute(self.model)  # resolved once, not per document
        self._cutoffs: tuple[float, float] | None = None

    def cutoffs(self) -> tuple[float, float]:
        """(head, tail) perplexity cut-offs, written beside the model by its train_kenlm node."""
        if self._cutoffs is None:
            data = json.loads(storage.read_bytes(storage.join(storage.dirname(self.model_path), CUTOFFS_FILE)))
            self._cutoffs = (float(data["head"]), float(data["tail"]))
        return self._cutoffs

    def apply(self, text: str | None) -> tuple[float, str] | Reject:
        perplexity = doc_perplexity(load_kenlm(self.model_path), text or "")
        if perplexity is None or not math.isfinite(perplexity):
            return Reject("no_words", "nothing to score")
        bucket = bucket_of(perplexity, *self.cutoffs())
        if bucket not in self.keep:
            return Reject(f"perplexity_{bucket}", f"{perplexity:.1f}", (perplexity, bucket))
        if self.max_perplexity is not None and perplexity > self.max_perplexity:
            return Reject("perplexity_too_high", f"{perplexity:.1f} > {self.max_perplexity}", (perplexity, bucket))
        return perplexity, bucket
