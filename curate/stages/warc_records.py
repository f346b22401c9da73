"""Resilient iteration over the records of a WARC file, built on warcio, that survives corrupt input.

warcio reads well-formed files (gzip per record or uncompressed, chunked transfer encoding, ARC) but on damage it
either raises and stops (garbage between records) or stops silently (a truncated last gzip member), and a lying
Content-Length either swallows the records that follow or leaves junk that breaks the next one. This module turns each
of those into a `BadSpan` with a reason and carries on from the next real record start, so every good record of a
damaged file is still read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import mmap
import os
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import brotli
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader
from warcio.recordloader import ArcWarcRecord

from curate import storage

GZIP_MAGIC = b"\x1f\x8b\x08"
INFLATE_ERROR = "while decompressing data"  # what zlib's errors say, which warcio prints to stderr and ignores
INFLATE_BLOCK = 1 << 16
# Header fields a WARC record has at most once (ISO 28500:2017, section 5; WARC-Concurrent-To may repeat).
SINGLE_FIELDS = ("warc-type", "warc-record-id", "warc-date", "content-length")
_PLAIN_RECORD_START = re.compile(rb"(?:^|\n)(WARC/1\.[01]\r?\n)")
# After garbage, a record's version line follows the garbage's last byte, not a newline.
_PLAIN_RECORD_START_ANYWHERE = re.compile(rb"()(WARC/1\.[01]\r?\n)")


class _BrotliDecompressor:
    """Google's `brotli` with the zlib-style interface warcio expects (`decompress`, `unused_data`, `flush`).

    warcio 1.8 assigns `unused_data` on brotli's Decompressor, which Brotli 1.1+ forbids, so every
    `Content-Encoding: br` response (common in browser recordings) would fail to decode without this adapter.
    """

    def __init__(self) -> None:
        self._inner = brotli.Decompressor()
        self.unused_data = b""

    def decompress(self, data: bytes) -> bytes:
        return self._inner.process(data)

    def flush(self) -> bytes:
        return b""


BufferedReader.DECOMPRESSORS["br"] = _BrotliDecompressor


@dataclass(frozen=True)
class WarcRecord:
    """One parsed record; `payload` is only read for records the caller wants (HTML responses)."""

    offset: int
    rec_type: str
    target_uri: str | None
    date: str | None
    record_id: str | None
    content_type: str | None
    status: str | None
    payload: bytes | None
    payload_truncated: bool  # longer than the caller's limit; the payload holds the first bytes only


@dataclass(frozen=True)
class BadSpan:
    """Bytes of the file that could not be read as a record: where, why (a short reason) and the parser's message."""

    offset: int
    reason: str
    detail: str


def _malformed_header(record: ArcWarcRecord) -> str:
    """Why a record's header cannot be one record's, or "": no WARC-Type (warcio read a newline and the bytes after
    it as a record), or a field the standard allows once given twice (junk behind a `WARC/1.0` line in front of a
    real record: warcio reads both headers as one, the real record's fields after the junk's)."""
    if record.rec_type is None:
        return "not a WARC record (no WARC-Type)"
    names = [name.lower() for name, _ in record.rec_headers.headers]
    repeated = [name for name in SINGLE_FIELDS if names.count(name) > 1]
    return f"not one WARC record: {repeated[0]} appears twice in its header" if repeated else ""


def _http_header(record: ArcWarcRecord, name: str) -> str | None:
    return record.http_headers.get_header(name) if record.http_headers else None


def _load(record: ArcWarcRecord, wants_payload: bool, max_payload: int) -> tuple[WarcRecord, bool]:
    """Read one record; returns it and whether its bytes were all there (False: Content-Length beyond the data)."""
    payload, truncated, complete = None, False, True
    if wants_payload:
        payload = record.content_stream().read(max_payload + 1)
        truncated = len(payload) > max_payload
        payload = payload[:max_payload]
        # The block reader counts down Content-Length; bytes still owed after reading to EOF mean the record lied.
        complete = truncated or record.raw_stream.limit == 0
    status = record.http_headers.get_statuscode() if record.http_headers else None
    return (
        WarcRecord(
            offset=-1,
            rec_type=record.rec_type,
            target_uri=record.rec_headers.get_header("WARC-Target-URI"),
            date=record.rec_headers.get_header("WARC-Date"),
            record_id=record.rec_headers.get_header("WARC-Record-ID"),
            content_type=_http_header(record, "Content-Type"),
            status=status,
            payload=payload,
            payload_truncated=truncated,
        ),
        complete,
    )


def _next_record_start(data: mmap.mmap, after: int, gzipped: bool, *, after_garbage: bool = False) -> int:
    """The offset of the first plausible record start at or after `after`, or len(data) when there is none.

    In an uncompressed file a record starts after a newline (the blank lines that end the record before it), except
    right after garbage (`after_garbage`), where any version line counts."""
    if not gzipped:
        pattern = _PLAIN_RECORD_START_ANYWHERE if after_garbage else _PLAIN_RECORD_START
        match = pattern.search(data, after)
        return match.start(1) if match else len(data)
    position = data.find(GZIP_MAGIC, after)
    while position != -1:
        with contextlib.suppress(zlib.error):
            if zlib.decompressobj(31).decompress(data[position : position + 1024], 8).startswith(b"WARC/"):
                return position
        position = data.find(GZIP_MAGIC, position + 1)
    return len(data)


def _inflate_error(data: mmap.mmap, offset: int) -> str | None:
    """Why the gzip member at `offset` does not inflate to its end (a data or check error, or the file ends inside
    it), or None when it does."""
    inflater = zlib.decompressobj(31)
    position = offset
    try:
        while not inflater.eof and position < len(data):
            inflater.decompress(data[position : position + INFLATE_BLOCK])
            position += INFLATE_BLOCK
    except zlib.error as error:
        return f"gzip member: {error}"
    return None if inflater.eof else "the file ends inside this gzip member"


def _damaged_member(data: mmap.mmap, last: int, warcio_failed: bool) -> tuple[int, str, str] | None:
    """Where the read of a gzipped file that ended without an exception really stopped, when that was not at its
    end: warcio treats a member it cannot inflate as the end of the file (and says so only on stderr), and reads a
    file cut inside a member as if it ended there. `last`: the last record warcio returned. (offset, reason, detail)
    of the damaged member, or None."""
    error = _inflate_error(data, last)
    if error is not None:
        return last, "truncated_record" if error.startswith("the file ends") else "corrupt_record", error
    if not warcio_failed:
        return None
    after = _next_record_start(data, last + 1, True)  # the last record's member is sound: the next one is not
    if after >= len(data):
        return None
    return after, "corrupt_record", _inflate_error(data, after) or "gzip member: warcio could not inflate it"


def _is_padding(data: mmap.mmap, start: int) -> bool:
    """True when everything from `start` to the end is whitespace or NUL (harmless trailing bytes)."""
    return not data[start:].strip(b" \t\r\n\x00")


def iter_records(
    path: str, wants_payload: Callable[[ArcWarcRecord], bool], max_payload: int
) -> Iterator[WarcRecord | BadSpan]:
    """Yield every record of the file at `path`, and a BadSpan for each damaged stretch, in file order.

    `wants_payload(record)` is asked for each record with its headers; only then is the payload read (up to
    `max_payload` bytes). A record is yielded one step late, once the next record shows that its length was right.
    A file on object storage is streamed to the worker's disk first (storage.local_file), because resynchronising
    after damage needs to search ahead in the file.
    """
    with storage.local_file(path) as local:
        yield from _iter_local_records(local, wants_payload, max_payload)


def _iter_local_records(
    path: str, wants_payload: Callable[[ArcWarcRecord], bool], max_payload: int
) -> Iterator[WarcRecord | BadSpan]:
    if os.path.getsize(path) == 0:
        return
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        gzipped = data[:2] == GZIP_MAGIC[:2]
        start = 0
        while start < len(data):
            handle.seek(start)
            stream = ArchiveIterator(handle)
            pending: tuple[WarcRecord, bool] | None = None
            errors_seen = 0
            restart: int | None = None
            try:
                warcio_said = io.StringIO()
                with contextlib.redirect_stderr(warcio_said):  # warcio prints length warnings; we count them
                    for record in stream:
                        if pending is not None:
                            if not pending[1] or stream.err_count > errors_seen:
                                break
                            yield pending[0]
                            pending = None  # yielded: a failure on the next record must not yield it again
                        malformed = _malformed_header(record)
                        if malformed:  # junk that warcio read as a record, or as the start of the next one's header
                            raise ValueError(malformed)
                        errors_before = stream.err_count
                        loaded, complete = _load(record, wants_payload(record), max_payload)
                        # get_record_offset() reads the record to its end (so the payload must be read first) and
                        # checks that blank lines follow it; warcio counts it in err_count when they do not. Its
                        # offsets are absolute: the iterator starts counting at the handle's position (`start`).
                        offset = stream.get_record_offset()
                        errors_seen = stream.err_count
                        pending = (dataclasses.replace(loaded, offset=offset),
                                   complete and errors_seen == errors_before)
                    else:
                        if gzipped and pending is not None:
                            damaged = _damaged_member(data, pending[0].offset, INFLATE_ERROR in warcio_said.getvalue())
                            if damaged is not None:
                                at, reason, detail = damaged
                                if at > pending[0].offset and pending[1] and stream.err_count == errors_seen:
                                    yield pending[0]  # its own member is sound: the damage is in the next one
                                yield BadSpan(at, reason, detail)
                                pending = None
                                start = _next_record_start(data, at + 1, gzipped, after_garbage=True)
                                continue
                        if pending is not None and pending[1] and stream.err_count == errors_seen:
                            yield pending[0]
                            pending = None
                        end = stream.offset
                        if pending is None:
                            if not _is_padding(data, end):
                                yield BadSpan(end, "truncated_record", f"{len(data) - end} bytes at the end of the "
                                              "file do not form a complete record")
                            return
            except Exception as error:  # any parser failure becomes a BadSpan; reading resumes after it
                failed_at = stream.offset
                # The record before the failure is good unless warcio saw its length was wrong, or its claimed span
                # swallowed the start of another record (a Content-Length too long, in an uncompressed file).
                if (pending is not None and stream.err_count == errors_seen and pending[1]
                        and _next_record_start(data, pending[0].offset + 1, gzipped) >= failed_at):
                    yield pending[0]
                    pending = None
                if pending is None:
                    yield BadSpan(failed_at, "corrupt_record", f"{type(error).__name__}: {error}"[:300])
                    restart = _next_record_start(data, failed_at + 1, gzipped, after_garbage=True)
            if pending is not None:
                bad, complete = pending
                restart = _next_record_start(data, bad.offset + 1, gzipped)
                if not complete and restart == len(data):  # the bytes ran out and nothing follows: a cut file
                    yield BadSpan(bad.offset, "truncated_record", "the file ends inside this record")
                else:
                    yield BadSpan(bad.offset, "bad_content_length",
                                  "the record's Content-Length does not match the bytes that follow it")
            start = restart if restart is not None else len(data)
