"""`curate validate`: the same proxy model on each dataset, compared by bits per byte over seeds; a dataset that is
really worse (the same documents with their tokens scrambled) ranks last, beyond the seeds' spread."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.cli import main
from curate.shards import manifest_path
from curate.storage import sha256 as file_sha256
from train_stub.compare import DatasetScore, describe_comparison, difference, paired_difference
from tests.shard_damage import copy_shards


def scrambled_copy(shards, destination):
    """The shards with every document's tokens replaced by uniform random ids (end-of-text kept): the same sizes
    and manifest, no language left to learn."""
    copy_shards(shards, destination)
    manifest_file = Path(manifest_path(str(destination)))
    manifest = json.loads(manifest_file.read_text())
    rng = np.random.default_rng(0)
    for shard in manifest["shards"]:
        path = destination / shard["file"]
        table = pq.read_table(path)
        tokens = table.column("tokens").combine_chunks()
        values = pc.list_flatten(tokens).to_numpy().copy()
        ends = np.cumsum(pc.list_value_length(tokens).to_numpy()) - 1
        text = np.ones(len(values), dtype=bool)
        text[ends] = False
        values[text] = rng.integers(0, manifest["eot_id"], text.sum(), dtype=values.dtype)
        scrambled = pa.ListArray.from_arrays(tokens.offsets, pa.array(values, tokens.type.value_type))
        pq.write_table(table.set_column(1, "tokens", scrambled), path)
        shard["sha256"], shard["bytes"] = file_sha256(str(path)), path.stat().st_size
    manifest_file.write_text(json.dumps(manifest))
    return destination


def test_validate_ranks_a_worse_dataset_last(quickstart_local, tmp_path, capsys):
    good = str(quickstart_local / "shards")
    worse = str(scrambled_copy(quickstart_local / "shards", tmp_path / "scrambled"))
    assert main(["validate", worse, good, "--tokens", "16384", "--seeds", "0", "1", "--batch-size", "8"]) == 0
    out = capsys.readouterr().out
    assert "val bits/byte (mean ± std over seeds)" in out
    assert f"better: {good} by " in out and "sigma" in out


def test_one_seed_gives_no_verdict(quickstart_local, tmp_path, capsys):
    """One seed has no spread: however large the gap, validate names no winner (it used to, after nine steps)."""
    good = str(quickstart_local / "shards")
    worse = str(scrambled_copy(quickstart_local / "shards", tmp_path / "scrambled"))
    assert main(["validate", worse, good, "--tokens", "16384", "--seeds", "0", "--batch-size", "8"]) == 0
    out = capsys.readouterr().out
    assert "better:" not in out and "from one seed: no spread, no verdict" in out


def test_a_difference_is_clear_only_beyond_the_spread():
    assert difference([2.50, 2.52, 2.51], [2.60, 2.61, 2.59]).clear
    assert not difference([2.50], [2.90]).clear
    assert not difference([2.50, 2.60, 2.55], [2.52, 2.62, 2.57]).clear  # inside the spread
    close = difference([2.500, 2.501, 2.502, 2.500, 2.501], [2.503, 2.504, 2.505, 2.503, 2.504])
    assert close.p_value is not None and close.p_value < 0.01 and close.clear == (close.sigmas > 2)


def test_paired_by_seed_the_seeds_own_luck_cancels():
    a, b = [2.50, 2.60, 2.55], [2.52, 2.62, 2.57]  # each seed 0.02 ahead; the seeds spread 0.05
    assert not difference(a, b).clear and paired_difference(a, b).clear
    assert paired_difference(a, b).gap == pytest.approx(0.02)
    assert not paired_difference(a, [2.52, 2.58, 2.57]).clear  # one seed the other way: inside the gaps' spread
    with pytest.raises(ValueError, match="pairs need one of each per seed"):
        paired_difference(a, b[:2])
    same = DatasetScore("a", {"t": a}, 0.5, 10, [0, 1, 2])
    other = DatasetScore("b", {"t": b}, 0.5, 10, [0, 1, 2])
    assert "paired by seed:" in describe_comparison(same, other, "t") and "(clear)" in describe_comparison(
        same, other, "t").split(";")[1]
    shifted = DatasetScore("b", {"t": b}, 0.5, 10, [1, 2, 3])  # other seeds: nothing pairs them
    assert "paired" not in describe_comparison(same, shifted, "t")


def test_validate_rejects_bad_arguments(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "shards")]) == 1
    assert "no manifest at" in capsys.readouterr().err
    manifest = Path(manifest_path(str(tmp_path / "shards")))
    manifest.parent.mkdir(parents=True)
    manifest.write_text('{"format": "curate-token-shards"}')
    assert main(["validate", str(tmp_path), "--model", "huge"]) == 2
