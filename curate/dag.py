"""Running a pipeline: plan every node's fingerprints, then compute, in dependency order, what is not committed.

Planning needs no output: a partition's fingerprint comes from its node's logical config and its inputs'
fingerprints (curate/commit.py), so the same plan says what a run will compute, reuse and delete (`--dry-run`) and
decides it during the run. A map node writes one partition per input partition, named after the input; an operation
node (dedup, DSIR, training, tokenizing) depends on all of its inputs' fingerprints and commits its artefacts in
its commit record (`_curate/<node>/commit.json`, curate/layout.py). Damaged or missing outputs fail the check and
are recomputed, never carried downstream.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from curate import storage, timeline
from curate.commit import check_commit, commit, digest, file_fingerprint, partition_key, read_json, stale_files, sweep
from curate.config import NodeSpec, PipelineSpec
from curate.cpu import peak_rss_mib
from curate.errors import RunError
from curate.executors.base import Executor
from curate.layout import NodeLayout
from curate.ops import OPERATIONS
from curate.ops.base import OperationContext, PartitionRef
from curate.options_diff import config_changes
from curate.partition import PartitionTask, run_partition
from curate.progress import NoProgress, RunProgress
from curate.shard_jobs import shard_suffix
from curate.sketch import merge_records
from curate.stages import READERS, step_class
from curate.stages.plugins import code_digest
from curate.stats import NodeReport, StageStats, merge_stage_lists

# Bump when the layout or meaning of outputs changes, so that old workdirs are recomputed rather than misread.
OUTPUT_FORMAT_VERSION = 5
FAILURES_FILE = "_failures.jsonl"
# A node fails when more than this share of the documents entering one of its steps failed (an exception, not a
# decision), even though no single partition failed whole: the output would be mostly missing.
MAX_FAILED_SHARE = 0.5


def content_fingerprint(path: str) -> dict[str, Any]:
    """A model file's fingerprint without its modification time (a model copied or moved elsewhere is the same
    model), so by its whole content: a retrained fastText or KenLM model keeps its size and header, and a stage reads
    the whole file anyway."""
    return {k: v for k, v in file_fingerprint(path, whole=True).items() if k != "mtime_ns"}


def node_config(node: NodeSpec) -> dict[str, Any]:
    """A node's steps or operation with every option (defaults included), for the report: which threshold cut
    which signal."""
    if node.operation is not None:
        return {"operation": node.operation, "options": _options(node.build_operation())}
    return {"steps": [[step.name, _options(step.build())] for step in node.steps]}


def node_code(node: NodeSpec) -> dict[str, str]:
    """A node's code by its hash (curate/stages/plugins.py, code_digest): a map node's reader and steps, as
    {"read warc": "3f2a...", "step 1 c4": "9b1c..."}, an operation node's operation, as {"operation minhash_dedup":
    "77e0..."} (its module and the modules under ops/ it imports: ops/dedup/'s LSH and shuffle for the dedup nodes).
    In its fingerprint, and in its commit record so that a dry run can say which code changed."""
    if node.operation is not None:
        return {f"operation {node.operation}": code_digest(OPERATIONS[node.operation])}
    code = {}
    if node.input is not None and node.input.reader is not None:
        code[f"read {node.input.reader}"] = code_digest(READERS[node.input.reader])
    for number, step in enumerate(node.steps, 1):
        code[f"step {number} {step.name}"] = code_digest(step_class(step.name))
    return code


def versions() -> dict[str, str]:
    """The versions a run's outputs depend on, recorded with each node's commit."""
    import platform

    import pyarrow

    from curate import __version__

    return {"curate": __version__, "python": platform.python_version(), "pyarrow": pyarrow.__version__}


def _options(block: Any) -> dict[str, Any]:
    """A step's or an operation's options: each is a dataclass, which their base classes cannot declare to mypy."""
    return dataclasses.asdict(block)


def logical_hash(node: NodeSpec) -> str:
    """What decides a node's output bytes besides its inputs' content: reader or operation, options, steps, their
    code (node_code), batch size, output format. Input files enter through their content fingerprints
    (plan_pipeline), files a step loads (a lid.176 model, a domain list) by content, model nodes by name: no path
    goes into a hash, so neither a moved workdir nor a moved pipeline file changes it, and a model replaced in place
    recomputes what it scored."""
    payload: dict[str, Any] = {"format": OUTPUT_FORMAT_VERSION, "batch_docs": node.batch_docs}
    if node.operation is not None:
        options = _options(node.build_operation())
        for name in OPERATIONS[node.operation].path_inputs:
            options[name] = len(options[name])  # the files themselves are in the fingerprint, by content
        payload["operation"] = [node.operation, options]
        payload["code"] = node_code(node)  # an edited operation recomputes what it made
    else:
        assert node.input is not None
        payload["reader"] = [node.input.reader, dict(node.input.options), node.input.node]
        steps: list[tuple[str, dict[str, Any]]] = [(step.name, _options(step.build())) for step in node.steps]
        named_models = {(index, option) for index, option, _ in node.model_options}
        for index, step in enumerate(node.steps):  # files a step loads (a model, a word list), by content
            for option in step_class(step.name).file_options:
                value = steps[index][1][option]
                if (index, option) not in named_models and value:
                    steps[index][1][option] = [content_fingerprint(p) for p in ([value] if isinstance(value, str)
                                                                                 else value)]
        # Every step (built-in or a user's module:Class) and the reader by their code too: an edited filter, or a
        # helper it imports, recomputes what it decided without a hand bump of OUTPUT_FORMAT_VERSION.
        payload["code"] = node_code(node)
        for index, option, model_node in node.model_options:
            steps[index][1][option] = {"model_node": model_node}
        payload["steps"] = steps
    return digest(payload)


@dataclass
class NodePlan:
    """What a node will read and write: its fingerprint, and its partitions (map nodes and operations that
    produce documents) with their tasks."""

    node: NodeSpec
    layout: NodeLayout
    fingerprint: str
    partitions: list[PartitionRef] = field(default_factory=list)
    tasks: list[PartitionTask] = field(default_factory=list)  # map nodes only
    pipeline: str = ""  # the pipeline's name, recorded in the commit for `curate inspect`


def plan_pipeline(spec: PipelineSpec) -> dict[str, NodePlan]:
    """Every node's plan, in dependency order. Reads input files' headers and tails, writes nothing."""
    plans: dict[str, NodePlan] = {}
    for node in spec.nodes:
        layout = NodeLayout(spec.workdir, node.name)
        logical = logical_hash(node)
        models = {name: plans[name].fingerprint for name in node.model_nodes}
        if node.operation is not None:
            operation = OPERATIONS[node.operation]
            files = {name: [file_fingerprint(p) for p in node.options[name]] for name in operation.path_inputs}
            upstream = {name: plans[node.options[name]].fingerprint for name in operation.node_inputs
                        if node.options.get(name) is not None}
            fingerprint = digest([logical, upstream, files])
            plan = NodePlan(node, layout, fingerprint)
            if operation.produces_documents:  # one output partition per partition of its input
                source = plans[node.options["input"]].partitions
                plan.partitions = [PartitionRef(ref.key, layout.partition_files(ref.key)[0],
                                                digest([fingerprint, ref.key])) for ref in source]
        else:
            assert node.input is not None
            # (partition name, input path, input label, input fingerprint): an upstream partition's, or a file's
            inputs: list[tuple[str, str, str, Any]]
            if node.input.node:
                inputs = [(ref.key, ref.path, ref.label, ref.fingerprint) for ref in plans[node.input.node].partitions]
            else:
                inputs = [(partition_key(path), path, spec.input_label(path), file_fingerprint(path))
                          for path in node.input.files]
            tasks = [PartitionTask(node, key, path, label, digest([logical, models, source]), layout)
                     for key, path, label, source in inputs]
            plan = NodePlan(node, layout, digest([logical, [[t.key, t.fingerprint] for t in tasks]]), tasks=tasks)
            plan.partitions = [PartitionRef(t.key, t.data_path, t.fingerprint, t.input_label) for t in tasks]
        plan.pipeline = spec.name
        plans[node.name] = plan
    return plans


def _partition_check(plan: NodePlan, ref: PartitionRef, verify: bool) -> tuple[dict[str, Any] | None, str]:
    return check_commit(plan.layout.partition_files(ref.key)[2], plan.layout.workdir, ref.fingerprint, full=verify)


def node_status(plan: NodePlan, verify: bool = False) -> tuple[bool, dict[str, str]]:
    """(whether the node is committed and current, {partition key: why it must be computed}) for every partition
    that is not. An operation that does not produce documents reports its artefacts under the key "artefacts"."""
    committed, why = check_commit(plan.layout.commit_record, plan.layout.workdir, plan.fingerprint, full=verify)
    todo = {ref.key: reason for ref in plan.partitions
            if (reason := _partition_check(plan, ref, verify)[1])}
    if committed is None and not plan.partitions:
        todo["artefacts"] = why
    return committed is not None and not todo, todo


def _committed_files(plan: NodePlan, records: dict[str, dict[str, Any]] | None = None) -> set[str]:
    """The files the node's current partition commits name, with the commit records themselves. `records` (by
    partition key) are those already read and checked; the others are checked here."""
    keep = set()
    for ref in plan.partitions:
        record = records[ref.key] if records and ref.key in records else _partition_check(plan, ref, False)[0]
        if record is not None:
            keep.update(record["files"])
            keep.add(plan.layout.relative(plan.layout.partition_files(ref.key)[2]))
    return keep


class FailureLog:
    """Failures as they happen: a line on the console and a JSON line in `<workdir>/_failures.jsonl`, appended. On
    object storage, where nothing can be appended to, each failure is an object of its own under
    `<workdir>/_failures/` (rewriting one object with every line was quadratic in the failures); a shard job's are
    `_failures.shard-i-of-n.jsonl` and `_failures/shard-i-of-n-...`, as its fellow jobs write at the same time."""

    def __init__(self, workdir: str, log: Callable[[str], None], shard: str | None = None) -> None:
        self.shard = shard_suffix(shard) if shard else ""
        name = FAILURES_FILE.replace(".jsonl", f".{self.shard}.jsonl") if shard else FAILURES_FILE
        remote = storage.is_uri(workdir)
        self.path = storage.join(workdir, FAILURES_FILE.removesuffix(".jsonl") if remote else name)
        self.log = log
        self.count = 0
        self.lock = threading.Lock()  # nodes running side by side report to one log

    def __call__(self, node: str, partition: str, input_label: str, error: str) -> None:
        with self.lock:
            self._record(node, partition, input_label, error)

    def _record(self, node: str, partition: str, input_label: str, error: str) -> None:
        self.log(f"node {node}: FAILED {input_label}: {error}")
        self.count += 1
        now = time.time()
        line = json.dumps({"node": node, "partition": partition, "input": input_label, "error": error,
                           "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now))})
        if not storage.is_uri(self.path):
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
            return
        # named so that a listing is in time order and no two runs, shards or failures share a name
        name = "-".join(part for part in (time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)), self.shard, node,
                                          partition, str(os.getpid()), str(self.count)) if part)
        storage.write_bytes(storage.join(self.path, name + ".json"), (line + "\n").encode())


def _check_failed_share(node: str, stages: list[StageStats]) -> None:
    """RunError when most documents entering a step failed with exceptions (a broken model, a bug)."""
    for stage in stages[1:]:
        failed = sum(stage.failed.values())
        if stage.docs_in and failed > MAX_FAILED_SHARE * stage.docs_in:
            reason, count = stage.failed.most_common(1)[0]
            raise RunError(f"node {node!r}: step {stage.stage!r}: {failed} of {stage.docs_in} documents failed "
                           f"({reason}: {count}); see the rejected rows' reject_detail")


def accounting(record: dict[str, Any]) -> dict[str, Any]:
    """What a running node keeps of a partition's commit record: its files and counts, not its summary (up to
    150 KB, read again one at a time when the node commits), so the driver's memory per partition stays small."""
    return {key: value for key, value in record.items() if key != "summary"}


def _input_size(path: str) -> int:
    found = storage.stat(path)
    return found.size if found is not None else 0


def run_map_node(plan: NodePlan, executor: Executor, log: Callable[[str], None], progress: RunProgress,
                 failures: FailureLog, verify: bool, commit_node: bool = True) -> NodeReport:
    """Compute the partitions of a map node that are not committed and current, then commit the node (not in a
    shard job, `commit_node` False: its partitions are a share of the node's, and the other shards' are not
    stale)."""
    started = time.perf_counter()
    node = plan.node
    records: dict[str, dict[str, Any]] = {}
    todo = []
    for task in plan.tasks:
        record, _ = _partition_check(plan, PartitionRef(task.key, task.data_path, task.fingerprint), verify)
        if record is None:
            todo.append(task)
        else:
            records[task.key] = accounting(record)
    committed, _ = check_commit(plan.layout.commit_record, plan.layout.workdir, plan.fingerprint)
    if committed is None or todo:
        log(f"node {node.name}: {len(todo)} of {len(plan.tasks)} partitions to compute")
    progress.start(node.name, len(todo))
    failed = []
    # Largest inputs first (longest-processing-time order): the last tasks to finish are then small ones, so the
    # workers end together instead of one computing a big file alone (the order changes no output). Local files
    # only: on object storage a size is a request per file, and a crawl's partitions are of one size anyway.
    if executor.parallel and not any(storage.is_uri(task.input_path) for task in todo[:1]):
        todo.sort(key=lambda task: -_input_size(task.input_path))
    timeline.record(f"{node.name}:partitions", len(todo))
    for task, record, error in executor.map(run_partition, todo, node.ray.task_options(f"{node.name}:partitions")):
        timeline.record(f"{node.name}:partitions", -1)
        if error is not None:
            failed.append(f"{task.input_label}: {error}")
            failures(node.name, task.key, task.input_label, error)
            progress.advance(node.name, 0)
        else:
            records[task.key] = accounting(record)
            progress.advance(node.name, record["stages"][0]["kept"], record["docs_out"])  # documents, not records
    progress.finish(node.name)
    if failed:
        raise RunError(f"node {node.name!r}: {len(failed)} partition(s) failed: " + "; ".join(failed[:3]))
    ordered = [records[task.key] for task in plan.tasks]
    stages = merge_stage_lists([StageStats.from_json(s) for s in r["stages"]] for r in ordered)
    _check_failed_share(node.name, stages)
    report = NodeReport(node.name, len(plan.tasks), len(todo), len(plan.tasks) - len(todo), stages,
                        sum(r["docs_out"] for r in ordered), sum(r["rejected_out"] for r in ordered),
                        time.perf_counter() - started)
    if commit_node and (committed is None or todo):
        _commit_node(plan, report, None, _committed_files(plan, records))
    return report


def _commit_node(plan: NodePlan, report: NodeReport, operation: str | None, keep: set[str]) -> None:
    """Delete what no current commit names (`keep`: the partitions' files and records), then write the node's
    commit record (last): the node is done."""
    layout = plan.layout
    if plan.partitions:  # a document-producing operation: its partitions, and what it fitted (DSIR's weights)
        files = stale_files(layout.workdir, (layout.relative(layout.fit),), set())
        keep.update(files)
    else:  # an operation's artefacts (a model, a tokenizer, shards): every file it left outside its scratch
        files = [rel for rel in stale_files(layout.workdir, layout.folders, set(), (layout.scratch_relative,))
                 if rel != layout.relative(layout.commit_record) and not storage.is_temp(storage.basename(rel))]
        keep.update(files)
    _sweep(plan, keep | {layout.relative(layout.commit_record)})
    # What `curate inspect` reads: the partitions' summaries merged, one record at a time (curate/sketch.py).
    merged = merge_records(read_json(layout.partition_files(ref.key)[2]) or {} for ref in plan.partitions)
    commit(layout.commit_record, layout.workdir, plan.fingerprint, files,
           summary=merged["summary"] if plan.partitions else None, top_lists=merged["top_lists"],
           peak_rss_mib=merged["peak_rss_mib"] or round(peak_rss_mib(), 1), hosts=merged["hosts"],
           node=plan.node.name, operation=operation, partitions={ref.key: ref.fingerprint for ref in plan.partitions},
           units=report.partitions, computed=report.computed, reused=report.reused, docs_out=report.docs_out,
           rejected_out=report.rejected_out, stages=[s.to_json() for s in report.stages],
           wall_s=round(report.wall_s, 4), committed_at=time.time(), config=node_config(plan.node),
           code=node_code(plan.node),
           run={"pipeline": plan.pipeline, **versions()})
    storage.rmtree(layout.scratch)


def _sweep(plan: NodePlan, keep: set[str], dry_run: bool = False) -> list[str]:
    """Delete (or, dry, list) the files in the node's folders that `keep` does not name, the scratch of its
    current fingerprint aside."""
    layout = plan.layout
    arguments = (layout.workdir, layout.folders, keep, (layout.scratch_relative,))
    return stale_files(*arguments) if dry_run else sweep(*arguments)


def run_operation_node(plan: NodePlan, context: OperationContext, verify: bool) -> NodeReport:
    """Reuse an operation node whose commit is current and whose files check out; else run it and commit it."""
    node = plan.node
    done, _ = node_status(plan, verify)
    if done:
        committed = read_json(plan.layout.commit_record) or {}
        units = committed.get("units") or len(plan.partitions) or 1  # what its first run reported (tasks, inputs)
        return NodeReport(node.name, units, 0, units,
                          [StageStats.from_json(s) for s in committed.get("stages", [])], committed.get("docs_out", 0),
                          committed.get("rejected_out", 0), 0.0)
    storage.makedirs(plan.layout.data)
    # Everything but the scratch of this fingerprint (resume inside a phase) and the partitions already committed
    # for it (resume inside the write phase) is from another config or input: delete it before writing anew.
    _sweep(plan, _committed_files(plan))
    operation = node.build_operation()
    report = operation.run(context)
    # The operation timed its driver and its own subprocesses (lmplz, the fastText trainer); add its tasks that ran in
    # other processes. Its wall time is its own work's, not the time it waited for a late input.
    if report.stages:
        report.stages[-1].cpu_s += context.task_cpu_s
        report.stages[-1].wall_s -= context.waited_s
    report.wall_s -= context.waited_s
    operation.check_artefacts(plan.layout.data)
    _commit_node(plan, report, node.operation, _committed_files(plan))
    return report


def _final_nodes(spec: PipelineSpec) -> set[str]:
    read = {u for node in spec.nodes for u in node.upstream}
    return {node.name for node in spec.nodes if node.name not in read}


def run_pipeline(spec: PipelineSpec, executor: Executor, log: Callable[[str], None] = print,
                 progress: RunProgress | None = None, verify: bool = False) -> list[NodeReport]:
    """Run every node of `spec` in dependency order; returns one report per node.

    `verify`: check every reused file against its committed SHA-256, not only its size and Parquet footer."""
    plans = plan_pipeline(spec)
    progress = progress or NoProgress()
    failures = FailureLog(spec.workdir, log, spec.shard)
    finals = _final_nodes(spec)
    concurrent = ConcurrentRun(spec.nodes) if executor.parallel else None

    def run_node(node: NodeSpec) -> NodeReport:
        plan = plans[node.name]
        if spec.shard is None:  # a shard job's fellow jobs may be writing theirs
            _remove_temp_files(plan.layout)
        if node.operation is not None:
            context = OperationContext(
                node.name, plan.layout, plan.fingerprint, executor,
                {name: p.partitions for name, p in plans.items() if p.partitions},
                {name: p.layout.data for name, p in plans.items()}, log, progress, failures,
                [ref.fingerprint for ref in plan.partitions], verify, node.ray,
                late=frozenset(node.options[name] for name in OPERATIONS[str(node.operation)].late_inputs
                               if node.options.get(name) is not None))
            if concurrent is not None:
                context.await_node = concurrent.wait_for
            report = run_operation_node(plan, context, verify)
        else:
            report = run_map_node(plan, executor, log, progress, failures, verify, commit_node=spec.shard is None)
        if node.name in finals and report.docs_out == 0 and (plan.partitions or not node.operation):
            log(f"warning: node {node.name} kept 0 documents")
        return report

    if concurrent is not None:
        # Ray starts here, in the main thread, when there is work: its processes die with the thread that started
        # them (curate/processes.py), and node threads end. The node threads are launched first: a node whose first
        # work needs no task (KenLM's training, DSIR's target counts) works during Ray's start-up, the others wait
        # for it in their first `map`.
        if any(not node_status(plan, verify)[0] for plan in plans.values()):
            executor.start(meanwhile=lambda: concurrent.launch(run_node))
        else:
            concurrent.launch(run_node)
        reports = concurrent.wait()
    else:  # one process: the nodes one after the other, in the main thread (extraction's time limit needs it)
        reports = [run_node(node) for node in spec.nodes]
    if failures.count:
        log(f"{failures.count} failure(s) logged in {failures.path}")
    return reports


class ConcurrentRun:
    """Every node run as soon as the nodes it needs at its start are done (NodeSpec.needed_at_start: those it reads
    but its late inputs, which it waits for with `wait_for`), each in a thread of the driver, so that independent
    nodes overlap: a model's serial training (in a process of its own) runs while the executor's workers compute
    the partitions of other nodes, instead of leaving them idle (docs/scale.md measures it). Outputs do not depend
    on the order (every node is a function of its inputs' fingerprints). The threads are daemons: an interrupted run
    stops with the driver, and a rerun resumes from the committed partitions."""

    def __init__(self, nodes: Sequence[NodeSpec]) -> None:
        self.nodes = nodes
        self.reports: dict[str, NodeReport] = {}
        self.errors: dict[str, BaseException] = {}
        self.done = {node.name: threading.Event() for node in nodes}

    def launch(self, run_node: Callable[[NodeSpec], NodeReport]) -> None:
        for node in self.nodes:
            threading.Thread(target=self._work, args=(node, run_node), name=f"curate {node.name}",
                             daemon=True).start()

    def _work(self, node: NodeSpec, run_node: Callable[[NodeSpec], NodeReport]) -> None:
        try:
            for upstream in node.needed_at_start:
                self.done[upstream].wait()
            if not any(self._missing(u) for u in node.needed_at_start):  # else skipped
                self.reports[node.name] = run_node(node)
        except BaseException as failure:  # handed to the main thread, which raises it
            self.errors[node.name] = failure
        finally:
            self.done[node.name].set()

    def _missing(self, name: str) -> bool:
        return name in self.errors or name not in self.reports

    def wait_for(self, name: str) -> None:
        """Block until node `name` is done (an operation's late input); raise when it failed or was skipped (its
        own error is the one `wait` raises: it comes first in the nodes' order)."""
        self.done[name].wait()
        if self._missing(name):
            raise RunError(f"node {name!r} did not complete")

    def wait(self) -> list[NodeReport]:
        """The reports in the nodes' order; the first failure, in that order, is raised after every node that could
        run has finished (their partitions are committed, so the rerun after a fix reuses them)."""
        for node in self.nodes:
            self.done[node.name].wait()
        for node in self.nodes:
            if node.name in self.errors:
                raise self.errors[node.name]
        return [self.reports[node.name] for node in self.nodes]


def _remove_temp_files(layout: NodeLayout) -> None:
    """Temporary files of an attempt that was killed (a run holds the workdir's lock, so none is being written).
    Only local folders have them: an object store has no renames, hence no temporary names."""
    if storage.is_uri(layout.workdir):
        return
    for top in (layout.data, layout.rejected, layout.state):
        for folder, _, names in os.walk(top):
            for name in names:
                if storage.is_temp(name):
                    os.remove(os.path.join(folder, name))


def _reasons(plan: NodePlan, todo: dict[str, str]) -> list[str]:
    """Why the node's partitions must be computed, one line per reason shared by more than a few partitions (a
    config change recomputes them all: one line naming the options, not one a partition)."""
    record = read_json(plan.layout.commit_record) or {}
    committed = record.get("config")
    changed = config_changes(committed, node_config(plan.node)) if committed else []
    code, committed_code = node_code(plan.node), record.get("code") or {}
    recoded = [part for part in code if committed_code and committed_code.get(part) != code[part]]
    labels = {ref.key: ref.label or ref.key for ref in plan.partitions}
    by_reason: dict[str, list[str]] = {}
    for key, why in sorted(todo.items()):
        if why == "inputs or config changed":
            why = ("options changed: " + "; ".join(changed) if changed else
                   "code changed: " + ", ".join(recoded) if recoded else "its input changed (upstream or file)")
        by_reason.setdefault(why, []).append(key)
    lines = []
    for why, keys in by_reason.items():
        if len(keys) > 3:
            lines.append(f"  compute {len(keys)} partitions: {why}")
        else:
            lines += [f"  compute {labels[key]} ({key}): {why}" for key in keys]
    return lines


def dry_run(spec: PipelineSpec, verify: bool = False) -> list[str]:
    """What `curate run` would do, node by node: partitions to compute (and why), to reuse, and files to delete.

    A node downstream of one that will be recomputed is planned from fingerprints, which do not depend on output
    bytes, so the answer is exact for every node."""
    lines = []
    for name, plan in plan_pipeline(spec).items():
        done, todo = node_status(plan, verify)
        kind = plan.node.operation or "map"
        if done:
            lines.append(f"node {name} ({kind}): reuse all {len(plan.partitions) or 1} (committed and current)")
            continue
        if spec.shard is not None:
            lines.append(f"node {name} ({kind}), shard {spec.shard}: compute {len(todo)} of its "
                         f"{len(plan.partitions)} partitions, reuse {len(plan.partitions) - len(todo)}")
            lines += _reasons(plan, todo)
            continue
        if plan.partitions:
            lines.append(f"node {name} ({kind}): compute {len(todo)} of {len(plan.partitions)} partitions, "
                         f"reuse {len(plan.partitions) - len(todo)}")
            lines += _reasons(plan, todo)
        else:
            lines.append(f"node {name} ({kind}): run ({todo['artefacts']})")
        if spec.shard is not None:  # a shard job deletes nothing
            continue
        keys = {ref.key for ref in plan.partitions}
        keep = _committed_files(plan) | {plan.layout.relative(plan.layout.commit_record)}
        for rel in _sweep(plan, keep, dry_run=True):
            name = storage.basename(rel)
            if storage.is_temp(name) or (plan.partitions and name.split(".")[0] not in keys):
                lines.append(f"  delete {rel} (its input is gone, or a killed attempt left it)")
    return lines
