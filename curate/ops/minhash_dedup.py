"""The `minhash_dedup` node: near-duplicate removal by MinHash-LSH, as FineWeb (Penedo et al. 2024, section 3.5:
5-grams, 112 permutations = 14 bands x 8 rows) and datatrove's MinhashDedup blocks, but with clusters resolved from
the duplicate edges alone, so no step holds the corpus in memory.

Map: each partition's signatures (kept as `.npy` for the `minhash` column and for verification) and one record
(band key, document number) per band into key-range files. Reduce: sort one range by key; documents sharing a key
are candidates, and with `verify` a candidate joins a group member only if their estimated Jaccard similarity
(the fraction of equal signature slots) reaches `threshold`; only the candidates' signatures are read. Resolve:
connected components of the edges; in each, the document with the smallest `id` survives and the others are
rejected as `near_duplicate` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa

from curate import storage
from curate.ops.dedup.components import component_labels
from curate.ops.dedup.lsh import band_keys, detection_probability, optimal_bands_rows
from curate.ops.dedup.minhash import WORD, MinHasher, Scheme
from curate.ops.dedup.output import ASSIGNMENT_SCHEMA
from curate.ops.shuffle.files import (
    doc_numbers,
    group_bounds,
    read_key_range,
    split_doc_numbers,
    write_ranges,
)
from curate.ops.base import OperationContext
from curate.ops.dedup.operation import Deduplication, read_reduced
from curate.ops.shuffle.operation import ShuffleTask
from curate.tables import load_array, read_columns, read_table, save_array_atomic, scratch_file, write_parquet_atomic

EDGE_SCHEMA = pa.schema([pa.field("a", pa.uint64()), pa.field("b", pa.uint64())])


def signature_file(scratch: str, index: int) -> str:
    return scratch_file(storage.join(scratch, "signatures"), index, ".npy")


def load_signatures(scratch: str, docs: np.ndarray) -> dict[int, np.ndarray]:
    """The signatures of `docs` (document numbers), read from each partition's file through a memory map that is
    dropped after use: memory holds the candidates of one key range, not every partition's signatures."""
    partitions, rows = split_doc_numbers(docs)
    found: dict[int, np.ndarray] = {}
    for partition in np.unique(partitions).tolist():
        here = partitions == partition
        path = signature_file(scratch, partition)
        # A local file is memory-mapped (only the candidates' rows are read); an object is fetched whole.
        mapped = load_array(path) if storage.is_uri(path) else np.load(path, mmap_mode="r")
        found.update(zip(docs[here].tolist(), np.array(mapped[rows[here]])))
        del mapped
    return found


def verified_edges(members: np.ndarray, signatures: dict[int, np.ndarray], threshold: float
                   ) -> list[tuple[int, int]]:
    """Edges joining each candidate to the first earlier group representative it resembles (estimated Jaccard >=
    threshold); a candidate that resembles none becomes a representative. Comparisons: members x representatives,
    not all pairs.

    Example: members [d1, d2, d3] where only d3 ~ d1 -> [(d1, d3)]; d2 becomes a second representative
    """
    representatives: list[tuple[int, np.ndarray]] = []
    edges = []
    for doc in members.tolist():
        signature = signatures[doc]
        match = next((rep for rep, rep_sig in representatives if np.mean(rep_sig == signature) >= threshold), None)
        if match is None:
            representatives.append((doc, signature))
        else:
            edges.append((match, doc))
    return edges


@dataclass
class MinHashDedup(Deduplication):
    """Remove near-duplicates from node `input`. `bands` x `rows` defaults to FineWeb's 14 x 8; set both to null to
    take datasketch's optimal parameters for `threshold` and `num_perm`."""

    name: ClassVar[str] = "minhash_dedup"
    reason: ClassVar[str] = "near_duplicate"

    ngram: int = 5
    num_perm: int = 112
    seed: int = 1
    scheme: Scheme = "affine32"
    bands: int | None = 14
    rows: int | None = 8
    threshold: float = 0.8
    verify: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        MinHasher(self.num_perm, self.seed, self.scheme)  # checks num_perm and scheme
        if self.ngram < 1:
            raise ValueError(f"ngram must be a positive integer, got {self.ngram}")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {self.threshold}")
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither (to derive them from threshold)")
        if self.bands is None:
            self.bands, self.rows = optimal_bands_rows(self.threshold, self.num_perm)
        bands, rows = self.shape()
        if bands < 1 or rows < 1 or bands * rows > self.num_perm:
            raise ValueError(f"bands x rows ({bands} x {rows}) must be positive and at most num_perm "
                             f"({self.num_perm})")

    def shape(self) -> tuple[int, int]:
        """(bands, rows): given, or derived from the threshold in __post_init__."""
        assert self.bands is not None and self.rows is not None
        return self.bands, self.rows

    def records_per_document(self) -> int:
        return self.shape()[0]

    def signature_path(self, scratch: str, index: int) -> str:
        return signature_file(scratch, index)

    def map_partition(self, task: ShuffleTask) -> int:
        texts = read_columns(task.input_path, ["text"]).column(0).to_pylist()
        texts = [text or "" for text in texts]
        signatures = MinHasher(self.num_perm, self.seed, self.scheme).text_signatures(texts, self.ngram)
        save_array_atomic(signature_file(task.scratch, task.index), signatures)
        # A text without a word has the empty signature (every slot at its maximum), which all such texts share:
        # it gets no band keys, so it is nobody's near-duplicate.
        has_shingles = np.array([WORD.search(t) is not None for t in texts], dtype=bool)
        bands, rows = self.shape()
        keys = band_keys(signatures[has_shingles], bands, rows)
        docs = np.repeat(doc_numbers(task.index, len(texts))[has_shingles], bands)
        records = pa.table({"key": pa.array(keys.reshape(-1), pa.uint64()), "doc": pa.array(docs, pa.uint64())})
        write_ranges(records, (keys.reshape(-1) % np.uint64(task.ranges)).astype(np.int64), task.ranges,
                     task.shuffle_dir, task.index)
        return len(texts)

    def reduce_range(self, task: ShuffleTask) -> int:
        records = read_key_range(task.shuffle_dir, task.index, task.partitions)
        edges: list[tuple[int, int]] = []
        if records.num_rows:
            records = records.sort_by([("key", "ascending"), ("doc", "ascending")])
            bounds = group_bounds(records.column("key"))
            docs = records.column("doc").to_numpy()
            groups = [(start, end) for start, end in zip(bounds[:-1].tolist(), bounds[1:].tolist()) if end - start > 1]
            if self.verify and groups:
                candidates = np.unique(np.concatenate([docs[start:end] for start, end in groups]))
                signatures = load_signatures(task.scratch, candidates)
            for start, end in groups:
                members = docs[start:end]
                if self.verify:
                    edges += verified_edges(members, signatures, self.threshold)
                else:
                    edges += [(int(members[0]), int(m)) for m in members[1:].tolist()]
        pairs = np.array(edges, dtype=np.uint64).reshape(-1, 2)
        write_parquet_atomic(pa.table({"a": pairs[:, 0], "b": pairs[:, 1]}, schema=EDGE_SCHEMA), task.reduced_path)
        return records.num_rows

    def resolve(self, scratch: str, inputs: list[str], context: OperationContext) -> pa.Table:
        edges = read_reduced(scratch, EDGE_SCHEMA)
        pairs = np.stack([edges.column("a").to_numpy(), edges.column("b").to_numpy()], axis=1)
        nodes, labels = component_labels(pairs)
        if len(nodes) == 0:
            context.log(f"node {context.node}: no near-duplicates")
            return ASSIGNMENT_SCHEMA.empty_table()
        partition_of, row_of = split_doc_numbers(nodes)
        ids = np.empty(len(nodes), dtype=object)
        for partition in np.unique(partition_of).tolist():  # one partition's id column at a time
            here = partition_of == partition
            column = read_table(inputs[partition], columns=["id"]).column(0)
            ids[here] = column.take(pa.array(row_of[here])).to_pylist()
        order = np.lexsort((nodes, np.array(ids, dtype=str), labels))  # by component, then id, then document number
        sorted_labels = labels[order]
        starts = np.flatnonzero(np.concatenate(([True], sorted_labels[1:] != sorted_labels[:-1])))
        sizes = np.diff(np.append(starts, len(order)))
        survivor = np.repeat(order[starts], sizes)  # for each sorted position, its component's survivor
        detection = float(detection_probability(self.threshold, *self.shape()))
        context.log(f"node {context.node}: {len(np.unique(pairs, axis=0))} duplicate edges, {len(starts)} clusters "
                    f"of {len(nodes)} documents ({self.bands} bands x {self.rows} rows find a pair at Jaccard "
                    f"{self.threshold} with probability {detection:.2f})")
        return pa.table({
            "doc": pa.array(nodes[order], pa.uint64()),
            "dup_cluster": pa.array(ids[survivor].tolist(), pa.string()),
            "dup_cluster_size": pa.array(np.repeat(sizes, sizes), pa.int32()),
            "duplicate": pa.array(order != survivor),
        }, schema=ASSIGNMENT_SCHEMA)
