"""Progress of `curate run`: one live view on a terminal, plain lines elsewhere.

Every map over partitions or tasks is a *phase* of a node (a map node's one phase is "partitions"; dedup has
map_keys, reduce_keys and write_deduplicated). On a terminal, one rich Live view holds a bar per node and phase,
labelled, with documents per second and the time left; it is started once for the whole run, so a finished run shows
each bar once, and the run's log lines (a phase's result, a failure as it happens) print above it and stay. Without a
terminal (CI, a log file), a plain line when a phase starts, at most every `interval` seconds while it runs, and when
it ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from curate.progress import MAP_PHASE

def kept_of(kept: int | None, docs: int) -> str:
    """Example: kept_of(90, 120) -> ', kept 90 of 120'; kept_of(None, 120) -> '' (a phase that keeps nothing)."""
    return "" if kept is None else f", kept {kept:,} of {docs:,}"


class LogProgress:
    """Plain lines, for output that is not a terminal."""

    def __init__(self, interval: float = 10.0, write: Callable[[str], None] = print) -> None:
        self.interval, self.write = interval, write
        # node -> [phase, total, done, docs, started, last printed, kept (None: not counted)]
        self.state: dict[str, list] = {}

    def start(self, node: str, total: int, phase: str = MAP_PHASE) -> None:
        now = time.monotonic()
        self.state[node] = [phase, total, 0, 0, now, now, None]

    def advance(self, node: str, docs: int, kept: int | None = None) -> None:
        state = self.state[node]
        state[2] += 1
        state[3] += docs
        if kept is not None:
            state[6] = (state[6] or 0) + kept
        now = time.monotonic()
        if now - state[5] >= self.interval:
            state[5] = now
            self.write(self.line(node))

    def line(self, node: str) -> str:
        """Example: 'curate: node text: partitions 4/10, 120.5 docs/s, kept 90 of 120, about 9s left'."""
        phase, total, done, docs, started, _, kept = self.state[node]
        elapsed = max(time.monotonic() - started, 1e-9)
        left = f", about {elapsed / done * (total - done):.0f}s left" if 0 < done < total else ""
        return (f"curate: node {node}: {phase} {int(done)}/{int(total)}, {docs / elapsed:,.1f} docs/s"
                f"{kept_of(kept, docs)}{left}")

    def finish(self, node: str) -> None:
        if self.state[node][1]:
            self.write(self.line(node))


class TerminalProgress:
    """The live view: a bar per node and phase, log lines above it. Use as a context manager around the run; print
    through `log` (or print: stdout is redirected above the bars while the view is live)."""

    def __init__(self, console: Console | None = None) -> None:
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=console,
                             redirect_stdout=True, redirect_stderr=True)
        # node -> its running phase's task, when it started, documents read, documents kept (None: not counted)
        self.current: dict[str, tuple[TaskID, float, int, int | None]] = {}

    def __enter__(self) -> TerminalProgress:
        self.bars.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.bars.stop()

    def log(self, line: str) -> None:
        self.bars.console.print(line, markup=False, highlight=False)

    def start(self, node: str, total: int, phase: str = MAP_PHASE) -> None:
        task = self.bars.add_task(f"node {node} · {phase}", total=max(total, 0), rate="")
        self.current[node] = (task, time.monotonic(), 0, None)

    def advance(self, node: str, docs: int, kept: int | None = None) -> None:
        task, started, seen, kept_so_far = self.current[node]
        seen += docs
        kept_so_far = kept_so_far if kept is None else (kept_so_far or 0) + kept
        self.current[node] = (task, started, seen, kept_so_far)
        rate = seen / max(time.monotonic() - started, 1e-9)
        self.bars.update(task, advance=1, rate=f"{rate:,.1f} docs/s{kept_of(kept_so_far, seen)}")

    def finish(self, node: str) -> None:
        task, _, _, _ = self.current[node]
        total = self.bars.tasks[task].total or 0
        self.bars.update(task, completed=total)
