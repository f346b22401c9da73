"""Which dataset is better? Train the same proxy model on each, with the same token budget and several seeds, and
compare bits per byte on fixed evaluation texts (the quantity DCLM and FineWeb ablations rank data by).

Each dataset is a `tokenize` node's folder; its own tokenizer encodes the evaluation texts, and bits per byte make
datasets with different tokenizers comparable. A difference is called only when it stands out of the seeds' spread
(`Difference.clear`): one seed has no spread, so one seed never gives a verdict.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from curate.shards import load_tokenizer_file
from curate.shards import load_manifest, shard_tokenizer_path
from train_stub.train import EvalText, TrainConfig, train

# A difference is called when its two-sided Welch t-test gives p below CLEAR_P and the gap is more than CLEAR_SIGMAS
# times the larger of the two seed standard deviations: a t-test alone calls tiny gaps with many seeds, a gap in
# sigmas alone ignores how few seeds there are. Paired by seed (paired_difference), the same rule holds with the
# paired t-test and the standard deviation of the per-seed differences.
CLEAR_P = 0.05
CLEAR_SIGMAS = 2.0


@dataclass
class DatasetScore:
    shards: str
    bits_per_byte: dict[str, list[float]]  # per evaluation text, one value per seed
    epochs: float  # how many times the budget goes through the dataset
    tokens: int  # the dataset's size
    seeds: list[int] = field(default_factory=list)  # the runs' seeds, in the order of each text's values

    def mean(self, text: str) -> float:
        return statistics.fmean(self.bits_per_byte[text])

    def std(self, text: str) -> float:
        values = self.bits_per_byte[text]
        return statistics.stdev(values) if len(values) > 1 else 0.0


@dataclass(frozen=True)
class Difference:
    """How far `a` is ahead of `b` (lower bits per byte is better) over seeds."""

    gap: float  # mean(b) - mean(a): positive when a is better
    sigmas: float  # |gap| over the larger of the two seed standard deviations (inf when both are 0 and gap is not)
    p_value: float | None  # two-sided Welch t-test; None with fewer than two seeds on a side
    seeds: int  # the smaller of the two seed counts

    @property
    def clear(self) -> bool:
        return (self.seeds >= 2 and self.p_value is not None and self.p_value < CLEAR_P
                and self.sigmas > CLEAR_SIGMAS)

    def describe(self) -> str:
        """Example: '0.0812 bits/byte, 9.4 sigma, p = 2e-06 (clear)'."""
        if self.seeds < 2:
            return f"{self.gap:+.4f} bits/byte from one seed: no spread, no verdict"
        p = f"p = {self.p_value:.2g}" if self.p_value is not None else "p undefined"
        return f"{self.gap:+.4f} bits/byte, {self.sigmas:.1f} sigma, {p} ({'clear' if self.clear else 'not clear'})"


def difference(a: Sequence[float], b: Sequence[float]) -> Difference:
    """Example: difference([2.50, 2.52, 2.51], [2.60, 2.61, 2.59]).clear -> True; difference([2.5], [2.6]).clear
    -> False (one seed)."""
    gap = statistics.fmean(b) - statistics.fmean(a)
    seeds = min(len(a), len(b))
    if seeds < 2:
        return Difference(gap, math.nan, None, seeds)
    spread = max(statistics.stdev(a), statistics.stdev(b))
    sigmas = abs(gap) / spread if spread > 0 else (math.inf if gap else 0.0)
    from scipy.stats import ttest_ind

    p_value = float(ttest_ind(a, b, equal_var=False).pvalue) if spread > 0 else (0.0 if gap else 1.0)
    return Difference(gap, sigmas, p_value, seeds)


def paired_difference(a: Sequence[float], b: Sequence[float]) -> Difference:
    """How far `a` is ahead of `b` when `a[i]` and `b[i]` were trained from the same seed. A seed fixes the initial
    weights (arms that share a tokenizer start from the same ones) and part of the luck of a run, so the gaps
    b[i] - a[i] carry less of it than either list: the spread is that of the gaps, the test the paired t-test.

    Example: paired_difference([2.50, 2.60, 2.55], [2.52, 2.62, 2.57]).clear -> True (each seed 0.02 ahead), where
    difference() of the same lists is inside the spread."""
    if len(a) != len(b):
        raise ValueError(f"paired_difference: {len(a)} values against {len(b)}; pairs need one of each per seed")
    gaps = [y - x for x, y in zip(a, b)]
    gap = statistics.fmean(gaps)
    if len(gaps) < 2:
        return Difference(gap, math.nan, None, len(gaps))
    spread = statistics.stdev(gaps)
    sigmas = abs(gap) / spread if spread > 0 else (math.inf if gap else 0.0)
    from scipy.stats import ttest_rel

    p_value = float(ttest_rel(b, a).pvalue) if spread > 0 else (0.0 if gap else 1.0)
    return Difference(gap, sigmas, p_value, len(gaps))


def describe_comparison(a: DatasetScore, b: DatasetScore, text: str) -> str:
    """The difference of `a` over `b` on `text`, unpaired; then paired by seed where both ran the same seeds.

    Example: '+0.0357 bits/byte, 1.5 sigma, p = 0.04 (not clear); paired by seed: 3.1 sigma, p = 0.002 (clear)'."""
    unpaired = difference(a.bits_per_byte[text], b.bits_per_byte[text]).describe()
    if not a.seeds or a.seeds != b.seeds or len(a.seeds) < 2:
        return unpaired
    paired = paired_difference(a.bits_per_byte[text], b.bits_per_byte[text])
    p = f"p = {paired.p_value:.2g}" if paired.p_value is not None else "p undefined"
    return f"{unpaired}; paired by seed: {paired.sigmas:.1f} sigma, {p} ({'clear' if paired.clear else 'not clear'})"


def eval_texts_for(tokenizer_file: str, texts: Mapping[str, str]) -> dict[str, EvalText]:
    tokenizer = load_tokenizer_file(tokenizer_file)
    return {name: EvalText(tokenizer.encode(text), len(text.encode())) for name, text in texts.items()}


def compare_datasets(shard_dirs: Sequence[str], texts: Mapping[str, str], config: TrainConfig, seeds: Sequence[int],
                     tokens: int, log: Callable[[str], None] = print) -> list[DatasetScore]:
    """Train `config` on each dataset for `tokens` training tokens per seed; return the scores in the order given,
    each with bits per byte on every text of `texts`."""
    scores = []
    for shard_dir in shard_dirs:
        manifest = load_manifest(shard_dir)
        tokenizer_file = shard_tokenizer_path(shard_dir, manifest)
        evals = eval_texts_for(tokenizer_file, texts)
        vocab_size = load_tokenizer_file(tokenizer_file).vocab_size
        seq_len = config.model_config(vocab_size).seq_len
        steps = max(1, tokens // (config.batch_size * config.grad_accum * seq_len))
        epochs = tokens / max(1, manifest["tokens"])
        if epochs > 1:
            log(f"warning: {shard_dir} has {manifest['tokens']:,} tokens, so {tokens:,} training tokens repeat it "
                f"{epochs:.1f} times; datasets repeated a different number of times compare repetition, not quality")
        results: dict[str, list[float]] = {name: [] for name in texts}
        for seed in seeds:
            run_config = dataclasses.replace(config, seed=seed, max_steps=steps,
                                             warmup_steps=min(config.warmup_steps, steps // 10 or 1))
            result = train(run_config, shard_dir, vocab_size=vocab_size, evals=evals, eot_id=manifest["eot_id"],
                           log=lambda line: None)
            for name, value in result.bits_per_byte.items():
                results[name].append(value)
            log(f"{shard_dir} seed {seed}: {steps} steps, train loss {result.losses[-1]:.3f}, "
                + ", ".join(f"{name} {value:.4f}" for name, value in result.bits_per_byte.items()) + " bits/byte")
        scores.append(DatasetScore(shard_dir, results, epochs, int(manifest["tokens"]), list(seeds)))
    return scores
