"""The `train_kenlm` node: an n-gram language model of the reference text, trained by KenLM's own `lmplz` and
converted by its `build_binary` (Heafield 2011; Heafield et al. 2013), and the head/middle/tail perplexity cut-offs
a `kenlm_perplexity` step buckets documents with.

Reference documents are normalised and tokenised as the `kenlm_perplexity` step scores them (one line per text
line); one document in `1 / held_out` (chosen by a hash of its position and `seed`) is kept out of training and
scored afterwards, so `metrics.json` says how the model rates unseen reference text.

The cut-offs (`cutoffs.json`) come from one of two places:
- `cutoffs: reference` (the default): multiples of the held-out reference documents' median perplexity. A document
  in the tail is `reference_multiples[1]` times more perplexing than unseen reference text: a property of the
  document and the model, not of which other documents the run holds.
- `cutoffs: calibrate`, CCNet's own: the `percentiles` of the perplexities of node `calibrate`'s documents, as
  CCNet's per-language cutoff table. The same share of every corpus lands in each bucket, whatever its quality
  (with the default 30/60, 40% of the documents are always in the tail).
docs/quality.md measures both on the labelled set and explains the default. When `calibrate` names a node, its
documents are scored on the executor (one float per document comes back) and the share of them in each bucket is
logged and written to `metrics.json`, whichever mode set the cut-offs.

lmplz and build_binary are built from the kenlm sdist by `make kenlm` (models/build_kenlm.sh); they are looked for
in $CURATE_KENLM_BIN, then in the virtualenv's kenlm/bin, then on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

from curate import storage
from curate.commit import write_json_atomic
from curate.cpu import driver_cpu
from curate.errors import RunError
from curate.ops.base import Operation, OperationContext, ScoreTask, score_partition, written
from curate.processes import child_setup
from curate.stages.jsonl import iter_texts
from curate.stages.perplexity import CUTOFFS_FILE, doc_perplexity, lm_tokens, load_kenlm
from curate.stats import NodeReport, StageStats
from curate.tables import load_array, scratch_file

MODEL_FILE = "model.binary"
LOG_FILE = "kenlm.log"  # lmplz's and build_binary's own output, in <workdir>/_curate/<node>/


def kenlm_tool(name: str) -> str:
    """The path of KenLM's `name` executable; RunError saying how to build it when there is none."""
    folders = [os.environ.get("CURATE_KENLM_BIN", ""), os.path.join(sys.prefix, "kenlm", "bin")]
    for folder in folders:
        candidate = os.path.join(folder, name)
        if folder and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found is None:
        raise RunError(f"KenLM's {name} was not found (looked in $CURATE_KENLM_BIN, {folders[1]} and PATH): build it "
                       "with `make kenlm` (models/build_kenlm.sh) or set CURATE_KENLM_BIN to its folder")
    return found


def run_tool(command: list[str], log_path: str, stdin: str | None = None) -> None:
    """Run a KenLM tool, its messages appended to `log_path`; RunError with the last lines when it fails."""
    with open(log_path, "a", encoding="utf-8") as log:
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        with open(stdin, "rb") if stdin else open(os.devnull, "rb") as source:
            process = subprocess.Popen(command, stdin=source, stdout=log, stderr=subprocess.STDOUT,
                                       preexec_fn=child_setup())
            process.wait()
    if process.returncode != 0:
        with open(log_path, encoding="utf-8", errors="replace") as log:
            tail = " | ".join(log.read().strip().splitlines()[-3:])
        raise RunError(f"{os.path.basename(command[0])} failed (exit {process.returncode}): {tail}")


def arpa_counts(path: str) -> dict[str, int]:
    """The n-gram counts of an ARPA file's \\data\\ header. Example: {"1": 5210, "2": 40311, ...}"""
    counts = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith("ngram "):
                order, count = line[6:].split("=")
                counts[order.strip()] = int(count)
            elif counts and not line.strip():
                break
    return counts




@dataclass
class TrainKenLM(Operation):
    """Train on the `text` JSON Lines files (a glob, relative to the pipeline file); cut-offs from node
    `calibrate`."""

    name: ClassVar[str] = "train_kenlm"
    node_inputs: ClassVar[dict[str, str]] = {"calibrate": "documents"}
    late_inputs: ClassVar[tuple[str, ...]] = ("calibrate",)  # scored once the model is trained
    path_inputs: ClassVar[tuple[str, ...]] = ("text",)
    artefact: ClassVar[str] = MODEL_FILE

    text: str | list[str]
    calibrate: str | None = None
    cutoffs: Literal["reference", "calibrate"] = "reference"
    # [head, tail] as multiples of the held-out reference median perplexity; chosen on the labelled set's tune split
    # (docs/quality.md).
    reference_multiples: list[float] = field(default_factory=lambda: [3.0, 15.0])
    order: int = 5  # CCNet's models are 5-grams (Wenzek et al. 2020, section 3.3)
    # CCNet's PerplexityBucket: head below the 30th percentile, tail from the 60th (cc_net/perplexity.py).
    percentiles: list[float] = field(default_factory=lambda: [30.0, 60.0])
    memory: str = "1G"  # lmplz -S: its sorting memory (a size, or a percentage of RAM like "20%")
    # build_binary's data structure: "trie" is half the size of "probing" (65 MB against 137 MB for a 5-gram model
    # of the shared reference text) for slightly slower lookups; "probing" is KenLM's fastest.
    structure: Literal["trie", "probing"] = "trie"
    held_out: int = 10  # one reference document in `held_out` is scored, not trained on
    seed: int = 0
    text_field: str = "text"

    def __post_init__(self) -> None:
        if self.order < 2:
            raise ValueError(f"order must be at least 2, got {self.order}")
        if len(self.percentiles) != 2 or not 0 < self.percentiles[0] < self.percentiles[1] < 100:
            raise ValueError(f"percentiles must be two increasing numbers in (0, 100), got {self.percentiles}")
        if self.held_out < 2:
            raise ValueError(f"held_out must be at least 2, got {self.held_out}")
        if self.cutoffs == "calibrate" and self.calibrate is None:
            raise ValueError("cutoffs: calibrate needs `calibrate`, the node whose documents set the cut-offs")
        if len(self.reference_multiples) != 2 or not 0 < self.reference_multiples[0] < self.reference_multiples[1]:
            raise ValueError(f"reference_multiples must be two increasing positive numbers, got "
                             f"{self.reference_multiples}")

    def is_held_out(self, index: int) -> bool:
        return zlib.crc32(f"{self.seed}:{index}".encode()) % self.held_out == 0

    def write_corpus(self, path: str) -> tuple[int, list[str]]:
        """The training lines to `path`; returns their count and the held-out documents."""
        lines, held_out = 0, []
        with open(path, "w", encoding="utf-8") as corpus:
            for index, text in enumerate(iter_texts(self.text, self.text_field)):
                if self.is_held_out(index):
                    held_out.append(text)
                    continue
                for line in text.split("\n"):
                    tokens = lm_tokens(line)
                    if tokens:
                        corpus.write(tokens + "\n")
                        lines += 1
        return lines, held_out

    def train_model(self, scratch: str, model_path: str, log_path: str) -> tuple[int, list[str], dict[str, int]]:
        """Write the corpus, run lmplz then build_binary into `model_path`; returns the training lines, the
        held-out documents and the model's n-gram counts. All three paths are local (KenLM's tools read and write
        local files); `scratch` holds the corpus and the ARPA file."""
        lmplz, build_binary = kenlm_tool("lmplz"), kenlm_tool("build_binary")
        corpus, arpa = os.path.join(scratch, "corpus.txt"), os.path.join(scratch, "model.arpa")
        lines, held_out = self.write_corpus(corpus)
        if lines == 0:
            raise RunError("the reference text has no words to train on")
        open(log_path, "w").close()
        # --discount_fallback: Kneser-Ney discounts need counts of counts that a small corpus may lack.
        run_tool([lmplz, "-o", str(self.order), "-S", self.memory, "-T", scratch, "--discount_fallback", "--arpa",
                  arpa], log_path, stdin=corpus)
        run_tool([build_binary, self.structure, arpa, model_path], log_path)
        return lines, held_out, arpa_counts(arpa)

    def run(self, context: OperationContext) -> NodeReport:
        started, cpu_started = time.perf_counter(), driver_cpu()
        scratch = context.scratch("train_kenlm")
        model_path = storage.join(context.out_dir, MODEL_FILE)
        try:
            # lmplz's log (timings: it differs run to run) goes to the node's bookkeeping folder beside its commit
            lines, held_out, counts = context.run_serial(
                train_and_store, (self, model_path, storage.join(context.layout.state, LOG_FILE)), "train")
        except RunError as error:
            raise RunError(f"node {context.node!r}: {error}") from None
        model = load_kenlm(model_path)
        held_out_scores = [s for s in (doc_perplexity(model, t) for t in held_out) if s is not None]
        reference_median = float(np.median(held_out_scores)) if held_out_scores else None
        scores = self.calibration_scores(context, model_path, scratch)
        if self.cutoffs == "calibrate":
            if len(scores) == 0:
                raise RunError(f"node {context.node!r}: node {self.calibrate!r} has no document to compute cut-offs "
                               "on")
            head, tail = (float(v) for v in np.percentile(scores, self.percentiles))
            basis = {"percentiles": self.percentiles, "documents": len(scores)}
        else:
            if reference_median is None:
                raise RunError(f"node {context.node!r}: no held-out reference document to set cut-offs on (one in "
                               f"{self.held_out} is held out; the reference text has too few documents)")
            head, tail = (reference_median * m for m in self.reference_multiples)
            basis = {"reference_multiples": self.reference_multiples, "reference_median": reference_median,
                     "reference_documents": len(held_out_scores)}
        write_json_atomic(storage.join(context.out_dir, CUTOFFS_FILE),
                          {"head": head, "tail": tail, "mode": self.cutoffs, **basis})
        metrics = {"training_lines": lines, "ngrams": counts, "held_out_documents": len(held_out_scores),
                   "held_out_median_perplexity": reference_median, "head_cutoff": head, "tail_cutoff": tail}
        shares = ""
        if len(scores):
            buckets = {"head": float(np.mean(scores < head)), "tail": float(np.mean(scores >= tail))}
            buckets["middle"] = 1.0 - buckets["head"] - buckets["tail"]
            metrics.update(calibration_documents=len(scores), calibration_median_perplexity=float(np.median(scores)),
                           calibration_buckets=buckets)
            shares = (f"; {self.calibrate}: median {np.median(scores):.0f}, head/middle/tail "
                      f"{buckets['head']:.0%}/{buckets['middle']:.0%}/{buckets['tail']:.0%}")
        write_json_atomic(storage.join(context.out_dir, "metrics.json"), metrics)
        context.log(f"node {context.node}: {self.order}-gram model of {lines} lines ({counts.get('1', 0)} words); "
                    f"held-out reference median perplexity {reference_median or 0:.0f}; cut-offs ({self.cutoffs}) "
                    f"{head:.0f} / {tail:.0f}{shares}")
        stage = StageStats("train_kenlm", docs_in=len(scores), kept=len(scores),
                           wall_s=time.perf_counter() - started, cpu_s=driver_cpu() - cpu_started)
        return NodeReport(context.node, 1, 1, 0, [stage], 0, 0, stage.wall_s)  # one model

    def calibration_scores(self, context: OperationContext, model_path: str, scratch: str) -> np.ndarray:
        """The perplexity of every document of node `calibrate` (none when it is not set), scored on the executor."""
        if self.calibrate is None:
            return np.zeros(0)
        tasks = [ScoreTask(path, model_path, scratch_file(scratch, i, ".ppl.npy"), load_kenlm, doc_perplexity)
                 for i, path in enumerate(context.paths(self.calibrate))]  # a late input: this waits for it
        context.map(score_partition, tasks, lambda t: written(t.output))
        return np.concatenate([load_array(t.output) for t in tasks] or [np.zeros(0)])

    def check_artefacts(self, out_dir: str) -> None:
        try:
            load_kenlm(storage.join(out_dir, MODEL_FILE)).score("check", bos=True, eos=True)
        except Exception as error:
            raise RunError(f"the model written to {out_dir} does not load: {error}") from None


def train_and_store(arguments: tuple[TrainKenLM, str, str]) -> tuple[int, list[str], dict[str, int]]:
    """(the operation, where the model goes, where lmplz's log goes) -> TrainKenLM.train_model's result, the model
    and the log stored. The node's serial work (OperationContext.run_serial): KenLM's tools read and write local
    files, so the corpus and the ARPA file (large, needed only here) stay in a local folder of the machine it runs
    on."""
    trainer, model_path, log_path = arguments
    with tempfile.TemporaryDirectory(prefix="curate-kenlm-") as local:
        local_model, local_log = os.path.join(local, MODEL_FILE), os.path.join(local, LOG_FILE)
        try:
            trained = trainer.train_model(local, local_model, local_log)
        finally:
            if os.path.exists(local_log):
                storage.upload(local_log, log_path)
        storage.upload(local_model, model_path)
    return trained
