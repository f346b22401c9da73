"""Running DAGs in-process: accounting, reuse of committed partitions, and recomputation of exactly what a change in
config, input content or output files makes stale (issue 12's regression cases)."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.commit import partition_key
from curate.config import load_pipeline
from curate.dag import dry_run, run_pipeline
from curate.errors import ConfigError, RunError
from curate.executors.local import LocalExecutor
from curate.layout import NodeLayout
from tests.conftest import output_files
from tests.warc_factory import SAMPLE_DIR

PIPELINE = """
    workdir: {workdir}
    nodes:
      text:
        input: {{warc: [{sample}/sample-0000.warc.gz, {sample}/warcfile.warc.gz, {sample}/sample-0001.warc.gz]}}
        steps:
          - extract: {{engine: resiliparse}}
      clean:
        input: text
        steps:
          - normalize: {{form: {form}}}
          - min_length: {{min_chars: 300}}
"""


def write_pipeline(tmp_path: Path, form: str = "NFD", files: str | None = None, sample: Path = SAMPLE_DIR,
                   workdir: Path | None = None) -> Path:
    text = PIPELINE.format(workdir=workdir or tmp_path / "out", sample=sample, form=form)
    if files is not None:
        text = text.replace(text[text.index("[") : text.index("]") + 1], files)
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def run(tmp_path: Path, form: str = "NFD", files: str | None = None, verify: bool = False,
        **kwargs) -> dict[str, tuple[int, int]]:
    path = write_pipeline(tmp_path, form, files, **kwargs)
    with LocalExecutor() as executor:
        reports = run_pipeline(load_pipeline(str(path)), executor, log=lambda line: None, verify=verify)
    return {r.name: (r.computed, r.reused) for r in reports}


def fresh_run_files(tmp_path: Path, **kwargs) -> dict[str, bytes]:
    """The output files of the same pipeline run from nothing, in another workdir."""
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    run(fresh, **kwargs)
    return output_files(fresh / "out")


def part(path: Path) -> str:
    """The partition name of an input file (and of every partition downstream of it)."""
    return partition_key(str(path))


def commit_record(tmp_path: Path, node: str) -> dict:
    return json.loads(Path(NodeLayout(str(tmp_path / "out"), node).commit_record).read_text())


def test_counts_add_up_through_the_chain(tmp_path):
    run(tmp_path)
    for node in ("text", "clean"):
        success = commit_record(tmp_path, node)
        stages = success["stages"]
        for stage, following in zip(stages, stages[1:]):
            assert following["docs_in"] == stage["kept"]
        for stage in stages:
            lost = sum(stage["skipped"].values()) + sum(stage["rejected"].values()) + sum(stage["failed"].values())
            assert stage["docs_in"] == stage["kept"] + lost
        assert success["docs_out"] == stages[-1]["kept"]
        rows = sum(pq.read_metadata(p).num_rows for p in (tmp_path / "out" / "_rejected" / node).glob("*.parquet"))
        assert rows == success["rejected_out"] == sum(
            sum(s["rejected"].values()) + sum(s["failed"].values()) for s in stages)
    text_out = commit_record(tmp_path, "text")["docs_out"]
    clean_in = commit_record(tmp_path, "clean")["stages"][0]["docs_in"]
    assert text_out == clean_in > 0


def test_rerun_reuses_everything(tmp_path):
    assert run(tmp_path) == {"text": (3, 0), "clean": (3, 0)}
    assert run(tmp_path) == {"text": (0, 3), "clean": (0, 3)}


def test_changed_step_recomputes_that_node_only(tmp_path):
    run(tmp_path)
    name = part(SAMPLE_DIR / "sample-0000.warc.gz") + ".parquet"
    before = (tmp_path / "out" / "clean" / name).read_bytes()
    assert run(tmp_path, form="NFC") == {"text": (0, 3), "clean": (3, 0)}
    assert (tmp_path / "out" / "clean" / name).read_bytes() != before


def test_a_lost_partition_is_recomputed_alone(tmp_path):
    run(tmp_path)
    Path(NodeLayout(str(tmp_path / "out"), "text").partition_files(part(SAMPLE_DIR / "warcfile.warc.gz"))[2]).unlink()
    assert run(tmp_path) == {"text": (1, 2), "clean": (0, 3)}


@pytest.mark.parametrize("damage", ["delete", "truncate", "rejected", "footer"])
def test_a_damaged_output_file_is_recomputed_not_carried_downstream(tmp_path, damage):
    run(tmp_path)
    before = output_files(tmp_path / "out")
    layout = NodeLayout(str(tmp_path / "out"), "text")
    kept, rejected, _ = layout.partition_files(part(SAMPLE_DIR / "sample-0001.warc.gz"))
    target = Path(rejected if damage == "rejected" else kept)
    if damage == "delete":
        target.unlink()
    elif damage == "footer":  # the same size, the end overwritten: caught by the footer check, not the size
        target.write_bytes(target.read_bytes()[:-4] + b"\0\0\0\0")
    else:
        target.write_bytes(target.read_bytes()[:-100])
    assert run(tmp_path) == {"text": (1, 2), "clean": (0, 3)}
    assert output_files(tmp_path / "out") == before


def test_a_flipped_bit_is_caught_by_verify(tmp_path):
    run(tmp_path)
    before = output_files(tmp_path / "out")
    target = tmp_path / "out" / "text" / (part(SAMPLE_DIR / "sample-0001.warc.gz") + ".parquet")
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x10
    target.write_bytes(bytes(data))
    assert run(tmp_path) == {"text": (0, 3), "clean": (0, 3)}  # size and footer intact: the cheap check passes
    assert run(tmp_path, verify=True) == {"text": (1, 2), "clean": (0, 3)}
    assert output_files(tmp_path / "out") == before


def test_a_flipped_bit_upstream_never_reaches_a_recomputed_partition_downstream(tmp_path):
    """A bit flipped in an upstream file and the downstream partition's record lost: the downstream partition is
    recomputed, and it refuses the damaged input (naming it) instead of committing rows made from it; --verify then
    recomputes both and gives the undamaged bytes."""
    run(tmp_path)
    before = output_files(tmp_path / "out")
    key = part(SAMPLE_DIR / "sample-0001.warc.gz")
    target = tmp_path / "out" / "text" / (key + ".parquet")
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x10
    target.write_bytes(bytes(data))
    Path(NodeLayout(str(tmp_path / "out"), "clean").partition_files(key)[2]).unlink()
    with pytest.raises(RunError, match="does not match its committed checksum"):
        run(tmp_path)
    assert run(tmp_path, verify=True) == {"text": (1, 2), "clean": (1, 2)}
    assert output_files(tmp_path / "out") == before


def test_input_replaced_in_place_recomputes_its_partitions_downstream(tmp_path):
    sample = tmp_path / "sample"
    sample.mkdir()
    for name in ("sample-0000.warc.gz", "warcfile.warc.gz", "sample-0001.warc.gz"):
        shutil.copy(SAMPLE_DIR / name, sample / name)
    assert run(tmp_path, sample=sample) == {"text": (3, 0), "clean": (3, 0)}
    shutil.copy(SAMPLE_DIR / "aeb-main-00001.warc.gz", sample / "warcfile.warc.gz")  # new content, same name
    assert run(tmp_path, sample=sample) == {"text": (1, 2), "clean": (1, 2)}
    assert output_files(tmp_path / "out") == fresh_run_files(tmp_path, sample=sample)


def test_an_inserted_input_shifts_nothing(tmp_path):
    two = f"[{SAMPLE_DIR}/sample-0000.warc.gz, {SAMPLE_DIR}/sample-0001.warc.gz]"
    assert run(tmp_path, files=two) == {"text": (2, 0), "clean": (2, 0)}
    shutil.copy(SAMPLE_DIR / "aeb-main-00001.warc.gz", tmp_path / "between.warc.gz")
    three = f"[{SAMPLE_DIR}/sample-0000.warc.gz, {tmp_path}/between.warc.gz, {SAMPLE_DIR}/sample-0001.warc.gz]"
    assert run(tmp_path, files=three) == {"text": (1, 2), "clean": (1, 2)}
    assert output_files(tmp_path / "out") == fresh_run_files(tmp_path, files=three)


def test_a_moved_workdir_is_reused(tmp_path):
    run(tmp_path)
    shutil.move(tmp_path / "out", tmp_path / "moved")
    assert run(tmp_path, workdir=tmp_path / "moved") == {"text": (0, 3), "clean": (0, 3)}


def test_fewer_inputs_remove_stale_partitions(tmp_path):
    run(tmp_path)
    assert run(tmp_path, files=f"[{SAMPLE_DIR}/sample-0000.warc.gz]") == {"text": (0, 1), "clean": (0, 1)}
    name = part(SAMPLE_DIR / "sample-0000.warc.gz")
    for node in ("text", "clean"):
        layout = NodeLayout(str(tmp_path / "out"), node)
        found = sorted(str(p.relative_to(tmp_path / "out")) for folder in (layout.data, layout.rejected, layout.state)
                       for p in Path(folder).rglob("*") if p.is_file())
        assert found == [f"_curate/{node}/commit.json", f"_curate/{node}/partitions/{name}.json",
                         f"_rejected/{node}/{name}.parquet", f"{node}/{name}.parquet"]
        assert list(commit_record(tmp_path, node)["partitions"]) == [name]


def test_dry_run_says_what_would_change_and_changes_nothing(tmp_path):
    run(tmp_path)
    (tmp_path / "out" / "text" / (part(SAMPLE_DIR / "warcfile.warc.gz") + ".parquet")).unlink()
    before = sorted(p for p in (tmp_path / "out").rglob("*"))
    lines = dry_run(load_pipeline(str(write_pipeline(tmp_path, form="NFC"))))
    assert lines[0] == "node text (map): compute 1 of 3 partitions, reuse 2"
    assert lines[1].startswith("  compute ") and "warcfile.warc.gz" in lines[1] and "is missing" in lines[1]
    assert lines[2] == "node clean (map): compute 3 of 3 partitions, reuse 0"
    # the option that changed, named (it used to say "inputs or config changed" for each partition)
    assert all(line.endswith("options changed: step 1 normalize: form: 'NFD' -> 'NFC'") for line in lines[3:6])
    assert sorted(p for p in (tmp_path / "out").rglob("*")) == before


def test_dry_run_names_the_step_whose_code_changed(tmp_path, monkeypatch):
    from curate import dag

    run(tmp_path)
    digest = dag.code_digest
    monkeypatch.setattr(dag, "code_digest", lambda cls: digest(cls) + ("!" if cls.name == "normalize" else ""))
    lines = dry_run(load_pipeline(str(write_pipeline(tmp_path))))
    assert lines[0] == "node text (map): reuse all 3 (committed and current)"
    assert lines[1] == "node clean (map): compute 3 of 3 partitions, reuse 0"
    assert all(line.endswith("code changed: step 1 normalize") for line in lines[2:5])


def test_a_missing_model_file_is_a_pipeline_error(tmp_path):
    path = write_pipeline(tmp_path)
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if "- normalize:" in line)
    lines.insert(at, lines[at][: lines[at].index("-")] + "- langid: {model: /no/such/lid.bin}")
    path.write_text("\n".join(lines))
    with pytest.raises(ConfigError, match="node 'clean', step 1 'langid': field 'model': no such file"):
        load_pipeline(str(path))


def test_a_missing_input_file_fails_alone(tmp_path):
    report = run(tmp_path, files=f"[{SAMPLE_DIR}/sample-0000.warc.gz, {tmp_path}/gone.warc.gz]")
    assert report == {"text": (2, 0), "clean": (2, 0)}
    success = commit_record(tmp_path, "text")
    assert success["stages"][0]["failed"] == {"missing_file": 1} and success["docs_out"] > 0


def test_temporary_files_of_a_killed_attempt_are_removed(tmp_path):
    run(tmp_path)
    left = [tmp_path / "out" / "text" / ".part-x.parquet.tmp-123-ab",
            tmp_path / "out" / "_rejected" / "clean" / ".part-y.parquet.tmp-9-cd"]
    for path in left:
        path.write_bytes(b"half a file")
    assert run(tmp_path) == {"text": (0, 3), "clean": (0, 3)}
    assert not any(path.exists() for path in left)


def test_a_file_changed_at_the_same_size_and_mtime_changes_its_fingerprint(tmp_path):
    """The content hash, not size and mtime, tells two versions of a small file apart (a copy with `cp -p`, an
    archive unpacked with its timestamps)."""
    import os

    from curate.commit import file_fingerprint

    path = tmp_path / "input.txt"
    path.write_bytes(b"a" * 1000)
    stamp = os.stat(path).st_mtime_ns
    before = file_fingerprint(str(path))
    path.write_bytes(b"a" * 500 + b"b" + b"a" * 499)
    os.utime(path, ns=(stamp, stamp))
    assert file_fingerprint(str(path))["size"] == before["size"] and file_fingerprint(str(path)) != before


def test_a_large_model_changed_in_the_middle_changes_its_fingerprint(tmp_path):
    """A model is identified by its content alone (no mtime: a copied model is the same model), so a model over
    WHOLE_HASH_MAX_BYTES is hashed whole: a retrained one keeps its size, header and often its tail."""
    from curate.commit import WHOLE_HASH_MAX_BYTES
    from curate.dag import content_fingerprint

    size = WHOLE_HASH_MAX_BYTES + (2 << 20)
    path = tmp_path / "model.bin"
    path.write_bytes(bytes(size))
    before = content_fingerprint(str(path))
    with open(path, "r+b") as handle:
        handle.seek(size // 2)
        handle.write(b"\x01")
    assert content_fingerprint(str(path)) != before
    assert content_fingerprint(str(path)) == content_fingerprint(str(path))
