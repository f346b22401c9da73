"""Child processes that die with the run: a killed `curate run` (even by SIGKILL, which no handler sees) must not
leave pool workers, fastText trainings or lmplz behind, writing into a workdir that a re-run now owns.

On Linux the kernel does it: PR_SET_PDEATHSIG asks for SIGKILL when the parent dies. Pool workers call
`die_with_parent` as their initializer; subprocesses get it as `preexec_fn`. Elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent exits; then check the parent did not exit first."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died between fork and prctl: the signal will never come
        os._exit(1)
