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

class LogProgress:
    """Plain lines, for output that is not a terminal."""

    def __init__(self, interval: float = 10.0, write: Callable[[str], None] = print) -> None:
        self.interval, self.write = interval, write
        self.state: dict[str, list] = {}  # node -> [phase, total, done, docs, started, last printed]

    def start(self, node: str, total: int, phase: str = MAP_PHASE) -> None:
        now = time.monotonic()
        self.state[node] = [phase, total, 0, 0, now, now]

    def advance(self, node: str, docs: int) -> None:
        state = self.state[node]
        state[2] += 1
        state[3] += docs
        now = time.monotonic()
        if now - state[5] >= self.interval:
            state[5] = now
            self.write(self.line(node))

    def line(self, node: str) -> str:
        """Example: 'curate: node text: partitions 4/10, 120.5 docs/s, about 9s left'."""
        phase, total, done, docs, started, _ = self.state[node]
        elapsed = max(time.monotonic() - started, 1e-9)
        left = f", about {elapsed / done * (total - done):.0f}s left" if 0 < done < total else ""
        return f"curate: node {node}: {phase} {int(done)}/{int(total)}, {docs / elapsed:,.1f} docs/s{left}"

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
        self.current: dict[str, tuple[TaskID, float, int]] = {}  # node -> its running phase's task

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
        self.current[node] = (task, time.monotonic(), 0)

    def advance(self, node: str, docs: int) -> None:
        task, started, seen = self.current[node]
        seen += docs
        self.current[node] = (task, started, seen)
        rate = seen / max(time.monotonic() - started, 1e-9)
        self.bars.update(task, advance=1, rate=f"{rate:,.1f} docs/s")

    def finish(self, node: str) -> None:
        task, _, _ = self.current[node]
        total = self.bars.tasks[task].total or 0
        self.bars.update(task, completed=total)
