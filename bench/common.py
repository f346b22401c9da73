"""Helpers shared by the benchmarks: locating the shared corpus and timing a callable on one core."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("CURATE_CORPUS", ROOT.parent / "shared" / "corpus"))


def corpus_or_exit() -> Path:
    if not CORPUS.is_dir():
        sys.exit(f"the shared corpus is not at {CORPUS}; set CURATE_CORPUS")
    return CORPUS


@dataclass
class Timing:
    label: str
    items: int
    wall_s: float
    cpu_s: float

    @property
    def per_second(self) -> float:
        return self.items / self.wall_s if self.wall_s else float("inf")


def load_line() -> str:
    """The machine's load when a bench ran: a ratio measured at load 6 on 2 cores is not one measured at load 1."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def interleaved(works: dict[str, Callable[[], int]], repeats: int = 3) -> dict[str, Timing]:
    """Each work's median timing over `repeats` rounds run in turn (A B C, A B C, ...), so that a change of load
    during the bench falls on every tool alike instead of on whichever ran at that moment; prints the load first."""
    print(f"{load_line()}; {repeats} interleaved rounds, medians", flush=True)
    rounds: dict[str, list[Timing]] = {label: [] for label in works}
    for _ in range(repeats):
        for label, work in works.items():
            rounds[label].append(timed(label, work))
    return {label: sorted(timings, key=lambda t: t.wall_s)[len(timings) // 2] for label, timings in rounds.items()}


def timed(label: str, work: Callable[[], int]) -> Timing:
    """Run `work` (which returns how many items it processed) and time it, wall and this process's CPU."""
    wall, cpu = time.perf_counter(), time.process_time()
    items = work()
    return Timing(label, items, time.perf_counter() - wall, time.process_time() - cpu)
