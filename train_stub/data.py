"""Training batches from curate's token shards: packed sequences in a seeded order, resumable, split across ranks.

The shards' documents (each ending in the end-of-text token) are concatenated into one token stream, cut into
sequences of seq_len + 1 tokens (input and shifted target), and visited in a permutation drawn from (seed, epoch).
Every token is used once per epoch, except the last len(stream) mod (seq_len + 1), which do not fill a sequence.
Rank r of w takes positions r, r + w, r + 2w, ... of the permutation, so ranks never share a sequence.

The stream is read from the Parquet shards into memory once, after checking them against their manifest (2 bytes a
token with a vocabulary up to 65,536: 200 MB for the 100M tokens a dataset comparison trains on); nothing is written
beside the shards. For corpora that do not fit, curate.token_dataset streams the shards instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from curate.shards import read_all_tokens


@dataclass
class LoaderState:
    """Where the loader is: the epoch and the next position in that epoch's permutation (this rank's)."""

    epoch: int = 0
    position: int = 0


class ShardLoader:
    def __init__(self, shard_dir: str, seq_len: int, batch_size: int, *, seed: int = 0, rank: int = 0,
                 world_size: int = 1) -> None:
        self.tokens = read_all_tokens(shard_dir)
        self.seq_len, self.batch_size = seq_len, batch_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.num_sequences = len(self.tokens) // (seq_len + 1)
        if self.num_sequences < world_size:
            raise ValueError(f"{shard_dir}: {len(self.tokens)} tokens make fewer than {world_size} sequences of "
                             f"{seq_len + 1}")
        self.state = LoaderState()
        self._order = self._epoch_order(0)

    def _epoch_order(self, epoch: int) -> np.ndarray:
        """This rank's sequence indices for `epoch`: PCG64 seeded by (seed, epoch), the same on every machine."""
        permutation = np.random.default_rng([self.seed, epoch]).permutation(self.num_sequences)
        return permutation[self.rank :: self.world_size]

    def sequence(self, index: int) -> np.ndarray:
        start = index * (self.seq_len + 1)
        return np.asarray(self.tokens[start : start + self.seq_len + 1], dtype=np.int64)

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets, each (batch_size, seq_len), continuing into the next epoch when this one ends."""
        rows: list[np.ndarray] = []
        while len(rows) < self.batch_size:
            if self.state.position >= len(self._order):
                self.state = LoaderState(self.state.epoch + 1, 0)
                self._order = self._epoch_order(self.state.epoch)
            rows.append(self.sequence(int(self._order[self.state.position])))
            self.state.position += 1
        batch = torch.from_numpy(np.stack(rows))
        return batch[:, :-1], batch[:, 1:]

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.state.epoch, "position": self.state.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.state = LoaderState(state["epoch"], state["position"])
        self._order = self._epoch_order(self.state.epoch)
