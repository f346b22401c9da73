"""The `train_fasttext` node: a fastText classifier of high-quality (reference) against web text, trained by curate.

Positive examples: the text of JSON Lines files (e.g. the reference corpora); negative: a node of documents (e.g. the
pipeline's own extracted web text). Both are cut into chunks of `chunk_words` words, so that the classifier cannot
simply learn document length, balanced, shuffled with `seed`, and split 90/10; the held-out precision, recall and
ROC AUC are logged and written to `metrics.json`. Training uses one thread, so the model is reproducible (the same
bytes run after run).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import ClassVar

from curate import storage
from curate.commit import read_json, write_json_atomic
from curate.errors import RunError
from curate.ops.base import Operation, OperationContext
from curate.partition import read_columns
from curate.processes import die_with_parent
from curate.stages.jsonl import iter_texts
from curate.stages.langid import load_model
from curate.stages.quality import NEGATIVE, POSITIVE, hq_probability
from curate.stats import NodeReport, StageStats

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


def fit_model(train_file: str, model_file: str, parameters: dict) -> None:
    """Train and save a supervised fastText model; run in a fresh process (see TrainFastText.run)."""
    import fasttext

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
    node_inputs: ClassVar[dict[str, str]] = {"negative": "documents"}
    path_inputs: ClassVar[tuple[str, ...]] = ("positive",)
    artefact: ClassVar[str] = MODEL_FILE

    positive: str | list[str]
    negative: str
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
    text_field: str = "text"

    def examples(self, context: OperationContext) -> tuple[list[str], list[str]]:
        positive = [chunk for text in iter_texts(self.positive, self.text_field)
                    for chunk in chunks(text, self.chunk_words)]
        negative: list[str] = []
        for path in context.paths(self.negative):
            for text in read_columns(path, ["text"]).column(0).to_pylist():
                negative += chunks(text or "", self.chunk_words)
        rng = random.Random(self.seed)
        count = min(len(positive), len(negative), self.max_examples)
        return rng.sample(positive, count), rng.sample(negative, count)

    def run(self, context: OperationContext) -> NodeReport:
        started, cpu_started = time.perf_counter(), time.process_time()
        positive, negative = self.examples(context)
        if len(positive) < 10:
            raise ValueError(f"node {context.node!r}: too few examples to train on ({len(positive)} per class)")
        held_out = max(1, len(positive) // 10)
        rows = [(POSITIVE, t) for t in positive[held_out:]] + [(NEGATIVE, t) for t in negative[held_out:]]
        random.Random(self.seed).shuffle(rows)
        parameters = dict(lr=self.lr, epoch=self.epoch, wordNgrams=self.word_ngrams, dim=self.dim, bucket=self.bucket,
                          thread=1, seed=self.seed, verbose=0)
        # fastText reads and writes local files only: train in a local folder (gone with the run, even a killed
        # one's, at the next reboot), then upload the model to the node's folder, wherever that is.
        with tempfile.TemporaryDirectory(prefix="curate-fasttext-") as local:
            train_file, local_model = os.path.join(local, "train.txt"), os.path.join(local, MODEL_FILE)
            with open(train_file, "w", encoding="utf-8") as handle:
                handle.writelines(f"{label} {text}\n" for label, text in rows)
            # A fresh process for every training: fasttext-numpy2 sometimes reports "Encountered NaN" when
            # train_supervised runs a second time in one process (seen here on identical input that trains cleanly
            # in a new process), and a fastText abort must not take the pipeline's driver down with it.
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
                pool.submit(fit_model, train_file, local_model, parameters).result()
            storage.upload(local_model, storage.join(context.out_dir, MODEL_FILE))
        model = load_model(storage.join(context.out_dir, MODEL_FILE))
        pos_scores = [hq_probability(model, t) for t in positive[:held_out]]
        neg_scores = [hq_probability(model, t) for t in negative[:held_out]]
        true_pos = sum(s >= 0.5 for s in pos_scores)
        predicted_pos = true_pos + sum(s >= 0.5 for s in neg_scores)
        metrics = {"held_out_per_class": held_out, "train_per_class": len(positive) - held_out,
                   "precision": true_pos / max(1, predicted_pos), "recall": true_pos / held_out,
                   "auc": roc_auc(pos_scores, neg_scores)}
        write_json_atomic(storage.join(context.out_dir, "metrics.json"), metrics)
        context.log(f"node {context.node}: held-out precision {metrics['precision']:.3f}, recall "
                    f"{metrics['recall']:.3f}, AUC {metrics['auc']:.3f} ({held_out} chunks per class)")
        stage = StageStats("train_fasttext", docs_in=2 * len(positive), kept=2 * len(positive),
                           wall_s=time.perf_counter() - started, cpu_s=time.process_time() - cpu_started)
        return NodeReport(context.node, 1, 1, 0, [stage], 0, 0, stage.wall_s)  # one model

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
