"""`curate inspect` in the terminal: rich tables for the funnel, the signals, domains, samples and token shards."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

# Piped output (CI logs, files) has no terminal width; rich would fall back to 80 columns and truncate the tables.
PIPED_WIDTH = 150


def _number(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.{digits}f}"


def _funnel(node: dict[str, Any]) -> Table:
    table = Table(title=f"node {node['name']}" + ("" if node["complete"] else " (incomplete)"), title_justify="left")
    for column in ("stage", "in", "kept", "skipped", "rejected", "failed", "wall s", "cpu s", "top reasons"):
        table.add_column(column, justify="left" if column in ("stage", "top reasons") else "right")
    for stage in node["stages"]:
        reasons = {**stage["rejected"], **{f"{k} (failed)": v for k, v in stage["failed"].items()}}
        top = ", ".join(f"{k}={v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])[:3])
        table.add_row(escape(stage["stage"]), _number(stage["docs_in"]), _number(stage["kept"]),
                      _number(sum(stage["skipped"].values())), _number(sum(stage["rejected"].values())),
                      _number(sum(stage["failed"].values())), _number(stage["wall_s"]), _number(stage["cpu_s"]),
                      escape(top))
    return table


def _signals(node: dict[str, Any]) -> Table:
    table = Table(title="signals", title_justify="left")
    for column in ("column", "count", "mean", "p5", "p25", "p50", "p75", "p95 / top values"):
        table.add_column(column, justify="left" if column in ("column", "p95 / top values") else "right")
    for name, summary in node["signals"].items():
        if "top" in summary:
            top = ", ".join(f"{k}={v}" for k, v in summary["top"][:6])
            table.add_row(name, _number(summary["count"]), "", "", "", "", "", escape(top))
        elif summary["count"]:
            q = summary["quantiles"]
            table.add_row(name, _number(summary["count"]), _number(summary["mean"], 2),
                          *(_number(q[k], 2) for k in ("0.05", "0.25", "0.5", "0.75", "0.95")))
    return table


def _shards(shards: dict[str, Any]) -> Table:
    table = Table(title="token shards", title_justify="left", show_header=False)
    check = shards["check"]
    status = "ok" if check["ok"] else "[red]FAILED[/red]: " + escape("; ".join(check["problems"]))
    table.add_row("manifest check", status)
    if "documents" in shards:
        per_doc = shards["tokens_per_document"]
        table.add_row("documents / tokens / shards",
                      f"{shards['documents']:,} / {shards['tokens']:,} / {shards['shards']}")
        table.add_row("tokens per document (p5, p50, p95)",
                      ", ".join(_number(per_doc["quantiles"][k], 0) for k in ("0.05", "0.5", "0.95")))
        table.add_row("bytes per token", _number(shards["bytes_per_token"], 3))
        table.add_row("vocabulary coverage", f"{shards['vocab_coverage']:.1%} of {shards['vocab_size']:,}")
        table.add_row("dtype, tokenizer", f"{shards['dtype']}, {shards['tokenizer_hash']}")
    return table


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console(width=None if sys.stdout.isatty() else PIPED_WIDTH)
    console.print(f"[bold]curate inspect[/bold] {escape(report['path'])}")
    for node in report["nodes"]:
        console.print()
        console.print(_funnel(node))
        summary = (f"  documents in {node['docs_in']:,}, out {node['docs_out']:,}, rejected {node['rejected_out']:,}"
                   f"; wall {node['wall_s']:.1f} s, cpu {node['cpu_s']:.1f} s")
        if node.get("docs_per_cpu_second"):
            summary += f"; {node['docs_per_cpu_second']:,.1f} docs/s per core"
        if node.get("bytes_in"):
            summary += f"; bytes in {node['bytes_in']:,}"
        if node.get("text_bytes_out") is not None:
            summary += f", text bytes out {node['text_bytes_out']:,}"
        if node.get("tokens_out"):
            summary += f"; tokens out {node['tokens_out']:,}"
        console.print(summary)
        if node.get("signals"):
            console.print(_signals(node))
        if node.get("top_domains"):
            console.print("  top domains: " + ", ".join(f"{d} ({n})" for d, n in node["top_domains"][:8]))
        if node.get("top_removed_lines"):
            console.print("  top removed lines: " + "; ".join(
                f"{escape(repr(line[:60]))} ({n})" for line, n in node["top_removed_lines"][:8]))
        if node.get("shards"):
            console.print(_shards(node["shards"]))
        for reason, samples in (node.get("samples") or {}).get("rejected", {}).items():
            first = samples[0]
            example = escape(repr((first["text"] or first.get("detail") or "")[:120]))
            console.print(f"  rejected {escape('[' + reason + ']')} e.g. {escape(str(first['url'] or first['id']))}: "
                          f"{example}")
