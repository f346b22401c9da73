"""In-process execution (workers=1, for tests and debugging) or a pool of local processes (workers>1)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from curate.executors.base import Executor, Outcome, T, TaskOptions, describe_error
from curate.processes import die_with_parent


def _ready(index: int) -> int:
    return index


class LocalExecutor(Executor):
    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalExecutor:
        if self.workers > 1:
            # spawn, not fork: forked children would inherit the parent's threads and locks (pyarrow's pools).
            # die_with_parent: a SIGKILLed run must not leave workers computing into the workdir.
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=die_with_parent, initargs=(os.getpid(),))
            # Every worker now, from this (main) thread: the pool starts workers on demand from whichever thread
            # submits, and a worker is killed when the thread that started it ends (curate/processes.py).
            list(self._pool.map(_ready, range(self.workers)))
        return self

    @property
    def parallel(self) -> bool:
        return self.workers > 1

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def map(self, fn: Callable[[T], Any], tasks: Sequence[T], options: TaskOptions = TaskOptions()
            ) -> Iterator[Outcome[T]]:
        if self._pool is None:
            for task in tasks:
                try:
                    yield task, fn(task), None
                except Exception as error:  # reported per partition by the caller
                    yield task, None, describe_error(error)
            return
        futures = {self._pool.submit(fn, task): task for task in tasks}
        for future in as_completed(futures):
            failure = future.exception()
            yield futures[future], None if failure else future.result(), describe_error(failure) if failure else None
