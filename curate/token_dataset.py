"""A PyTorch `IterableDataset` over curate's token shards, for training loops of your own (needs `pip install torch`).

    from torch.utils.data import DataLoader
    from curate.token_dataset import TokenShardDataset

    dataset = TokenShardDataset("out/quickstart/shards", seq_len=1024, seed=0, rank=rank, world_size=world_size)
    for epoch in range(epochs):
        dataset.set_epoch(epoch)
        for inputs, targets in DataLoader(dataset, batch_size=8, num_workers=4):
            ...  # (8, 1024) int64 each; targets are inputs shifted by one token

The unit of work is a Parquet row group of a shard (a shard's documents, never cut by tokenize). Every epoch the
units are put in an order drawn from (seed, epoch), and consumer c of C (C = world_size x DataLoader workers, c =
rank x workers + worker) takes units c, c + C, c + 2C, ...: no two consumers read the same tokens, and no consumer
reads more than its share of the files. Inside a unit, documents (each ending in end-of-text) are concatenated and cut
into windows of seq_len + 1 tokens; the tail of a unit shorter than a window is dropped, at most seq_len tokens per
unit. Memory holds one unit. Consumers can get different numbers of windows: stop a distributed run by step count.

train_stub's ShardLoader reads the whole stream into memory instead, for exact epochs and resumable positions on the
small datasets a data comparison trains on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq
import torch
from torch.utils.data import IterableDataset, get_worker_info

from curate import storage
from curate.shards import load_manifest


@dataclass(frozen=True)
class Unit:
    """One row group of one shard file."""

    path: str
    row_group: int


def shard_units(shard_dir: str) -> list[Unit]:
    """Every (shard, row group) of the shards, in manifest order."""
    units = []
    for shard in load_manifest(shard_dir)["shards"]:
        path = storage.join(shard_dir, shard["file"])
        with storage.open_input(path) as handle:
            groups = pq.ParquetFile(handle).metadata.num_row_groups
        units += [Unit(path, group) for group in range(groups)]
    return units


def unit_tokens(unit: Unit) -> np.ndarray:
    """The unit's documents' tokens, concatenated."""
    with storage.open_input(unit.path) as handle:
        column = pq.ParquetFile(handle).read_row_group(unit.row_group, columns=["tokens"]).column(0).combine_chunks()
    offsets = column.offsets.to_numpy()
    return column.values.to_numpy(zero_copy_only=False)[offsets[0] : offsets[-1]]


class TokenShardDataset(IterableDataset):
    """(inputs, targets) windows of `seq_len` tokens from the shards in `shard_dir`, a seeded order every epoch."""

    def __init__(self, shard_dir: str, seq_len: int, *, seed: int = 0, rank: int = 0, world_size: int = 1) -> None:
        if seq_len < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need seq_len >= 1 and 0 <= rank < world_size (got {seq_len}, {rank}, {world_size})")
        self.units = shard_units(shard_dir)
        self.seq_len, self.seed, self.rank, self.world_size = seq_len, seed, rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order the next iteration follows (call it before creating the DataLoader's
        iterator, as with DistributedSampler)."""
        self.epoch = epoch

    def consumer_units(self, consumer: int, consumers: int) -> list[Unit]:
        """The units consumer `consumer` of `consumers` reads this epoch, in order."""
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.units))
        return [self.units[i] for i in order[consumer::consumers]]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        worker = get_worker_info()
        workers, worker_id = (worker.num_workers, worker.id) if worker is not None else (1, 0)
        window = self.seq_len + 1
        for unit in self.consumer_units(self.rank * workers + worker_id, self.world_size * workers):
            tokens = unit_tokens(unit)
            for start in range(0, len(tokens) - window + 1, window):
                row = torch.from_numpy(tokens[start : start + window].astype(np.int64))
                yield row[:-1], row[1:]
