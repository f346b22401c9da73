"""The contract of operation nodes: global steps (train a tokenizer, write token shards, deduplicate) that read whole
nodes rather than one partition, and run their map phases on the same executor as map nodes.

An operation's phases write into a scratch folder (`_curate/<node>/scratch/`), tied to the node's fingerprint, one
file per task, atomically; a re-run after a kill skips the tasks whose file exists, and a changed fingerprint starts
from an empty scratch folder. The node's outputs are committed by the DAG (curate/commit.py) once `run` returns and
`check_artefacts` passes; the scratch is deleted then.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
import pyarrow as pa

from curate import storage, timeline
from curate.commit import check_commit, commit, read_json
from curate.cpu import Measured, driver_cpu
from curate.errors import RunError
from curate.executors.base import Executor, R, RayOptions
from curate.layout import NodeLayout
from curate.partition_output import write_operation_partition
from curate.progress import RunProgress
from curate.stages.base import Reject, rejected_rows
from curate.stats import NodeReport, StageStats, merge_stage_lists
from curate.tables import read_columns, save_array_atomic


@dataclass(frozen=True)
class PartitionRef:
    """One partition of a node of documents: its name (key), its kept-rows file and its fingerprint."""

    key: str
    path: str
    fingerprint: str
    label: str = ""  # the input it comes from, as the user names it

    def __str__(self) -> str:
        return self.label or self.key


@dataclass(frozen=True)
class PartitionWrite:
    """A task of the last phase of an operation that outputs documents (dedup, repeated_lines, decontaminate, dsir):
    write the output partition named `key` from the input partition at `input_path` (`write`: kept rows, rejected
    rows, then the commit record). Operations subclass it with what their writer needs; one rule says on a rerun
    whether it is done (OperationContext.write_partitions)."""

    input_path: str
    layout: NodeLayout
    key: str  # the output partition's name: its input partition's
    fingerprint: str

    def __str__(self) -> str:
        return storage.basename(self.input_path)

    @property
    def record_path(self) -> str:
        return self.layout.partition_files(self.key)[2]

    def scratch_outputs(self) -> tuple[str, ...]:
        """Scratch files the task writes besides the partition, which a later step of the operation reads (dsir:
        the kept documents' feature counts): the task is done when they are written too."""
        return ()

    def write(self, kept: pa.Table, rejected: pa.Table, stats: StageStats, extra: dict[str, Any] | None = None
              ) -> None:
        write_operation_partition(self.layout, self.key, self.fingerprint, self.input_path, kept, rejected, stats,
                                  extra)


class ReportFailure(Protocol):
    def __call__(self, node: str, partition: str, input_label: str, error: str) -> None: ...


@dataclass
class OperationContext:
    """What an operation may use: its folders, the executor, and the outputs of the nodes it reads."""

    node: str
    layout: NodeLayout
    fingerprint: str
    executor: Executor
    partitions: Mapping[str, list[PartitionRef]]  # a node of documents -> its partitions, in order
    node_dirs: Mapping[str, str]  # any node -> its output folder
    log: Callable[[str], None]
    progress: RunProgress
    report_failure: ReportFailure
    # For an operation that writes documents: the fingerprint of each output partition (one per input partition).
    output_fingerprints: Sequence[str] = ()
    verify: bool = False
    task_options: RayOptions = RayOptions()  # the node's `ray:` options
    # CPU seconds its tasks used in other processes (pool or Ray workers), added to the node's accounting.
    task_cpu_s: float = 0.0
    # Blocks until the named node is done, raising when it failed (curate/dag.py, ConcurrentRun.wait_for). Nodes
    # run one after the other have every input done before they start: nothing to wait for.
    await_node: Callable[[str], None] = lambda node: None
    waited_s: float = 0.0  # seconds spent in wait_for: not the node's wall time
    # The nodes named by the operation's `late_inputs`: reading one (refs, paths) waits for it first.
    late: frozenset[str] = frozenset()

    @property
    def out_dir(self) -> str:
        """The node's data folder, where its artefacts (a model, a tokenizer, token shards) go."""
        return self.layout.data

    def refs(self, node: str) -> list[PartitionRef]:
        """Node `node`'s partitions, in order; for a late input, once it is done (wait_for)."""
        if node in self.late:
            self.wait_for(node)
        return self.partitions[node]

    def paths(self, node: str) -> list[str]:
        """The kept-rows files of node `node`'s partitions, in order (see refs)."""
        return [ref.path for ref in self.refs(node)]

    def wait_for(self, node: str) -> None:
        """Block until node `node`, one of the operation's `late_inputs`, is done (at once when it is)."""
        started = time.perf_counter()
        self.await_node(node)
        self.waited_s += time.perf_counter() - started

    def scratch(self, name: str) -> str:
        """A folder for intermediate files of this fingerprint; emptied when it holds another fingerprint's."""
        path = storage.join(self.layout.scratch, name)
        marker = storage.join(path, "_FINGERPRINT")
        if check_commit(marker, path, self.fingerprint)[0] is None:
            storage.rmtree(path)
            storage.makedirs(path)
            commit(marker, path, self.fingerprint, [])
        return path

    def partition_committed(self, stats_path: str, fingerprint: str) -> bool:
        """True when an output partition (its commit record at `stats_path`) is committed and current."""
        return check_commit(stats_path, self.layout.workdir, fingerprint, full=self.verify)[0] is not None

    def write_partitions(self, fn: Callable[[Any], Any], tasks: Sequence[PartitionWrite]) -> int:
        """Run an operation's writing phase over the partitions not done yet: those whose commit record does not
        commit their fingerprint, or whose scratch outputs are missing. Returns how many ran."""
        return self.map(fn, tasks, lambda t: self.partition_committed(t.record_path, t.fingerprint)
                        and written(*t.scratch_outputs()))

    def written_report(self, tasks: Sequence[PartitionWrite], stage: str, started: float, cpu_started: float,
                       computed: int) -> NodeReport:
        """The node's report once `tasks` are all written (`computed` of them in this run): their stage stats
        merged (merged_partitions), the node timed from `started` and `cpu_started`."""
        stats, docs_out = merged_partitions([t.record_path for t in tasks], stage, started, cpu_started)
        return NodeReport(self.node, len(tasks), computed, len(tasks) - computed, [stats], docs_out,
                          stats.docs_in - docs_out, stats.wall_s)

    def run_serial(self, fn: Callable[[Any], R], argument: Any, step: str, isolated: bool = True) -> R:
        """`fn(argument)`, the node's serial work (a model's training, a fit), as the executor runs such work
        (Executor.run_serial: a process of its own here, a task with the node's `ray:` options on Ray), so that the
        driver only coordinates. `step` names it: "<node>:<step>" in Ray's task list and the run's timeline. Its CPU
        joins the node's accounting like a task's."""
        label = f"{self.node}:{step}"
        with timeline.driver_work(label):
            result, cpu_s = self.executor.run_serial(fn, argument, self.task_options.task_options(label), isolated)
        self.task_cpu_s += cpu_s
        return result

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any], done: Callable[[Any], bool]) -> int:
        """Run `fn` over the tasks that are not `done` yet; return how many ran.

        Each failure is reported as it happens; RunError naming the failed tasks after the others finished."""
        todo = [task for task in tasks if not done(task)]
        self.log(f"node {self.node}: {fn.__name__}: {len(todo)} of {len(tasks)} tasks to compute")
        failures = []
        self.progress.start(self.node, len(todo), fn.__name__)
        label = f"{self.node}:{fn.__name__}"
        timeline.record(label, len(todo))
        for task, measured, error in self.executor.map(Measured(fn), todo, self.task_options.task_options(label)):
            timeline.record(label, -1)
            result = None
            if measured is not None:
                result, cpu_s, pid = measured
                self.task_cpu_s += cpu_s if pid != os.getpid() else 0.0  # in-process tasks are in the driver's CPU
            self.progress.advance(self.node, result if isinstance(result, int) else 0)  # tasks return docs read
            if error is not None:
                failures.append(f"{task}: {error}")
                self.report_failure(self.node, fn.__name__, str(task), error)
        self.progress.finish(self.node)
        if failures:
            raise RunError(f"node {self.node!r}: {len(failures)} task(s) failed: " + "; ".join(failures[:3]))
        return len(todo)


def merged_partitions(record_paths: Sequence[str], stage: str, started: float, cpu_started: float
                      ) -> tuple[StageStats, int]:
    """(the stage stats merged over an operation's output partitions, timed as the whole node from `started` and
    the driver's CPU since `cpu_started`; the documents the partitions kept), from their commit records."""
    records = [read_json(path) or {} for path in record_paths]
    merged = merge_stage_lists([StageStats.from_json(s) for s in r["stages"]] for r in records)
    stats = merged[0] if merged else StageStats(stage)
    stats.wall_s, stats.cpu_s = time.perf_counter() - started, driver_cpu() - cpu_started
    return stats, sum(r["docs_out"] for r in records)


@dataclass(frozen=True)
class ScoreTask:
    """Score every document of one partition with a model file: `load` it (once per worker process) and `score`
    each text; the scores that are not None are saved as .npy at `output`. Both functions are module-level, so the
    task pickles to any executor. Used to calibrate cut-offs on a node's documents (train_kenlm, train_fasttext)."""

    input_path: str
    model_path: str
    output: str
    load: Callable[[str], Any]
    score: Callable[[Any, str], float | None]

    def __str__(self) -> str:
        return storage.basename(self.input_path)


def score_partition(task: ScoreTask) -> int:
    """Map: the partition's scores, saved as .npy; returns the count of documents read."""
    model = task.load(task.model_path)
    texts = read_columns(task.input_path, ["text"]).column(0).to_pylist()
    scores = [task.score(model, text or "") for text in texts]
    save_array_atomic(task.output, np.array([s for s in scores if s is not None], dtype=np.float64))
    return len(texts)


def edited_partition(table: pa.Table, texts: list[str], signal: pa.Field, values: np.ndarray, emptied: np.ndarray,
                     stage: str, reason: Reject, started: float) -> tuple[pa.Table, pa.Table, StageStats]:
    """A partition whose documents an operation rewrote (repeated_lines, substring_dedup): `texts` in place of its
    text and the `signal` column (`values`, replacing an older one) on every row, split into kept rows and rejected
    ones (`emptied`, with `reason`), and its stage's stats timed from `started`."""
    table = table.set_column(table.schema.get_field_index("text"), table.schema.field("text"),
                             pa.array(texts, pa.string()))
    if signal.name in table.column_names:
        table = table.drop_columns([signal.name])
    table = table.append_column(signal, pa.array(values, signal.type))
    kept, dropped = table.filter(pa.array(~emptied)), table.filter(pa.array(emptied))
    rejected = rejected_rows(dropped, stage, [reason] * dropped.num_rows)
    stats = StageStats(stage, docs_in=table.num_rows, kept=kept.num_rows, wall_s=time.perf_counter() - started)
    if dropped.num_rows:
        stats.rejected[reason.reason] = dropped.num_rows
    return kept, rejected, stats


def written(*paths: str) -> bool:
    """The one rule by which an operation's own task (a map, a reduce, a count) is done on a rerun: every scratch
    file it writes exists. Each is written under a temporary name and renamed into place when complete, in a folder
    that holds this fingerprint's files alone (OperationContext.scratch), so its presence commits it as a commit
    record commits an output partition (partition_committed)."""
    return all(storage.exists(path) for path in paths)


class Operation(ABC):
    """An operation node. Subclasses are dataclasses whose fields are the node's options in the pipeline file."""

    name: ClassVar[str]
    # Option fields that name other nodes, and the kind each must be: "documents" (a map node) or an operation name.
    node_inputs: ClassVar[dict[str, str]]
    # Options holding file globs, resolved against the pipeline file's folder into a list of files.
    path_inputs: ClassVar[tuple[str, ...]] = ()
    # True when the operation writes a node of documents (part-*.parquet, one per input partition, under the same
    # names) that later nodes can read like a map node's.
    produces_documents: ClassVar[bool] = False
    # For `curate evaluate` (an operation that produces documents): True when its decision depends on data beyond
    # the document (the rest of the corpus, a benchmark index), so labelled documents pass through it unscored; an
    # operation whose decision is a fit of the run replays it with `labelled_decision`.
    decides_beyond_document: ClassVar[bool] = False
    # True when the documents it reads are what the pipeline delivers (tokenize: the text that is trained on), so
    # that `curate evaluate` scores the pipeline's output at that node.
    reads_final_documents: ClassVar[bool] = False
    # The file a model-training operation leaves in its folder, for steps that name the node (see Stage.model_inputs).
    artefact: ClassVar[str] = ""
    # Node-input fields read only after the operation's own serial work (train_fasttext's `calibrate`, scored once
    # the model is trained): on a parallel executor the node starts without them, so that the training overlaps the
    # nodes that compute them; reading one through the context (refs, paths) waits until it is done.
    late_inputs: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def labelled_decision(cls, workdir: str, node: str) -> Any | None:
        """What `curate evaluate` runs labelled documents through for this node: an object with the stages'
        `process(batch, stats) -> StageResult`, replaying the run's decision; None when it cannot be replayed."""
        return None

    @abstractmethod
    def run(self, context: OperationContext) -> NodeReport:
        """Compute the node's outputs under `context.out_dir` and report what was done."""

    def check_artefacts(self, out_dir: str) -> None:
        """Raise RunError when what `run` wrote cannot be used (a model that does not load); called before the
        node commits, so a damaged artefact is never marked done."""
