"""`curate inspect` in the terminal: the pipeline's funnel, then per node its stages, signals (kept and rejected
quantiles, thresholds), domains with removals, random samples and token shards; `--compare` puts two reports side
by side."""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from curate.options_diff import config_changes

# Piped output (CI logs, files) has no terminal width; rich would fall back to 80 columns and truncate the tables.
PIPED_WIDTH = 150


def number(value: float | int | None, digits: int = 1) -> str:
    """Example: number(1234) -> '1,234'; number(0.51234, 2) -> '0.51'; number(None) -> '-'"""
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.{digits}f}"


def _console(console: Console | None) -> Console:
    return console or Console(width=None if sys.stdout.isatty() else PIPED_WIDTH)


def funnel_table(report: dict[str, Any]) -> Table:
    table = Table(title="pipeline funnel", title_justify="left")
    for column in ("step", "count", "share of documents"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for step in report.get("funnel", []):
        share = f"{step['share']:.1%}" if "share" in step else ""
        table.add_row(escape(step["label"]), number(step["count"]) + (" tokens" if step.get("unit") else ""), share)
    return table


def _stages(node: dict[str, Any]) -> Table:
    table = Table(title=f"node {node['name']}" + ("" if node["complete"] else " (incomplete)"), title_justify="left")
    for column in ("stage", "in", "kept", "skipped", "rejected", "failed", "wall s", "cpu s", "top reasons"):
        table.add_column(column, justify="left" if column in ("stage", "top reasons") else "right")
    for stage in node["stages"]:
        reasons = {**stage["rejected"], **{f"{k} (failed)": v for k, v in stage["failed"].items()}}
        top = ", ".join(f"{k}={v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])[:3])
        table.add_row(escape(stage["stage"]), number(stage["docs_in"]), number(stage["kept"]),
                      number(sum(stage["skipped"].values())), number(sum(stage["rejected"].values())),
                      number(sum(stage["failed"].values())), number(stage["wall_s"]), number(stage["cpu_s"]),
                      escape(top))
    return table


def _signals(node: dict[str, Any]) -> Table:
    table = Table(title="signals (kept | rejected; from a 1,000-document random sample of each)", title_justify="left")
    for column in ("signal", "unit", "threshold", "kept p5", "p50", "p95", "rejected p5", "p50 ", "p95 "):
        table.add_column(column, justify="left" if column in ("signal", "unit", "threshold") else "right")
    for name, signal in node["signals"].items():
        cells = []
        for side in ("kept", "rejected"):
            q = signal[side].get("quantiles")
            cells += [number(q[k], 2) for k in ("0.05", "0.5", "0.95")] if q else ["-"] * 3
        cut = ", ".join(f"{t['kind']} {t['value']:g} ({t['step']})" for t in signal["thresholds"])
        table.add_row(escape(name), escape(signal["unit"]), escape(cut), *cells)
    for name, values in node.get("categorical", {}).items():
        kept = ", ".join(f"{k}={v}" for k, v in values["kept"][:5])
        table.add_row(escape(name), "", "", escape(kept), "", "", escape(", ".join(
            f"{k}={v}" for k, v in values["rejected"][:3])), "", "")
    return table


def _domains(node: dict[str, Any]) -> Table:
    table = Table(title="domains with the most documents", title_justify="left")
    for column in ("domain", "kept", "removed", "removed share"):
        table.add_column(column, justify="left" if column == "domain" else "right")
    for name, kept, removed in node["domains"][:10]:
        table.add_row(escape(name), number(kept), number(removed), f"{removed / max(1, kept + removed):.0%}")
    return table


def _shards(shards: dict[str, Any]) -> Table:
    table = Table(title="token shards", title_justify="left", show_header=False)
    check = shards["check"]
    status = "ok" if check["ok"] else "[red]FAILED[/red]: " + escape("; ".join(check["problems"]))
    table.add_row("manifest check" + (" (checksums)" if check.get("full") else " (sizes and footers)"), status)
    if "documents" in shards:
        table.add_row("documents / tokens / shards",
                      f"{shards['documents']:,} / {shards['tokens']:,} / {shards['shards']}")
        per_doc = shards.get("tokens_per_document") or {}
        if per_doc.get("quantiles"):
            table.add_row("tokens per document (p5, p50, p95)",
                          ", ".join(number(per_doc["quantiles"][k], 0) for k in ("0.05", "0.5", "0.95")))
        if "bytes_per_token" in shards:
            table.add_row("bytes per token", number(shards["bytes_per_token"], 3))
            table.add_row("vocabulary coverage", f"{shards['vocab_coverage']:.1%} of {shards['vocab_size']:,}")
        table.add_row("dtype, tokenizer", f"{shards['dtype']}, {shards['tokenizer_hash']}")
    return table


def run_line(report: dict[str, Any]) -> str:
    run = report.get("run") or {}
    when = run.get("committed")
    dates = " to ".join(time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) for t in when) if when else "-"
    return (f"pipeline {run.get('pipeline', '-')}, curate {run.get('curate', '-')}, python {run.get('python', '-')}, "
            f"pyarrow {run.get('pyarrow', '-')}; committed {dates}")


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    console = _console(console)
    console.print(f"[bold]curate inspect[/bold] {escape(report['path'])}")
    console.print(escape(run_line(report)))
    if len(report.get("funnel", [])) > 1:
        console.print(funnel_table(report))
    for node in report["nodes"]:
        console.print(_stages(node))
        summary = (f"  documents in {node['docs_in']:,}, out {node['docs_out']:,}, rejected {node['rejected_out']:,}"
                   f"; wall {node['wall_s']:.1f} s, cpu {node['cpu_s']:.1f} s")
        if node.get("docs_per_cpu_second"):
            summary += f", {node['docs_per_cpu_second']:,.0f} docs/s per core"
        if node.get("peak_rss_mib"):
            summary += f", peak worker memory {node['peak_rss_mib']:,.0f} MiB"
        if len(node.get("hosts") or {}) > 1:
            summary += "; partitions computed on " + ", ".join(f"{host} ({n})" for host, n in node["hosts"].items())
        if node.get("text_bytes_out"):
            summary += f"; text out {node['text_bytes_out'] / 1e6:,.2f} MB"
        console.print(summary)
        if node.get("signals"):
            console.print(_signals(node))
        if node.get("domains"):
            console.print(_domains(node))
        for name in ("top_removed_lines", "contaminated_items"):
            if node.get(name):
                console.print(f"  {name.replace('_', ' ')}: " + "; ".join(
                    f"{escape(repr(item[:60]))} ({count})" for item, count in node[name][:8]))
        if node.get("shards"):
            console.print(_shards(node["shards"]))
        for reason, samples in (node.get("samples") or {}).get("rejected", {}).items():
            first = samples[0]
            example = escape(repr((first["text"] or first.get("detail") or "")[:120]))
            console.print(f"  rejected {escape('[' + reason + ']')} e.g. {escape(str(first['url'] or first['id']))}: "
                          f"{example}")


def print_comparison(first: dict[str, Any], second: dict[str, Any], console: Console | None = None) -> None:
    """Two runs (or two nodes) side by side: each node's documents and tokens, the options that differ between
    their configs, then each shared signal's quantiles, kept in A against kept in B."""
    console = _console(console)
    console.print(f"[bold]curate inspect --compare[/bold]\n  A {escape(first['path'])}\n  B {escape(second['path'])}")
    by_name = [{n["name"]: n for n in report["nodes"]} for report in (first, second)]
    names = list(dict.fromkeys([*by_name[0], *by_name[1]]))
    if len(first["nodes"]) == len(second["nodes"]) == 1:  # two nodes: compare them whatever their names
        names, by_name = ["A vs B"], [{"A vs B": first["nodes"][0]}, {"A vs B": second["nodes"][0]}]
    table = Table(title="documents (tokens for token shards)", title_justify="left")
    for column in ("node", "A in", "A out", "B in", "B out", "out B / A"):
        table.add_column(column, justify="left" if column == "node" else "right")
    for name in names:
        a, b = by_name[0].get(name), by_name[1].get(name)
        out = [(n.get("tokens_out") or n["docs_out"]) if n else None for n in (a, b)]
        ratio = f"{out[1] / out[0]:.2f}x" if out[0] and out[1] is not None else "-"
        table.add_row(escape(name), number(a["docs_in"] if a else None), number(out[0]),
                      number(b["docs_in"] if b else None), number(out[1]), ratio)
    console.print(table)
    changes = [(name, change) for name in names if by_name[0].get(name) and by_name[1].get(name)
               for change in config_changes(by_name[0][name].get("config") or {}, by_name[1][name].get("config") or {})]
    if changes:
        options = Table(title="options that differ (A -> B)", title_justify="left")
        options.add_column("node")
        options.add_column("option: A -> B")
        for name, change in changes:
            options.add_row(escape(name), escape(change))
        console.print(options)
    shifts = Table(title="signal shifts (kept documents: A -> B)", title_justify="left")
    for column in ("node", "signal", "p5", "p50", "p95", "mean"):
        shifts.add_column(column, justify="left" if column in ("node", "signal") else "right")
    for name in names:
        a, b = by_name[0].get(name), by_name[1].get(name)
        if not (a and b):
            continue
        for signal in [s for s in a.get("signals", {}) if s in b.get("signals", {})]:
            qa, qb = a["signals"][signal]["kept"].get("quantiles"), b["signals"][signal]["kept"].get("quantiles")
            if not (qa and qb):
                continue
            cells = [f"{number(qa[k], 2)} -> {number(qb[k], 2)}" for k in ("0.05", "0.5", "0.95")]
            cells.append(f"{number(a['signals'][signal]['kept']['mean'], 2)} -> "
                         f"{number(b['signals'][signal]['kept']['mean'], 2)}")
            shifts.add_row(escape(name), escape(signal), *cells)
    console.print(shifts)
