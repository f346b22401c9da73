"""Language identification with fastText's lid.176 model: columns `lang` and `lang_score`, filtered by a keep-list.

fastText classifies one line at a time (a newline ends its input), so the text's lines are joined with spaces first,
as CCNet and datatrove do. The model is loaded once per worker process and shared by every batch.

lid.176 was trained on composed (NFC) text, as the web serves it: its character n-grams of a decomposed Hangul
syllable or a decomposed "č" are n-grams it never saw. On NFD text its accuracy falls from 0.99 to 0.01 for Korean,
0.94 to 0.36 for Latvian and 0.90 to 0.43 for Czech (lingua's sentences, measured when this was found), so the text
is composed before it is scored, whatever form the pipeline normalises to; the stored text is not changed.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from curate import storage
from curate.model_cache import load_model_file
from curate.stages.base import DocumentStage, Reject

DEFAULT_MODEL = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "models", "lid.176.ftz"))
LABEL_PREFIX = "__label__"


def load_model(path: str) -> Any:
    """A fastText model (lid.176, or a quality classifier a node trained), local or on object storage, loaded once
    per worker process and per version of the file (curate/model_cache.py)."""
    import fasttext

    return load_model_file(path, fasttext.load_model, "language ID model")


def identify(model: Any, text: str) -> tuple[str, float]:
    """The most likely language code and its probability. Example: identify(m, "Guten Tag") -> ("de", 0.98)."""
    labels, scores = model.predict(" ".join(unicodedata.normalize("NFC", text).split()), k=1)
    return labels[0].removeprefix(LABEL_PREFIX), float(scores[0])


@dataclass
class LangId(DocumentStage):
    """Add `lang` and `lang_score`; keep documents whose language is in `keep` (all when empty) with a score of at
    least `min_score`."""

    name: ClassVar[str] = "langid"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[pa.Field, ...]] = (pa.field("lang", pa.string()), pa.field("lang_score", pa.float32()))

    keep: list[str] = field(default_factory=list)
    # FineWeb keeps English documents with a score of at least 0.65 (Penedo et al. 2024, section 3.3).
    min_score: float = 0.65
    model: str = DEFAULT_MODEL
    file_options: ClassVar[tuple[str, ...]] = ("model",)

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"min_score must be between 0 and 1, got {self.min_score}")
        self.model_path = storage.absolute(self.model)  # resolved once, not per document

    def apply(self, text: str | None) -> tuple[str, float] | Reject:
        lang, score = identify(load_model(self.model_path), text or "")
        if self.keep and lang not in self.keep:
            return Reject("language", f"{lang} ({score:.2f})", (lang, score))
        if score < self.min_score:
            return Reject("low_language_score", f"{lang} ({score:.2f}) < {self.min_score}", (lang, score))
        return lang, score
