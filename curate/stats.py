"""Per-stage counters, kept per partition and merged across partitions.

The accounting rule of every stage: documents in = kept + skipped + rejected + failed. `skipped` is only used by
readers, for records that are not documents at all (a WARC request record, an image response); `rejected` counts
documents a stage decided against, by reason; `failed` counts documents a stage could not process, by error.
`events` counts things worth knowing that do not change a document's fate (a charset guessed by detection, a
fallback decode).
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

COUNTER_FIELDS = ("skipped", "rejected", "failed", "events")


@dataclass
class StageStats:
    """What one stage did to the documents of one partition (or, merged, of a whole node)."""

    stage: str
    docs_in: int = 0
    kept: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    bytes_in: int = 0
    bytes_out: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0

    def is_balanced(self) -> bool:
        """True when every document that entered the stage is accounted for."""
        return self.docs_in == self.kept + sum(self.skipped.values()) + sum(self.rejected.values()) + sum(
            self.failed.values()
        )

    def add(self, other: StageStats) -> None:
        """Add `other`'s counts and timings into this one."""
        self.docs_in += other.docs_in
        self.kept += other.kept
        self.skipped.update(other.skipped)
        self.rejected.update(other.rejected)
        self.failed.update(other.failed)
        self.events.update(other.events)
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out
        self.wall_s += other.wall_s
        self.cpu_s += other.cpu_s

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for name in COUNTER_FIELDS:
            data[name] = dict(sorted(getattr(self, name).items()))
        data["wall_s"] = round(self.wall_s, 4)
        data["cpu_s"] = round(self.cpu_s, 4)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StageStats:
        counters = {name: Counter(data.get(name, {})) for name in COUNTER_FIELDS}
        fields: dict[str, Any] = {**{k: v for k, v in data.items() if k not in counters}, **counters}
        return cls(**fields)


class StageTimer:
    """Context manager adding the wall and CPU time of a block to a StageStats."""

    def __init__(self, stats: StageStats) -> None:
        self.stats = stats

    def __enter__(self) -> StageTimer:
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stats.wall_s += time.perf_counter() - self._wall
        self.stats.cpu_s += time.process_time() - self._cpu


def merge_stage_lists(lists: Iterable[list[StageStats]]) -> list[StageStats]:
    """Sum per-partition stage lists position by position (every partition of a node runs the same stages)."""
    merged: list[StageStats] = []
    for stages in lists:
        if not merged:
            merged = [StageStats(stage=s.stage) for s in stages]
        for total, part in zip(merged, stages, strict=True):
            total.add(part)
    return merged


@dataclass
class NodeReport:
    """What a run did for one node: partitions computed and reused, merged stage stats, documents out."""

    name: str
    partitions: int
    computed: int
    reused: int
    stages: list[StageStats]
    docs_out: int
    rejected_out: int
    wall_s: float
