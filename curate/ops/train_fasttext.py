"""The `train_fasttext` node: a fastText classifier of high-quality (reference) against web text, trained by curate.

Positive examples: the text of JSON Lines files (e.g. the reference corpora); negative: a node of documents (e.g. the
pipeline's own English web text, the text the classifier will judge). One document in `held_out` of each class
(chosen by a hash of `seed` and its position) is kept out of training. The others are cut into chunks of
`chunk_words` words, so that the classifier cannot simply learn document length, balanced and shuffled with `seed`.
The held-out documents' chunks give the precision, recall and ROC AUC logged and written to `metrics.json`; the
held-out documents scored whole give `quantiles.json`, the score at each percentile for each class, and, when
`calibrate` names a node (the documents the classifier will judge), the score at each percentile of its documents,
scored on the executor.

Those quantiles are what a `fasttext_quality` step's `min_quantile` is expressed in (the `calibrate` table when there
is one, else the held-out negative documents'): a raw score depends on how much data the model saw (measured on the
labelled set, docs/quality.md: the median good English page scores 0.61 under a model of 1,800 chunks a class and
0.17 under one of 9,900, so a fixed 0.2 cut rejects 3% of good pages under the first and 54% under the second),
while "below the 2nd percentile of the documents judged" means the same under both.
Training uses one thread, so the model is reproducible (the same bytes run after run).
"""

from __future__ import annotations

import os
import random
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from curate import storage
from curate.commit import read_json, write_json_atomic
from curate.cpu import driver_cpu
from curate.errors import RunError
from curate.ops.base import Operation, OperationContext, ScoreTask, score_partition, written
from curate.processes import run_in_child
from curate.stages.jsonl import iter_texts
from curate.stages.langid import load_model
from curate.stages.quality import NEGATIVE, POSITIVE, QUANTILES_FILE, hq_probability
from curate.stats import NodeReport, StageStats
from curate.tables import load_array, read_columns, scratch_file

MODEL_FILE = "model.bin"
SAVE_PROBES = 200  # training lines a saved model must score exactly as the trained one
# A classifier whose held-out ROC AUC is at chance level did not learn (or was cut short when saved): refuse to
# commit it rather than filter a corpus with coin flips.
MIN_HELD_OUT_AUC = 0.55


def chunks(text: str, words_per_chunk: int) -> Iterator[str]:
    """Consecutive pieces of `words_per_chunk` words, on one line. Example: chunks("a b c", 2) -> "a b", "c"."""
    words = text.split()
    for start in range(0, len(words), words_per_chunk):
        yield " ".join(words[start : start + words_per_chunk])


def fit_model(arguments: tuple[str, str, dict]) -> None:
    """Train and save a supervised fastText model from (train file, model file, parameters); run in a fresh
    process (see TrainFastText.train)."""
    import fasttext

    train_file, model_file, parameters = arguments
    model = fasttext.train_supervised(input=train_file, **parameters)
    model.save_model(model_file)
    with open(train_file, encoding="utf-8") as handle:
        probes = [line.split(" ", 1)[1].strip() for _, line in zip(range(SAVE_PROBES), handle)]
    check_saved_model(model, model_file, probes)


def check_saved_model(model: object, model_file: str, probes: list[str]) -> None:
    """RunError unless the file loads back into a model that scores `probes` exactly as the trained `model` does.

    fastText's save_model does not check its writes: on a full disk it leaves a truncated file that still loads,
    with zeros where the output matrix should be, and would score every document 0.5."""
    import fasttext

    saved = fasttext.load_model(model_file)
    if [hq_probability(saved, p) for p in probes] != [hq_probability(model, p) for p in probes]:
        raise RunError(f"the model saved to {model_file} does not score like the model trained: the file is "
                       "incomplete (a full disk?)")


PERCENTILES = list(range(101))


def score_quantiles(scores: list[float]) -> list[float]:
    """The scores at percentiles 0, 1, ..., 100 (linear interpolation). Example: score_quantiles([0.0, 1.0])[50]
    -> 0.5"""
    ordered = sorted(scores)
    out = []
    for p in PERCENTILES:
        position = p / 100 * (len(ordered) - 1)
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        out.append(ordered[low] + (ordered[high] - ordered[low]) * (position - low))
    return out


def roc_auc(positive_scores: list[float], negative_scores: list[float]) -> float:
    """The probability that a random positive scores above a random negative (ties count half): Mann-Whitney U.

    Example: roc_auc([0.9, 0.8], [0.1, 0.85]) -> 0.75
    """
    ranked = sorted([(s, 1) for s in positive_scores] + [(s, 0) for s in negative_scores])
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        average_rank = (i + j + 1) / 2  # ranks are 1-based; tied scores share their average rank
        rank_sum += average_rank * sum(label for _, label in ranked[i:j])
        i = j
    n_pos, n_neg = len(positive_scores), len(negative_scores)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / max(1, n_pos * n_neg)


@dataclass
class TrainFastText(Operation):
    """Train the quality classifier: `positive` JSON Lines files (a glob, relative to the pipeline file) against the
    documents of node `negative`."""

    name: ClassVar[str] = "train_fasttext"
    node_inputs: ClassVar[dict[str, str]] = {"negative": "documents", "calibrate": "documents"}
    path_inputs: ClassVar[tuple[str, ...]] = ("positive",)
    artefact: ClassVar[str] = MODEL_FILE
    late_inputs: ClassVar[tuple[str, ...]] = ("calibrate",)  # scored once the model is trained

    positive: str | list[str]
    negative: str
    calibrate: str | None = None
    chunk_words: int = 100
    max_examples: int = 20_000  # per class
    seed: int = 0
    # fastText's text-classification settings (Joulin et al. 2017) with word bigrams; a small dim and hash table
    # keep the model a few MB for a two-class problem.
    lr: float = 0.1
    epoch: int = 5
    word_ngrams: int = 2
    dim: int = 32
    bucket: int = 100_000
    held_out: int = 10  # one document in `held_out` of each class is scored, not trained on
    text_field: str = "text"

    def __post_init__(self) -> None:
        if self.held_out < 2:
            raise ValueError(f"held_out must be at least 2, got {self.held_out}")

    def is_held_out(self, index: int) -> bool:
        return zlib.crc32(f"{self.seed}:{index}".encode()) % self.held_out == 0

    def split(self, texts: Iterable[str]) -> tuple[list[str], list[str]]:
        """(training chunks, held-out documents) of one class."""
        training: list[str] = []
        held_out: list[str] = []
        for index, text in enumerate(texts):
            if self.is_held_out(index):
                held_out.append(text)
            else:
                training += chunks(text, self.chunk_words)
        return training, held_out

    def run(self, context: OperationContext) -> NodeReport:
        started, cpu_started = time.perf_counter(), driver_cpu()
        model_path = storage.join(context.out_dir, MODEL_FILE)
        fitted = context.run_serial(fit_classifier, (self, context.node, context.paths(self.negative), model_path),
                                    "train")
        metrics, quantiles = fitted.metrics, fitted.quantiles
        write_json_atomic(storage.join(context.out_dir, "metrics.json"), metrics)
        if self.calibrate is not None:
            scores = self.calibration_scores(context)  # `calibrate` is a late input: this waits for it
            if not scores:
                raise RunError(f"node {context.node!r}: node {self.calibrate!r} has no document to compute quantiles "
                               "on")
            quantiles.update(calibrate=score_quantiles(scores), calibrate_documents=len(scores))
        write_json_atomic(storage.join(context.out_dir, QUANTILES_FILE), quantiles)
        held_chunks, held_documents = metrics["held_out_chunks"], quantiles["documents"][::-1]
        context.log(f"node {context.node}: held-out precision {metrics['precision']:.3f}, recall "
                    f"{metrics['recall']:.3f}, AUC {metrics['auc']:.3f} ({held_chunks[0]} and {held_chunks[1]} "
                    f"chunks of {held_documents[0]} and {held_documents[1]} held-out documents); median score of "
                    f"held-out {self.negative} documents {quantiles['negative'][50]:.3f}")
        examples = 2 * metrics["train_per_class"]
        stage = StageStats("train_fasttext", docs_in=examples, kept=examples, wall_s=time.perf_counter() - started,
                           cpu_s=driver_cpu() - cpu_started)
        return NodeReport(context.node, 1, 1, 0, [stage], 0, 0, stage.wall_s)  # one model

    def calibration_scores(self, context: OperationContext) -> list[float]:
        """The score of every document of node `calibrate`, computed on the executor."""
        scratch = context.scratch("train_fasttext")
        tasks = [ScoreTask(path, storage.join(context.out_dir, MODEL_FILE), scratch_file(scratch, i, ".q.npy"),
                           load_model, hq_probability)
                 for i, path in enumerate(context.paths(str(self.calibrate)))]
        context.map(score_partition, tasks, lambda t: written(t.output))
        return [float(s) for t in tasks for s in load_array(t.output)]

    def check_artefacts(self, out_dir: str) -> None:
        """The model loads and tells the two classes apart on its own held-out chunks (fastText writes a model
        without checking for write errors, so a full disk leaves a truncated file that may still load)."""
        try:
            load_model(storage.join(out_dir, MODEL_FILE)).predict("check")
        except Exception as error:
            raise RunError(f"the model written to {out_dir} does not load: {error}") from None
        auc = (read_json(storage.join(out_dir, "metrics.json")) or {}).get("auc", 0.0)
        if auc <= MIN_HELD_OUT_AUC:
            raise RunError(f"the model written to {out_dir} separates its held-out chunks no better than chance "
                           f"(AUC {auc:.3f}); a truncated model file (full disk?) or too little training text")


@dataclass(frozen=True)
class FittedClassifier:
    """What the training hands back to the driver: `metrics.json` and `quantiles.json` as far as the model alone
    decides them (the `calibrate` node's table is added by the driver, which scores its documents on the executor)."""

    metrics: dict[str, Any]
    quantiles: dict[str, Any]


def negative_texts(paths: list[str]) -> Iterator[str]:
    """The `text` column of the negative node's partitions, in order."""
    for path in paths:
        yield from (text or "" for text in read_columns(path, ["text"]).column(0).to_pylist())


def fit_classifier(arguments: tuple[TrainFastText, str, list[str], str]) -> FittedClassifier:
    """(the operation, its node, the negative node's partition files, where the model goes) -> the model stored
    there, its held-out metrics and quantiles. The node's serial work (OperationContext.run_serial): it reads both
    classes, so it runs where the node's `ray:` memory is reserved, not in the driver."""
    trainer, node, negative_paths, model_path = arguments
    positive, positive_held = trainer.split(iter_texts(trainer.positive, trainer.text_field))
    negative, negative_held = trainer.split(negative_texts(negative_paths))
    rng = random.Random(trainer.seed)
    count = min(len(positive), len(negative), trainer.max_examples)
    positive, negative = rng.sample(positive, count), rng.sample(negative, count)
    if count < 10 or not positive_held or not negative_held:
        raise RunError(f"node {node!r}: too few examples to train on ({count} chunks per class, "
                       f"{len(positive_held)} and {len(negative_held)} held-out documents)")
    rows = [(POSITIVE, t) for t in positive] + [(NEGATIVE, t) for t in negative]
    random.Random(trainer.seed).shuffle(rows)
    parameters = dict(lr=trainer.lr, epoch=trainer.epoch, wordNgrams=trainer.word_ngrams, dim=trainer.dim,
                      bucket=trainer.bucket, thread=1, seed=trainer.seed, verbose=0)
    # fastText reads and writes local files only: train in a local folder (gone with the run, even a killed one's,
    # at the next reboot), then upload the model to the node's folder, wherever that is.
    with tempfile.TemporaryDirectory(prefix="curate-fasttext-") as local:
        train_file, local_model = os.path.join(local, "train.txt"), os.path.join(local, MODEL_FILE)
        with open(train_file, "w", encoding="utf-8") as handle:
            handle.writelines(f"{label} {text}\n" for label, text in rows)
        # A fresh process for every training, even inside this one: fasttext-numpy2 sometimes reports "Encountered
        # NaN" when train_supervised runs a second time in one process (seen here on identical input that trains
        # cleanly in a new process), and a Ray worker is reused from task to task.
        run_in_child(fit_model, (train_file, local_model, parameters))
        storage.upload(local_model, model_path)
    model = load_model(model_path)
    pos_scores = [hq_probability(model, c) for t in positive_held for c in chunks(t, trainer.chunk_words)]
    neg_scores = [hq_probability(model, c) for t in negative_held for c in chunks(t, trainer.chunk_words)]
    true_pos = sum(s >= 0.5 for s in pos_scores)
    predicted_pos = true_pos + sum(s >= 0.5 for s in neg_scores)
    metrics = {"held_out_chunks": [len(pos_scores), len(neg_scores)], "train_per_class": count,
               "precision": true_pos / max(1, predicted_pos), "recall": true_pos / max(1, len(pos_scores)),
               "auc": roc_auc(pos_scores, neg_scores)}
    quantiles: dict[str, Any] = {
        "percentiles": PERCENTILES, "negative": score_quantiles([hq_probability(model, t) for t in negative_held]),
        "positive": score_quantiles([hq_probability(model, t) for t in positive_held]),
        "documents": [len(negative_held), len(positive_held)]}
    return FittedClassifier(metrics, quantiles)
