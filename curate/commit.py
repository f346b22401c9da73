"""Committed outputs: how a partition or a node's artefacts are named, written, committed, found again and checked.

One mechanism for every node kind (../shared/DESIGN.md, principle 2):

- **Fingerprints.** A unit of output (a partition, or an operation's artefacts) is identified by a fingerprint: a
  hash of its node's logical config and of its inputs' fingerprints. A file's fingerprint is its size, modification
  time and a content hash (whole file when small, head and tail when large); an upstream partition's is its own
  fingerprint. They chain through the DAG, so a change anywhere changes exactly what lies downstream of it.
- **Names follow input identity.** A partition is named after the input it comes from (`part-<key>`, the key a hash
  of the input's absolute path or URI; downstream partitions keep their upstream partition's name), never after its
  index in a sorted glob: inserting a file shifts nothing, and a moved workdir changes nothing.
- **Atomic writes.** Every file is written under a hidden name unique to the attempt (`.name.tmp-<pid>-<random>`),
  then renamed into place, so a killed writer never leaves half a file under a real name and two attempts never
  collide. Hidden and `_` names are skipped by Arrow, pandas and polars readers.
- **A commit record, last.** A JSON file listing the unit's fingerprint and, for each of its files, the size and
  SHA-256. The unit counts as done only when its record exists, holds the wanted fingerprint, and every file is
  there with the recorded size and a whole Parquet footer (and, with `--verify`, the recorded checksum). Anything
  else is recomputed, never carried downstream.
- **Sweeping.** After a node commits, every file under it that no current commit record names (outputs of inputs
  that went away, temp files of a killed attempt) is deleted, by one function.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterable
from typing import Any

# Files up to this size are fingerprinted by their whole content; larger ones (a 1 GB WARC) by their first and
# last HEAD_TAIL_BYTES, so planning a run never reads a corpus end to end.
WHOLE_HASH_MAX_BYTES = 8 << 20
HEAD_TAIL_BYTES = 1 << 20
PARQUET_MAGIC = b"PAR1"
TEMP_MARK = ".tmp-"


def digest(payload: Any) -> str:
    """A 16-hex-digit hash of a JSON-serialisable value (keys sorted, so equal values give equal digests).

    Example: digest({"b": 1, "a": 2}) == digest({"a": 2, "b": 1})
    """
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def file_fingerprint(path: str) -> dict[str, Any]:
    """What identifies an input file's content: size, mtime and a content hash; `missing` when it is gone."""
    try:
        info = os.stat(path)
    except OSError:
        return {"missing": True}
    content = hashlib.sha256()
    with open(path, "rb") as handle:
        if info.st_size <= WHOLE_HASH_MAX_BYTES:
            content.update(handle.read())
        else:
            content.update(handle.read(HEAD_TAIL_BYTES))
            handle.seek(info.st_size - HEAD_TAIL_BYTES)
            content.update(handle.read(HEAD_TAIL_BYTES))
    return {"size": info.st_size, "mtime_ns": info.st_mtime_ns, "sha256": content.hexdigest()[:32]}


def partition_key(identity: str) -> str:
    """The output name of the partition read from `identity` (an input's absolute path or URI).

    Example: partition_key("sample/a.warc.gz") -> "part-3f9c0d7a21b4e6c8" (stable across runs and machines)
    """
    return "part-" + hashlib.sha256(identity.encode()).hexdigest()[:16]


def temp_path(path: str) -> str:
    """A hidden name beside `path`, unique to this attempt, to write to before renaming into place."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")


def is_temp(name: str) -> bool:
    return name.startswith(".") and TEMP_MARK in name


def file_sha256(path: str) -> str:
    digest_ = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest_.update(block)
    return digest_.hexdigest()


def describe_files(root: str, relative_paths: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of each file, by its path relative to `root`, for a commit record."""
    return {rel: {"size": os.path.getsize(os.path.join(root, rel)), "sha256": file_sha256(os.path.join(root, rel))}
            for rel in sorted(relative_paths)}


def write_json_atomic(path: str, data: Any) -> None:
    """Write `data` as JSON to `path` through a unique temporary file and a rename."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = temp_path(path)
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.replace(tmp, path)


def read_json(path: str) -> dict[str, Any] | None:
    """The JSON object in `path`, or None when it is missing or not valid JSON (e.g. cut short by a kill)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def commit(record_path: str, root: str, fingerprint: str, files: Iterable[str], **meta: Any) -> dict[str, Any]:
    """Write the commit record of a unit whose `files` (relative to `root`) are all in place; returns it."""
    record = {**meta, "fingerprint": fingerprint, "files": describe_files(root, files)}
    write_json_atomic(record_path, record)
    return record


def _parquet_whole(path: str, size: int) -> bool:
    """True when the file starts and ends with Parquet's magic and its footer length fits: a file cut short or
    overwritten at either end fails this without reading the data."""
    if size < 12:
        return False
    with open(path, "rb") as handle:
        head = handle.read(4)
        handle.seek(size - 8)
        tail = handle.read(8)
    return head == PARQUET_MAGIC and tail[4:] == PARQUET_MAGIC and int.from_bytes(tail[:4], "little") < size - 8


def check_commit(record_path: str, root: str, fingerprint: str, *, full: bool = False
                 ) -> tuple[dict[str, Any] | None, str]:
    """(the record, "") when the unit committed at `record_path` is complete and current, else (None, why).

    Always checked: the fingerprint, each file's presence and size, Parquet files' magic and footer length. With
    `full`, each file's SHA-256 too (reads every byte)."""
    record = read_json(record_path)
    if record is None:
        return None, "not computed" if not os.path.exists(record_path) else "commit record unreadable"
    if record.get("fingerprint") != fingerprint:
        return None, "inputs or config changed"
    for rel, expected in (record.get("files") or {}).items():
        path = os.path.join(root, rel)
        try:
            size = os.path.getsize(path)
        except OSError:
            return None, f"{rel} is missing"
        if size != expected["size"]:
            return None, f"{rel} has {size} bytes, {expected['size']} committed"
        if rel.endswith(".parquet") and not _parquet_whole(path, size):
            return None, f"{rel} is not a whole Parquet file"
        if full and file_sha256(path) != expected["sha256"]:
            return None, f"{rel} does not match its committed checksum"
    return record, ""


def sweep(root: str, keep: set[str], keep_dirs: Iterable[str] = ()) -> list[str]:
    """Delete every file under `root` whose relative path is not in `keep` and that lies in no folder of
    `keep_dirs`, then the folders left empty; returns what was deleted (relative paths, sorted)."""
    kept_dirs = tuple(d.rstrip("/") + "/" for d in keep_dirs)
    removed = []
    for folder, dirs, names in os.walk(root, topdown=False):
        for name in names:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            if rel not in keep and not rel.startswith(kept_dirs):
                os.remove(path)
                removed.append(rel)
        if folder != root and not os.listdir(folder):
            os.rmdir(folder)
    return sorted(removed)


def stale_files(root: str, keep: set[str], keep_dirs: Iterable[str] = ()) -> list[str]:
    """What `sweep` would delete, without deleting it (for `curate run --dry-run`)."""
    kept_dirs = tuple(d.rstrip("/") + "/" for d in keep_dirs)
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            rel = os.path.relpath(os.path.join(folder, name), root)
            if rel not in keep and not rel.startswith(kept_dirs):
                found.append(rel)
    return sorted(found)
