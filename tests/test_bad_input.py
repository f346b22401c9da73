"""A pipeline over a folder of damaged WARC files completes, counts every bad record, and keeps every good page."""

from __future__ import annotations

import json
import textwrap
import unicodedata

import pyarrow.parquet as pq
import pytest

from curate.config import load_pipeline
from curate.dag import run_pipeline
from curate.executors.local import LocalExecutor
from tests.warc_factory import real_pages, record_bytes, with_content_length


def test_damaged_inputs_lose_only_the_damaged_records(tmp_path):
    pages = real_pages(8)
    good = [record_bytes(url, body) for url, body in pages]
    plain = [record_bytes(url, body, compress=False) for url, body in pages]
    data = tmp_path / "data"
    data.mkdir()
    (data / "a-truncated.warc.gz").write_bytes(good[0] + good[1] + good[2][: len(good[2]) // 2])
    (data / "b-garbage.warc.gz").write_bytes(good[3] + b"\x13\x37 not a record \r\n" * 50 + good[4])
    (data / "c-lying.warc").write_bytes(plain[5] + with_content_length(plain[6], -200, compress=False) + plain[7])
    (data / "d-odd.warc.gz").write_bytes(
        record_bytes("http://odd.example/empty", b"")
        + record_bytes("http://odd.example/pixel.gif", b"GIF89a" + bytes(64), "image/gif")
        + record_bytes("http://odd.example/bad-charset", ("<html><body><p>" + "Überraschung für Jörg! " * 40
                       + "</p></body></html>").encode("cp1252"), "text/html; charset=no-such-charset")
        + record_bytes("http://odd.example/huge", b"<p>" + b"x" * (6 << 20) + b"</p>"))
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(textwrap.dedent(f"""
        workdir: {tmp_path / "out"}
        nodes:
          text:
            input: {{warc: ["data/*.warc*", "data/e-missing.warc.gz"]}}
            steps: [{{extract: {{engine: resiliparse}}}}, normalize]
    """))
    with LocalExecutor() as executor:
        (report,) = run_pipeline(load_pipeline(str(pipeline)), executor, log=lambda line: None)

    assert report.partitions == 5
    reader = report.stages[0]
    assert reader.failed == {"truncated_record": 1, "corrupt_record": 1, "bad_content_length": 1, "missing_file": 1}
    assert reader.rejected == {"empty_payload": 1, "too_large": 1}
    assert reader.skipped == {"non_html:image/gif": 1}
    assert reader.events["charset_detected"] == 1
    assert all(stage.is_balanced() for stage in report.stages)

    out = pq.read_table(tmp_path / "out" / "text").to_pylist()
    expected = {url for i, (url, _) in enumerate(pages) if i not in (2, 6)} | {"http://odd.example/bad-charset"}
    assert {row["url"] for row in out} == expected
    decoded = next(row["text"] for row in out if row["url"].endswith("bad-charset"))
    assert unicodedata.normalize("NFD", "Jörg") in decoded
    stats = json.loads((tmp_path / "out" / "_curate" / "text" / "commit.json").read_text())
    assert stats["rejected_out"] == 6


def test_a_garbage_model_fails_the_partition_with_one_line_naming_it(tmp_path):
    """A model file that is not one (here random bytes as a KenLM model, and as fastText's) is not the documents'
    fault: the step fails at once, naming the file, instead of failing every document with the loader's exception."""
    from curate.errors import ModelError, RunError
    from curate.stages.langid import load_model
    from curate.stages.perplexity import load_kenlm

    garbage = tmp_path / "model.bin"
    garbage.write_bytes(bytes(range(256)) * 64)
    for load, what in ((load_kenlm, "KenLM model"), (load_model, "language ID model")):
        with pytest.raises(ModelError, match=f"^{what} {garbage} cannot be loaded \\("):
            load(str(garbage))
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(textwrap.dedent(f"""
        workdir: {tmp_path / "out"}
        nodes:
          docs:
            input: {{jsonl: docs.jsonl}}
            steps: [{{langid: {{model: {garbage}}}}}]
    """))
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps({"id": str(i), "text": f"Document number {i}."}) + "\n"
                                                 for i in range(1)))  # (one: no all-failed rule to lean on)
    with LocalExecutor() as executor, pytest.raises(RunError, match="language ID model .* cannot be loaded"):
        run_pipeline(load_pipeline(str(pipeline)), executor, log=lambda line: None)
