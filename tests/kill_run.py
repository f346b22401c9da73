"""Runs a pipeline in this process and SIGKILLs this very process just before a chosen task: the harness of the
resume tests (tests/test_resume.py). No handler runs and nothing is flushed, as when a machine loses power.

    python -m tests.kill_run PIPELINE [--kill-at map_keys:3 | --kill-at task:17]

`FN:N` kills at the N-th task of the phase whose function is named FN; `task:N` at the N-th task of any phase. The
run's log goes to stdout, then "tasks run: N" when it finishes.
"""

from __future__ import annotations

import argparse
import os
import signal
from collections import Counter
from collections.abc import Callable
from typing import Any

from curate.config import load_pipeline
from curate.dag import run_pipeline
from curate.executors.base import TaskOptions
from curate.executors.local import LocalExecutor


class KillingExecutor(LocalExecutor):
    """The in-process executor, counting tasks and killing the process at the chosen one."""

    def __init__(self, kill_at: str | None) -> None:
        super().__init__(workers=1)
        self.phase, _, count = (kill_at or ":0").partition(":")
        self.kill_count = int(count)
        self.calls: Counter[str] = Counter()

    def map(self, fn: Callable[[Any], Any], tasks, options: TaskOptions = TaskOptions()):  # type: ignore[override]
        def counted(task: Any) -> Any:
            self.calls["task"] += 1
            self.calls[fn.__name__] += 1
            if self.kill_count and self.calls[self.phase] == self.kill_count:
                os.kill(os.getpid(), signal.SIGKILL)
            return fn(task)

        counted.__name__ = fn.__name__
        return super().map(counted, tasks, options)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pipeline")
    parser.add_argument("--kill-at")
    args = parser.parse_args()
    with KillingExecutor(args.kill_at) as executor:
        run_pipeline(load_pipeline(args.pipeline), executor, log=lambda line: print(line, flush=True))
    print(f"tasks run: {executor.calls['task']}", flush=True)


if __name__ == "__main__":
    main()
