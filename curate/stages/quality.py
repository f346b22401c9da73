"""The `fasttext_quality` step: the probability that a document reads like the reference text, from a classifier a
`train_fasttext` node trained; stored as `quality`.

The cut is `min_quantile` (the default) or `min_score`. `min_quantile: 0.02` rejects a document that scores below
the 2nd percentile of the training node's `calibrate` documents (the documents this step judges; without one, of the
negative documents it held out): a share that means the same whatever the model's size, where a raw score cut moves
with the amount of training data (docs/quality.md has the measurements, and the choice of 0.02 on the labelled set's
tune split). `min_score` is a raw probability, for a model whose scale you know.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from curate import storage
from curate.stages.base import DocumentStage, Reject
from curate.stages.langid import load_model

POSITIVE, NEGATIVE = "__label__hq", "__label__lq"
QUANTILES_FILE = "quantiles.json"  # written beside the model by train_fasttext


def hq_probability(model: object, text: str) -> float:
    """P(high quality) of `text` under a train_fasttext classifier (fastText reads one line: newlines become spaces)."""
    labels, probabilities = model.predict(" ".join(text.split()), k=2)  # type: ignore[attr-defined]
    return float(dict(zip(labels, probabilities)).get(POSITIVE, 0.0))


def quantile_score(quantiles: list[float], q: float) -> float:
    """The score at quantile `q` of a 101-point table (percentiles 0..100), interpolated.

    Example: quantile_score([i / 100 for i in range(101)], 0.105) -> 0.105
    """
    position = q * 100
    low = min(int(position), 99)
    return quantiles[low] + (quantiles[low + 1] - quantiles[low]) * (position - low)


@dataclass
class FastTextQuality(DocumentStage):
    name: ClassVar[str] = "fasttext_quality"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[pa.Field, ...]] = (pa.field("quality", pa.float32()),)
    # option -> the kind of node it may name; the pipeline resolves the name to that node's model file
    model_inputs: ClassVar[dict[str, str]] = {"model": "train_fasttext"}

    model: str
    min_quantile: float | None = None
    min_score: float | None = None

    def __post_init__(self) -> None:
        if self.min_score is not None and self.min_quantile is not None:
            raise ValueError("give min_quantile or min_score, not both")
        if self.min_score is None and self.min_quantile is None:
            self.min_quantile = 0.02
        for option, value in (("min_score", self.min_score), ("min_quantile", self.min_quantile)):
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{option} must be between 0 and 1, got {value}")
        self.model_path = storage.absolute(self.model)  # resolved once, not per document
        self._threshold: float | None = self.min_score

    def threshold(self) -> float:
        """The raw score cut: `min_score`, or the score at `min_quantile` of the calibration documents."""
        if self._threshold is None:
            path = storage.join(storage.dirname(self.model_path), QUANTILES_FILE)
            tables = json.loads(storage.read_bytes(path))
            table = tables.get("calibrate") or tables["negative"]
            self._threshold = quantile_score(table, float(self.min_quantile or 0.0))
        return self._threshold

    def apply(self, text: str | None) -> tuple[float] | Reject:
        score = hq_probability(load_model(self.model_path), text or "")
        cut = self.threshold()
        if score < cut:
            detail = f"{score:.4f} < {cut:.4f}" + (f" (quantile {self.min_quantile})" if self.min_score is None
                                                   else "")
            return Reject("low_quality", detail, (score,))
        return (score,)
