"""Progress of `curate run`: per node, partitions done of total, documents per second and the time left.

On a terminal, a live rich progress bar per node; elsewhere (CI, a log file), a plain line when a node starts, at
most every `interval` seconds while it runs, and when it ends.
"""

from __future__ import annotations

import time
from typing import Protocol

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn


class RunProgress(Protocol):
    def start(self, node: str, total: int) -> None: ...

    def advance(self, node: str, docs: int) -> None: ...

    def finish(self, node: str) -> None: ...


class NoProgress:
    def start(self, node: str, total: int) -> None:
        pass

    def advance(self, node: str, docs: int) -> None:
        pass

    def finish(self, node: str) -> None:
        pass


class LogProgress:
    """Plain lines, for output that is not a terminal."""

    def __init__(self, interval: float = 10.0, write=print) -> None:
        self.interval, self.write = interval, write
        self.state: dict[str, list[float]] = {}  # node -> [total, done, docs, started, last printed]

    def start(self, node: str, total: int) -> None:
        now = time.monotonic()
        self.state[node] = [total, 0, 0, now, now]

    def advance(self, node: str, docs: int) -> None:
        state = self.state[node]
        state[1] += 1
        state[2] += docs
        now = time.monotonic()
        if now - state[4] >= self.interval:
            state[4] = now
            self.write(self.line(node))

    def line(self, node: str) -> str:
        """Example: 'curate: node text: 4/10 partitions, 120.5 docs/s, about 9s left'."""
        total, done, docs, started, _ = self.state[node]
        elapsed = max(time.monotonic() - started, 1e-9)
        left = f", about {elapsed / done * (total - done):.0f}s left" if 0 < done < total else ""
        return f"curate: node {node}: {int(done)}/{int(total)} partitions, {docs / elapsed:,.1f} docs/s{left}"

    def finish(self, node: str) -> None:
        if self.state[node][0]:
            self.write(self.line(node))


class TerminalProgress:
    """A live bar per node on a terminal."""

    def __init__(self) -> None:
        self.bars = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), transient=False)
        self.tasks: dict[str, tuple[TaskID, float, int]] = {}
        self.running = False

    def start(self, node: str, total: int) -> None:
        if not self.running:
            self.bars.start()
            self.running = True
        self.tasks[node] = (self.bars.add_task(f"node {node}", total=total, rate=""), time.monotonic(), 0)

    def advance(self, node: str, docs: int) -> None:
        task, started, seen = self.tasks[node]
        seen += docs
        self.tasks[node] = (task, started, seen)
        rate = seen / max(time.monotonic() - started, 1e-9)
        self.bars.update(task, advance=1, rate=f"{rate:,.1f} docs/s")

    def finish(self, node: str) -> None:
        if self.running and all(task.finished for task in self.bars.tasks):
            self.bars.stop()
            self.running = False
