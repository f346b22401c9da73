"""curate.token_dataset: windows split by window across ranks and workers (no rank empty), an order drawn from
(seed, epoch) that does not depend on the number of workers, and a resumable position."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch.utils.data import DataLoader  # noqa: E402

from curate.shards import load_manifest  # noqa: E402
from curate.token_dataset import TokenShardDataset, shard_tokens  # noqa: E402

SEQ_LEN = 127
BATCH = 4


@pytest.fixture(scope="module")
def shards(quickstart_local) -> str:
    return str(quickstart_local / "shards")


def batches(dataset: TokenShardDataset, workers: int = 0, limit: int | None = None) -> list[bytes]:
    """Each batch as bytes (inputs with the last target appended), in the order the DataLoader yields them."""
    rows = []
    for inputs, targets in itertools.islice(DataLoader(dataset, batch_size=BATCH, num_workers=workers), limit):
        assert inputs.shape[1] == SEQ_LEN and torch.equal(inputs[:, 1:], targets[:, :-1])
        rows.append(torch.cat([inputs, targets[:, -1:]], dim=1).numpy().tobytes())
    return rows


def windows(batch_bytes: list[bytes]) -> list[bytes]:
    flat = b"".join(batch_bytes)
    size = (SEQ_LEN + 1) * 8
    return [flat[i : i + size] for i in range(0, len(flat), size)]


def test_more_ranks_than_shards_all_get_the_same_number_of_windows(shards):
    """tokenize writes few shards for a small corpus; splitting by shard left ranks empty (a DDP job then hangs)."""
    ranks = len(load_manifest(shards)["shards"]) + 1
    per_rank = [windows(batches(TokenShardDataset(shards, SEQ_LEN, batch_size=BATCH, seed=1, rank=r,
                                                  world_size=ranks))) for r in range(ranks)]
    counts = {len(w) for w in per_rank}
    assert len(counts) == 1 and counts.pop() > 10
    everything = [w for rank in per_rank for w in rank]
    assert len(everything) == len(set(everything))


def test_every_window_is_a_slice_of_its_shard_and_an_epoch_covers_the_data(shards):
    manifest = load_manifest(shards)
    streams = [shard_tokens(f"{shards}/{s['file']}").astype(np.int64).tobytes() for s in manifest["shards"]]
    seen = windows(batches(TokenShardDataset(shards, SEQ_LEN, batch_size=BATCH, seed=2)))
    assert all(any(stream.find(w) % 8 == 0 for stream in streams if w in stream) for w in seen)
    # at most one window's worth of tokens per shard is left out by the offset and the tail
    assert len(seen) * (SEQ_LEN + 1) >= manifest["tokens"] - 2 * (SEQ_LEN + 1) * len(streams)


def test_the_order_does_not_depend_on_the_number_of_workers(shards):
    alone = batches(TokenShardDataset(shards, SEQ_LEN, batch_size=BATCH, seed=4))
    assert batches(TokenShardDataset(shards, SEQ_LEN, batch_size=BATCH, seed=4), workers=2) == alone


def test_the_order_is_drawn_from_seed_and_epoch(shards):
    dataset = TokenShardDataset(shards, SEQ_LEN, batch_size=BATCH, seed=3)
    epoch0 = batches(dataset)
    assert batches(TokenShardDataset(shards, SEQ_LEN, batch_size=BATCH, seed=3)) == epoch0
    dataset.set_epoch(1)
    epoch1 = batches(dataset)
    other_seed = batches(TokenShardDataset(shards, SEQ_LEN, batch_size=BATCH, seed=5))
    assert epoch1 != epoch0 and other_seed != epoch0
    # the cuts move between epochs too, not only the order: most windows of epoch 1 are new
    assert len(set(windows(epoch1)) - set(windows(epoch0))) > 0.9 * len(windows(epoch1))


def test_a_resumed_epoch_continues_with_the_next_window(shards):
    whole = batches(TokenShardDataset(shards, SEQ_LEN, batch_size=BATCH, seed=6))
    first = TokenShardDataset(shards, SEQ_LEN, batch_size=BATCH, seed=6)
    head = batches(first, limit=5)
    state = first.state_dict()
    assert state == {"epoch": 0, "samples": 5 * BATCH}
    resumed = TokenShardDataset(shards, SEQ_LEN, batch_size=BATCH, seed=6)
    resumed.load_state_dict(state)
    assert head + batches(resumed, workers=2) == whole


def test_bad_arguments_are_refused(shards):
    with pytest.raises(ValueError, match="rank"):
        TokenShardDataset(shards, SEQ_LEN, rank=2, world_size=2)
    with pytest.raises(ValueError, match="fewer than"):
        TokenShardDataset(shards, 10_000_000)
