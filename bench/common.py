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


def timed(label: str, work: Callable[[], int]) -> Timing:
    """Run `work` (which returns how many items it processed) and time it, wall and this process's CPU."""
    wall, cpu = time.perf_counter(), time.process_time()
    items = work()
    return Timing(label, items, time.perf_counter() - wall, time.process_time() - cpu)
