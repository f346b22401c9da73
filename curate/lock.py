"""One run per workdir at a time: a second `curate run` on the same workdir stops with one line instead of racing
the first on the same partitions.

The lock is `fcntl.flock` on `<workdir>/_LOCK`: the kernel releases it when the holder exits, however it exits
(SIGKILL included), so a killed run never leaves a stale lock behind. The file records who holds it, for the message.
A workdir on S3 is locked by a lock object with a lease instead (object_lock.py: S3 has no lock whose holder's death
releases it); on other object stores (GCS, fsspec's), start one run per workdir: unique names per attempt still keep
two runs from corrupting a file, not from duplicating work.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator

from curate import storage
from curate.errors import ConfigError, CurateError
from curate.object_lock import object_lock

LOCK_FILE = "_LOCK"


@contextlib.contextmanager
def workdir_lock(workdir: str) -> Iterator[None]:
    """Hold the workdir's lock for the duration of the block; CurateError naming the holder when it is taken."""
    if storage.is_uri(workdir):
        if workdir.startswith("s3://"):
            with object_lock(workdir):
                yield
        else:
            yield
        return
    path = os.path.join(workdir, LOCK_FILE)
    try:
        os.makedirs(workdir, exist_ok=True)
        handle = open(path, "a+", encoding="utf-8")
    except OSError as error:  # a file in the way, a folder under a file, a read-only or virtual file system
        raise ConfigError(f"workdir {workdir}: cannot create it or its lock file ({error.strerror}); give the run "
                          "a writable folder with --workdir") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise CurateError(f"{workdir} is in use by another curate run ({holder}); wait for it to finish or "
                              "give this run another --workdir") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": time.strftime("%Y-%m-%dT%H:%M:%S")}))
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock
