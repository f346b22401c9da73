"""The contract of operation nodes: global steps (train a tokenizer, write token shards, deduplicate) that read whole
nodes rather than one partition, and run their map phases on the same executor as map nodes.

An operation's map tasks write into a scratch folder tied to the node's config hash, one file per task, atomically;
a re-run after a kill skips the files that exist. A changed config gets a fresh scratch folder.
"""

from __future__ import annotations

import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from curate.errors import RunError
from curate.executors.base import Executor
from curate.partition import read_text
from curate.report.progress import RunProgress
from curate.stats import NodeReport


@dataclass
class OperationContext:
    """What an operation may use: its folder, the executor, and the outputs of the nodes it reads."""

    node: str
    out_dir: str
    config_hash: str
    executor: Executor
    partitions: Mapping[str, list[str]]  # a node of documents -> its partition files, in order
    node_dirs: Mapping[str, str]  # any node -> its output folder
    log: Callable[[str], None]
    progress: RunProgress

    def scratch(self, name: str) -> str:
        """A folder for intermediate files of this config; emptied when the config hash changed since last time."""
        path = os.path.join(self.out_dir, f"_{name}")
        marker = os.path.join(path, "_CONFIG_HASH")
        if os.path.isdir(path) and read_text(marker) != self.config_hash:
            shutil.rmtree(path)
        os.makedirs(path, exist_ok=True)
        with open(marker, "w", encoding="utf-8") as handle:
            handle.write(self.config_hash)
        return path

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any], outputs: Sequence[str]) -> int:
        """Run `fn` over the tasks whose output file does not exist yet; return how many ran.

        Raises RunError naming the failed tasks after the others finished."""
        todo = [task for task, output in zip(tasks, outputs, strict=True) if not os.path.exists(output)]
        self.log(f"node {self.node}: {fn.__name__}: {len(todo)} of {len(tasks)} tasks to compute")
        failures = []
        self.progress.start(self.node, len(todo))
        for task, result, error in self.executor.map(fn, todo):
            self.progress.advance(self.node, result if isinstance(result, int) else 0)  # tasks return docs read
            if error is not None:
                failures.append(f"{task}: {error}")
        self.progress.finish(self.node)
        if failures:
            raise RunError(f"node {self.node!r}: {len(failures)} task(s) failed: " + "; ".join(failures[:3]))
        return len(todo)


class Operation(ABC):
    """An operation node. Subclasses are dataclasses whose fields are the node's options in the pipeline file."""

    name: ClassVar[str]
    # Option fields that name other nodes, and the kind each must be: "documents" (a map node) or an operation name.
    node_inputs: ClassVar[dict[str, str]]
    # Options holding file globs, resolved against the pipeline file's folder into a list of files.
    path_inputs: ClassVar[tuple[str, ...]] = ()
    # True when the operation writes a node of documents (part-NNNNN.parquet, one per input partition) that later
    # nodes can read like a map node's.
    produces_documents: ClassVar[bool] = False
    # The file a model-training operation leaves in its folder, for steps that name the node (see Stage.model_inputs).
    artefact: ClassVar[str] = ""

    @abstractmethod
    def run(self, context: OperationContext) -> NodeReport:
        """Compute the node's outputs under `context.out_dir` and report what was done."""
