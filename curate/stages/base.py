"""The one contract every pipeline step follows: an Arrow batch of documents in, kept and rejected batches out.

A stage never drops a document silently. Each input row leaves either in `kept` (possibly with new columns) or in
`rejected` with three extra columns: the stage's name, a short machine-readable reason, and a human-readable detail.
A document whose processing raised is also written to `rejected` and counted as `failed` under the exception's type,
so one bad page cannot stop a run. Columns a stage does not own pass through untouched (../shared/DESIGN.md).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from curate.errors import ModelError
from curate.stats import StageStats

REJECT_FIELDS = (
    pa.field("reject_stage", pa.string()),
    pa.field("reject_reason", pa.string()),
    pa.field("reject_detail", pa.string()),
)
# A failed document's reason is this prefix plus the exception type, e.g. "error:UnicodeDecodeError".
FAILED_PREFIX = "error:"


@dataclass(frozen=True)
class Reject:
    """What a per-document stage returns instead of new values when it decides against a document. `values`, when
    the stage computed them (a score below its threshold), are kept in the rejected row's signal columns, so a
    threshold can be tuned from `_rejected/` alone."""

    reason: str
    detail: str = ""
    values: tuple[Any, ...] | None = None


@dataclass
class StageResult:
    """The two tables a stage returns for one batch."""

    kept: pa.Table
    rejected: pa.Table


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Reorder `table`'s columns to `schema`, adding missing ones as nulls and casting where types differ."""
    columns = []
    for f in schema:
        if f.name in table.column_names:
            column = table.column(f.name)
            columns.append(column if column.type == f.type else column.cast(f.type))
        else:
            columns.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(columns, schema=schema)


def with_reject_fields(schema: pa.Schema) -> pa.Schema:
    """`schema` plus the three reject columns (stage, reason, detail)."""
    return pa.schema([*schema, *REJECT_FIELDS])


def rejected_rows(table: pa.Table, stage: str, reasons: Sequence[Reject]) -> pa.Table:
    """Append the reject columns to `table` (one Reject per row)."""
    table = table.append_column(REJECT_FIELDS[0], pa.array([stage] * table.num_rows, pa.string()))
    table = table.append_column(REJECT_FIELDS[1], pa.array([r.reason for r in reasons], pa.string()))
    return table.append_column(REJECT_FIELDS[2], pa.array([r.detail for r in reasons], pa.string()))


class Stage(ABC):
    """A pipeline step. Subclasses are dataclasses whose fields are the step's options in the pipeline file."""

    name: ClassVar[str]
    # Columns the stage consumes and removes from its output (e.g. extraction turns `html` into `text`).
    drops: ClassVar[tuple[str, ...]] = ()
    # Options that may name a model node (option -> operation kind); the pipeline turns the name into that node's
    # model file and runs the node first.
    model_inputs: ClassVar[dict[str, str]] = {}
    # Options holding the path of a file the step loads (a model): resolved against the pipeline file's folder and
    # checked to exist before anything runs, so a typo is a pipeline-file error rather than a run of failures.
    file_options: ClassVar[tuple[str, ...]] = ()

    def output_schema(self, input_schema: pa.Schema) -> pa.Schema:
        """The schema of `kept` for a batch of `input_schema`; known before any row is seen (empty partitions)."""
        return input_schema

    def rejected_schema(self, input_schema: pa.Schema) -> pa.Schema:
        """The schema of `rejected`: the input's columns less the dropped ones, plus the reject columns."""
        keep = [f for f in input_schema if f.name not in self.drops]
        return with_reject_fields(pa.schema(keep))

    @abstractmethod
    def process(self, batch: pa.Table, stats: StageStats) -> StageResult:
        """Split `batch` into kept and rejected rows, updating `stats` (docs_in, kept, rejected, failed)."""


class DocumentStage(Stage):
    """A stage that decides one document at a time from a few of its columns.

    Subclasses set `reads` (the columns passed to `apply`, in order) and `writes` (the columns `apply` returns, which
    are added or replaced), and implement `apply`, which returns a tuple of values for `writes` or a Reject.
    """

    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[pa.Field, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A stage whose `apply` takes other arguments than its `reads` would fail on every document at run time;
        fail at import instead, naming the class."""
        super().__init_subclass__(**kwargs)
        if getattr(cls.apply, "__isabstractmethod__", False):
            return
        parameters = list(inspect.signature(cls.apply).parameters.values())[1:]  # after self
        if any(p.kind is p.VAR_POSITIONAL for p in parameters):
            return
        if len(parameters) != len(cls.reads):
            raise TypeError(f"{cls.__name__}.apply takes {len(parameters)} value(s) "
                            f"({', '.join(p.name for p in parameters)}) but reads {len(cls.reads)} column(s) "
                            f"({', '.join(cls.reads)})")

    def output_schema(self, input_schema: pa.Schema) -> pa.Schema:
        written = {f.name for f in self.writes}
        kept = [f for f in input_schema if f.name not in self.drops and f.name not in written]
        return pa.schema([*kept, *self.writes])

    def rejected_schema(self, input_schema: pa.Schema) -> pa.Schema:
        return with_reject_fields(self.output_schema(input_schema))

    @abstractmethod
    def apply(self, *values: Any) -> tuple[Any, ...] | Reject:
        """Values for `writes` computed from the `reads` columns of one document, or a Reject."""

    def process(self, batch: pa.Table, stats: StageStats) -> StageResult:
        inputs: Iterable[tuple[Any, ...]] = zip(*(batch.column(name).to_pylist() for name in self.reads))
        kept_rows: list[int] = []
        kept_values: list[tuple[Any, ...]] = []
        rejected_index: list[int] = []
        rejects: list[Reject] = []
        for row, values in enumerate(inputs):
            try:
                outcome = self.apply(*values)
            except ModelError:  # not the document's fault: every document would fail alike
                raise
            except Exception as error:  # one bad document must not stop the partition; it is recorded below
                outcome = Reject(FAILED_PREFIX + type(error).__name__, str(error)[:500])
            if isinstance(outcome, Reject):
                rejected_index.append(row)
                rejects.append(outcome)
                counter = stats.failed if outcome.reason.startswith(FAILED_PREFIX) else stats.rejected
                counter[outcome.reason] += 1
            else:
                kept_rows.append(row)
                kept_values.append(outcome)
        stats.docs_in += batch.num_rows
        stats.kept += len(kept_rows)
        schema = self.output_schema(batch.schema)
        kept = self._with_written(batch.take(pa.array(kept_rows, pa.int64())), kept_values, schema)
        rejected = self._with_written(batch.take(pa.array(rejected_index, pa.int64())), [r.values for r in rejects],
                                      schema)
        return StageResult(kept, rejected_rows(rejected, self.name, rejects))

    def _with_written(self, rows: pa.Table, values: Sequence[tuple[Any, ...] | None], schema: pa.Schema) -> pa.Table:
        """`rows` with the `writes` columns set from `values` (one tuple per row, conformed to `schema`). A row
        without values keeps what it had in a column the stage rewrites (a rejected document keeps its text) and
        gets nulls in the columns the stage adds."""
        for position, field in enumerate(self.writes):
            before = rows.column(field.name).to_pylist() if field.name in rows.column_names else [None] * len(values)
            column = [row[position] if row is not None else old for row, old in zip(values, before)]
            if field.name in rows.column_names:
                rows = rows.drop_columns([field.name])
            rows = rows.append_column(field, pa.array(column, field.type))
        return conform(rows.drop_columns([c for c in self.drops if c in rows.column_names]), schema)


class Reader(ABC):
    """The first step of a node: turns one input file (a partition) into batches of documents.

    Records that are not documents (a WARC request record) are counted in `stats.skipped`; documents the reader
    cannot use are written to `rejected` like any stage's, and records it cannot parse are counted as failed.
    """

    name: ClassVar[str]
    schema: ClassVar[pa.Schema]

    def rejected_schema(self) -> pa.Schema:
        return with_reject_fields(self.schema)

    @abstractmethod
    def read(self, path: str, stats: StageStats, batch_docs: int) -> Iterable[StageResult]:
        """Yield batches of at most `batch_docs` kept documents (and the rows rejected while reading them)."""


class BatchBuilder:
    """Collects reader rows and hands them out as StageResults of a bounded number of documents or bytes."""

    def __init__(self, reader: Reader, stats: StageStats, batch_docs: int, batch_bytes: int = 64 << 20) -> None:
        self.reader, self.stats = reader, stats
        self.batch_docs, self.batch_bytes = batch_docs, batch_bytes
        self.kept: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self.rejects: list[Reject] = []
        self.pending_bytes = 0

    def keep(self, row: dict[str, Any], size: int) -> None:
        self.stats.docs_in += 1
        self.stats.kept += 1
        self.stats.bytes_out += size
        self.kept.append(row)
        self.pending_bytes += size

    def reject(self, row: dict[str, Any], reject: Reject, *, failed: bool = False) -> None:
        self.stats.docs_in += 1
        (self.stats.failed if failed else self.stats.rejected)[reject.reason] += 1
        self.rejected.append(row)
        self.rejects.append(reject)

    def skip(self, reason: str) -> None:
        self.stats.docs_in += 1
        self.stats.skipped[reason] += 1

    def full(self) -> bool:
        return len(self.kept) >= self.batch_docs or self.pending_bytes >= self.batch_bytes

    def flush(self) -> StageResult:
        schema = self.reader.schema
        kept = pa.Table.from_pylist(self.kept, schema=schema)
        rejected = rejected_rows(pa.Table.from_pylist(self.rejected, schema=schema), self.reader.name, self.rejects)
        self.kept, self.rejected, self.rejects, self.pending_bytes = [], [], [], 0
        return StageResult(kept, rejected)
