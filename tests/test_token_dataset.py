"""curate.token_dataset: DataLoader workers and ranks split the shards' windows without overlap, in a seeded order."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch.utils.data import DataLoader  # noqa: E402

from curate.token_dataset import TokenShardDataset, shard_units, unit_tokens  # noqa: E402

SEQ_LEN = 127


@pytest.fixture(scope="module")
def shards(quickstart_local) -> str:
    return str(quickstart_local / "shards")


def expected_windows(shards: str) -> set[bytes]:
    """Every full window of every unit, as bytes, computed from the units directly."""
    windows = set()
    for unit in shard_units(shards):
        tokens = unit_tokens(unit).astype(np.int64)
        for start in range(0, len(tokens) - SEQ_LEN, SEQ_LEN + 1):
            windows.add(tokens[start : start + SEQ_LEN + 1].tobytes())
    return windows


def collect(dataset: TokenShardDataset, workers: int) -> list[bytes]:
    rows = []
    for inputs, targets in DataLoader(dataset, batch_size=4, num_workers=workers):
        assert inputs.shape[1] == SEQ_LEN and torch.equal(inputs[:, 1:], targets[:, :-1])
        rows += [torch.cat([x, y[-1:]]).numpy().tobytes() for x, y in zip(inputs, targets)]
    return rows


def test_workers_and_ranks_cover_every_window_once(shards):
    assert len(shard_units(shards)) >= 2
    seen = []
    for rank in range(2):
        seen += collect(TokenShardDataset(shards, SEQ_LEN, seed=1, rank=rank, world_size=2), workers=0)
    assert len(seen) == len(set(seen)) and set(seen) == expected_windows(shards)
    with_workers = collect(TokenShardDataset(shards, SEQ_LEN, seed=1), workers=2)
    assert sorted(with_workers) == sorted(seen)


def test_the_order_is_seeded_per_epoch(shards):
    dataset = TokenShardDataset(shards, SEQ_LEN, seed=3)
    first, again = collect(dataset, 0), collect(TokenShardDataset(shards, SEQ_LEN, seed=3), 0)
    dataset.set_epoch(1)
    orders = {tuple(np.random.default_rng([3, e]).permutation(len(dataset.units))) for e in (0, 1)}
    assert first == again and sorted(collect(dataset, 0)) == sorted(first)
    assert len(orders) == 2 and (collect(dataset, 0) != first)
