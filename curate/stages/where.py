"""`where`: keep the documents whose column has one of the given values, or lies within bounds; the cheap way to
route a node's documents by a signal an earlier step computed (a language, a score) without computing it again.

    english:  {input: text, steps: [{where: {column: lang, values: [en]}}, {where: {column: lang_score, min: 0.65}}]}

A document whose column is missing (null) is rejected; a column the input does not have fails the partition with a
message naming it (a typo, or a step missing upstream).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.stages.base import Reject, Stage, StageResult, rejected_rows
from curate.stats import StageStats


@dataclass
class Where(Stage):
    """Keep documents whose `column` is in `values` (when given) and within [`min`, `max`] (when given)."""

    name: ClassVar[str] = "where"

    column: str
    values: list[str] = field(default_factory=list)
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        if not self.values and self.min is None and self.max is None:
            raise ValueError("give `values`, `min` or `max`")

    @property
    def reason(self) -> str:
        return f"where_{self.column}"

    def process(self, batch: pa.Table, stats: StageStats) -> StageResult:
        if self.column not in batch.column_names:
            raise ValueError(f"where: the documents have no column {self.column!r} (they have "
                             f"{', '.join(batch.column_names)})")
        column = batch.column(self.column)
        keep = pc.is_valid(column)
        if self.values:
            keep = pc.and_(keep, pc.is_in(column.cast(pa.string()), value_set=pa.array(self.values, pa.string())))
        if self.min is not None:
            keep = pc.and_(keep, pc.greater_equal(column, self.min))
        if self.max is not None:
            keep = pc.and_(keep, pc.less_equal(column, self.max))
        mask = np.asarray(pc.fill_null(keep, False).to_numpy(zero_copy_only=False), dtype=bool)
        kept, dropped = batch.filter(pa.array(mask)), batch.filter(pa.array(~mask))
        details = [Reject(self.reason, f"{self.column} = {v!r}") for v in dropped.column(self.column).to_pylist()]
        stats.docs_in += batch.num_rows
        stats.kept += kept.num_rows
        if dropped.num_rows:
            stats.rejected[self.reason] += dropped.num_rows
        return StageResult(kept, rejected_rows(dropped, self.name, details))
