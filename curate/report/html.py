"""`curate inspect --html`: one self-contained page (inline CSS and SVG, no scripts, nothing fetched) of the report.

Plots are SVG written here rather than drawn by a plotting library: the page must open anywhere as one file (no
JavaScript bundle or CDN, as Plotly or Bokeh pages need), stay small (a few KB a chart, where matplotlib's SVG
writes every glyph as a path), and come out byte-identical for the same report, which the tests rely on. What a
library would add is axes with readable ticks and units, which `ticks` and `tick_label` below provide.

Sections: run details; the pipeline funnel with shares; per node its stages, each signal's kept and rejected
distributions on the same bins with the threshold drawn, the domains with the most documents and their removals,
random samples of kept documents and of each rejection reason, token shard statistics.
"""

from __future__ import annotations

import math
import time
from html import escape
from typing import Any

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;margin-top:2em}h3{font-size:15px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.ok{color:#1a7f37}.bad{color:#c62828;font-weight:bold}
.plots{display:flex;flex-wrap:wrap;gap:16px}.sample{font-size:12px;color:#444;max-width:1000px}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
svg text{font:11px system-ui,sans-serif;fill:#333}
"""
KEPT, REJECTED, CUT = "#3b7dd8", "#e0803a", "#c62828"
# The rejected bars split by stage: oranges and browns, apart from the kept blue and the threshold red.
STAGE_COLOURS = ("#e0803a", "#f2b134", "#a0522d", "#d9a27a", "#8c6d31", "#f0c987")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else escape(str(value))


def tick_label(value: float) -> str:
    """A short, readable number. Example: tick_label(91400) -> '91k'; tick_label(0.25) -> '0.25';
    tick_label(1.5e6) -> '1.5M'"""
    size = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


def ticks(low: float, high: float, log: bool, count: int = 5) -> list[float]:
    """Round tick positions between `low` and `high`: powers of ten on a log axis, 1-2-5 steps on a linear one.

    Example: ticks(0, 1, False) -> [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]; ticks(20, 90000, True) -> [100, 1000, 10000]
    """
    if log:
        return [10.0 ** p for p in range(math.ceil(math.log10(low)), math.floor(math.log10(high)) + 1)]
    raw = (high - low) / count or 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [round(first + i * step, 10) for i in range(int((high - first) / step + 1e-9) + 1)]


def svg_signal(name: str, signal: dict[str, Any], width: int = 520, height: int = 224) -> str:
    """Kept and rejected documents of one signal on shared bins (estimated counts from the sample), with the
    thresholds that split them as vertical lines, and a readable x axis with the unit."""
    edges, log = signal["edges"], signal["log"]
    stages = signal.get("rejected_by_stage") or {}
    legend_rows = math.ceil(len(stages) / 3) if len(stages) > 1 else 0
    left, right, top, bottom = 46, 12, 40 + 12 * legend_rows, 42
    height += 12 * legend_rows
    plot_width, plot_height = width - left - right, height - top - bottom
    sides = [(side, colour) for side, colour in (("kept", KEPT), ("rejected", REJECTED))
             if signal[side].get("histogram")]
    stacked = [sum(counts) for counts in zip(*(part["histogram"]["counts"] for part in stages.values()))]
    peak = max([max(signal[side]["histogram"]["counts"]) for side, _ in sides] + stacked + [1])

    def x_of(value: float) -> float:
        low, high = edges[0], edges[-1]
        if log:
            low, high, value = math.log10(low), math.log10(high), math.log10(max(value, edges[0]))
        return left + (min(max(value, low), high) - low) / ((high - low) or 1) * plot_width

    bars = []
    for offset, (side, colour) in enumerate(sides):
        # the rejected bar of a bin is stacked by the stage that rejected (one colour each), when there are several
        layers = ([(f"rejected by {stage}", STAGE_COLOURS[n % len(STAGE_COLOURS)], part["histogram"]["counts"])
                   for n, (stage, part) in enumerate(stages.items())] if side == "rejected" and len(stages) > 1
                  else [(side, colour, signal[side]["histogram"]["counts"])])
        for i in range(len(edges) - 1):
            x0, x1 = x_of(edges[i]), x_of(edges[i + 1])
            bar_width = max((x1 - x0) / len(sides) - 0.5, 0.5)
            base = 0.0
            for label, fill, counts in layers:
                if not counts[i]:
                    continue
                bar_height = counts[i] / peak * plot_height
                base += bar_height
                bars.append(f'<rect x="{x0 + offset * (x1 - x0) / len(sides):.1f}" '
                            f'y="{top + plot_height - base:.1f}" width="{bar_width:.1f}" height="{bar_height:.1f}" '
                            f'fill="{fill}"><title>{escape(label)}: {tick_label(edges[i])} to '
                            f'{tick_label(edges[i + 1])}: about {counts[i]:,}</title></rect>')
    axis = [f'<line x1="{left}" y1="{top + plot_height}" x2="{left + plot_width}" y2="{top + plot_height}" '
            f'stroke="#888"/>']
    for value in ticks(edges[0], edges[-1], log):
        x = x_of(value)
        axis.append(f'<line x1="{x:.1f}" y1="{top + plot_height}" x2="{x:.1f}" y2="{top + plot_height + 4}" '
                    f'stroke="#888"/><text x="{x:.1f}" y="{top + plot_height + 16}" text-anchor="middle">'
                    f"{tick_label(value)}</text>")
    axis.append(f'<text x="{left + plot_width / 2:.1f}" y="{height - 6}" text-anchor="middle">'
                f"{escape(name)}{' (' + escape(signal['unit']) + ')' if signal['unit'] else ''}"
                f"{', log scale' if log else ''}</text>")
    axis.append(f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{tick_label(peak)}</text>'
                f'<text x="{left - 4}" y="{top + plot_height}" text-anchor="end">0</text>')
    cuts = []
    for cut in signal["thresholds"]:
        x = x_of(cut["value"])
        cuts.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{top + plot_height}" stroke="{CUT}" '
                    f'stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="{top - 10}" fill="{CUT}">{cut["kind"]} '
                    f'{tick_label(cut["value"])} ({escape(cut["step"])})</text>')
    kept, rejected = signal["kept"].get("count", 0), signal["rejected"].get("count", 0)
    title = f"{escape(name)}: {kept:,} kept, {rejected:,} rejected"
    legend = []
    if len(stages) > 1:  # the stages under the title, three a row
        for n, (stage, part) in enumerate(stages.items()):
            x, y = left + 150 * (n % 3), 26 + 12 * (n // 3)
            legend.append(f'<rect x="{x}" y="{y - 8}" width="8" height="8" '
                          f'fill="{STAGE_COLOURS[n % len(STAGE_COLOURS)]}"/><text x="{x + 11}" y="{y}">'
                          f'{escape(stage)}: {part.get("count", 0):,}</text>')
    return (f'<svg width="{width}" height="{height}" role="img" aria-label="{escape(name)}">'
            f'<text x="{left}" y="12">{title}</text>{"".join(legend)}{"".join(bars)}{"".join(axis)}'
            f'{"".join(cuts)}</svg>')


def svg_bars(title: str, items: list[tuple[str, int]], width: int = 420) -> str:
    """Horizontal bars of (label, count) pairs, largest first."""
    items = items[:12]
    peak = max((n for _, n in items), default=1) or 1
    row, label_width = 18, 170
    bars = "".join(
        f'<text x="{label_width - 4}" y="{28 + i * row}" text-anchor="end">{escape(str(label)[:28])}</text>'
        f'<rect x="{label_width}" y="{17 + i * row}" width="{(n / peak) * (width - label_width - 50):.1f}" '
        f'height="{row - 4}" fill="{KEPT}"/><text x="{label_width + (n / peak) * (width - label_width - 50) + 4:.1f}"'
        f' y="{28 + i * row}">{n:,}</text>' for i, (label, n) in enumerate(items))
    return (f'<svg width="{width}" height="{24 + row * len(items)}" role="img" aria-label="{escape(title)}">'
            f'<text x="0" y="12">{escape(title)}</text>{bars}</svg>')


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    head = f"<tr>{''.join(f'<th>{escape(h)}</th>' for h in header)}</tr>" if any(header) else ""
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def _stages(node: dict[str, Any]) -> str:
    rows = []
    for stage in node["stages"]:
        reasons = {**stage["rejected"], **{f"{k} (failed)": v for k, v in stage["failed"].items()}}
        rows.append((stage["stage"], stage["docs_in"], stage["kept"], sum(stage["skipped"].values()),
                     sum(stage["rejected"].values()), sum(stage["failed"].values()), stage["wall_s"], stage["cpu_s"],
                     ", ".join(f"{k}={v}" for k, v in reasons.items())))
    return _table(("stage", "in", "kept", "skipped", "rejected", "failed", "wall s", "cpu s", "reasons"), rows)


def _node(node: dict[str, Any]) -> str:
    parts = [f"<h2>node {escape(node['name'])}{'' if node['complete'] else ' (incomplete)'}</h2>", _stages(node)]
    facts = {"documents in": node["docs_in"], "documents out": node["docs_out"], "rejected": node["rejected_out"],
             "bytes in": node.get("bytes_in"), "text bytes out": node.get("text_bytes_out"),
             "tokens out": node.get("tokens_out"), "docs/s per core": node.get("docs_per_cpu_second"),
             "peak worker memory (MiB)": node.get("peak_rss_mib"),
             "fingerprint": node.get("fingerprint")}
    parts.append("<p>" + " · ".join(f"{k}: <b>{_fmt(v)}</b>" for k, v in facts.items() if v is not None) + "</p>")
    if node.get("signals"):
        parts.append(f"<h3>signals</h3><p class='legend'><span style='background:{KEPT}'></span>kept"
                     f"<span style='background:{REJECTED}'></span>rejected<span style='background:{CUT}'></span>"
                     "threshold · estimated document counts from a random sample of 1,000 of each</p>"
                     "<div class='plots'>" + "".join(svg_signal(name, s) for name, s in node["signals"].items())
                     + "</div>")
    plots = [svg_bars(f"{name} (kept)", values["kept"]) for name, values in node.get("categorical", {}).items()
             if values["kept"]]
    if plots:
        parts.append("<div class='plots'>" + "".join(plots) + "</div>")
    if node.get("domains"):
        rows = [(name, kept, removed, f"{removed / max(1, kept + removed):.0%}") for name, kept, removed in
                node["domains"]]
        parts.append("<h3>domains with the most documents</h3>" + _table(("domain", "kept", "removed",
                                                                          "removed share"), rows))
    for name in ("top_removed_lines", "contaminated_items"):
        if node.get(name):
            parts.append(f"<h3>{escape(name.replace('_', ' '))}</h3>"
                         + _table(("count", "item"), [(count, item) for item, count in node[name]]))
    shards = node.get("shards")
    if shards:
        check = shards["check"]
        status = ("<span class='ok'>manifest check ok</span>" if check["ok"] else
                  "<span class='bad'>manifest check FAILED: " + escape("; ".join(check["problems"])) + "</span>")
        parts.append(f"<h3>token shards</h3><p>{status}</p>")
        if "documents" in shards:
            shard_facts: list[tuple[str, Any]] = [
                ("documents", shards["documents"]), ("tokens", shards["tokens"]), ("shards", shards["shards"]),
                ("dtype", shards["dtype"]), ("tokenizer hash", shards["tokenizer_hash"])]
            if "bytes_per_token" in shards:
                shard_facts += [("bytes per token", shards["bytes_per_token"]),
                                ("vocabulary coverage", f"{shards['vocab_coverage']:.1%} of {shards['vocab_size']:,}")]
            parts.append(_table(("", ""), shard_facts))
            per_doc = shards.get("tokens_per_document") or {}
            if per_doc.get("histogram"):
                parts.append(svg_signal("tokens per document", {
                    "edges": shards["tokens_per_document_edges"], "log": True, "unit": "tokens", "thresholds": [],
                    "kept": per_doc, "rejected": {}}))
    samples = node.get("samples") or {}
    if samples.get("kept") or samples.get("rejected"):
        parts.append("<h3>random samples</h3>")
        groups = [("kept", samples.get("kept", []))] + [(f"rejected: {k}", v) for k, v in
                                                         samples.get("rejected", {}).items()]
        for label, rows in groups:
            parts.append(f"<p><b>{escape(label)}</b></p>" + "".join(
                f"<p class='sample'>{escape(str(r.get('url') or r.get('id')))} — "
                f"{escape(r.get('detail') or '') + ': ' if r.get('detail') else ''}"
                f"{escape(r.get('text') or '')}</p>" for r in rows))
    return "\n".join(parts)


def _run(report: dict[str, Any]) -> str:
    run = report.get("run") or {}
    when = run.get("committed")
    dates = " to ".join(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) for t in when) if when else "-"
    rows = [("pipeline", run.get("pipeline", "-")), ("workdir", report["path"]), ("committed", dates),
            ("curate", run.get("curate", "-")), ("python", run.get("python", "-")),
            ("pyarrow", run.get("pyarrow", "-"))]
    return "<h2>run</h2>" + _table(("", ""), rows)


def _funnel(report: dict[str, Any]) -> str:
    steps = report.get("funnel") or []
    if len(steps) < 2:
        return ""
    rows = [(s["label"], f"{s['count']:,}" + (" tokens" if s.get("unit") else ""),
             f"{s['share']:.1%}" if "share" in s else "") for s in steps]
    bars = svg_bars("documents at each step", [(s["label"], s["count"]) for s in steps if not s.get("unit")], 520)
    return "<h2>pipeline funnel</h2>" + _table(("step", "count", "share of documents"), rows) + bars


def render_html(report: dict[str, Any]) -> str:
    body = _run(report) + _funnel(report) + "\n".join(_node(node) for node in report["nodes"])
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>curate inspect</title>"
            f"<style>{STYLE}</style></head><body><h1>curate inspect: {escape(report['path'])}</h1>{body}</body></html>")


def write_html(report: dict[str, Any], path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(render_html(report))
