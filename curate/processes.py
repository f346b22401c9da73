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
import os
import signal
import sys
from collections.abc import Callable

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


def child_setup() -> Callable[[], None]:
    """A `preexec_fn` for subprocess: the child dies with this process."""
    return functools.partial(die_with_parent, os.getpid())
