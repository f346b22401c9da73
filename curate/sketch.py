"""Mergeable summaries of a node's documents, gathered while a partition is written, so that `curate inspect` reads
kilobytes of JSON per node instead of the node's data (it read every row, raw HTML included: 35 MB/s, hours per TB).

One mechanism carries the samples: a bottom-k sketch. Every document gets a 64-bit key, a keyed BLAKE2b hash of its
id; a sketch keeps the k rows with the smallest keys. The union of two partitions' sketches, cut to the k smallest
keys again, is exactly the sketch of the two partitions together, so merging is exact, order-free and
deterministic, and the kept rows are a uniform random sample of the node (Cohen and Kaplan 2007, "Summarizing data
using bottom-k sketches"). Per partition, and for kept and rejected documents apart:

- `sample`: a bottom-k sample (k = SIGNAL_SAMPLE, stored by column) of every numeric column and the text length,
  from which the report draws histograms and quantiles (rank error about 1/sqrt(k), 3% at k = 1,000) with the same
  bins for kept and rejected; a rejected row's sample also holds its `reject_stage` (STAGE_COLUMN), so that the
  report splits the rejected histograms by the stage that rejected;
- `samples`: bottom-k documents (k = DOC_SAMPLE, text cut to SAMPLE_CHARS) of the kept ones and of each
  `stage: reason`, a random sample, not the first rows of the first file;
- exact counts: documents, text bytes, categorical signals (`lang`, `ppl_bucket`) and, per domain, documents kept
  and removed (each capped at its most frequent TOP_DOMAINS / TOP_VALUES values per partition, so the tail of a long
  domain list is approximate).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.compute as pc

SIGNAL_SAMPLE = 1_000
DOC_SAMPLE = 5
SAMPLE_CHARS = 300
TOP_DOMAINS = 1_000
TOP_VALUES = 200
CATEGORICAL_SIGNALS = ("lang", "ppl_bucket")
# Bookkeeping columns that are numbers but not signals.
NOT_SIGNALS = {"warc_offset", "reject_stage", "reject_reason", "reject_detail"}
SKETCH_KEY = b"curate-sketch"
STAGE_COLUMN = "reject_stage"  # in the rejected side's sample: the stage of each sampled row (a string)


def row_key(doc_id: str) -> int:
    """The bottom-k key of a document: the same for a document in every node it passes through."""
    return int.from_bytes(hashlib.blake2b(doc_id.encode(), digest_size=8, key=SKETCH_KEY).digest(), "big")


def domain(url: str | None) -> str | None:
    """Example: domain("https://www.Example.org/a?b") -> "example.org"."""
    if not url:
        return None
    return (urlsplit(url).hostname or "").lower().removeprefix("www.") or None


def _bottom(rows: list[list[Any]], k: int) -> list[list[Any]]:
    """The k rows with the smallest keys (a row's first item); ties cannot reorder: keys are unique per id."""
    return sorted(rows, key=lambda row: row[0])[:k]


def bottom_sample(first: dict[str, Any], second: dict[str, Any], k: int = SIGNAL_SAMPLE) -> dict[str, Any]:
    """The k smallest-key rows of two columnar samples ({"keys": [...], "values": {column: [...]}}); a column one
    side lacks is None in its rows."""
    columns = _union(list(first["values"]), list(second["values"]))
    rows = [(key, side, index) for side in (first, second) for index, key in enumerate(side["keys"])]
    rows.sort(key=lambda row: row[0])
    rows = rows[:k]
    return {"keys": [key for key, _, _ in rows],
            "values": {c: [side["values"].get(c, [None] * len(side["keys"]))[i] for _, side, i in rows]
                       for c in columns}}


def _top(counter: Counter[str], limit: int) -> dict[str, Any]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:limit])


def empty_side() -> dict[str, Any]:
    return {"docs": 0, "text_bytes": 0, "sample": {"keys": [], "values": {}}, "categorical": {}}


class SummaryBuilder:
    """Accumulates one partition's summary batch by batch (kept and rejected tables as a stage writes them)."""

    def __init__(self) -> None:
        self.sides = {"kept": empty_side(), "rejected": empty_side()}
        self.samples: dict[str, list[list[Any]]] = {}
        self.domains: Counter[str] = Counter()
        self.removed_domains: Counter[str] = Counter()

    def add(self, kept: pa.Table, rejected: pa.Table) -> None:
        self._add_side("kept", kept)
        self._add_side("rejected", rejected)

    def _add_side(self, side: str, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        summary = self.sides[side]
        summary["docs"] += table.num_rows
        ids = [str(i) for i in table.column("id").to_pylist()] if "id" in table.column_names else [
            str(n) for n in range(summary["docs"] - table.num_rows, summary["docs"])]
        keys = [row_key(i) for i in ids]
        names = table.column_names
        texts = table.column("text") if "text" in names else None
        if texts is not None:
            summary["text_bytes"] += int(pc.sum(pc.binary_length(texts.cast(pa.binary()))).as_py() or 0)
        columns = [c for c in names if c not in NOT_SIGNALS and (pa.types.is_integer(table.schema.field(c).type)
                                                                  or pa.types.is_floating(table.schema.field(c).type))]
        values = {c: table.column(c).to_pylist() for c in columns}
        if texts is not None:
            values["length"] = pc.utf8_length(texts).to_pylist()
        if side == "rejected" and STAGE_COLUMN in names:
            values[STAGE_COLUMN] = table.column(STAGE_COLUMN).to_pylist()
        summary["sample"] = bottom_sample(summary["sample"], {"keys": keys, "values": values}, SIGNAL_SAMPLE)
        for column in CATEGORICAL_SIGNALS:
            if column in names:
                counts = Counter(summary["categorical"].get(column, {}))
                counts.update(str(v) for v in table.column(column).to_pylist())
                summary["categorical"][column] = _top(counts, TOP_VALUES)
        urls = table.column("url").to_pylist() if "url" in names else [None] * table.num_rows
        (self.domains if side == "kept" else self.removed_domains).update(d for d in map(domain, urls) if d)
        labels = (["kept"] * table.num_rows if side == "kept" else
                  [f"{s}: {r}" for s, r in zip(table.column("reject_stage").to_pylist(),
                                                table.column("reject_reason").to_pylist())])
        details = table.column("reject_detail") if "reject_detail" in names else None
        for row, (key, label) in enumerate(zip(keys, labels)):
            bucket = self.samples.setdefault(label, [])
            if len(bucket) < DOC_SAMPLE or key < bucket[-1][0]:  # only a sampled row's text is converted
                text = texts[row].as_py() if texts is not None else None
                document = {"id": ids[row], "url": urls[row], "text": _cut(text or "")}
                if details is not None and details[row].as_py():
                    document["detail"] = details[row].as_py()
                self.samples[label] = _bottom(bucket + [[key, document]], DOC_SAMPLE)

    def to_json(self) -> dict[str, Any]:
        domains = Counter(self.domains) + Counter(self.removed_domains)
        top = _top(domains, TOP_DOMAINS)
        return {"kept": self.sides["kept"], "rejected": self.sides["rejected"], "samples": self.samples,
                "domains": [[d, self.domains[d], self.removed_domains[d]] for d in top]}


def _cut(text: str) -> str:
    return text[:SAMPLE_CHARS] + ("…" if len(text) > SAMPLE_CHARS else "")


def _union(first: list[str], second: list[str]) -> list[str]:
    return first + [c for c in second if c not in first]


# Lists an operation's partitions report, merged into the node's commit: repeated_lines' most frequent removed
# lines, decontaminate's benchmark items found.
TOP_LISTS = {"top_removed": "top_removed_lines", "contaminated_items": "contaminated_items"}
TOP_LIST_LENGTH = 20


def merge_records(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """What a node's commit keeps of its partition commit records, read one at a time: the merged `summary`, the
    node-wide `top_lists`, the largest `peak_rss_mib` a partition's worker reached, and the partitions each host
    computed (`hosts`)."""
    counters: dict[str, Counter[str]] = {name: Counter() for name in TOP_LISTS.values()}
    peak = [0.0]
    hosts: Counter[str] = Counter()

    def summaries() -> Iterator[dict[str, Any]]:
        for record in records:
            peak[0] = max(peak[0], record.get("peak_rss_mib", 0.0))
            if record.get("host"):
                hosts[record["host"]] += 1
            for key, name in TOP_LISTS.items():
                counters[name].update({item: count for item, count in record.get(key, [])})
            if record.get("summary"):
                yield record["summary"]

    merged = merge(summaries())
    top = {name: [[item, count] for item, count in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_LIST_LENGTH]]
           for name, c in counters.items() if c}
    return {"summary": merged, "top_lists": top, "peak_rss_mib": peak[0] or None, "hosts": dict(sorted(hosts.items()))}


def merge(summaries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The summary of the union of the partitions `summaries` describe (exact for counts and samples), taking them
    one at a time: memory holds the merged summary and one partition's, however many partitions there are."""
    merged: dict[str, Any] = {"kept": empty_side(), "rejected": empty_side(), "samples": {}, "domains": []}
    domains: dict[str, list[int]] = {}
    for summary in summaries:
        for side in ("kept", "rejected"):
            into, part = merged[side], summary.get(side) or empty_side()
            into["docs"] += part["docs"]
            into["text_bytes"] += part["text_bytes"]
            into["sample"] = bottom_sample(into["sample"], part["sample"], SIGNAL_SAMPLE)
            for column, counts in part["categorical"].items():
                into["categorical"][column] = _top(Counter(into["categorical"].get(column, {})) + Counter(counts),
                                                   TOP_VALUES)
        for label, rows in summary.get("samples", {}).items():
            merged["samples"][label] = _bottom(merged["samples"].get(label, []) + rows, DOC_SAMPLE)
        for name, kept, removed in summary.get("domains", []):
            counts = domains.setdefault(name, [0, 0])
            counts[0] += kept
            counts[1] += removed
    ranked = sorted(domains.items(), key=lambda kv: (-(kv[1][0] + kv[1][1]), kv[0]))[:TOP_DOMAINS]
    merged["domains"] = [[name, kept, removed] for name, (kept, removed) in ranked]  # a list: JSON keeps its order
    return merged
