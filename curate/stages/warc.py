"""The WARC reader: HTML response records of one WARC file become documents with id, url, date, source and HTML.

Only `response` records with an HTML payload and a 2xx status are documents. Every other record is counted under
`skipped` by why (its type, its status, its media type), so the reader's counts add up to the file's records.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa
from warcio.recordloader import ArcWarcRecord

from curate import storage
from curate.stages.base import BatchBuilder, Reader, Reject, StageResult
from curate.stages.charset import decode_html
from curate.stages.warc_records import BadSpan, WarcRecord, iter_records
from curate.stats import StageStats

HTML_MEDIA_TYPES = ("text/html", "application/xhtml+xml")
# Common Crawl itself truncates payloads at 1 MiB (marked by WARC-Truncated); 5 MiB keeps every such page whole
# while bounding the time an extractor can spend on one pathological page.
DEFAULT_MAX_PAYLOAD_BYTES = 5 * 1024 * 1024


def _media_type(content_type: str | None) -> str:
    """Example: 'text/HTML; charset=UTF-8' -> 'text/html'."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _looks_like_html(payload: bytes) -> bool:
    head = payload[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml")) or b"<html" in head


def record_id(raw_id: str | None) -> str | None:
    """The bare WARC-Record-ID. Example: '<urn:uuid:1b5b0e8e-...>' -> '1b5b0e8e-...'."""
    if not raw_id:
        return None
    bare = raw_id.strip().strip("<>")
    return bare.removeprefix("urn:uuid:")


def _wants_payload(record: ArcWarcRecord) -> bool:
    if record.rec_type != "response" or not record.http_headers:
        return False
    media = _media_type(record.http_headers.get_header("Content-Type"))
    return media in HTML_MEDIA_TYPES or media == ""


@dataclass
class WarcReader(Reader):
    """Reads one WARC file (gzip per record or uncompressed) into documents; see the module docstring."""

    name: ClassVar[str] = "warc"
    schema: ClassVar[pa.Schema] = pa.schema(
        [
            ("id", pa.string()),
            ("url", pa.string()),
            ("warc_date", pa.string()),
            ("warc_record_id", pa.string()),
            ("source", pa.string()),
            ("charset", pa.string()),
            ("html", pa.string()),
        ]
    )

    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES

    def __post_init__(self) -> None:
        if self.max_payload_bytes <= 0:
            raise ValueError(f"max_payload_bytes must be positive, got {self.max_payload_bytes}")

    def read(self, path: str, stats: StageStats, batch_docs: int) -> Iterator[StageResult]:
        batch = BatchBuilder(self, stats, batch_docs)
        name = storage.basename(path)
        try:
            for item in iter_records(path, _wants_payload, self.max_payload_bytes):
                location = f"{name}:{item.offset}"
                if isinstance(item, BadSpan):
                    batch.reject({"id": location, "source": location}, Reject(item.reason, item.detail), failed=True)
                else:
                    self._add_record(item, location, batch)
                if batch.full():
                    yield batch.flush()
        except OSError as error:
            reason = "missing_file" if isinstance(error, FileNotFoundError) else "unreadable_file"
            batch.reject({"id": f"{name}:0", "source": f"{name}:0"}, Reject(reason, str(error)), failed=True)
        yield batch.flush()

    def _add_record(self, record: WarcRecord, location: str, batch: BatchBuilder) -> None:
        if record.rec_type != "response":
            batch.skip(f"record_type:{record.rec_type}")
            return
        if record.status is None:
            batch.skip("non_http_response")
            return
        if not record.status.startswith("2"):
            batch.skip(f"http_status:{record.status[:1]}xx")
            return
        media = _media_type(record.content_type)
        if record.payload is None or (media == "" and not _looks_like_html(record.payload)):
            batch.skip(f"non_html:{media or 'unknown'}")
            return
        row = {
            "id": record_id(record.record_id) or location,
            "url": record.target_uri.strip("<>") if record.target_uri else None,
            "warc_date": record.date,
            "warc_record_id": record.record_id,
            "source": location,
        }
        if not record.payload.strip():
            batch.reject(row, Reject("empty_payload"))
        elif record.payload_truncated:
            batch.reject(row, Reject("too_large", f"payload over max_payload_bytes={self.max_payload_bytes}"))
        else:
            decoded = decode_html(record.payload, record.content_type)
            batch.stats.events[f"charset_{decoded.source}"] += 1
            batch.keep({**row, "charset": decoded.charset, "html": decoded.text}, len(record.payload))
