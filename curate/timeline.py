"""When a run's work happened, for bench/scaling.py: each batch of tasks submitted and each task finished, and each
stretch of serial work in the driver (a model's training, DSIR's target counts, BPE's merges, dedup's resolution),
as JSON lines in the file `CURATE_TIMELINE` names. Nothing is recorded when it is unset (the default).

From these the bench computes, per node, the time during which only one thing was running anywhere: the serial
share that bounds how much a second worker can help (Amdahl).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator

ENVIRONMENT = "CURATE_TIMELINE"
_lock = threading.Lock()


def record(label: str, delta: int) -> None:
    """`delta` things of `label` (e.g. "extracted:partitions") started (> 0) or finished (< 0) now."""
    path = os.environ.get(ENVIRONMENT)
    if not path:
        return
    line = json.dumps({"t": time.monotonic(), "label": label, "delta": delta})
    with _lock, open(path, "a", encoding="utf-8") as out:
        out.write(line + "\n")


@contextlib.contextmanager
def driver_work(label: str) -> Iterator[None]:
    """A stretch of work the driver does itself (one core busy), e.g. "kenlm_model:train"."""
    record(label, 1)
    try:
        yield
    finally:
        record(label, -1)
