"""The `fasttext_quality` step: the probability that a document reads like the reference text, from a classifier a
`train_fasttext` node trained; stored as `quality`, filtered at `min_score`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from curate import storage
from curate.stages.base import DocumentStage, Reject
from curate.stages.langid import load_model

POSITIVE, NEGATIVE = "__label__hq", "__label__lq"


def hq_probability(model: object, text: str) -> float:
    """P(high quality) of `text` under a train_fasttext classifier (fastText reads one line: newlines become spaces)."""
    labels, probabilities = model.predict(" ".join(text.split()), k=2)  # type: ignore[attr-defined]
    return float(dict(zip(labels, probabilities)).get(POSITIVE, 0.0))


@dataclass
class FastTextQuality(DocumentStage):
    name: ClassVar[str] = "fasttext_quality"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[pa.Field, ...]] = (pa.field("quality", pa.float32()),)
    # option -> the kind of node it may name; the pipeline resolves the name to that node's model file
    model_inputs: ClassVar[dict[str, str]] = {"model": "train_fasttext"}

    model: str
    min_score: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"min_score must be between 0 and 1, got {self.min_score}")
        self.model_path = storage.absolute(self.model)  # resolved once, not per document

    def apply(self, text: str | None) -> tuple[float] | Reject:
        score = hq_probability(load_model(self.model_path), text or "")
        if score < self.min_score:
            return Reject("low_quality", f"{score:.3f} < {self.min_score}", (score,))
        return (score,)
