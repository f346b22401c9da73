"""Helpers of the dedup tests: write documents as JSON Lines partitions and run a one-node dedup pipeline; run an
operation over the sample WARCs' pages."""

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


def run_on_sample_pages(folder: Path, operation: str, warcs: str = "*.warc*") -> Path:
    """Run `text` (the sample WARC files `warcs`, resiliparse's text) -> `clean` (`operation`, e.g. "repeated_lines:
    {input: text, unit: line}") in-process under `folder`; returns the workdir."""
    from tests.warc_factory import SAMPLE_DIR

    folder.mkdir(exist_ok=True)
    path = folder / "p.yaml"
    path.write_text(textwrap.dedent(f"""
        workdir: {folder / "out"}
        nodes:
          text:
            input: {{warc: "{SAMPLE_DIR}/{warcs}"}}
            steps: [{{extract: {{engine: resiliparse}}}}]
          clean: {{{operation}}}
    """))
    with LocalExecutor() as executor:
        run_pipeline(load_pipeline(str(path)), executor, log=lambda line: None)
    return folder / "out"
