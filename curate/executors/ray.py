"""Ray execution: an embedded local Ray started and stopped by curate, or an existing cluster.

Which Ray is used: `--address` when given; else the cluster of a `ray job submit` job (Ray sets RAY_ADDRESS for the
job's driver); else a local Ray started for this run. A Ray already initialised in this process (a test session's)
is used as it is and left running.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from curate.executors.base import Executor, Outcome, T, describe_error

# With no task finished for this long, say what Ray is waiting for (a cluster with no free CPU waits forever).
STALL_NOTICE_S = 60.0


def stall_message(pending: int, seconds: float, available: dict[str, float], total: dict[str, float]) -> str:
    """One line on a map that has not progressed. Example: "no task finished in 60 s: 8 tasks wait for a CPU;
    the cluster has 0 of 0 CPUs free (each task needs 1): add nodes with CPUs, or use --executor local" """
    free, cpus = available.get("CPU", 0.0), total.get("CPU", 0.0)
    advice = (": add nodes with CPUs, or use --executor local" if free < 1 else
              "; the tasks are running (long partitions), or waiting for memory or objects")
    return (f"no task finished in {seconds:.0f} s: {pending} tasks pending; the cluster has {free:g} of {cpus:g} "
            f"CPUs free (each task needs 1){advice}")


class RayExecutor(Executor):
    def __init__(self, workers: int | None = None, address: str | None = None,
                 log: Callable[[str], None] = print) -> None:
        self.workers = workers
        self.address = address
        self.log = log
        self._started_here = False

    def __enter__(self) -> RayExecutor:
        import ray

        if ray.is_initialized():
            return self
        address = self.address or os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address, log_to_driver=False, logging_level="WARNING")
        else:
            ray.init(num_cpus=self.workers or os.cpu_count(), include_dashboard=False, log_to_driver=False,
                     logging_level="WARNING")
        self._started_here = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started_here:
            import ray

            ray.shutdown()
            self._started_here = False

    def map(self, fn: Callable[[T], Any], tasks: Sequence[T]) -> Iterator[Outcome[T]]:
        import ray

        remote = ray.remote(num_cpus=1, max_retries=2)(fn)
        pending = {remote.remote(task): task for task in tasks}
        waited_since = time.monotonic()
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=STALL_NOTICE_S)
            if not done:
                self.log(stall_message(len(pending), time.monotonic() - waited_since, ray.available_resources(),
                                       ray.cluster_resources()))
                continue
            waited_since = time.monotonic()
            ref = done[0]
            task = pending.pop(ref)
            try:
                yield task, ray.get(ref), None
            except Exception as error:  # a task's exception, or a worker that died; reported per partition
                cause = getattr(error, "cause", None) or error
                yield task, None, describe_error(cause)
