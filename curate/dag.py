"""Running a pipeline: nodes in dependency order, each as partitions on an executor, resuming what is done.

A node's config hash covers its input, its steps with every option, and its upstream node's hash, so a change
anywhere upstream invalidates what depends on it and nothing else. A partition is reused when its stats file records
the node's current hash and the same input signature; a node is reused whole when its `_SUCCESS.json` matches.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import time
from collections.abc import Callable
from typing import Any

from curate.config import NodeSpec, PipelineSpec
from curate.errors import RunError
from curate.executors.base import Executor
from curate.ops import OPERATIONS
from curate.ops.base import OperationContext
from curate.partition import REJECTED_DIR, PartitionTask, part_name, read_json, run_partition, write_json_atomic
from curate.report.progress import NoProgress, RunProgress
from curate.stats import NodeReport, StageStats, merge_stage_lists

# Bump when the layout or meaning of outputs changes, so that old workdirs are recomputed rather than misread.
OUTPUT_FORMAT_VERSION = 1
SUCCESS_FILE = "_SUCCESS.json"


def node_config_hash(node: NodeSpec, upstream_hashes: list[str]) -> str:
    """A short hash of everything that decides a node's output bytes, upstream nodes' hashes included."""
    payload = {
        "format": OUTPUT_FORMAT_VERSION,
        "upstream": upstream_hashes,
        "batch_docs": node.batch_docs,
    }
    if node.operation is not None:
        payload["operation"] = [node.operation, dataclasses.asdict(node.build_operation())]
    else:
        assert node.input is not None
        payload["reader"] = [node.input.reader, dict(node.input.options), node.input.node]
        payload["steps"] = [[step.name, dataclasses.asdict(step.build())] for step in node.steps]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _file_signature(path: str) -> dict[str, Any]:
    try:
        info = os.stat(path)
    except OSError:
        return {"path": path, "missing": True}
    return {"path": path, "size": info.st_size, "mtime_ns": info.st_mtime_ns}


def plan_tasks(node: NodeSpec, workdir: str, config_hash: str, upstream: list[PartitionTask] | None,
               upstream_hash: str | None) -> list[PartitionTask]:
    """One task per input file, or per partition of the upstream node."""
    out_dir = os.path.join(workdir, node.name)
    if upstream is not None:
        inputs = [(u.data_path, {"path": u.data_path, "upstream_hash": upstream_hash}) for u in upstream]
    else:
        inputs = [(path, _file_signature(path)) for path in node.input.files]
    return [PartitionTask(node, index, path, signature, out_dir, config_hash)
            for index, (path, signature) in enumerate(inputs)]


def completed_record(task: PartitionTask) -> dict[str, Any] | None:
    """The stats record of a finished partition that matches the task, or None when it must be (re)computed."""
    record = read_json(task.stats_path)
    if (record is None or record.get("config_hash") != task.config_hash or record.get("input") != task.input_signature
            or not os.path.exists(task.data_path) or not os.path.exists(task.rejected_path)):
        return None
    return record


def _remove_extra_partitions(out_dir: str, count: int) -> None:
    """Delete outputs of partitions numbered `count` and above (left by an earlier run with more inputs)."""
    for pattern in ("part-*.parquet", f"{REJECTED_DIR}/part-*.parquet", "_stats/part-*.json"):
        for path in glob.glob(os.path.join(out_dir, pattern)):
            index = int(os.path.basename(path).split("-")[1].split(".")[0])
            if index >= count:
                os.remove(path)


def run_node(node: NodeSpec, out_dir: str, config_hash: str, tasks: list[PartitionTask], executor: Executor,
             log: Callable[[str], None], progress: RunProgress) -> NodeReport:
    """Compute the missing partitions of `node`, then write its `_SUCCESS.json`."""
    started = time.perf_counter()
    success_path = os.path.join(out_dir, SUCCESS_FILE)
    success = read_json(success_path)
    up_to_date = (success is not None and success.get("config_hash") == config_hash
                  and success.get("inputs") == [t.input_signature for t in tasks])
    records: dict[int, dict[str, Any]] = {}
    todo = []
    for task in tasks:
        record = completed_record(task)
        if record is None:
            todo.append(task)
        else:
            records[task.index] = record
    up_to_date = up_to_date and not todo
    if not up_to_date:
        if success is not None:
            os.remove(success_path)
        _remove_extra_partitions(out_dir, len(tasks))
        log(f"node {node.name}: {len(todo)} of {len(tasks)} partitions to compute")
    failures = []
    progress.start(node.name, len(todo))
    for task, record, error in executor.map(run_partition, todo):
        if error is not None:
            failures.append(f"{part_name(task.index)} ({os.path.basename(task.input_path)}): {error}")
            progress.advance(node.name, 0)
        else:
            records[task.index] = record
            progress.advance(node.name, record["stages"][0]["docs_in"])
    progress.finish(node.name)
    if failures:
        raise RunError(f"node {node.name!r}: {len(failures)} partition(s) failed: " + "; ".join(failures[:3]))
    ordered = [records[task.index] for task in tasks]
    stages = merge_stage_lists([StageStats.from_json(s) for s in r["stages"]] for r in ordered)
    report = NodeReport(
        name=node.name,
        partitions=len(tasks),
        computed=len(todo),
        reused=len(tasks) - len(todo),
        stages=stages,
        docs_out=sum(r["docs_out"] for r in ordered),
        rejected_out=sum(r["rejected_out"] for r in ordered),
        wall_s=time.perf_counter() - started,
    )
    if not up_to_date:
        write_json_atomic(success_path, {
            "node": node.name,
            "config_hash": config_hash,
            "inputs": [t.input_signature for t in tasks],
            "partitions": len(tasks),
            "computed": report.computed,
            "reused": report.reused,
            "docs_out": report.docs_out,
            "rejected_out": report.rejected_out,
            "stages": [s.to_json() for s in stages],
            "wall_s": round(report.wall_s, 4),
        })
    return report


def run_operation(node: NodeSpec, context: OperationContext) -> NodeReport:
    """Run an operation node unless its `_SUCCESS.json` records the same config hash."""
    success_path = os.path.join(context.out_dir, SUCCESS_FILE)
    success = read_json(success_path)
    if success is not None and success.get("config_hash") == context.config_hash:
        return NodeReport(node.name, success["partitions"], 0, success["partitions"],
                          [StageStats.from_json(s) for s in success["stages"]], success["docs_out"],
                          success["rejected_out"], 0.0)
    if success is not None:
        os.remove(success_path)
    os.makedirs(context.out_dir, exist_ok=True)
    report = node.build_operation().run(context)
    write_json_atomic(success_path, {
        "node": node.name, "operation": node.operation, "config_hash": context.config_hash,
        "partitions": report.partitions, "computed": report.computed, "reused": report.reused,
        "docs_out": report.docs_out, "rejected_out": report.rejected_out,
        "stages": [s.to_json() for s in report.stages], "wall_s": round(report.wall_s, 4),
    })
    return report


def run_pipeline(spec: PipelineSpec, executor: Executor, log: Callable[[str], None] = print,
                 progress: RunProgress | None = None) -> list[NodeReport]:
    """Run every node of `spec` in dependency order; returns one report per node."""
    hashes: dict[str, str] = {}
    planned: dict[str, list[PartitionTask]] = {}
    node_dirs = {node.name: os.path.join(spec.workdir, node.name) for node in spec.nodes}
    progress = progress or NoProgress()
    reports = []
    for node in spec.nodes:
        hashes[node.name] = node_config_hash(node, [hashes[u] for u in node.upstream])
        out_dir = node_dirs[node.name]
        if node.operation is not None:
            partitions = {name: [t.data_path for t in tasks] for name, tasks in planned.items()}
            context = OperationContext(node.name, out_dir, hashes[node.name], executor, partitions, node_dirs, log,
                                       progress)
            reports.append(run_operation(node, context))
            if OPERATIONS[node.operation].produces_documents:  # one output partition per partition of its input
                planned[node.name] = [PartitionTask(node, t.index, t.data_path, {}, out_dir, hashes[node.name])
                                      for t in planned[node.upstream[0]]]
            continue
        upstream = node.input.node if node.input else None
        planned[node.name] = plan_tasks(node, spec.workdir, hashes[node.name],
                                        planned[upstream] if upstream else None,
                                        hashes[upstream] if upstream else None)
        reports.append(run_node(node, out_dir, hashes[node.name], planned[node.name], executor, log, progress))
    return reports
