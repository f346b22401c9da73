"""The end-of-run summary: per node, partitions computed and reused, and each stage's document accounting."""

from __future__ import annotations

from collections import Counter

from curate.stats import NodeReport


def _top(counter: Counter[str], limit: int = 3) -> str:
    """Example: _top(Counter(a=3, b=1)) -> 'a=3, b=1'."""
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{k}={v}" for k, v in items[:limit])
    return text + (f", +{len(items) - limit} more" if len(items) > limit else "")


def format_summary(reports: list[NodeReport]) -> str:
    lines = []
    for report in reports:
        lines.append(f"node {report.name}: {report.partitions} partitions ({report.computed} computed, "
                     f"{report.reused} reused), {report.docs_out} docs out, {report.rejected_out} rejected, "
                     f"{report.wall_s:.1f}s")
        for stage in report.stages:
            line = (f"  {stage.stage:<18} in={stage.docs_in:<7} kept={stage.kept:<7} "
                    f"skipped={sum(stage.skipped.values()):<6} rejected={sum(stage.rejected.values()):<6} "
                    f"failed={sum(stage.failed.values()):<5} cpu={stage.cpu_s:.1f}s")
            details = [f"{name}: {_top(counter)}" for name, counter in
                       (("rejected", stage.rejected), ("failed", stage.failed)) if counter]
            lines.append(line + ("  [" + "; ".join(details) + "]" if details else ""))
    return "\n".join(lines)
