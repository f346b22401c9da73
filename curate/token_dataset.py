"""A PyTorch `IterableDataset` over curate's token shards, for training loops of your own (needs `pip install torch`).

    from torch.utils.data import DataLoader
    from curate.token_dataset import TokenShardDataset

    dataset = TokenShardDataset("out/quickstart/shards", seq_len=1024, batch_size=8, seed=0, rank=rank,
                                world_size=world_size)
    for epoch in range(epochs):
        dataset.set_epoch(epoch)
        for inputs, targets in DataLoader(dataset, batch_size=8, num_workers=4):
            ...  # (8, 1024) int64 each; targets are inputs shifted by one token

What an epoch is, as llm.c's loader and nanoGPT's random offsets do it: each shard's documents (each ending in
end-of-text) are one token stream, cut into windows of seq_len + 1 tokens from an offset drawn per (seed, epoch,
shard), so the cuts move between epochs. The shards are visited in an order drawn from (seed, epoch), and the windows
inside each shard in an order drawn from (seed, epoch, shard). That sequence is split by window, not by file: rank r
of R takes windows r, r + R, r + 2R, ..., all ranks the same number (the remainder, fewer than R windows, is left out
that epoch), so no rank is ever empty or waits on another at the end of an epoch while one shard holds more windows
than there are ranks.

Within a rank, DataLoader worker w of W takes the rank's windows in runs of `batch_size`: runs w, w + W, w + 2W, ...
The DataLoader collects one batch from each worker in turn, so with the same `batch_size` it yields the same batches
in the same order whatever `num_workers` is. A rank's progress is then one number, the windows it has consumed this
epoch: `state_dict()` / `load_state_dict()` carry it with the epoch, and a resumed run continues with the next window.
(With workers, the dataset object in your process is not the one that iterates: build the state yourself,
`{"epoch": epoch, "samples": batches_done * batch_size}`.) Memory holds one shard at a time per worker; each
worker reads every shard once an epoch.

train_stub's ShardLoader reads the whole stream into memory instead, for the small datasets a data comparison uses.
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
class Window:
    """Window `index` of shard `shard` (in manifest order) in one epoch: tokens [offset + index * size, ... + size)."""

    shard: int
    index: int


def shard_tokens(path: str) -> np.ndarray:
    """A shard's documents' tokens, concatenated, in the shard's dtype."""
    with storage.open_input(path) as handle:
        column = pq.read_table(handle, columns=["tokens"]).column(0).combine_chunks()
    offsets = column.offsets.to_numpy()
    return column.values.to_numpy(zero_copy_only=False)[offsets[0] : offsets[-1]]


class TokenShardDataset(IterableDataset):
    """(inputs, targets) windows of `seq_len` tokens from the shards in `shard_dir`, in a seeded order every epoch,
    split by window across ranks and DataLoader workers (see the module docstring). `batch_size`: the DataLoader's,
    so that the order does not depend on the number of workers."""

    def __init__(self, shard_dir: str, seq_len: int, *, batch_size: int = 1, seed: int = 0, rank: int = 0,
                 world_size: int = 1) -> None:
        if seq_len < 1 or batch_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need seq_len >= 1, batch_size >= 1 and 0 <= rank < world_size (got {seq_len}, "
                             f"{batch_size}, {rank}, {world_size})")
        manifest = load_manifest(shard_dir)
        self.paths = [storage.join(shard_dir, shard["file"]) for shard in manifest["shards"]]
        self.shard_sizes = [int(shard["tokens"]) for shard in manifest["shards"]]
        self.seq_len, self.batch_size, self.seed = seq_len, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.epoch, self.samples = 0, 0
        if self.windows_per_rank() == 0:
            raise ValueError(f"{shard_dir}: {sum(self.shard_sizes):,} tokens make fewer than {world_size} windows of "
                             f"{seq_len + 1}")

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order the next iteration follows, from its start (call it before creating the
        DataLoader's iterator, as with DistributedSampler)."""
        self.epoch, self.samples = epoch, 0

    def state_dict(self) -> dict[str, int]:
        """The epoch and the windows this rank has consumed in it (counted here when iterated in this process)."""
        return {"epoch": self.epoch, "samples": self.samples}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue epoch `state["epoch"]` after its first `state["samples"]` windows of this rank."""
        self.epoch, self.samples = int(state["epoch"]), int(state["samples"])

    def shard_offset(self, shard: int) -> int:
        """Where the first window of `shard` starts this epoch: drawn in [0, seq_len], so the cuts move."""
        return int(np.random.default_rng([self.seed, self.epoch, shard]).integers(self.seq_len + 1))

    def epoch_windows(self) -> list[Window]:
        """Every window of this epoch, all ranks', in the epoch's order.

        Example (two shards of 3 and 2 windows, shard order [1, 0]): [Window(1, 1), Window(1, 0), Window(0, 2), ...]
        """
        order: list[Window] = []
        window = self.seq_len + 1
        for shard in np.random.default_rng([self.seed, self.epoch]).permutation(len(self.paths)):
            count = max(0, (self.shard_sizes[shard] - self.shard_offset(int(shard))) // window)
            permutation = np.random.default_rng([self.seed, self.epoch, int(shard), 1]).permutation(count)
            order += [Window(int(shard), int(index)) for index in permutation]
        return order

    def windows_per_rank(self) -> int:
        """Windows each rank gets per epoch (a lower bound over epochs: the offsets move the count by at most one a
        shard)."""
        window = self.seq_len + 1
        return sum(max(0, (size - self.seq_len) // window) for size in self.shard_sizes) // self.world_size

    def rank_windows(self) -> list[Window]:
        """This rank's windows this epoch, in order: positions rank, rank + R, ... of the epoch, equal counts."""
        windows = self.epoch_windows()
        per_rank = len(windows) // self.world_size
        return windows[self.rank :: self.world_size][:per_rank]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        worker = get_worker_info()
        workers, worker_id = (worker.num_workers, worker.id) if worker is not None else (1, 0)
        remaining = self.rank_windows()[self.samples :]
        runs = [remaining[start : start + self.batch_size] for start in range(0, len(remaining), self.batch_size)]
        window = self.seq_len + 1
        loaded_shard, tokens = -1, np.zeros(0, dtype=np.int64)
        for run in runs[worker_id::workers]:
            for item in run:
                if item.shard != loaded_shard:
                    loaded_shard, tokens = item.shard, shard_tokens(self.paths[item.shard])
                start = self.shard_offset(item.shard) + item.index * window
                row = torch.from_numpy(tokens[start : start + window].astype(np.int64))
                if worker is None:
                    self.samples += 1
                yield row[:-1], row[1:]
