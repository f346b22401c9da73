"""What the engine tells about a run's progress, and nothing of how it is shown: the DAG runner and operations call a
RunProgress; curate/report/progress.py draws it (a live view on a terminal, plain lines elsewhere). Kept apart so
that the engine does not depend on the report, nor the report on the engine.
"""

from __future__ import annotations

from typing import Protocol

MAP_PHASE = "partitions"


class RunProgress(Protocol):
    def start(self, node: str, total: int, phase: str = MAP_PHASE) -> None: ...

    # one more task done, `docs` documents read; `kept`, of those the ones it kept (map nodes' partitions)
    def advance(self, node: str, docs: int, kept: int | None = None) -> None: ...

    def finish(self, node: str) -> None: ...


class NoProgress:
    def start(self, node: str, total: int, phase: str = MAP_PHASE) -> None:
        pass

    def advance(self, node: str, docs: int, kept: int | None = None) -> None:
        pass

    def finish(self, node: str) -> None:
        pass
