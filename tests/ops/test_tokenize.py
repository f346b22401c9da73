"""The quickstart's train_bpe and tokenize nodes: shards decode to the documents, the manifest verifies, reuse.
(Loading the tokenizer in other libraries: tests/test_readers.py; flat exports: tests/test_export_tokens.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.config import load_pipeline
from curate.dag import run_pipeline
from curate.executors.local import LocalExecutor
from curate.ops.tokenize import shard_cuts
from curate.shards import load_tokenizer_file
from curate.shards import load_manifest, shard_tokenizer_path, verify
from tests.conftest import QUICKSTART
from tests.shard_damage import DAMAGES, damaged_copy


def kept_documents(workdir: Path) -> dict[str, str]:
    table = pq.read_table(workdir / "deduped", columns=["id", "text"])
    return dict(zip(table.column("id").to_pylist(), table.column("text").to_pylist()))


def test_shards_decode_to_the_documents(quickstart_local):
    shards = quickstart_local / "shards"
    manifest = load_manifest(str(shards))
    tokenizer = load_tokenizer_file(shard_tokenizer_path(str(shards), manifest))
    assert manifest["tokenizer_hash"] == tokenizer.hash and manifest["vocab_size"] == 4096
    assert manifest["dtype"] == "uint16" and verify(str(shards)) == []
    documents = kept_documents(quickstart_local)
    decoded = {}
    for shard in manifest["shards"]:
        table = pq.read_table(shards / shard["file"])
        assert table.schema.field("tokens").type.value_type == pa.uint16()
        for doc_id, tokens in zip(table.column("id").to_pylist(), table.column("tokens").to_pylist()):
            assert tokens[-1] == manifest["eot_id"]
            decoded[doc_id] = tokenizer.decode(tokens[:-1])
    assert decoded == documents and manifest["documents"] == len(documents)


def test_shards_are_cut_between_documents_near_the_target(quickstart_local):
    manifest = load_manifest(str(quickstart_local / "shards"))
    assert len(manifest["shards"]) >= 2
    assert all(s["tokens"] >= 200_000 for s in manifest["shards"][:-1])
    assert sum(s["tokens"] for s in manifest["shards"]) == manifest["tokens"]


@pytest.mark.parametrize("damage", DAMAGES)
def test_verify_reports_damaged_shards(quickstart_local, tmp_path, damage):
    shards = damaged_copy(quickstart_local / "shards", tmp_path / "shards", damage)
    problems = verify(str(shards))
    assert problems and problems[0].startswith("shard-00000.parquet")


def test_changing_shard_size_reuses_the_tokenizer(quickstart_local, tmp_path):
    workdir = tmp_path / "out"
    shutil.copytree(quickstart_local, workdir)
    text = QUICKSTART.read_text().replace("shard_tokens: 200_000", "shard_tokens: 100_000")
    pipeline = tmp_path / "quickstart.yaml"
    pipeline.write_text(text.replace('"sample/', f'"{QUICKSTART.parent}/sample/'))
    with LocalExecutor() as executor:
        reports = run_pipeline(load_pipeline(str(pipeline), workdir=str(workdir)), executor, log=lambda line: None)
    assert [(r.name, r.computed) for r in reports] == [("text", 0), ("unique", 0), ("deduped", 0), ("bpe", 0),
                                                         ("shards", 10)]
    bpe = next(r for r in reports if r.name == "bpe")
    assert bpe.partitions == bpe.reused == 10  # reused, it reports the units its first run counted (not "1")
    manifest = load_manifest(str(workdir / "shards"))
    assert len(manifest["shards"]) >= 3 and verify(str(workdir / "shards")) == []
    assert sorted(p.name for p in (workdir / "shards").iterdir()) == [s["file"] for s in manifest["shards"]]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(1, 40), max_size=12), max_size=6), st.integers(1, 90))
def test_shard_cuts_follow_the_document_rule(partitions, shard_tokens):
    """Cuts from the lengths alone equal the rule applied document by document: a shard ends after the first
    document that brings it to shard_tokens."""
    expected, current, pending = [], [], 0
    for p, lengths in enumerate(partitions):
        for row, length in enumerate(lengths):
            current.append((p, row))
            pending += length
            if pending >= shard_tokens:
                expected.append(current)
                current, pending = [], 0
    if current:
        expected.append(current)
    cuts = shard_cuts(iter([(p, np.array(lengths, dtype=np.int64)) for p, lengths in enumerate(partitions)]),
                      shard_tokens)
    assert [[(p, row) for p, start, end in shard for row in range(start, end)] for shard in cuts] == expected


def test_the_shard_folder_holds_only_shards_and_no_scratch_is_left(quickstart_local):
    manifest = load_manifest(str(quickstart_local / "shards"))
    assert sorted(p.name for p in (quickstart_local / "shards").iterdir()) == [s["file"] for s in manifest["shards"]]
    assert not list((quickstart_local / "_curate").rglob("scratch"))  # encoded copies go when the node commits
