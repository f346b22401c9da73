"""The JSON Lines reader: one JSON object a line (optionally gzipped), e.g. reference corpora and WET-like dumps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, ClassVar

import pyarrow as pa

from curate import storage
from curate.stages.base import BatchBuilder, Reader, Reject, StageResult
from curate.stats import StageStats


def missing_field_error(path: str, field: str, first_keys: list[str]) -> ValueError:
    """The error for a file none of whose records has `field`: a typo in the pipeline, not a bad record."""
    return ValueError(f"{storage.basename(path)}: no record has the field {field!r} (the first record has "
                      f"{', '.join(map(repr, first_keys)) or 'no field'}); set the text field's name in the pipeline")


def iter_texts(paths: str | list[str], field: str = "text") -> Iterator[str]:
    """The `field` strings of every line of the JSON Lines files `paths` (e.g. a target corpus for DSIR or the
    quality classifier); lines without it are skipped, but a file where no line has it is a ValueError."""
    for path in [paths] if isinstance(paths, str) else paths:
        found, first_keys = False, None
        with storage.open_text(path) as lines:
            for line in lines:
                record = json.loads(line) if line.strip() else None
                if not isinstance(record, dict):
                    continue
                first_keys = list(record) if first_keys is None else first_keys
                text = record.get(field)
                if isinstance(text, str):
                    found = True
                    yield text
        if first_keys is not None and not found:
            raise missing_field_error(path, field, first_keys)


# The types a kept field may be declared as (`fields: {lang: string, score: float64, meta: json}`); "json" keeps any
# value as its JSON text. A declared schema, not one inferred per file: every partition of a node has the same
# columns, which Arrow, pandas and HF datasets need to read the node as one dataset.
FIELD_TYPES: dict[str, pa.DataType] = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(),
                                       "bool": pa.bool_(), "json": pa.string()}
BASE_SCHEMA = pa.schema([("id", pa.string()), ("url", pa.string()), ("source", pa.string()), ("text", pa.string())])


def field_value(value: Any, kind: str) -> Any:
    """`value` as a column of type `kind`; ValueError when it is not one (None stays None).

    Example: field_value(3, "float64") -> 3.0; field_value({"a": 1}, "json") -> '{"a": 1}'; field_value("x", "int64")
    raises."""
    if value is None:
        return None
    if kind == "json":
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if kind == "string" and isinstance(value, str):
        return value
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind in ("int64", "float64") and isinstance(value, (int, float)) and not isinstance(value, bool):
        if kind == "float64":
            return float(value)
        if float(value).is_integer():
            return int(value)
    raise ValueError(f"{value!r} is not {kind}")


@dataclass
class JsonlReader(Reader):
    """Reads `text_field` (and `id_field`, `url_field` when present) of each line, and the other `fields` declared
    with their types as columns of their own; a bad line fails alone."""

    name: ClassVar[str] = "jsonl"
    schema: ClassVar[pa.Schema] = BASE_SCHEMA

    text_field: str = "text"
    id_field: str = "id"
    url_field: str = "url"
    fields: dict[str, str] = dataclass_field(default_factory=dict)

    def __post_init__(self) -> None:
        for column, kind in self.fields.items():
            if kind not in FIELD_TYPES:
                raise ValueError(f"fields: {column!r} has type {kind!r}; use one of {', '.join(FIELD_TYPES)}")
            if column in BASE_SCHEMA.names:
                raise ValueError(f"fields: {column!r} is a column curate writes itself; rename it")
        self.schema = pa.schema([*BASE_SCHEMA, *(pa.field(c, FIELD_TYPES[k]) for c, k in self.fields.items())])  # type: ignore[misc]

    def read(self, path: str, stats: StageStats, batch_docs: int) -> Iterator[StageResult]:
        """Raises ValueError when the file has records but none has `text_field` (a typo would otherwise reject
        every row as `no_text` and the run would succeed with nothing)."""
        batch = BatchBuilder(self, stats, batch_docs)
        self._first_keys: list[str] | None = None
        self._with_field = 0
        name = storage.basename(path)
        try:
            with storage.open_binary(path) as lines:
                for number, line in enumerate(lines, start=1):
                    if line.strip():
                        self._add_line(line, f"{name}:{number}", batch)
                    if batch.full():
                        yield batch.flush()
        except (OSError, EOFError) as error:
            reason = "missing_file" if isinstance(error, FileNotFoundError) else "unreadable_file"
            batch.reject({"id": name, "source": name}, Reject(reason, str(error)), failed=True)
        if self._first_keys is not None and not self._with_field:
            raise missing_field_error(path, self.text_field, self._first_keys)
        yield batch.flush()

    def _add_line(self, line: bytes, location: str, batch: BatchBuilder) -> None:
        row: dict[str, Any] = {"id": location, "source": location}
        try:
            record = json.loads(line)
        except ValueError as error:
            batch.reject(row, Reject("bad_json", str(error)[:300]), failed=True)
            return
        if not isinstance(record, dict):
            batch.reject(row, Reject("bad_json", "a line is not a JSON object"), failed=True)
            return
        if self._first_keys is None:
            self._first_keys = list(record)
        self._with_field += self.text_field in record
        text = record.get(self.text_field)
        row["id"] = str(record.get(self.id_field, location))
        url = record.get(self.url_field)
        row["url"] = url if isinstance(url, str) else None
        for column, kind in self.fields.items():
            try:
                row[column] = field_value(record.get(column), kind)
            except ValueError as error:
                batch.reject(row, Reject("bad_field", f"field {column!r}: {error}"[:300]))
                return
        if not isinstance(text, str) or not text.strip():
            batch.reject(row, Reject("no_text", f"field {self.text_field!r} is missing or empty"))
            return
        batch.keep({**row, "text": text}, len(text.encode()))
