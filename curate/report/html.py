"""`curate inspect --html`: one self-contained page (inline CSS and SVG, no scripts, nothing fetched) of the report."""

from __future__ import annotations

from html import escape
from typing import Any

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;margin-top:2em}h3{font-size:15px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.ok{color:#1a7f37}.bad{color:#c62828;font-weight:bold}
.plots{display:flex;flex-wrap:wrap;gap:16px}.sample{font-size:12px;color:#444;max-width:1000px}
svg text{font:11px system-ui,sans-serif;fill:#333}
"""
BAR = "#3b7dd8"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else escape(str(value))


def svg_histogram(title: str, summary: dict[str, Any], width: int = 420, height: int = 180) -> str:
    """Bars of a numeric_summary histogram, with the axis range and the median marked."""
    counts, edges = summary["histogram"]["counts"], summary["histogram"]["edges"]
    top, left, bottom = max(counts) or 1, 40, 30
    bar_width = (width - left - 10) / len(counts)
    bars = "".join(
        f'<rect x="{left + i * bar_width:.1f}" y="{height - bottom - (c / top) * (height - bottom - 20):.1f}" '
        f'width="{bar_width - 1:.1f}" height="{(c / top) * (height - bottom - 20):.1f}" fill="{BAR}">'
        f"<title>{edges[i]:.3g} to {edges[i + 1]:.3g}: {c}</title></rect>" for i, c in enumerate(counts))
    scale = " (log bins)" if summary["histogram"].get("log") else ""
    return (f'<svg width="{width}" height="{height}" role="img" aria-label="{escape(title)}">'
            f'<text x="{left}" y="12">{escape(title)}{scale}: n={summary["count"]:,}, '
            f'median {summary["quantiles"]["0.5"]:.3g}</text>{bars}'
            f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#888"/>'
            f'<text x="{left}" y="{height - 12}">{edges[0]:.3g}</text>'
            f'<text x="{width - 10}" y="{height - 12}" text-anchor="end">{edges[-1]:.3g}</text>'
            f'<text x="2" y="{height - bottom}">0</text><text x="2" y="24">{top:,}</text></svg>')


def svg_bars(title: str, items: list[tuple[str, int]], width: int = 420) -> str:
    """Horizontal bars of (label, count) pairs, largest first."""
    items = items[:12]
    top = max((n for _, n in items), default=1) or 1
    row, label_width = 18, 170
    bars = "".join(
        f'<text x="{label_width - 4}" y="{28 + i * row}" text-anchor="end">{escape(str(label)[:28])}</text>'
        f'<rect x="{label_width}" y="{17 + i * row}" width="{(n / top) * (width - label_width - 50):.1f}" '
        f'height="{row - 4}" fill="{BAR}"/><text x="{label_width + (n / top) * (width - label_width - 50) + 4:.1f}" '
        f'y="{28 + i * row}">{n:,}</text>' for i, (label, n) in enumerate(items))
    return (f'<svg width="{width}" height="{24 + row * len(items)}" role="img" aria-label="{escape(title)}">'
            f'<text x="0" y="12">{escape(title)}</text>{bars}</svg>')


def _funnel(node: dict[str, Any]) -> str:
    rows = []
    for stage in node["stages"]:
        reasons = {**stage["rejected"], **{f"{k} (failed)": v for k, v in stage["failed"].items()}}
        rows.append("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in (
            stage["stage"], stage["docs_in"], stage["kept"], sum(stage["skipped"].values()),
            sum(stage["rejected"].values()), sum(stage["failed"].values()), stage["wall_s"], stage["cpu_s"])) +
            f"<td style='text-align:left'>{escape(', '.join(f'{k}={v}' for k, v in reasons.items()))}</td></tr>")
    header = "".join(f"<th>{h}</th>" for h in ("stage", "in", "kept", "skipped", "rejected", "failed", "wall s",
                                              "cpu s", "reasons"))
    return f"<table><tr>{header}</tr>{''.join(rows)}</table>"


def _node(node: dict[str, Any]) -> str:
    parts = [f"<h2>node {escape(node['name'])}{'' if node['complete'] else ' (incomplete)'}</h2>", _funnel(node)]
    facts = {"documents in": node["docs_in"], "documents out": node["docs_out"], "rejected": node["rejected_out"],
             "bytes in": node.get("bytes_in"), "text bytes out": node.get("text_bytes_out"),
             "tokens out": node.get("tokens_out"), "docs/s per core": node.get("docs_per_cpu_second")}
    parts.append("<p>" + " · ".join(f"{k}: <b>{_fmt(v)}</b>" for k, v in facts.items() if v is not None) + "</p>")
    if node["stages"]:
        parts.append('<div class="plots">' + svg_bars("documents kept after each stage",
                                                      [(s["stage"], s["kept"]) for s in node["stages"]]) + "</div>")
    plots = []
    for name, summary in (node.get("signals") or {}).items():
        if "top" in summary:
            plots.append(svg_bars(name, summary["top"]))
        elif summary.get("count"):
            plots.append(svg_histogram(name, summary))
    if node.get("top_domains"):
        plots.append(svg_bars("top domains", node["top_domains"]))
    if plots:
        parts.append("<h3>signals</h3><div class='plots'>" + "".join(plots) + "</div>")
    if node.get("top_removed_lines"):
        parts.append("<h3>top removed lines</h3><table>" + "".join(
            f"<tr><td>{count:,}</td><td>{escape(line)}</td></tr>" for line, count in node["top_removed_lines"])
            + "</table>")
    shards = node.get("shards")
    if shards:
        check = shards["check"]
        status = ("<span class='ok'>manifest check ok</span>" if check["ok"] else
                  "<span class='bad'>manifest check FAILED: " + escape("; ".join(check["problems"])) + "</span>")
        parts.append(f"<h3>token shards</h3><p>{status}</p>")
        if "documents" in shards:
            rows = {"documents": shards["documents"], "tokens": shards["tokens"], "shards": shards["shards"],
                    "bytes per token": shards["bytes_per_token"],
                    "vocabulary coverage": f"{shards['vocab_coverage']:.1%} of {shards['vocab_size']:,}",
                    "dtype": shards["dtype"], "tokenizer hash": shards["tokenizer_hash"]}
            parts.append("<table>" + "".join(f"<tr><td>{k}</td><td>{_fmt(v)}</td></tr>" for k, v in rows.items())
                         + "</table>")
            if shards["tokens_per_document"].get("count"):
                parts.append(svg_histogram("tokens per document", shards["tokens_per_document"]))
    samples = node.get("samples") or {}
    if samples.get("kept") or samples.get("rejected"):
        parts.append("<h3>samples</h3>")
        groups = [("kept", samples.get("kept", []))] + [(f"rejected: {k}", v) for k, v in
                                                         samples.get("rejected", {}).items()]
        for label, rows in groups:
            parts.append(f"<p><b>{escape(label)}</b></p>" + "".join(
                f"<p class='sample'>{escape(str(r.get('url') or r.get('id')))} — "
                f"{escape(r.get('text') or r.get('detail') or '')}</p>" for r in rows))
    return "\n".join(parts)


def render_html(report: dict[str, Any]) -> str:
    body = "\n".join(_node(node) for node in report["nodes"])
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>curate inspect</title>"
            f"<style>{STYLE}</style></head><body><h1>curate inspect: {escape(report['path'])}</h1>{body}</body></html>")


def write_html(report: dict[str, Any], path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(render_html(report))
