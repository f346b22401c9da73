"""What `curate inspect` reports, gathered into one JSON-ready dict from a workdir or a node's folder.

It reads commit records only, never the data: each node's commit holds its merged stage counts and a summary
gathered while its partitions were written (curate/sketch.py), a tokenize node's state its token statistics. So
inspecting a terabyte node reads kilobytes (bench/inspect_scale.py). A node still running, or killed, has no commit:
its committed partitions' records are merged instead.

Sections: the whole pipeline's funnel (records, documents, each node's output, tokens, with shares); per node, the
stage funnel, time and throughput; per signal, kept and rejected distributions on the same bins with the threshold
that split them; the domains with the most documents and what was removed from each; random samples of kept
documents and of each rejection reason; token shard statistics and the manifest check; run details.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from curate import storage
from curate.commit import read_json
from curate.layout import COMMIT_FILE, PARTITIONS_DIR, STATE_ROOT, NodeLayout, node_layout_of
from curate.shards import load_tokenizer_file
from curate.shards import TOKEN_STATS, load_manifest, shard_tokenizer_path, verify
from curate.sketch import STAGE_COLUMN, empty_side, merge, merge_records
from curate.stats import StageStats, merge_stage_lists

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
HISTOGRAM_BINS = 30
TOP_DOMAINS = 20
# Units of the signal columns curate's steps write (../shared/DESIGN.md, data model); `length` is the text's.
UNITS = {"length": "characters", "lang_score": "probability", "quality": "probability", "perplexity": "perplexity",
         "dsir_logw": "log importance weight", "dup_cluster_size": "documents", "repeated_units_removed": "lines",
         "pii_emails": "addresses", "pii_ips": "addresses", "pii_phones": "numbers", "contamination_ngrams": "n-grams"}
LOG_SCALE = {"length", "perplexity"}
# (step, option) -> (signal, "min" or "max"): the option that set a threshold on a signal, drawn on its histogram.
THRESHOLDS = {("langid", "min_score"): ("lang_score", "min"), ("fasttext_quality", "min_score"): ("quality", "min"),
              ("min_length", "min_chars"): ("length", "min"), ("kenlm_perplexity", "max_perplexity"): ("perplexity",
                                                                                                       "max")}


def numeric_summary(values: np.ndarray, edges: np.ndarray, docs: int) -> dict[str, Any]:
    """Quantiles and a histogram of a sample of `values` on `edges`, scaled to the `docs` documents it samples. A
    document without the signal (NaN: rejected by a stage before the one that writes it) is in the sample and in no
    bin, so the bins count only the documents that have the signal.

    Example: numeric_summary(np.array([1., 2., 3., 4.]), np.array([0., 2., 4.]), 8)["histogram"]["counts"] -> [2, 6];
    numeric_summary(np.array([1., nan, nan, nan]), np.array([0., 2.]), 8) -> count 2, counts [2] (not 8).
    """
    scale = docs / max(len(values), 1)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return {"count": 0}
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
    return {"count": int(round(len(values) * scale)), "sampled": int(len(values)), "mean": float(values.mean()),
            "quantiles": {str(q): float(np.quantile(values, q)) for q in QUANTILES},
            "histogram": {"counts": [int(round(c * scale)) for c in counts]}}


def shared_edges(parts: list[np.ndarray], log_scale: bool) -> np.ndarray | None:
    """Bins covering the kept and the rejected values together, so their histograms line up."""
    values = np.concatenate([p[np.isfinite(p)] for p in parts]) if parts else np.zeros(0)
    if len(values) == 0:
        return None
    low, high = float(values.min()), float(values.max())
    if high == low:
        high = low + 1.0
    if log_scale and low > 0:
        return np.logspace(np.log10(low), np.log10(high), HISTOGRAM_BINS + 1)
    return np.linspace(low, high, HISTOGRAM_BINS + 1)


def by_stage(values: np.ndarray, stages: np.ndarray, edges: np.ndarray, docs: int) -> dict[str, Any]:
    """The rejected documents' histogram of one signal split by the stage that rejected them, in pipeline order of
    first appearance in the sample: each stage's share of the `docs` rejected documents is its share of the sample.

    Example: by_stage(np.array([1., 3.]), np.array(["c4", "gopher"], dtype=object), np.array([0., 2., 4.]), 10)
    -> {"c4": {... "histogram": {"counts": [5, 0]}}, "gopher": {... "counts": [0, 5]}}"""
    found = {}
    for stage in dict.fromkeys(s for s in stages.tolist() if s is not None):
        mask = stages == stage
        summary = numeric_summary(values[mask], edges, round(docs * mask.sum() / len(stages)))
        if summary.get("histogram"):
            found[str(stage)] = summary
    return found


def _sample_values(side: dict[str, Any], column: str) -> np.ndarray:
    raw = side["sample"]["values"].get(column, [])
    return np.array([np.nan if v is None else float(v) for v in raw], dtype=np.float64)


def thresholds(config: dict[str, Any] | None, workdir: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """The thresholds a node's steps set, by signal. Example: {"lang_score": [{"step": "langid", "kind": "min",
    "value": 0.65}]}. With the run's `workdir`, also the cuts its model nodes decided at run time (model_cuts)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for name, options in (config or {}).get("steps", []):
        for (step, option), (signal, kind) in THRESHOLDS.items():
            if name == step and options.get(option) is not None:
                found.setdefault(signal, []).append({"step": step, "kind": kind, "value": options[option]})
        if name == "where":
            for kind in ("min", "max"):
                if options.get(kind) is not None:
                    found.setdefault(options["column"], []).append({"step": "where", "kind": kind,
                                                                    "value": options[kind]})
        if workdir is not None:
            for signal, cut in model_cuts(name, options, workdir):
                found.setdefault(signal, []).append(cut)
    return found


def model_cuts(step: str, options: dict[str, Any], workdir: str) -> list[tuple[str, dict[str, Any]]]:
    """The cuts a step took from its model node's files at run time, as (signal, threshold): fasttext_quality's raw
    score at `min_quantile` ("min 0.0036 (fasttext_quality, quantile 0.02)"), kenlm_perplexity's head and tail
    bucket cut-offs ("head 660", "tail 3300"; a rejection only for the buckets it does not keep). The model file is
    looked up in this workdir (the record names the path the run used, which a moved workdir no longer has); none
    when it is gone."""
    from curate.stages.perplexity import KenLMPerplexity
    from curate.stages.quality import FastTextQuality

    if step not in ("fasttext_quality", "kenlm_perplexity") or not options.get("model"):
        return []
    model = options["model"]
    moved = {**options, "model": storage.join(workdir, storage.basename(storage.dirname(model)),
                                              storage.basename(model))}
    try:
        if step == "fasttext_quality":
            if options.get("min_quantile") is None:
                return []  # a min_score is drawn from the options (THRESHOLDS)
            cut = FastTextQuality(**moved).threshold()
            return [("quality", {"step": f"fasttext_quality, quantile {options['min_quantile']:g}", "kind": "min",
                                 "value": cut})]
        head, tail = KenLMPerplexity(**moved).cutoffs()
    except (OSError, ValueError, KeyError):
        return []
    return [("perplexity", {"step": "kenlm_perplexity", "kind": "head", "value": head}),
            ("perplexity", {"step": "kenlm_perplexity", "kind": "tail", "value": tail})]


def documents_section(summary: dict[str, Any], config: dict[str, Any] | None,
                      workdir: str | None = None) -> dict[str, Any]:
    """Signals (kept and rejected), domains and samples of a node of documents, from its summary."""
    kept, rejected = summary.get("kept") or empty_side(), summary.get("rejected") or empty_side()
    cuts = thresholds(config, workdir)
    signals: dict[str, Any] = {}
    stages = np.array(rejected["sample"]["values"].get(STAGE_COLUMN, []), dtype=object)
    for column in dict.fromkeys([*kept["sample"]["values"], *rejected["sample"]["values"]]):
        if column == STAGE_COLUMN:
            continue
        parts = {"kept": _sample_values(kept, column), "rejected": _sample_values(rejected, column)}
        edges = shared_edges(list(parts.values()), column in LOG_SCALE)
        if edges is None:
            continue
        signals[column] = {
            "unit": UNITS.get(column, ""), "log": column in LOG_SCALE and bool(edges[0] > 0),
            "edges": [float(e) for e in edges], "thresholds": cuts.get(column, []),
            **{side: numeric_summary(values, edges, (kept if side == "kept" else rejected)["docs"])
               for side, values in parts.items()}}
        if len(stages) == len(parts["rejected"]) and len(stages):
            signals[column]["rejected_by_stage"] = by_stage(parts["rejected"], stages, edges, rejected["docs"])
    categorical = {name: {"kept": sorted(kept["categorical"].get(name, {}).items(), key=lambda kv: -kv[1])[:15],
                          "rejected": sorted(rejected["categorical"].get(name, {}).items(), key=lambda kv: -kv[1])[:15]}
                   for name in dict.fromkeys([*kept["categorical"], *rejected["categorical"]])}
    domains = summary.get("domains", [])[:TOP_DOMAINS]
    samples = summary.get("samples", {})
    return {
        "text_bytes_out": kept["text_bytes"], "text_bytes_rejected": rejected["text_bytes"],
        "signals": signals, "categorical": categorical, "domains": domains,
        "samples": {"kept": [doc for _, doc in samples.get("kept", [])],
                    "rejected": {label: [doc for _, doc in rows] for label, rows in sorted(samples.items())
                                 if label != "kept"}},
    }


def shards_section(shard_dir: str, full_check: bool = False) -> dict[str, Any]:
    """Documents, tokens, tokens per document, bytes per token, vocabulary coverage and the manifest check (each
    shard's presence, size and footer; with `full_check`, every checksum and token count)."""
    try:
        manifest = load_manifest(shard_dir)
        problems = verify(shard_dir, full=full_check)
    except (OSError, ValueError) as error:
        return {"check": {"ok": False, "problems": [f"manifest: {error}"]}}
    section: dict[str, Any] = {
        "documents": manifest["documents"], "tokens": manifest["tokens"], "vocab_size": manifest["vocab_size"],
        "dtype": manifest["dtype"], "tokenizer_hash": manifest["tokenizer_hash"], "shards": len(manifest["shards"]),
        "check": {"ok": not problems, "problems": problems, "full": full_check}}
    stats = read_json(storage.join(node_layout_of(shard_dir).state, TOKEN_STATS))
    if stats:
        tokenizer = load_tokenizer_file(shard_tokenizer_path(shard_dir, manifest))
        byte_lengths = np.array([len(t) for t in tokenizer.vocab] + [0] * len(tokenizer.specials), dtype=np.int64)
        counts = np.array(stats["token_counts"], dtype=np.int64)
        lengths = np.array(stats["length_sample"]["values"]["tokens"], dtype=np.float64)
        edges = shared_edges([lengths], log_scale=True)
        section.update({
            "tokens_per_document": numeric_summary(lengths, edges, manifest["documents"]) if edges is not None else {},
            "tokens_per_document_edges": [float(e) for e in edges] if edges is not None else [],
            "bytes_per_token": float(counts @ byte_lengths[: len(counts)]
                                     / max(1, int(counts.sum()) - int(counts[manifest["eot_id"]]))),
            "vocab_coverage": float((counts > 0).sum() / manifest["vocab_size"])})
    return section


def _partition_records(layout: NodeLayout) -> list[dict[str, Any]]:
    folder = storage.join(layout.state, PARTITIONS_DIR)
    return [r for r in (read_json(storage.join(folder, f)) for f in storage.list_files(folder)) if r]


def node_report(layout: NodeLayout, full_check: bool = False) -> dict[str, Any]:
    """Everything about one node's outputs, from its commit record (or, uncommitted, its partitions' records)."""
    committed = read_json(layout.commit_record)
    records = [] if committed else _partition_records(layout)
    if committed:
        stages = [StageStats.from_json(s) for s in committed.get("stages", [])]
        summary = committed.get("summary")
    else:
        stages = merge_stage_lists([StageStats.from_json(s) for s in r["stages"]] for r in records)
        summary = merge(r["summary"] for r in records if r.get("summary")) if records else None
    cpu = sum(s.cpu_s for s in stages)
    report: dict[str, Any] = {
        "name": layout.node,
        "complete": committed is not None,
        "operation": (committed or {}).get("operation"),
        "partitions": len((committed or {}).get("partitions") or {}) or len(records),
        "docs_in": stages[0].docs_in if stages else 0,
        "docs_out": (committed or {}).get("docs_out", sum(r["docs_out"] for r in records)),
        "rejected_out": (committed or {}).get("rejected_out", sum(r["rejected_out"] for r in records)),
        "bytes_in": stages[0].bytes_out if stages and stages[0].stage == "warc" else None,
        "wall_s": (committed or {}).get("wall_s", sum(r.get("wall_s", 0.0) for r in records)),
        "cpu_s": cpu,
        "stages": [s.to_json() for s in stages],
        "committed_at": (committed or {}).get("committed_at"),
        "fingerprint": (committed or {}).get("fingerprint"),
        "config": (committed or {}).get("config"),
        "run": (committed or {}).get("run"),
    }
    report["docs_per_cpu_second"] = report["docs_in"] / cpu if cpu else None
    top_lists = (committed or {}).get("top_lists") or merge_records(records)["top_lists"]
    report["peak_rss_mib"] = (committed or {}).get("peak_rss_mib") or max(
        (r.get("peak_rss_mib", 0.0) for r in records), default=None)
    # where the partitions were computed (a cluster's nodes), from the partitions' records
    report["hosts"] = (committed or {}).get("hosts") or merge_records(records)["hosts"]
    report.update({name: items for name, items in top_lists.items() if items})
    if storage.exists(layout.manifest):
        report["shards"] = shards_section(layout.data, full_check)
        report["tokens_out"] = report["shards"].get("tokens")
    elif summary:
        report.update(documents_section(summary, report["config"], layout.workdir))
    return report


def pipeline_funnel(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records read -> documents -> each node's output -> tokens, with each step's share of the documents.

    Example: [{"label": "WARC records", "count": 692}, {"label": "documents", "count": 277, "share": 1.0},
              {"label": "text", "count": 248, "share": 0.895}, ...]"""
    funnel: list[dict[str, Any]] = []
    first = next((n for n in nodes if n["stages"] and n["stages"][0]["stage"] in ("warc", "jsonl")), None)
    base = None
    if first is not None:
        reader = first["stages"][0]
        funnel.append({"label": f"{reader['stage'].upper() if reader['stage'] == 'warc' else 'JSON Lines'} records",
                       "count": reader["docs_in"]})
        base = reader["docs_in"] - sum(reader["skipped"].values())
        funnel.append({"label": "documents", "count": base, "share": 1.0})
    for node in nodes:
        if node.get("shards"):
            funnel.append({"label": f"{node['name']} (tokens)", "count": node["shards"].get("tokens", 0),
                           "unit": "tokens"})
        elif "signals" in node or node["docs_out"]:
            entry = {"label": node["name"], "count": node["docs_out"]}
            if base:
                entry["share"] = node["docs_out"] / base
            funnel.append(entry)
    return funnel


def collect(path: str, full_check: bool = False) -> dict[str, Any]:
    """The report for `path` (a local folder or a URI): a workdir (every node in it), or one node's folder (a node
    of documents, a shard folder). `full_check`: read every shard to check its checksum and token count."""
    if not storage.exists(path):
        raise FileNotFoundError(f"{path}: no such folder")
    single = node_layout_of(path)
    if storage.exists(single.state):
        nodes = [node_report(single, full_check)]
        return {"path": storage.absolute(path), "kind": "node", "nodes": nodes, "funnel": pipeline_funnel(nodes),
                "run": nodes[0].get("run")}
    state_root = storage.join(path, STATE_ROOT)
    names = sorted({f.split("/")[0] for f in storage.list_files(state_root)
                    if f.split("/")[1:2] in ([COMMIT_FILE], [PARTITIONS_DIR])})
    layouts = {name: NodeLayout(path, name) for name in names}
    nodes = [node_report(layouts[name], full_check) for name in names]
    if not nodes:
        raise FileNotFoundError(f"{path}: neither a workdir nor a node's output folder")
    # In the order they were committed, which is the pipeline's dependency order for a complete run (object
    # stores keep modification times in whole seconds, so the record's own time, not the file's).
    nodes.sort(key=lambda n: (n["committed_at"] if n["committed_at"] is not None else float("inf"), n["name"]))
    runs = [n["run"] for n in nodes if n.get("run")]
    return {"path": storage.absolute(path), "kind": "workdir", "nodes": nodes, "funnel": pipeline_funnel(nodes),
            "run": {**(runs[-1] if runs else {}),
                    "committed": [min(n["committed_at"] for n in nodes if n["committed_at"]),
                                  max(n["committed_at"] for n in nodes if n["committed_at"])]
                    if any(n["committed_at"] for n in nodes) else None}}
