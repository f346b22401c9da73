"""The WARC reader on real files and on every kind of damage: good records survive, bad ones are counted."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from curate.stages.warc import WarcReader, record_id
from curate.stages.warc_records import BadSpan, WarcRecord, iter_records
from curate.stats import StageStats
from tests.warc_factory import SAMPLE_DIR, real_pages, record_bytes, with_content_length


def read(path: Path, **options) -> tuple[list[dict], list[dict], StageStats]:
    stats = StageStats("warc")
    kept, rejected = [], []
    for result in WarcReader(**options).read(str(path), stats, batch_docs=7):
        kept += result.kept.to_pylist()
        rejected += result.rejected.to_pylist()
    assert stats.is_balanced()
    return kept, rejected, stats


@pytest.fixture(scope="module")
def pages() -> list[tuple[str, bytes]]:
    return real_pages(5)


def urls(rows: list[dict]) -> list[str]:
    return [row["url"] for row in rows]


def test_real_files_keep_every_html_response_and_count_the_rest():
    kept, rejected, stats = read(SAMPLE_DIR / "warcfile.warc.gz")
    # 50 records (Common Crawl): 1 warcinfo, 17 request, 16 response, 16 metadata (shared corpus SOURCES.md).
    assert stats.docs_in == 50 and stats.kept == 16 and not rejected
    assert stats.skipped == {"record_type:warcinfo": 1, "record_type:request": 17, "record_type:metadata": 16}
    first = kept[0]
    assert first["url"] == "http://003338.cn/l41/481397.html"
    assert first["warc_date"] == "2020-08-08T17:27:41Z"
    assert first["id"] == "c4c112a5-3503-4483-abf8-51a0dd86dd53" == record_id(first["warc_record_id"])
    assert first["source"] == "warcfile.warc.gz:940"
    assert "<html" in first["html"].lower()


def test_uncompressed_chunked_transfer_encoding_is_decoded():
    kept, _, stats = read(SAMPLE_DIR / "example-iana.org-chunked.warc")
    assert stats.kept == 1
    assert kept[0]["html"].lstrip().lower().startswith("<!doctype html") and "0\r\n\r\n" not in kept[0]["html"]


def test_brotli_content_encoding_is_decoded():
    # pywb browser recordings send `Content-Encoding: br`; warcio 1.8 alone fails on them with Brotli >= 1.1.
    kept, rejected, stats = read(SAMPLE_DIR / "Wikipedia__rec-20180220120751277617-PUCHE.warc.gz")
    assert not stats.failed and stats.kept == 1 and "Wikipedia" in kept[0]["html"]


def test_truncated_gzip_file_keeps_complete_records(tmp_path, pages):
    records = [record_bytes(url, body) for url, body in pages]
    path = tmp_path / "truncated.warc.gz"
    path.write_bytes(b"".join(records)[: -len(records[-1]) // 2])
    kept, rejected, stats = read(path)
    assert urls(kept) == [url for url, _ in pages[:-1]]
    assert stats.failed == {"truncated_record": 1}
    assert rejected[0]["reject_reason"] == "truncated_record"


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
def test_garbage_between_records_is_skipped_and_reported(tmp_path, pages, compress):
    records = [record_bytes(url, body, compress=compress) for url, body in pages]
    path = tmp_path / "garbage.warc"
    path.write_bytes(b"".join(records[:2]) + b"\x00garbage\r\nbytes\r\n" * 20 + b"".join(records[2:]))
    kept, _, stats = read(path)
    assert urls(kept) == [url for url, _ in pages]
    assert stats.failed == {"corrupt_record": 1}


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
@pytest.mark.parametrize("delta", [+5000, -300], ids=["too_long", "too_short"])
def test_lying_content_length_loses_only_that_record(tmp_path, pages, compress, delta):
    records = [record_bytes(url, body, compress=compress) for url, body in pages]
    records[2] = with_content_length(records[2], delta, compress=compress)
    path = tmp_path / "lying.warc"
    path.write_bytes(b"".join(records))
    kept, rejected, stats = read(path)
    assert urls(kept) == [url for i, (url, _) in enumerate(pages) if i != 2]
    assert sum(stats.failed.values()) >= 1 and "bad_content_length" in stats.failed


def test_empty_payload_non_html_and_non_response_records(tmp_path, pages):
    url, body = pages[0]
    path = tmp_path / "mixed.warc.gz"
    path.write_bytes(
        record_bytes("http://a.example/empty", b"")
        + record_bytes("http://a.example/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(100), "image/png")
        + record_bytes("http://a.example/moved", b"", status="301 Moved Permanently")
        + record_bytes(url, body)
    )
    kept, rejected, stats = read(path)
    assert urls(kept) == [url]
    assert stats.rejected == {"empty_payload": 1}
    assert stats.skipped == {"non_html:image/png": 1, "http_status:3xx": 1}
    assert rejected[0]["url"] == "http://a.example/empty"


def test_undecodable_charset_is_decoded_by_fallback_and_counted(tmp_path):
    prose = "Grüße aus Köln! Die Straße am Rhein ist schön, und das Café öffnet früh. " * 20
    body = f"<html><body><p>{prose}</p></body></html>".encode("cp1252")
    path = tmp_path / "charset.warc.gz"
    path.write_bytes(record_bytes("http://a.example/", body, "text/html; charset=x-no-such-charset"))
    kept, _, stats = read(path)
    assert len(kept) == 1 and "Köln" in kept[0]["html"]
    assert stats.events == {"charset_detected": 1}


def test_huge_page_is_rejected_without_losing_its_neighbours(tmp_path, pages):
    huge = b"<html><body>" + b"<p>spam spam spam</p>" * (50 * 1024 * 1024 // 21) + b"</body></html>"
    assert len(huge) > 50_000_000
    path = tmp_path / "huge.warc.gz"
    path.write_bytes(record_bytes(pages[0][0], pages[0][1]) + record_bytes("http://a.example/huge", huge)
                     + record_bytes(pages[1][0], pages[1][1]))
    kept, rejected, stats = read(path)
    assert urls(kept) == [pages[0][0], pages[1][0]]
    assert stats.rejected == {"too_large": 1} and rejected[0]["url"] == "http://a.example/huge"


def test_missing_and_empty_files(tmp_path):
    kept, rejected, stats = read(tmp_path / "nope.warc.gz")
    assert not kept and stats.failed == {"missing_file": 1}
    (tmp_path / "empty.warc.gz").write_bytes(b"")
    kept, _, stats = read(tmp_path / "empty.warc.gz")
    assert not kept and stats.docs_in == 0


def test_a_file_that_is_not_a_warc_at_all(tmp_path):
    path = tmp_path / "notes.warc.gz"
    path.write_bytes(gzip.compress(b"just some text\nnot a warc\n"))
    kept, _, stats = read(path)
    assert not kept and sum(stats.failed.values()) == 1


def test_record_id_strips_urn_and_brackets():
    assert record_id("<urn:uuid:1b5b0e8e-0000>") == "1b5b0e8e-0000"
    assert record_id(None) is None


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
@pytest.mark.parametrize("spots", [1, 2, 3])
def test_random_garbage_in_a_real_file_loses_no_record_and_shifts_no_offset(tmp_path, compress, spots):
    """5,000 random bytes at 1 to 3 record boundaries of a real crawl file: every record is still read, at its true
    offset in the damaged file, and each garbage run is one failed record."""
    clean = (SAMPLE_DIR / "sample-0000.warc.gz").read_bytes()
    if not compress:
        clean = gzip.decompress(clean)
    original = tmp_path / "clean.warc"
    original.write_bytes(clean)
    records = [r for r in iter_records(str(original), lambda r: False, 1 << 20) if isinstance(r, WarcRecord)]
    assert len(records) > 40
    rng = random.Random(spots)
    cut_at = sorted(rng.sample([r.offset for r in records[1:]], spots))
    damaged, shift, previous, expected = b"", {}, 0, 0
    for offset in cut_at:
        garbage = rng.randbytes(5000)
        damaged += clean[previous:offset] + garbage
        expected += len(garbage)
        shift[offset] = expected
        previous = offset
    damaged += clean[previous:]
    path = tmp_path / "damaged.warc"
    path.write_bytes(damaged)
    found = list(iter_records(str(path), lambda r: False, 1 << 20))
    read_back = [(r.record_id, r.offset) for r in found if isinstance(r, WarcRecord)]
    wanted = [(r.record_id, r.offset + max([s for o, s in shift.items() if o <= r.offset], default=0))
              for r in records]
    assert read_back == wanted
    assert all(damaged[offset:].startswith(b"\x1f\x8b" if compress else b"WARC/") for _, offset in read_back)
    assert [(b.reason, b.offset) for b in found if isinstance(b, BadSpan)] == [
        ("corrupt_record", offset + shift[offset] - 5000) for offset in cut_at]


@pytest.mark.parametrize("junk", [b"\n", b"\r\n\n", b"junk", b"WARC/1.0\r\nWARC-Type: response\r\n\r\n"],
                         ids=["newline", "blank_lines", "text", "fake_header"])
@pytest.mark.parametrize(("warc", "record"), [("aeb-main-00001.warc.gz", 15), ("sample-0000.warc.gz", 27)],
                         ids=["aeb", "sample"])
@pytest.mark.parametrize("payloads", [True, False], ids=["payloads", "headers_only"])
def test_junk_between_gzip_members_is_one_failure_and_every_record_is_read_once(tmp_path, junk, warc, record,
                                                                               payloads):
    """Junk at a member boundary of a real packed file (a newline alone once ended the read, and the record before
    it came out twice; with payloads left unread, as the reader leaves a request's, warcio read the newline and the
    rest of sample-0000 as one record without a WARC-Type): every record once, at its shifted offset, and the junk
    as one corrupt_record."""
    clean = (SAMPLE_DIR / warc).read_bytes()
    original = tmp_path / "clean.warc.gz"
    original.write_bytes(clean)
    records = [r for r in iter_records(str(original), lambda r: True, 10 << 20) if isinstance(r, WarcRecord)]
    boundary = records[record].offset
    path = tmp_path / "junk.warc.gz"
    path.write_bytes(clean[:boundary] + junk + clean[boundary:])
    found = list(iter_records(str(path), lambda r: payloads, 10 << 20))
    read_back = [(r.record_id, r.offset, r.payload) for r in found if isinstance(r, WarcRecord)]
    assert read_back == [(r.record_id, r.offset + (len(junk) if r.offset >= boundary else 0),
                          r.payload if payloads else None) for r in records]
    assert [(b.reason, b.offset) for b in found if isinstance(b, BadSpan)] == [("corrupt_record", boundary)]


def test_a_bit_flipped_inside_a_gzip_member_loses_that_record_only(tmp_path):
    """warcio treats a member that fails its CRC as the end of the file and says so only on stderr: 19 records
    after a flipped bit in warcfile.warc.gz's metadata record at 98158 were once lost without a failure."""
    clean = (SAMPLE_DIR / "warcfile.warc.gz").read_bytes()
    original = tmp_path / "clean.warc.gz"
    original.write_bytes(clean)
    records = [r for r in iter_records(str(original), lambda r: False, 1) if isinstance(r, WarcRecord)]
    damaged = bytearray(clean)
    damaged[98590] ^= 1 << 6
    path = tmp_path / "flipped.warc.gz"
    path.write_bytes(bytes(damaged))
    found = list(iter_records(str(path), lambda r: False, 1))
    assert [r.offset for r in found if isinstance(r, WarcRecord)] == [r.offset for r in records if r.offset != 98158]
    assert [(b.reason, b.offset) for b in found if isinstance(b, BadSpan)] == [("corrupt_record", 98158)]


@pytest.mark.parametrize("cut", [106204, 106500, 106580])
def test_a_file_cut_inside_a_record_whose_payload_is_not_read_is_a_truncated_record(tmp_path, cut):
    """A request record's payload is never read; cut inside its gzip member (even past its last byte of data,
    before the member's end), the file once ended without a failure."""
    path = tmp_path / "cut.warc.gz"
    path.write_bytes((SAMPLE_DIR / "warcfile.warc.gz").read_bytes()[:cut])
    found = list(iter_records(str(path), lambda r: False, 1))
    assert [(b.reason, b.offset) for b in found if isinstance(b, BadSpan)] == [("truncated_record", 106154)]
    assert [r.offset for r in found if isinstance(r, WarcRecord)][-1] == 105711


def test_junk_behind_a_fake_version_line_in_a_plain_file_is_one_failure(tmp_path):
    """In an uncompressed file, junk after a `WARC/1.0` line in front of a record once read as that record's header
    (warcio merges the two, so a request came out as a response with two WARC-Types): the junk is one
    corrupt_record, and the record after it is read whole."""
    clean = (SAMPLE_DIR / "example-iana.org-chunked.warc").read_bytes()
    junk = b"WARC/1.0\r\nWARC-Type: response\r\n" + bytes(range(40, 140))
    path = tmp_path / "junk.warc"
    path.write_bytes(clean[:8379] + junk + clean[8379:])
    found = list(iter_records(str(path), lambda r: True, 1 << 20))
    assert [(r.offset, r.rec_type) for r in found if isinstance(r, WarcRecord)] == [
        (0, "warcinfo"), (405, "response"), (8379 + len(junk), "request")]
    assert [(b.reason, b.offset) for b in found if isinstance(b, BadSpan)] == [("corrupt_record", 8379)]
