"""Helpers of the dedup tests: write documents as JSON Lines partitions and run a one-node dedup pipeline."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.config import load_pipeline
from curate.dag import run_pipeline
from curate.executors.base import Executor
from curate.executors.local import LocalExecutor


def write_partitions(folder: Path, documents: list[dict], partitions: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for part in range(partitions):
        with open(folder / f"docs-{part}.jsonl", "w") as handle:
            for row in documents[part::partitions]:
                handle.write(json.dumps(row) + "\n")


def run_dedup(tmp_path: Path, data: Path, node: str, executor: Executor | None = None, workdir: str = "out",
              run: bool = True):
    """Write `<workdir>.yaml`: `docs` (the JSON Lines in `data`) -> `deduped` (the operation mapping `node`); run it
    unless `run` is False, and return the reports."""
    pipeline = tmp_path / f"{workdir}.yaml"
    pipeline.write_text(textwrap.dedent(f"""
        workdir: {tmp_path / workdir}
        nodes:
          docs: {{input: {{jsonl: "{data}/*.jsonl", url_field: url}}}}
          deduped: {node}
    """))
    if not run:
        return []
    with executor or LocalExecutor() as running:
        return run_pipeline(load_pipeline(str(pipeline)), running, log=lambda line: None)


def read_node(path: Path) -> pa.Table:
    return pq.read_table(path)
