"""One run per workdir on S3: a lock object with a lease, taken and renewed by conditional writes.

S3 has no lock that its holder's death releases (the local lock, lock.py, is the kernel's flock). So the lock is the
object `<workdir>/_LOCK`, written with `If-None-Match: *` (the write fails when the object exists: S3's conditional
writes, 2024), holding who took it and until when its lease runs. The holder renews the lease every RENEW_S with
`If-Match` on the version it wrote, so a renewal fails if anyone replaced it. A lock whose lease ran out belongs to a
run that died without releasing it (kill -9, a lost machine): the next run takes it over, again with `If-Match` on
the expired version, so that of two runs taking over at once only one succeeds. On exit the holder deletes it.

The lease is judged by the clocks of the hosts involved: LEASE_S is long against the clock skew of machines kept in
time by NTP (milliseconds), and short enough that a crashed run blocks the next one for a minute at most.
Written with boto3: pyarrow's S3 filesystem cannot make a write conditional.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from curate.errors import CurateError

LOCK_FILE = "_LOCK"
LEASE_S = 60.0
RENEW_S = 20.0


def _client() -> Any:
    import boto3  # type: ignore[import-untyped]  # imported here: only a run on S3 needs it

    return boto3.client("s3")  # endpoint, region and credentials from where the AWS SDKs look (AWS_ENDPOINT_URL...)


def _precondition_failed(error: Exception) -> bool:
    code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
    return code in ("PreconditionFailed", "ConditionalRequestConflict", "412")


class LeaseLock:
    """The lock object of one workdir; `acquire` takes it or raises CurateError naming its holder."""

    def __init__(self, workdir: str, lease_s: float = LEASE_S, renew_s: float = RENEW_S, name: str = LOCK_FILE
                 ) -> None:
        self.workdir = workdir
        self.bucket, self.key = _object_key(workdir, name)
        self.lease_s, self.renew_s = lease_s, renew_s
        self.client = _client()
        self.version = ""  # the ETag of the lock object this run wrote last
        self.lost = False  # a renewal found the object replaced: another run took the lock
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def _holder(self) -> bytes:
        now = time.time()
        return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": round(now, 3),
                           "expires": round(now + self.lease_s, 3)}).encode()

    def _put(self, **condition: str) -> str:
        return str(self.client.put_object(Bucket=self.bucket, Key=self.key, Body=self._holder(), **condition)["ETag"])

    def acquire(self) -> None:
        try:
            self.version = self._put(IfNoneMatch="*")
        except Exception as error:
            if not _precondition_failed(error):
                raise CurateError(f"{self.workdir}: cannot write its lock object: {error}") from None
            self._take_over()
        self._renewer = threading.Thread(target=self._renew, name="curate-lock-lease", daemon=True)
        self._renewer.start()

    def _take_over(self) -> None:
        """Take a lock whose lease ran out; CurateError naming the holder when it is current."""
        current = self.client.get_object(Bucket=self.bucket, Key=self.key)
        holder = json.loads(current["Body"].read() or b"{}")
        if holder.get("expires", 0) > time.time():
            since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(holder.get("since", 0)))
            raise CurateError(f"{self.workdir} is in use by another curate run (pid {holder.get('pid')} on "
                              f"{holder.get('host')}, since {since} UTC; its lease is renewed every "
                              f"{self.renew_s:.0f} s); wait for it to finish or give this run another --workdir")
        try:
            self.version = self._put(IfMatch=current["ETag"])
        except Exception as error:
            if _precondition_failed(error):
                raise CurateError(f"{self.workdir} is in use by another curate run, which took over its expired "
                                  "lock at the same moment; give this run another --workdir") from None
            raise

    def _renew(self) -> None:
        while not self._stop.wait(self.renew_s):
            try:
                self.version = self._put(IfMatch=self.version)
            except Exception as error:
                if _precondition_failed(error):
                    self.lost = True
                    return
                # a transient failure: the next renewal tries again, well within the lease

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        if self.lost:
            return
        with contextlib.suppress(Exception):  # a lock left behind expires with its lease
            if self.client.head_object(Bucket=self.bucket, Key=self.key)["ETag"] == self.version:
                self.client.delete_object(Bucket=self.bucket, Key=self.key)


def _object_key(workdir: str, name: str) -> tuple[str, str]:
    """(bucket, key) of the object `name` in an s3:// workdir."""
    parts = urlsplit(workdir)
    return parts.netloc, "/".join(p for p in (parts.path.strip("/"), name) if p)


def object_locks_held(workdir: str, prefix: str) -> dict[str, str]:
    """The lock objects of an s3:// workdir named `prefix` (or starting with it, when it ends in "-") whose lease
    has not run out, with who holds each. Example: {"_LOCK.shard-1-of-3": "pid 4242 on node-7"}"""
    client = _client()
    bucket, key_prefix = _object_key(workdir, prefix)
    held = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix):
        for item in page.get("Contents", []):
            name = item["Key"].rsplit("/", 1)[-1]
            if name != prefix and not (prefix.endswith("-") and name.startswith(prefix)):
                continue
            with contextlib.suppress(Exception):  # released (deleted) since the listing
                holder = json.loads(client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() or b"{}")
                if holder.get("expires", 0) > time.time():
                    held[name] = f"pid {holder.get('pid')} on {holder.get('host')}"
    return held


@contextlib.contextmanager
def object_lock(workdir: str, name: str = LOCK_FILE) -> Iterator[LeaseLock]:
    """Hold the lock object `name` of an s3:// workdir for the duration of the block."""
    lock = LeaseLock(workdir, name=name)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()
