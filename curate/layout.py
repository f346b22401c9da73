"""Where a node's outputs live in a workdir: its data alone in its own folder, everything else beside it.

    workdir/
      <node>/                    the node's data and nothing else: kept documents (part-<key>.parquet), token
                                 shards (shard-NNNNN.parquet), or a model node's artefacts (model.bin, tokenizer.json)
      _rejected/<node>/          the node's rejected rows, one Parquet file per partition, with reject_reason
      _curate/<node>/            curate's bookkeeping for the node:
        commit.json                the node's commit record (written last: the node is done)
        partitions/<key>.json      each partition's commit record and stats
        scratch/<phase>/           an operation's intermediate files, deleted when the node commits
        manifest.json              token shards: tokenizer, dtype, per-shard counts and checksums
      _failures.jsonl, _LOCK     (on object storage, _failures/ holds one object per failure; shard jobs of a
                                 sharded run have _LOCK.shard-i-of-n and _failures.shard-i-of-n.jsonl)

Why the split: readers treat a folder as one dataset. HF `datasets` mixes in Parquet files from `_`-prefixed
subfolders (it skips only `.` and `__`), polars fails on a `.json` file in the folder, and DuckDB's recursive globs
match everything; so a node's folder holds only what a reader of that node wants, and `pq.read_table`, pandas,
polars, DuckDB and `datasets.load_dataset` given `workdir/<node>` read exactly the kept rows (tests/test_readers.py).

Commit records name their files relative to the workdir, so a moved workdir keeps its commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from curate import storage

REJECTED_ROOT = "_rejected"
STATE_ROOT = "_curate"
COMMIT_FILE = "commit.json"
PARTITIONS_DIR = "partitions"
SCRATCH_DIR = "scratch"
FIT_DIR = "fit"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class NodeLayout:
    """The folders and files of node `node` in `workdir` (plain data: it travels to workers with a task)."""

    workdir: str
    node: str

    @property
    def data(self) -> str:
        """The node's data folder: the only folder a user reads."""
        return storage.join(self.workdir, self.node)

    @property
    def rejected(self) -> str:
        return storage.join(self.workdir, REJECTED_ROOT, self.node)

    @property
    def state(self) -> str:
        return storage.join(self.workdir, STATE_ROOT, self.node)

    @property
    def commit_record(self) -> str:
        return storage.join(self.state, COMMIT_FILE)

    @property
    def scratch(self) -> str:
        return storage.join(self.state, SCRATCH_DIR)

    @property
    def fit(self) -> str:
        """What a document-producing operation fitted to decide (DSIR's log ratios and cut-off), committed with the
        node: `curate evaluate` applies the same decision to labelled documents."""
        return storage.join(self.state, FIT_DIR)

    @property
    def manifest(self) -> str:
        return storage.join(self.state, MANIFEST_FILE)

    def partition_files(self, key: str) -> tuple[str, str, str]:
        """(kept rows, rejected rows, commit record) of partition `key`.

        Example: NodeLayout("out", "text").partition_files("part-1f")
                 -> ("out/text/part-1f.parquet", "out/_rejected/text/part-1f.parquet",
                     "out/_curate/text/partitions/part-1f.json")
        """
        return (storage.join(self.data, key + ".parquet"), storage.join(self.rejected, key + ".parquet"),
                storage.join(self.state, PARTITIONS_DIR, key + ".json"))

    def relative(self, path: str) -> str:
        """`path` relative to the workdir, as commit records name files."""
        return storage.relative(path, self.workdir)

    @property
    def folders(self) -> tuple[str, ...]:
        """The node's three folders, relative to the workdir: what sweeping a node looks through."""
        return tuple(self.relative(p) for p in (self.data, self.rejected, self.state))

    @property
    def scratch_relative(self) -> str:
        return self.relative(self.scratch)


def node_layout_of(node_dir: str) -> NodeLayout:
    """The layout of the node whose data folder is `node_dir` (e.g. a token shard folder given on the command line).

    Example: node_layout_of("out/quickstart/shards") -> NodeLayout("out/quickstart", "shards")
    """
    stripped = node_dir.rstrip("/")
    return NodeLayout(storage.dirname(stripped), storage.basename(stripped))
