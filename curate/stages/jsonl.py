"""The JSON Lines reader: one JSON object a line (optionally gzipped), e.g. reference corpora and WET-like dumps."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from curate.stages.base import BatchBuilder, Reader, Reject, StageResult
from curate.stats import StageStats


def iter_texts(paths: str | list[str], field: str = "text") -> Iterator[str]:
    """The `field` strings of every line of the JSON Lines files `paths` (e.g. a target corpus for DSIR or the
    quality classifier); lines without it are skipped."""
    for path in [paths] if isinstance(paths, str) else paths:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                text = json.loads(line).get(field) if line.strip() else None
                if isinstance(text, str):
                    yield text


@dataclass
class JsonlReader(Reader):
    """Reads `text_field` (and `id_field`, `url_field` when present) of each line; a bad line fails alone."""

    name: ClassVar[str] = "jsonl"
    schema: ClassVar[pa.Schema] = pa.schema(
        [("id", pa.string()), ("url", pa.string()), ("source", pa.string()), ("text", pa.string())]
    )

    text_field: str = "text"
    id_field: str = "id"
    url_field: str = "url"

    def read(self, path: str, stats: StageStats, batch_docs: int) -> Iterator[StageResult]:
        batch = BatchBuilder(self, stats, batch_docs)
        name = os.path.basename(path)
        opener = gzip.open if path.endswith(".gz") else open
        try:
            with opener(path, "rb") as lines:
                for number, line in enumerate(lines, start=1):
                    if line.strip():
                        self._add_line(line, f"{name}:{number}", batch)
                    if batch.full():
                        yield batch.flush()
        except (OSError, EOFError) as error:
            reason = "missing_file" if isinstance(error, FileNotFoundError) else "unreadable_file"
            batch.reject({"id": name, "source": name}, Reject(reason, str(error)), failed=True)
        yield batch.flush()

    def _add_line(self, line: bytes, location: str, batch: BatchBuilder) -> None:
        row = {"id": location, "source": location}
        try:
            record = json.loads(line)
        except ValueError as error:
            batch.reject(row, Reject("bad_json", str(error)[:300]), failed=True)
            return
        if not isinstance(record, dict):
            batch.reject(row, Reject("bad_json", "a line is not a JSON object"), failed=True)
            return
        text = record.get(self.text_field)
        row["id"] = str(record.get(self.id_field, location))
        url = record.get(self.url_field)
        row["url"] = url if isinstance(url, str) else None
        if not isinstance(text, str) or not text.strip():
            batch.reject(row, Reject("no_text", f"field {self.text_field!r} is missing or empty"))
            return
        batch.keep({**row, "text": text}, len(text.encode()))
