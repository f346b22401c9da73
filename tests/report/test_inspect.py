"""`curate inspect` on the quickstart run: every section from commit records alone, JSON, --compare, HTML rendered in
a real browser, damaged shards."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from curate.cli import main
from curate.report.collect import collect
from curate.report.progress import LogProgress
from tests.conftest import ROOT
from tests.shard_damage import DAMAGES, damaged_copy

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def rows_of(folder: Path, columns: list[str]) -> list[dict]:
    return pq.read_table(folder, columns=columns).to_pylist()


def test_funnel_signals_domains_and_samples(quickstart_local):
    report = collect(str(quickstart_local))
    assert [n["name"] for n in report["nodes"]] == ["text", "unique", "deduped", "bpe", "shards"]
    assert [(s["label"], s["count"]) for s in report["funnel"]][:5] == [
        ("WARC records", 692), ("documents", 277), ("text", 260), ("unique", 256), ("deduped", 256)]
    assert report["funnel"][-1]["label"] == "shards (tokens)" and report["run"]["pipeline"] == "quickstart"
    text = report["nodes"][0]
    assert [s["stage"] for s in text["stages"]] == ["warc", "extract", "normalize", "min_length"]
    assert text["docs_in"] == text["stages"][0]["docs_in"] and text["docs_out"] == text["stages"][-1]["kept"]
    assert text["bytes_in"] > text["text_bytes_out"] > 0 and text["docs_per_cpu_second"] > 0
    length = text["signals"]["length"]
    assert length["unit"] == "characters" and length["thresholds"] == [{"step": "min_length", "kind": "min",
                                                                         "value": 200}]
    kept_lengths = sorted(len(r["text"]) for r in rows_of(quickstart_local / "text", ["text"]))
    assert length["kept"]["count"] == len(kept_lengths) == length["kept"]["sampled"]  # under 1,000: every document
    assert length["kept"]["quantiles"]["0.5"] == float(np.median(kept_lengths))
    assert length["kept"]["quantiles"]["0.05"] >= 200 > length["rejected"]["quantiles"]["0.95"]
    assert abs(sum(length["kept"]["histogram"]["counts"]) - length["kept"]["count"]) <= 1
    # the rejected histogram counts the documents that have a length (those min_length rejected), not the 17
    # rejected documents scaled up from them (extract's rejections have no text)
    stages = [r["reject_stage"] for r in rows_of(quickstart_local / "_rejected" / "text", ["reject_stage"])]
    assert length["rejected"]["count"] == stages.count("min_length") == sum(length["rejected"]["histogram"]["counts"])
    assert 0 < stages.count("min_length") < len(stages)
    urls = [r["url"] for r in rows_of(quickstart_local / "text", ["url"])]
    removed = [r["url"] or "" for r in rows_of(quickstart_local / "_rejected" / "text", ["url"])]
    assert text["domains"][0] == ["data.gov.uk", sum("data.gov.uk" in u for u in urls),
                                  sum("data.gov.uk" in u for u in removed)]
    assert text["domains"][0][1] == 32 and len(removed) == 17  # 17 rejected by extract and min_length
    assert set(text["samples"]["rejected"]) == {"extract: no_text", "min_length: too_few_chars"}
    assert all(len(s["text"]) <= 301 for s in text["samples"]["kept"])
    unique = report["nodes"][1]
    assert unique["docs_in"] == text["docs_out"] == unique["docs_out"] + unique["rejected_out"]
    assert set(unique["samples"]["rejected"]) == {"exact_dedup: exact_duplicate"}
    assert unique["signals"]["dup_cluster_size"]["kept"]["quantiles"]["0.5"] == 1.0


def test_samples_are_random_not_the_first_rows(quickstart_local):
    text = collect(str(quickstart_local))["nodes"][0]
    first_rows = [r["id"] for r in pq.read_table(sorted((quickstart_local / "text").glob("*.parquet"))[0],
                                                  columns=["id"]).to_pylist()[:5]]
    sampled = [s["id"] for s in text["samples"]["kept"]]
    assert len(sampled) == 5 and sampled != first_rows
    assert sampled == [s["id"] for s in collect(str(quickstart_local))["nodes"][0]["samples"]["kept"]]  # seeded


def test_inspect_reads_commit_records_not_data(quickstart_local, tmp_path):
    """The report of a workdir whose data files are all gone is the same report: nothing but records is read."""
    copy = tmp_path / "out"
    shutil.copytree(quickstart_local, copy)
    before = collect(str(copy))
    for path in list(copy.rglob("part-*.parquet")):
        path.unlink()
    after = collect(str(copy))
    for report in (before, after):
        report.pop("path")
    assert after == before and after["nodes"][0]["signals"]["length"]["kept"]["count"] == 260


def test_compare_two_nodes(quickstart_local, capsys):
    assert main(["inspect", str(quickstart_local / "text"), "--compare", str(quickstart_local / "unique")]) == 0
    out = capsys.readouterr().out
    assert "A vs B" in out and "0.98x" in out  # 260 documents out of text, 256 out of unique
    assert "options that differ (A -> B)" in out and "min_length: min_chars: 200 -> '(none)'" in out
    assert "length" in out and "signal shifts" in out


def test_shard_section(quickstart_local):
    shards = collect(str(quickstart_local / "shards"))["nodes"][0]["shards"]
    assert shards["check"] == {"ok": True, "problems": [], "full": False}
    assert collect(str(quickstart_local / "shards"), full_check=True)["nodes"][0]["shards"]["check"]["full"]
    deduped = collect(str(quickstart_local / "deduped"))["nodes"][0]
    assert shards["documents"] == deduped["docs_out"]
    assert shards["tokens_per_document"]["count"] == shards["documents"]
    assert 1.0 < shards["bytes_per_token"] < 8.0 and 0.0 < shards["vocab_coverage"] <= 1.0


def test_json_and_terminal_output(quickstart_local, capsys):
    assert main(["inspect", str(quickstart_local), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "workdir"
    assert main(["inspect", str(quickstart_local / "text")]) == 0
    out = capsys.readouterr().out
    for section in ("pipeline funnel", "node text", "signals", "domains with the most documents",
                    "rejected [extract: no_text]", "min 200 (min_length)"):
        assert section in out


@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_shards_are_reported_not_crashed_on(quickstart_local, tmp_path, damage, capsys):
    shards = damaged_copy(quickstart_local / "shards", tmp_path / "shards", damage)
    assert main(["inspect", str(shards), "--verify"]) == 1
    assert "FAILED" in capsys.readouterr().out
    check = collect(str(shards), full_check=True)["nodes"][0]["shards"]["check"]
    assert not check["ok"] and any(p.startswith("shard-00000.parquet") or p.startswith("manifest")
                                   for p in check["problems"])


def test_not_a_curate_folder(tmp_path, capsys):
    assert main(["inspect", str(tmp_path)]) == 1
    assert "neither a workdir" in capsys.readouterr().err


def test_log_progress_lines():
    lines: list[str] = []
    progress = LogProgress(interval=0.0, write=lines.append)
    progress.start("text", 4)
    progress.advance("text", 10, 7)
    progress.advance("text", 10, 8)
    progress.finish("text")
    progress.start("unique", 2, "map_keys")
    progress.advance("unique", 5)
    assert lines[0].startswith("curate: node text: partitions 1/4") and "s left" in lines[0]
    assert ", kept 15 of 20" in lines[1]  # a map node's partitions count what they kept
    assert lines[-1].startswith("curate: node unique: map_keys 1/2") and "kept" not in lines[-1]


def png_is_not_blank(path: Path) -> bool:
    """Decode the PNG's image data (zlib) and check it holds many distinct byte values, not one flat colour."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat = 8, b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        if kind == b"IDAT":
            idat += data[position + 8 : position + 8 + length]
        position += 12 + length
    pixels = zlib.decompress(idat)
    return len(set(pixels)) > 50 and sum(b not in (0, 255) for b in pixels[::97]) > len(pixels[::97]) // 100


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_html_report_renders_in_a_browser(quickstart_local, tmp_path):
    page = tmp_path / "report.html"
    done = subprocess.run([sys.executable, "-m", "curate.cli", "inspect", str(quickstart_local), "--html", str(page)],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stdout == "" and done.stderr.strip() == f"curate: wrote {page}"  # the page, not the terminal report too
    html = page.read_text()
    assert html.count("<svg") >= 5 and "http" not in html.split("<body>")[0]  # no external resources
    assert "min 200 (min_length)" in html and 'stroke-dasharray="4 3"' in html  # the threshold, drawn
    assert ">1k<" in html and "length (characters), log scale" in html  # readable ticks, units
    assert "<h2>pipeline funnel</h2>" in html and "<td>pipeline</td><td>quickstart</td>" in html
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1600",
                    f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120, check=True)
    assert png_is_not_blank(shot)


def test_model_cuts_are_drawn_from_the_model_nodes_files(tmp_path):
    """The quality classifier's quantile cut and KenLM's bucket cut-offs are decided at run time from files beside
    the models; the report reads them from the workdir it inspects, even when the run's paths moved."""
    from curate.report.collect import thresholds

    (tmp_path / "quality_model").mkdir()
    (tmp_path / "quality_model" / "quantiles.json").write_text(json.dumps(
        {"negative": [i / 200 for i in range(101)], "calibrate": [i / 100 for i in range(101)]}))
    (tmp_path / "kenlm_model").mkdir()
    (tmp_path / "kenlm_model" / "cutoffs.json").write_text(json.dumps({"head": 660.0, "tail": 3300.0}))
    config = {"steps": [["fasttext_quality", {"model": "/elsewhere/run/quality_model/model.bin", "min_quantile": 0.25,
                                              "min_score": None}],
                        ["kenlm_perplexity", {"model": "/elsewhere/run/kenlm_model/model.binary",
                                              "keep": ["head", "middle", "tail"], "max_perplexity": None}]]}
    cuts = thresholds(config, str(tmp_path))
    assert cuts["quality"] == [{"step": "fasttext_quality, quantile 0.25", "kind": "min", "value": 0.25}]
    assert [(c["kind"], c["value"]) for c in cuts["perplexity"]] == [("head", 660.0), ("tail", 3300.0)]
    assert thresholds(config, str(tmp_path / "gone")) == {}  # model files gone: nothing drawn, no error


def test_rejected_histograms_are_split_by_the_stage_that_rejected():
    """A node's length chart once mixed every stage's rejections in one bar; each stage now has its own share of
    the rejected bars (a colour each, stacked), from the stage recorded with each sampled rejected row."""
    import pyarrow as pa

    from curate.report.collect import documents_section
    from curate.report.html import svg_signal
    from curate.sketch import SummaryBuilder
    from curate.stages.base import Reject, rejected_rows

    def table(prefix: str, lengths: list[int]) -> pa.Table:
        return pa.table({"id": [f"{prefix}{n}" for n in range(len(lengths))], "text": ["x" * n for n in lengths]})

    builder = SummaryBuilder()
    short, repetitive = table("s", [20 + n for n in range(30)]), table("r", [3000 + 10 * n for n in range(12)])
    rejected = pa.concat_tables([
        rejected_rows(short, "min_length", [Reject("too_few_chars")] * 30),
        rejected_rows(repetitive, "gopher_repetition", [Reject("dup_line_frac")] * 12)])
    builder.add(table("k", [500 + 20 * n for n in range(50)]), rejected)
    length = documents_section(builder.to_json(), None)["signals"]["length"]
    split = length["rejected_by_stage"]
    assert list(split) == ["min_length", "gopher_repetition"]
    assert (split["min_length"]["count"], split["gopher_repetition"]["count"]) == (30, 12)
    assert split["min_length"]["quantiles"]["0.95"] < 100
    assert split["gopher_repetition"]["quantiles"]["0.05"] >= 3000
    stacked = [a + b for a, b in zip(split["min_length"]["histogram"]["counts"],
                                     split["gopher_repetition"]["histogram"]["counts"])]
    assert stacked == length["rejected"]["histogram"]["counts"]
    svg = svg_signal("length", length)
    bins_with = {stage: sum(1 for count in part["histogram"]["counts"] if count) for stage, part in split.items()}
    assert svg.count("<title>rejected by min_length:") == bins_with["min_length"] > 0
    assert svg.count("<title>rejected by gopher_repetition:") == bins_with["gopher_repetition"] > 0
    assert ">min_length: 30</text>" in svg and ">gopher_repetition: 12</text>" in svg
