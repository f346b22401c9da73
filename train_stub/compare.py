"""Which dataset is better? Train the same proxy model on each, with the same token budget and several seeds, and
compare validation bits per byte on a fixed reference text (the quantity DCLM and FineWeb ablations rank data by).

Each dataset is a `tokenize` node's folder; its own tokenizer encodes the reference text, and bits per byte make
datasets with different tokenizers comparable.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from curate.ops.train_bpe import load_tokenizer_file
from curate.shards import load_manifest, shard_tokenizer_path
from train_stub.train import TrainConfig, train


@dataclass
class DatasetScore:
    shards: str
    bits_per_byte: list[float]  # one per seed
    epochs: float  # how many times the budget goes through the dataset

    @property
    def mean(self) -> float:
        return statistics.fmean(self.bits_per_byte)

    @property
    def std(self) -> float:
        return statistics.stdev(self.bits_per_byte) if len(self.bits_per_byte) > 1 else 0.0


def compare_datasets(shard_dirs: Sequence[str], reference_text: str, config: TrainConfig, seeds: Sequence[int],
                     tokens: int, log: Callable[[str], None] = print) -> list[DatasetScore]:
    """Train `config` on each dataset for `tokens` training tokens per seed; return the scores, best first."""
    scores = []
    for shard_dir in shard_dirs:
        manifest = load_manifest(shard_dir)
        tokenizer = load_tokenizer_file(shard_tokenizer_path(shard_dir, manifest))
        reference_tokens = tokenizer.encode(reference_text)
        seq_len = config.model_config(tokenizer.vocab_size).seq_len
        steps = max(1, tokens // (config.batch_size * config.grad_accum * seq_len))
        epochs = tokens / max(1, manifest["tokens"])
        if epochs > 1:
            log(f"warning: {shard_dir} has {manifest['tokens']:,} tokens, so {tokens:,} training tokens repeat it "
                f"{epochs:.1f} times; datasets repeated a different number of times compare repetition, not quality")
        results = []
        for seed in seeds:
            run_config = dataclasses.replace(config, seed=seed, max_steps=steps,
                                             warmup_steps=min(config.warmup_steps, steps // 10 or 1))
            result = train(run_config, shard_dir, vocab_size=tokenizer.vocab_size, eval_tokens=reference_tokens,
                           eval_bytes=len(reference_text.encode()), eot_id=manifest["eot_id"], log=lambda line: None)
            log(f"{shard_dir} seed {seed}: {steps} steps, train loss {result.losses[-1]:.3f}, "
                f"val {result.val_bpb:.4f} bits/byte")
            assert result.val_bpb is not None  # train evaluates whenever it is given eval_tokens
            results.append(result.val_bpb)
        scores.append(DatasetScore(shard_dir, results, epochs))
    return sorted(scores, key=lambda score: score.mean)
