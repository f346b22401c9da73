"""One run per workdir at a time: a second `curate run` on the same workdir stops with one line instead of racing
the first on the same partitions.

The lock is `fcntl.flock` on `<workdir>/_LOCK`: the kernel releases it when the holder exits, however it exits
(SIGKILL included), so a killed run never leaves a stale lock behind. The file records who holds it, for the message.
A workdir on S3 is locked by a lock object with a lease instead (object_lock.py: S3 has no lock whose holder's death
releases it); on other object stores (GCS, fsspec's), start one run per workdir: unique names per attempt still keep
two runs from corrupting a file, not from duplicating work.

The shard jobs of one crawl (curate/shard_jobs.py) share a workdir and write disjoint partitions: each holds its
own lock, `_LOCK.shard-i-of-n`. Having taken its lock, a run checks the other kind: an unsharded run (the merge)
stops while a shard job holds its lock, a shard job while an unsharded run holds `_LOCK`. Of two runs taking their
locks at the same moment, each sees the other's and both stop, never neither.
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
from curate.object_lock import object_lock, object_locks_held
from curate.shard_jobs import shard_suffix

LOCK_FILE = "_LOCK"
SHARD_LOCKS = LOCK_FILE + ".shard-"  # + "i-of-n": a shard job's lock


def lock_name(shard: str | None) -> str:
    """Example: lock_name(None) -> "_LOCK"; lock_name("0/3") -> "_LOCK.shard-0-of-3" """
    return f"{LOCK_FILE}.{shard_suffix(shard)}" if shard else LOCK_FILE


@contextlib.contextmanager
def workdir_lock(workdir: str, shard: str | None = None) -> Iterator[None]:
    """Hold the workdir's lock (shard job `shard`'s, "i/n") for the duration of the block; CurateError naming the
    holder when it is taken, or when a run of the other kind holds its lock (see the module's docstring)."""
    if storage.is_uri(workdir):
        if workdir.startswith("s3://"):
            with object_lock(workdir, lock_name(shard)):
                _refuse_other_kind(workdir, shard, object_locks_held(workdir, LOCK_FILE if shard else SHARD_LOCKS))
                yield
        else:
            yield
        return
    with _file_lock(workdir, lock_name(shard)):
        _refuse_other_kind(workdir, shard, _file_locks_held(workdir, LOCK_FILE if shard else SHARD_LOCKS))
        yield


def _refuse_other_kind(workdir: str, shard: str | None, held: dict[str, str]) -> None:
    """CurateError when `held` (lock name -> holder) names a lock of the other kind."""
    if not held:
        return
    name, holder = sorted(held.items())[0]
    if shard:
        raise CurateError(f"{workdir} is in use by an unsharded curate run ({holder}); a shard job waits for it to "
                          "finish")
    others = ", ".join(n.removeprefix(LOCK_FILE + ".").replace("-of-", "/").removeprefix("shard-") for n in sorted(held))
    raise CurateError(f"{workdir} is in use by shard job(s) {others} of a sharded run ({holder}); run the merge once "
                      "they have finished")


def _file_locks_held(workdir: str, prefix: str) -> dict[str, str]:
    """The local lock files named `prefix` (or starting with it, when it ends in "-") that a live process holds,
    with what they say of it."""
    held = {}
    for name in sorted(os.listdir(workdir)):
        if name != prefix and not (prefix.endswith("-") and name.startswith(prefix)):
            continue
        with open(os.path.join(workdir, name), "a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                held[name] = handle.read().strip() or "another process"
    return held


@contextlib.contextmanager
def _file_lock(workdir: str, name: str) -> Iterator[None]:
    path = os.path.join(workdir, name)
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
