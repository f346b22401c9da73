"""The `dsir` node: data selection by importance resampling toward a target corpus (Xie et al. 2023, "Data Selection
for Language Models via Importance Resampling", arXiv:2302.03169).

Each text becomes a vector of hashed word unigram and bigram counts (10,000 buckets, as the paper). The target and raw
feature distributions are bag-of-n-gram models fitted by counting; a document's log importance weight is
sum_f count_f(x) * (log p_target(f) - log p_raw(f)). Documents are then sampled without replacement in proportion to
their weights with the Gumbel top-k trick: keep the k largest log w + Gumbel noise.

Length: that sum grows with the document. The paper selects fixed-length examples (chunks of the Pile), and its
released code (p-lambda/dsir, data_selection/hashed_ngram_dsir.py) sums without normalising and only drops examples
under `min_example_length` (100 words). On whole web documents of 100 to 10,000 words the sum is a length score: on
the documents cc_en.yaml's DSIR node saw before this was changed, the log weight correlated -0.81 with log length,
keeping 80% of the documents kept 52% of the bytes (the long articles went), and the selection moved away from the
target (docs/quality.md). So by default (`length_normalize`) a document's log weight is its mean log ratio per
n-gram times `example_ngrams` (255: the unigrams and bigrams of a 128-word example, the paper's unit), as if every
document were one example of the paper's length; `length_normalize: false` is the released code's sum. The node logs
the share of documents and of bytes kept, and the paper's KL-reduction measure, KL(target || input) -> KL(target ||
selected).

As a global step over the executor: map (count raw features per partition) -> reduce (sum, in the driver: a vector
of num_buckets) -> map (log weights and Gumbel keys per partition) -> global cut-off (the k-th largest key, from one
float per document) -> map (write kept and rejected rows). Memory is bounded by a partition and the key vector.
"""

from __future__ import annotations

import json
import re
import time
import zlib
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa

from curate import storage
from curate.commit import write_json_atomic
from curate.cpu import driver_cpu
from curate.errors import CurateError
from curate.layout import NodeLayout
from curate.ops.base import Operation, OperationContext, PartitionWrite, written
from curate.stages.base import Reject, StageResult, rejected_rows
from curate.stages.jsonl import iter_texts
from curate.stats import NodeReport, StageStats
from curate.tables import load_array, read_columns, read_table, save_array_atomic, scratch_file, write_parquet_atomic

_WORD = re.compile(r"\w+")
FIT_FILE, FIT_LOG_RATIO = "dsir.json", "log_ratio.npy"  # in the node's fit folder (curate/layout.py)
# Add-one smoothing of both distributions, so a bucket unseen in one corpus gets a finite log weight.
SMOOTHING = 1.0


def hashed_features(text: str, num_buckets: int) -> np.ndarray:
    """Counts of the text's lower-cased word unigrams and bigrams, hashed into `num_buckets` buckets (CRC-32, the
    same on every machine, unlike Python's salted hash()).

    Example: hashed_features("a b a", 10).sum() -> 5 (three unigrams, two bigrams)
    """
    words = _WORD.findall(text.lower())
    grams = words + [f"{a} {b}" for a, b in zip(words, words[1:])]
    buckets = np.fromiter((zlib.crc32(g.encode()) % num_buckets for g in grams), dtype=np.int64, count=len(grams))
    return np.bincount(buckets, minlength=num_buckets).astype(np.float64)


def log_distribution(counts: np.ndarray) -> np.ndarray:
    smoothed = counts + SMOOTHING
    return np.log(smoothed / smoothed.sum())


def kl_divergence(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    """KL(p || q) of two smoothed feature distributions: the paper's KL-reduction metric compares the selected data's
    features to the target's."""
    log_p, log_q = log_distribution(p_counts), log_distribution(q_counts)
    return float(np.sum(np.exp(log_p) * (log_p - log_q)))


def gumbel_keys(log_weights: np.ndarray, ids: list[str], seed: int) -> np.ndarray:
    """log w + Gumbel(0, 1) noise drawn from (seed, id): the same key for a document on every executor."""
    uniforms = np.array([(zlib.crc32(f"{seed}:{i}".encode()) + 0.5) / 2**32 for i in ids])
    return log_weights - np.log(-np.log(uniforms))


@dataclass(frozen=True)
class DsirTask:
    input_path: str
    scratch: str
    index: int
    num_buckets: int
    seed: int
    log_ratio_path: str = ""  # set for the weighting pass
    example_ngrams: int = 0  # > 0: length-normalised weights (see the module docstring)

    def __str__(self) -> str:
        return storage.basename(self.input_path)

    @property
    def counts_path(self) -> str:
        return scratch_file(self.scratch, self.index, ".counts.npy")

    @property
    def weights_path(self) -> str:
        return scratch_file(self.scratch, self.index, ".weights.parquet")


def count_features(task: DsirTask) -> int:
    """Map 1: the partition's summed feature counts, saved as .npy; returns its document count."""
    texts = read_columns(task.input_path, ["text"]).column(0).to_pylist()
    total = np.zeros(task.num_buckets)
    for text in texts:
        total += hashed_features(text or "", task.num_buckets)
    save_array_atomic(task.counts_path, total)
    return len(texts)


def log_weight(features: np.ndarray, log_ratio: np.ndarray, example_ngrams: int) -> float:
    """A document's log importance weight: the sum of its n-grams' log ratios, or (example_ngrams > 0) their mean
    times example_ngrams. Example: log_weight(np.array([2., 0.]), np.array([0.5, -1.]), 0) -> 1.0; with
    example_ngrams 10 -> 5.0"""
    total = float(features @ log_ratio)
    if example_ngrams <= 0:
        return total
    count = float(features.sum())
    return total / count * example_ngrams if count else 0.0


def weigh_documents(task: DsirTask) -> int:
    """Map 2: each document's log importance weight, Gumbel key and size in bytes, saved as Parquet; returns its
    document count."""
    log_ratio = load_array(task.log_ratio_path)
    table = read_columns(task.input_path, ["id", "text"])
    texts = [t or "" for t in table.column("text").to_pylist()]
    log_weights = np.array([log_weight(hashed_features(t, task.num_buckets), log_ratio, task.example_ngrams)
                            for t in texts])
    keys = gumbel_keys(log_weights, table.column("id").to_pylist(), task.seed)
    sizes = np.array([len(t.encode("utf-8")) for t in texts], dtype=np.int64)
    write_parquet_atomic(pa.table({"dsir_logw": log_weights.astype(np.float32), "key": keys, "bytes": sizes}),
                         task.weights_path)
    return table.num_rows


@dataclass(frozen=True)
class SelectTask(PartitionWrite):
    """Map 3 of one partition: its weights, the run's cut-off, and where the kept documents' features go."""

    weights_path: str
    cutoff: float
    num_buckets: int
    kept_counts_path: str

    def scratch_outputs(self) -> tuple[str, ...]:
        return (self.kept_counts_path,)


def select_partition(task: SelectTask) -> int:
    """Map 3: documents whose key reaches the cut-off are kept, with `dsir_logw`; the others go to rejected. The kept
    documents' summed features are saved for the KL measure."""
    table = read_table(task.input_path)
    weights = read_table(task.weights_path)
    table = table.append_column("dsir_logw", weights.column("dsir_logw"))
    chosen = weights.column("key").to_numpy() >= task.cutoff
    kept, dropped = table.filter(pa.array(chosen)), table.filter(pa.array(~chosen))
    kept_counts = np.zeros(task.num_buckets)
    for text in kept.column("text").to_pylist():
        kept_counts += hashed_features(text or "", task.num_buckets)
    save_array_atomic(task.kept_counts_path, kept_counts)
    rejected = rejected_rows(dropped, "dsir", [Reject("dsir_not_selected")] * dropped.num_rows)
    stats = StageStats("dsir", docs_in=table.num_rows, kept=kept.num_rows)
    stats.rejected["dsir_not_selected"] = dropped.num_rows
    task.write(kept, rejected, stats)
    return table.num_rows


class FittedSelection:
    """A DSIR node's decision replayed from its run's fit (for `curate evaluate`): a document is kept when its Gumbel
    key reaches the run's cut-off (the key depends only on the document, the fitted log ratios and the seed)."""

    def __init__(self, workdir: str, node: str) -> None:
        fit = NodeLayout(workdir, node).fit
        try:
            self.fit = json.loads(storage.read_bytes(storage.join(fit, FIT_FILE)))
            self.log_ratio = load_array(storage.join(fit, FIT_LOG_RATIO))
        except FileNotFoundError:
            raise CurateError(f"node {node!r}: no DSIR fit in {fit}; run the pipeline first (`curate run`)") from None

    def process(self, batch: pa.Table, stats: StageStats) -> StageResult:
        weights = np.array([log_weight(hashed_features(t or "", self.fit["num_buckets"]), self.log_ratio,
                                       self.fit["example_ngrams"]) for t in batch.column("text").to_pylist()])
        keys = gumbel_keys(weights, batch.column("id").to_pylist(), self.fit["seed"])
        chosen = keys >= self.fit["cutoff"]
        dropped = batch.filter(pa.array(~chosen))
        return StageResult(batch.filter(pa.array(chosen)),
                           rejected_rows(dropped, "dsir", [Reject("dsir_not_selected")] * dropped.num_rows))


@dataclass
class Dsir(Operation):
    """Resample node `input` toward the `target` JSON Lines files; keep `keep_fraction` of the documents (or
    `keep_count`)."""

    name: ClassVar[str] = "dsir"
    node_inputs: ClassVar[dict[str, str]] = {"input": "documents"}
    # The target's counts need no node: they are computed first, while the nodes before `input` run.
    late_inputs: ClassVar[tuple[str, ...]] = ("input",)
    path_inputs: ClassVar[tuple[str, ...]] = ("target",)
    produces_documents: ClassVar[bool] = True

    input: str
    target: str | list[str]
    keep_fraction: float = 0.5
    keep_count: int | None = None
    num_buckets: int = 10_000  # Xie et al. 2023, section 4
    length_normalize: bool = True
    example_ngrams: int = 255  # 128 words: 128 unigrams + 127 bigrams (see the module docstring)
    seed: int = 0
    text_field: str = "text"

    @classmethod
    def labelled_decision(cls, workdir: str, node: str) -> FittedSelection:
        return FittedSelection(workdir, node)

    def __post_init__(self) -> None:
        if not 0.0 < self.keep_fraction <= 1.0:
            raise ValueError(f"keep_fraction must be in (0, 1], got {self.keep_fraction}")
        if self.example_ngrams < 1:
            raise ValueError(f"example_ngrams must be at least 1, got {self.example_ngrams}")

    def target_counts(self) -> np.ndarray:
        """The target text's hashed n-gram counts: the node's serial work (OperationContext.run_serial), 1 s of
        Python for cc_en's target."""
        total = np.zeros(self.num_buckets)
        for text in iter_texts(self.target, self.text_field):
            total += hashed_features(text, self.num_buckets)
        return total

    def run(self, context: OperationContext) -> NodeReport:
        started, cpu_started = time.perf_counter(), driver_cpu()
        target = context.run_serial(Dsir.target_counts, self, "target_counts")
        refs = context.refs(self.input)  # a late input: this waits for it
        scratch = context.scratch("dsir")
        tasks = [DsirTask(ref.path, scratch, i, self.num_buckets, self.seed) for i, ref in enumerate(refs)]
        context.map(count_features, tasks, lambda t: written(t.counts_path))
        raw = np.sum([load_array(t.counts_path) for t in tasks], axis=0)
        log_ratio_path = storage.join(scratch, "log_ratio.npy")
        save_array_atomic(log_ratio_path, log_distribution(target) - log_distribution(raw))
        example_ngrams = self.example_ngrams if self.length_normalize else 0
        tasks = [DsirTask(t.input_path, scratch, t.index, self.num_buckets, self.seed, log_ratio_path, example_ngrams)
                 for t in tasks]
        context.map(weigh_documents, tasks, lambda t: written(t.weights_path))

        weights = [read_table(t.weights_path, ["key", "bytes"]) for t in tasks]
        keys = np.concatenate([w.column("key").to_numpy() for w in weights] or [np.zeros(0)])
        sizes = np.concatenate([w.column("bytes").to_numpy() for w in weights] or [np.zeros(0, dtype=np.int64)])
        keep = self.keep_count if self.keep_count is not None else round(self.keep_fraction * len(keys))
        keep = min(max(keep, 0), len(keys))
        cutoff = float(np.sort(keys)[::-1][keep - 1]) if keep else float("inf")
        # Partitions committed for this fingerprint were selected with the same cut-off (it depends only on the
        # inputs and the config), so a resumed run writes only the others.
        selects = [SelectTask(ref.path, context.layout, ref.key, context.output_fingerprints[i], tasks[i].weights_path,
                              cutoff, self.num_buckets, scratch_file(scratch, i, ".kept.npy"))
                   for i, ref in enumerate(refs)]
        committed = context.write_partitions(select_partition, selects)
        kept_counts = np.sum([load_array(t.kept_counts_path) for t in selects] or [np.zeros(self.num_buckets)],
                             axis=0)
        # What decided, for `curate evaluate`: a labelled document is kept when its key reaches the same cut-off.
        save_array_atomic(storage.join(context.layout.fit, FIT_LOG_RATIO), load_array(log_ratio_path))
        write_json_atomic(storage.join(context.layout.fit, FIT_FILE),
                          {"cutoff": cutoff, "example_ngrams": example_ngrams, "num_buckets": self.num_buckets,
                           "seed": self.seed})
        stage = StageStats("dsir", docs_in=len(keys), kept=keep, wall_s=time.perf_counter() - started,
                           cpu_s=driver_cpu() - cpu_started)
        stage.rejected["dsir_not_selected"] = len(keys) - keep
        bytes_kept = float(sizes[keys >= cutoff].sum() / max(1, sizes.sum()))
        context.log(f"node {context.node}: kept {keep} of {len(keys)} documents ({keep / max(1, len(keys)):.0%}) "
                    f"and {bytes_kept:.0%} of the bytes; KL(target || input) {kl_divergence(target, raw):.4f} -> "
                    f"KL(target || selected) {kl_divergence(target, kept_counts):.4f} (cut-off key {cutoff:.3f})")
        return NodeReport(context.node, len(refs), committed, len(refs) - committed, [stage], keep, len(keys) - keep,
                          stage.wall_s)
