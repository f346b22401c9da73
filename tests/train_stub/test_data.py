"""The shard loader: a deterministic order that covers every token once per epoch, split across ranks, resumable."""

from __future__ import annotations

import numpy as np
import pytest

from curate.shards import iter_documents
from train_stub.data import ShardLoader


@pytest.fixture(scope="module")
def shards(quickstart_local):
    """The quickstart's shards, read in place: the loader writes nothing beside them."""
    return str(quickstart_local / "shards")


def epoch_rows(loader: ShardLoader) -> list[np.ndarray]:
    rows = []
    for _ in range(len(loader._order) // loader.batch_size):
        x, y = loader.next_batch()
        assert np.array_equal(x[:, 1:].numpy(), y[:, :-1].numpy())
        rows += [np.concatenate([xi.numpy(), yi.numpy()[-1:]]) for xi, yi in zip(x, y)]
    return rows


def test_an_epoch_covers_every_sequence_once(shards):
    stream = np.concatenate(list(iter_documents(shards)))
    loader = ShardLoader(shards, seq_len=63, batch_size=1)
    rows = epoch_rows(loader)
    assert len(rows) == loader.num_sequences == len(stream) // 64
    assert np.array_equal(np.sort(np.concatenate(rows)), np.sort(stream[: loader.num_sequences * 64]))
    starts = sorted(int(np.flatnonzero(np.all(np.lib.stride_tricks.sliding_window_view(
        stream[: loader.num_sequences * 64], 64)[::64] == row, axis=1))[0]) for row in rows[:20])
    assert len(set(starts)) == 20


def test_order_is_deterministic_and_seeded(shards):
    first = ShardLoader(shards, 63, 4, seed=1).next_batch()[0]
    again = ShardLoader(shards, 63, 4, seed=1).next_batch()[0]
    other = ShardLoader(shards, 63, 4, seed=2).next_batch()[0]
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_ranks_split_the_epoch_without_overlap(shards):
    loaders = [ShardLoader(shards, 63, 1, seed=3, rank=r, world_size=3) for r in range(3)]
    orders = [set(loader._order.tolist()) for loader in loaders]
    assert sum(map(len, orders)) == loaders[0].num_sequences == len(set.union(*orders))


def test_resume_continues_where_it_stopped(shards):
    loader = ShardLoader(shards, 63, 8, seed=4)
    for _ in range(3):
        loader.next_batch()
    state = loader.state_dict()
    expected = loader.next_batch()[0]
    resumed = ShardLoader(shards, 63, 8, seed=4)
    resumed.load_state_dict(state)
    assert np.array_equal(resumed.next_batch()[0], expected)


def test_next_epoch_has_a_new_order(shards):
    loader = ShardLoader(shards, 63, 1, seed=5)
    first = loader._order.copy()
    for _ in range(len(first) + 1):
        loader.next_batch()
    assert loader.state.epoch == 1 and not np.array_equal(loader._order, first)
