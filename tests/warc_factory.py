"""Builds WARC files for tests: real HTML pages (from the shipped sample) in records that can be damaged on purpose."""

from __future__ import annotations

import gzip
import io
import re
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from curate.stages.warc_records import iter_records

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "pipelines" / "sample"


def real_pages(count: int, warc: str = "trafilatura-main-00000.warc.gz") -> list[tuple[str, bytes]]:
    """(url, html bytes) of the first `count` pages of a shipped sample WARC (default: trafilatura's test pages)."""
    pages = []
    for record in iter_records(str(SAMPLE_DIR / warc), lambda r: True, 10 << 20):
        if getattr(record, "rec_type", None) == "response" and record.payload:
            pages.append((record.target_uri, record.payload))
        if len(pages) == count:
            break
    return pages


def record_bytes(url: str, body: bytes, content_type: str = "text/html; charset=utf-8", *,
                 compress: bool = True, status: str = "200 OK", record_type: str = "response") -> bytes:
    """One complete WARC record (a gzip member when `compress`)."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=compress)
    http = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(url, record_type, payload=io.BytesIO(body), http_headers=http))
    return buffer.getvalue()


def with_content_length(record: bytes, delta: int, *, compress: bool = True) -> bytes:
    """The same record with its WARC Content-Length changed by `delta` (a lying header)."""
    plain = gzip.decompress(record) if compress else record
    head, _, rest = plain.partition(b"\r\n\r\n")

    def lie(match: re.Match[bytes]) -> bytes:
        return b"Content-Length: %d" % (int(match.group(1)) + delta)

    plain = re.sub(rb"Content-Length: (\d+)", lie, head, count=1) + b"\r\n\r\n" + rest
    return gzip.compress(plain) if compress else plain
