"""Child processes that die with the run: a killed `curate run` (even by SIGKILL, which no handler sees) must not
leave pool workers, fastText trainings or lmplz behind, writing into a workdir that a re-run now owns.

On Linux the kernel does it: PR_SET_PDEATHSIG asks for SIGKILL when the parent dies. Pool workers run
`die_with_parent(parent)` as their initializer; subprocesses get `child_setup()` as `preexec_fn`. A child that starts
after its parent already died (the kill came while it was still importing) sees another parent and exits at once.
Elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from curate.cpu import Measured

R = TypeVar("R")

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent: int) -> None:
    """Have the kernel SIGKILL this process when its parent exits; exit now if `parent` (the pid of the process that
    started this one) is gone already, since then the signal would never come.

    Linux sends the signal when the *thread* that started the child exits (prctl(2), PR_SET_PDEATHSIG), not only the
    process: a long-lived child (a worker pool, Ray) must be started by the main thread, which curate's executors do
    before nodes run side by side in threads."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def run_in_child(fn: Callable[[Any], R], argument: Any) -> tuple[R, float]:
    """`fn(argument)` in a fresh process that dies with this one; returns its result and the CPU seconds that process
    used with its own subprocesses (lmplz, build_binary). `fn` and `argument` must pickle. How a node's serial work
    runs off the driver's interpreter on a local executor (Executor.run_serial, which says why)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent,
                             initargs=(os.getpid(),)) as pool:
        result, cpu, _ = pool.submit(Measured(fn), argument).result()
    return result, cpu


def child_setup() -> Callable[[], None]:
    """A `preexec_fn` for subprocess: the child dies with this process."""
    return functools.partial(die_with_parent, os.getpid())
