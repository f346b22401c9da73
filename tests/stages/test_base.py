"""The stage contract: failures are caught per document, counted, and written to rejected with the error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from curate.stages.base import DocumentStage, Reject, conform
from curate.stats import StageStats


@dataclass
class Upper(DocumentStage):
    name: ClassVar[str] = "upper"
    writes: ClassVar[tuple[pa.Field, ...]] = (pa.field("text", pa.string()), pa.field("n", pa.int64()))

    def apply(self, text):
        if text == "boom":
            raise ValueError("exploded")
        if text == "no":
            return Reject("said_no")
        if text == "long":
            return Reject("too_long", values=(text.upper(), len(text)))  # scored, then turned down
        return text.upper(), len(text)


def test_kept_rejected_and_failed_rows_add_up():
    batch = pa.table({"id": ["1", "2", "3", "4"], "text": ["ab", "boom", "no", "cde"], "extra": [1, 2, 3, 4]})
    stats = StageStats("upper")
    result = Upper().process(batch, stats)
    assert result.kept.to_pylist() == [{"id": "1", "extra": 1, "text": "AB", "n": 2},
                                       {"id": "4", "extra": 4, "text": "CDE", "n": 3}]
    rejected = result.rejected.to_pylist()
    assert [(r["id"], r["reject_stage"], r["reject_reason"]) for r in rejected] == [
        ("2", "upper", "error:ValueError"), ("3", "upper", "said_no")]
    assert rejected[0]["reject_detail"] == "exploded"
    assert stats.failed == {"error:ValueError": 1} and stats.rejected == {"said_no": 1} and stats.is_balanced()


def test_rejected_rows_keep_their_text_and_the_signals_computed():
    batch = pa.table({"id": ["1", "2"], "text": ["no", "long"]})
    rejected = Upper().process(batch, StageStats("upper")).rejected
    assert rejected.schema.names[:3] == ["id", "text", "n"]
    assert [(r["text"], r["n"]) for r in rejected.to_pylist()] == [("no", None), ("LONG", 4)]


def test_an_empty_batch_keeps_its_schema():
    batch = pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())})
    result = Upper().process(batch, StageStats("upper"))
    assert result.kept.schema == Upper().output_schema(batch.schema) and result.kept.num_rows == 0


def test_conform_adds_missing_columns_as_nulls():
    schema = pa.schema([("a", pa.string()), ("b", pa.int64())])
    assert conform(pa.table({"b": [1]}), schema).to_pylist() == [{"a": None, "b": 1}]
