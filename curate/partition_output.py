"""A partition's outputs committed: its kept and rejected rows, then the commit record that makes it count as done
(curate/commit.py). Map nodes (curate/partition.py) and operations that output documents (dsir, dedup,
decontaminate, repeated_lines) write theirs through here, so every node's partitions look the same downstream.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys

from typing import Any

import pyarrow as pa

from curate import storage
from curate.commit import commit
from curate.cpu import peak_rss_mib
from curate.layout import NodeLayout
from curate.sketch import SummaryBuilder
from curate.stats import StageStats
from curate.tables import write_parquet_atomic


def commit_partition(layout: NodeLayout, key: str, fingerprint: str, record: dict[str, Any]) -> dict[str, Any]:
    """Write partition `key`'s stats as its commit record (last: the partition now counts as done), with where it
    was computed (`computed_on`) and the process (for `curate inspect`; never part of an output's bytes)."""
    data, rejected, record_path = layout.partition_files(key)
    return commit(record_path, layout.workdir, fingerprint, [layout.relative(p) for p in (data, rejected)], **record,
                  host=computed_on(), pid=os.getpid())


def computed_on() -> str:
    """This machine's name, and in a Ray worker the Ray node's id (several nodes may share a machine).

    Example: "gpu-07" locally, "gpu-07 (Ray node 5f1c2a9e)" in a Ray task."""
    host = socket.gethostname()
    ray = sys.modules.get("ray")  # imported in every Ray worker; never imported here for this
    if ray is not None and ray.is_initialized():
        with contextlib.suppress(Exception):  # a driver's context has a node too, but no task: say the machine only
            if ray.get_runtime_context().get_task_id() is not None:
                return f"{host} (Ray node {ray.get_runtime_context().get_node_id()[:8]})"
    return host


def write_operation_partition(layout: NodeLayout, key: str, fingerprint: str, input_path: str, kept: pa.Table,
                              rejected: pa.Table, stats: StageStats, extra: dict[str, Any] | None = None) -> None:
    """Write partition `key` of an operation node that outputs documents (dsir, dedup) as a map node's: kept rows,
    rejected rows, then the commit record (with `extra`, what the operation reports per partition)."""
    data_path, rejected_path, _ = layout.partition_files(key)
    write_parquet_atomic(kept, data_path)
    write_parquet_atomic(rejected, rejected_path)
    summary = SummaryBuilder()
    summary.add(kept, rejected)
    commit_partition(layout, key, fingerprint, {"summary": summary.to_json(),
        "node": layout.node, "partition": key, "input": storage.basename(input_path),
        "stages": [stats.to_json()], "docs_out": kept.num_rows, "rejected_out": rejected.num_rows,
        "wall_s": round(stats.wall_s, 4), "peak_rss_mib": round(peak_rss_mib(), 1), **(extra or {})})
