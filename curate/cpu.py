"""CPU time the way a run's accounting needs it: this process's, its finished subprocesses' (lmplz, a fastText
trainer), and that of tasks that ran in other processes (a process pool, Ray workers), so that "documents per second
per core" counts every core the run used, not only the driver's.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def children_cpu() -> float:
    """CPU seconds of this process's finished and waited-for children (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def driver_cpu() -> float:
    """CPU seconds of the calling thread when it is not the main thread (a node the driver runs beside others, whose
    process CPU is shared), else of the whole process (the main thread's work and its native helper threads)."""
    return time.process_time() if threading.current_thread() is threading.main_thread() else time.thread_time()


def tree_cpu() -> float:
    """CPU seconds of this process and its finished children."""
    return time.process_time() + children_cpu()


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass(frozen=True)
class Measured:
    """`fn` wrapped to return (its result, the CPU seconds it used with its subprocesses, the process it ran in),
    so a driver can add the CPU of tasks that ran elsewhere and not count twice those that ran in its own process."""

    fn: Callable[[Any], Any]

    @property
    def __name__(self) -> str:  # what executors and logs call the function by
        return self.fn.__name__

    def __call__(self, task: Any) -> tuple[Any, float, int]:
        started = tree_cpu()
        result = self.fn(task)
        return result, tree_cpu() - started, os.getpid()
