"""What `curate inspect` reports, gathered into one JSON-ready dict from a workdir, a node's folder or a shard folder.

Sections: per node, the funnel (documents, bytes and tokens in and out, rejections and failures by stage and reason,
wall and CPU time, throughput per core); distributions of the signal columns present; top domains; a few sample
documents kept and rejected per reason; and for token shards, their statistics and the manifest check.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import storage
from curate.commit import read_json
from curate.layout import COMMIT_FILE, PARTITIONS_DIR, STATE_ROOT, NodeLayout, node_layout_of
from curate.ops.train_bpe import load_tokenizer_file
from curate.partition import read_table
from curate.shards import load_manifest, shard_tokenizer_path, verify
from curate.stats import StageStats, merge_stage_lists

# Columns stages add (../shared/DESIGN.md, data model), shown as distributions when present; `length` is derived.
NUMERIC_SIGNALS = ("length", "lang_score", "quality", "perplexity", "dsir_logw")
CATEGORICAL_SIGNALS = ("lang", "ppl_bucket")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
HISTOGRAM_BINS = 20
SAMPLES_PER_REASON = 3
SAMPLE_CHARS = 300
TOP_REMOVED_LINES = 20


def numeric_summary(values: np.ndarray, *, log_scale: bool = False) -> dict[str, Any]:
    """Count, mean, quantiles and a histogram of `values` (log10-spaced bins when asked and all positive).

    Example: numeric_summary(np.array([1., 2., 3., 4.]))["quantiles"]["0.5"] -> 2.5
    """
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return {"count": 0}
    log_scale = log_scale and bool(values.min() > 0)
    edges = (np.logspace(np.log10(values.min()), np.log10(values.max()), HISTOGRAM_BINS + 1) if log_scale
             else np.linspace(values.min(), values.max(), HISTOGRAM_BINS + 1))
    edges[0], edges[-1] = values.min(), values.max()  # exact, so rounding in logspace loses no value
    counts, _ = np.histogram(values, bins=edges)
    return {
        "count": int(len(values)),
        "mean": float(values.mean()),
        "quantiles": {str(q): float(np.quantile(values, q)) for q in QUANTILES},
        "histogram": {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts], "log": log_scale},
    }


def _domain(url: str | None) -> str | None:
    """Example: _domain("https://www.Example.org/a?b") -> "example.org"."""
    if not url:
        return None
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.") or None


def _sample(row: dict[str, Any]) -> dict[str, Any]:
    text = row.get("text") or ""
    return {"id": row.get("id"), "url": row.get("url"),
            "text": text[:SAMPLE_CHARS] + ("…" if len(text) > SAMPLE_CHARS else "")}


def _parts(folder: str) -> list[str]:
    return [storage.join(folder, name) for name in storage.list_files(folder)
            if name.startswith("part-") and name.endswith(".parquet") and "/" not in name]


def documents_section(layout: NodeLayout) -> dict[str, Any]:
    """Signals, domains, text bytes and samples of a node of documents (its kept and rejected Parquet files)."""
    numeric: dict[str, list[np.ndarray]] = {}
    categorical: dict[str, Counter[str]] = {}
    domains: Counter[str] = Counter()
    text_bytes = 0
    kept_samples: list[dict[str, Any]] = []
    for path in _parts(layout.data):
        table = read_table(path)
        names = table.column_names
        if "text" in names:
            text = table.column("text")
            text_bytes += int(pc.sum(pc.binary_length(text.cast(pa.binary()))).as_py() or 0)
            numeric.setdefault("length", []).append(pc.utf8_length(text).to_numpy(zero_copy_only=False))
        for column in NUMERIC_SIGNALS[1:]:
            if column in names:
                numeric.setdefault(column, []).append(table.column(column).to_numpy(zero_copy_only=False))
        for column in CATEGORICAL_SIGNALS:
            if column in names:
                categorical.setdefault(column, Counter()).update(str(v) for v in table.column(column).to_pylist())
        if "dup_cluster_size" in names:  # one kept survivor per cluster: how big its cluster was
            categorical.setdefault("dup_cluster_size", Counter()).update(
                str(n) for n in table.column("dup_cluster_size").to_pylist())
        if "url" in names:
            domains.update(d for d in map(_domain, table.column("url").to_pylist()) if d)
        if len(kept_samples) < SAMPLES_PER_REASON:
            kept_samples += [_sample(r) for r in table.slice(0, SAMPLES_PER_REASON - len(kept_samples)).to_pylist()]
    rejected: dict[str, list[dict[str, Any]]] = {}
    for path in _parts(layout.rejected):
        for row in read_table(path).to_pylist():
            bucket = rejected.setdefault(f"{row.get('reject_stage')}: {row.get('reject_reason')}", [])
            if len(bucket) < SAMPLES_PER_REASON:
                bucket.append({**_sample(row), "detail": row.get("reject_detail")})
    signals: dict[str, Any] = {
        name: numeric_summary(np.concatenate(parts).astype(np.float64), log_scale=name == "length")
        for name, parts in numeric.items()}
    signals.update({name: {"count": sum(c.values()), "top": c.most_common(15)} for name, c in categorical.items()})
    return {"text_bytes_out": text_bytes, "signals": signals, "top_domains": domains.most_common(15),
            "samples": {"kept": kept_samples, "rejected": rejected}}


def shards_section(shard_dir: str) -> dict[str, Any]:
    """Documents, tokens, tokens per document, bytes per token, vocabulary coverage and the manifest check."""
    try:
        manifest = load_manifest(shard_dir)
        problems = verify(shard_dir)
    except (OSError, ValueError) as error:
        return {"check": {"ok": False, "problems": [f"manifest: {error}"]}}
    tokenizer = load_tokenizer_file(shard_tokenizer_path(shard_dir, manifest))
    byte_lengths = np.array([len(t) for t in tokenizer.vocab] + [0] * len(tokenizer.specials), dtype=np.int64)
    counts = np.zeros(tokenizer.vocab_size, dtype=np.int64)
    lengths = []
    broken = {p.split(":")[0] for p in problems}
    for shard in manifest["shards"]:
        if shard["file"] in broken:
            continue  # statistics come from the shards that verified; the broken ones are listed below
        tokens = read_table(storage.join(shard_dir, shard["file"]), ["tokens"]).column(0)
        lengths.append(pc.list_value_length(tokens).to_numpy(zero_copy_only=False))
        counts += np.bincount(pc.list_flatten(tokens).to_numpy(zero_copy_only=False), minlength=len(counts))
    total = int(counts.sum())
    return {
        "documents": manifest["documents"], "tokens": manifest["tokens"], "vocab_size": manifest["vocab_size"],
        "dtype": manifest["dtype"], "tokenizer_hash": manifest["tokenizer_hash"], "shards": len(manifest["shards"]),
        "tokens_per_document": (numeric_summary(np.concatenate(lengths).astype(np.float64), log_scale=True)
                                if lengths else {}),
        "bytes_per_token": float(counts @ byte_lengths / max(1, total - counts[manifest["eot_id"]])),
        "vocab_coverage": float((counts > 0).sum() / manifest["vocab_size"]),
        "check": {"ok": not problems, "problems": problems},
    }


def node_report(layout: NodeLayout) -> dict[str, Any]:
    """Everything about one node's outputs."""
    success = read_json(layout.commit_record)
    records_dir = storage.join(layout.state, PARTITIONS_DIR)
    records = [r for r in (read_json(storage.join(records_dir, f)) for f in storage.list_files(records_dir)) if r]
    # A finished operation node (dsir, dedup) times its phases as a whole in its commit record, not per partition.
    per_partition = records and not (success or {}).get("operation")
    if per_partition:
        stages = merge_stage_lists([StageStats.from_json(s) for s in r["stages"]] for r in records)
    else:
        stages = [StageStats.from_json(s) for s in (success or {}).get("stages", [])]
    wall = sum(r["wall_s"] for r in records) if per_partition else (success or {}).get("wall_s", 0.0)
    cpu = sum(s.cpu_s for s in stages)
    report: dict[str, Any] = {
        "name": layout.node,
        "complete": success is not None,
        "operation": (success or {}).get("operation"),
        "partitions": len(records) or (success or {}).get("partitions", 0),
        "docs_in": stages[0].docs_in if stages else 0,
        "docs_out": sum(r["docs_out"] for r in records) if records else (success or {}).get("docs_out", 0),
        "rejected_out": sum(r["rejected_out"] for r in records) if records else 0,
        "bytes_in": stages[0].bytes_out if stages and stages[0].stage == "warc" else None,
        "wall_s": wall,
        "cpu_s": cpu,
        "stages": [s.to_json() for s in stages],
    }
    report["docs_per_cpu_second"] = report["docs_in"] / cpu if cpu else None
    removed: Counter[str] = Counter()  # repeated_lines: each partition's most frequent removed lines
    for record in records:
        removed.update({line: count for line, count in record.get("top_removed", [])})
    if removed:
        report["top_removed_lines"] = sorted(removed.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REMOVED_LINES]
    if storage.exists(layout.manifest):
        report["shards"] = shards_section(layout.data)
        report["tokens_out"] = report["shards"].get("tokens")
    elif _parts(layout.data):
        report.update(documents_section(layout))
    return report


def collect(path: str) -> dict[str, Any]:
    """The report for `path` (a local folder or a URI): a workdir (every node in it), or one node's folder (a node
    of documents, a shard folder)."""
    if not storage.exists(path):
        raise FileNotFoundError(f"{path}: no such folder")
    single = node_layout_of(path)
    if storage.exists(single.state):
        return {"path": storage.absolute(path), "kind": "node", "nodes": [node_report(single)]}
    state_root = storage.join(path, STATE_ROOT)
    names = sorted({f.split("/")[0] for f in storage.list_files(state_root)
                    if f.split("/")[1:2] in ([COMMIT_FILE], [PARTITIONS_DIR])})
    layouts = {name: NodeLayout(path, name) for name in names}
    # In the order they were committed, which is the pipeline's dependency order for a complete run (object
    # stores keep modification times in whole seconds, so the record's own time, not the file's).
    finished = {name: (read_json(layout.commit_record) or {}).get("committed_at", float("inf"))
                for name, layout in layouts.items()}
    nodes = [node_report(layouts[name]) for name in sorted(names, key=lambda n: (finished[n], n))]
    if not nodes:
        raise FileNotFoundError(f"{path}: neither a workdir nor a node's output folder")
    return {"path": storage.absolute(path), "kind": "workdir", "nodes": nodes}
