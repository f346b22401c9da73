"""The `train_bpe` node: learn a byte-level BPE tokenizer from the text of a node of documents.

Map: each partition's pre-tokens are counted in a task on the executor and written as a Parquet file (pre-token,
count). Reduce: the counts are summed with Arrow's group-by and the merges learned, as the node's serial work (in the
driver; a task on Ray); its memory holds the distinct pre-tokens, not the text. Outputs: the Hugging Face files
(`tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json`: `AutoTokenizer.from_pretrained(folder)` loads
them), `tokenizer.tiktoken` (tiktoken's ranks) and `tokenizer.curate.json` (curate's own format, what curate's nodes
and train_stub load).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import ClassVar

import pyarrow as pa

from curate import storage
from curate.cpu import driver_cpu
from curate.errors import RunError
from curate.ops.base import Operation, OperationContext, written
from curate.shards import load_tokenizer_file
from curate.stats import NodeReport, StageStats
from curate.tables import parquet_rows, read_columns, read_table, scratch_file, write_parquet_atomic
from tokenizer.bpe import Tokenizer
from tokenizer.export import special_roles, to_huggingface, to_huggingface_config, to_tiktoken_ranks
from tokenizer.pretokenize import PATTERNS, count_pretokens
from tokenizer.train import train_bpe

TOKENIZER_FILE = "tokenizer.curate.json"
HF_TOKENIZER_FILE = "tokenizer.json"  # the name transformers and `tokenizers.Tokenizer.from_file` expect


@dataclass(frozen=True)
class CountTask:
    input_path: str
    output_path: str
    pattern: str
    special_tokens: tuple[str, ...]
    text_column: str

    def __str__(self) -> str:
        return storage.basename(self.input_path)


def count_partition(task: CountTask) -> int:
    """Count one partition's pre-tokens into a Parquet file; returns the number of documents read."""
    texts = read_columns(task.input_path, [task.text_column]).column(0).to_pylist()
    counts = count_pretokens((t for t in texts if t), task.pattern, task.special_tokens)
    ordered = sorted(counts.items())  # a fixed order, so the file's bytes do not depend on hashing
    table = pa.table({"pretoken": pa.array([k for k, _ in ordered], pa.binary()),
                      "count": pa.array([v for _, v in ordered], pa.int64())})
    write_parquet_atomic(table, task.output_path)
    return len(texts)


def load_tokenizer(node_dir: str) -> Tokenizer:
    """The tokenizer a train_bpe node wrote (or the copy a tokenize node keeps beside its shards)."""
    return load_tokenizer_file(storage.join(node_dir, TOKENIZER_FILE))


@dataclass(frozen=True)
class MergeJob:
    """The reduce: the partitions' pre-token counts to sum, where the tokenizer files go, and what to learn."""

    count_paths: list[str]
    out_dir: str
    pattern: str
    vocab_size: int
    special_tokens: tuple[str, ...]
    min_pair_count: int


def learn_merges(job: MergeJob) -> tuple[int, int]:
    """Sum the counts with Arrow's group-by, learn the merges and write every tokenizer file to `job.out_dir`;
    returns (distinct pre-tokens, merges). The node's serial work (OperationContext.run_serial): its memory holds
    the distinct pre-tokens."""
    counts = pa.concat_tables(read_table(path) for path in job.count_paths)
    summed = counts.group_by("pretoken").aggregate([("count", "sum")]).sort_by("pretoken")
    pretoken_counts = dict(zip(summed.column("pretoken").to_pylist(), summed.column("count_sum").to_pylist()))
    tokenizer = train_bpe(pretoken_counts, job.vocab_size, special_tokens=list(job.special_tokens),
                          pattern=job.pattern, min_pair_count=job.min_pair_count)
    outputs = {TOKENIZER_FILE: json.dumps(tokenizer.to_json()),
               HF_TOKENIZER_FILE: json.dumps(to_huggingface(tokenizer), ensure_ascii=False),
               "tokenizer_config.json": json.dumps(to_huggingface_config(tokenizer), indent=1),
               "special_tokens_map.json": json.dumps(special_roles(tokenizer), indent=1),
               "tokenizer.tiktoken": to_tiktoken_ranks(tokenizer)}
    for name, text in outputs.items():
        storage.write_bytes(storage.join(job.out_dir, name), text.encode())
    return len(pretoken_counts), len(tokenizer.merges)


@dataclass
class TrainBpe(Operation):
    """Train a byte-level BPE tokenizer on node `input`'s `text` column.

    `pattern`: "gpt2" (default), "gpt4", or a regex of your own; `vocab_size` counts the 256 bytes, the merges and
    the special tokens; pairs seen fewer than `min_pair_count` times are never merged.
    """

    name: ClassVar[str] = "train_bpe"
    artefact: ClassVar[str] = TOKENIZER_FILE  # what a `token_count` step that names the node reads
    node_inputs: ClassVar[dict[str, str]] = {"input": "documents"}

    input: str
    vocab_size: int = 32_000
    special_tokens: list[str] = field(default_factory=lambda: ["<|endoftext|>"])
    pattern: str = "gpt2"
    min_pair_count: int = 2
    text_column: str = "text"

    def __post_init__(self) -> None:
        if self.vocab_size < 256 + len(self.special_tokens):
            raise ValueError(f"vocab_size must be at least 256 + {len(self.special_tokens)} special tokens")

    def run(self, context: OperationContext) -> NodeReport:
        started, cpu_started = time.perf_counter(), driver_cpu()  # the driver's share; tasks run elsewhere
        pattern = PATTERNS.get(self.pattern, self.pattern)
        scratch = context.scratch("counts")
        inputs = context.paths(self.input)
        tasks = [CountTask(path, scratch_file(scratch, i), pattern,
                           tuple(self.special_tokens), self.text_column) for i, path in enumerate(inputs)]
        computed = context.map(count_partition, tasks, lambda t: written(t.output_path))

        distinct, merges = context.run_serial(
            learn_merges, MergeJob([t.output_path for t in tasks], context.out_dir, pattern, self.vocab_size,
                                   tuple(self.special_tokens), self.min_pair_count), "merges",
            isolated=False)  # here: pure Python, shorter than a process's start on small inputs
        context.log(f"node {context.node}: {merges} merges learned from {distinct} distinct pre-tokens")

        documents = sum(parquet_rows(path) for path in inputs)
        stage = StageStats("train_bpe", docs_in=documents, kept=documents, wall_s=time.perf_counter() - started,
                           cpu_s=driver_cpu() - cpu_started)
        stage.events["merges"] = merges
        stage.events["distinct_pretokens"] = distinct
        return NodeReport(context.node, len(inputs), computed, len(inputs) - computed, [stage], 0, 0, stage.wall_s)

    def check_artefacts(self, out_dir: str) -> None:
        try:
            load_tokenizer(out_dir).encode("check")
        except Exception as error:
            raise RunError(f"the tokenizer written to {out_dir} does not load: {error}") from None
