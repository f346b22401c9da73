"""Committed outputs: how a partition or a node's artefacts are named, written, committed, found again and checked.

One mechanism for every node kind (../shared/DESIGN.md, principle 2):

- **Fingerprints.** A unit of output (a partition, or an operation's artefacts) is identified by a fingerprint: a
  hash of its node's logical config and of its inputs' fingerprints. A file's fingerprint is its size, modification
  time and a content hash (whole file when small, head and tail when large); an upstream partition's is its own
  fingerprint. They chain through the DAG, so a change anywhere changes exactly what lies downstream of it.
- **Names follow input identity.** A partition is named after the input it comes from (`part-<key>`, the key a hash
  of the input's absolute path or URI; downstream partitions keep their upstream partition's name), never after its
  index in a sorted glob: inserting a file shifts nothing, and a moved workdir changes nothing.
- **Atomic writes.** Every file appears whole or not at all (curate/storage.py: a unique hidden temporary name and
  a rename on local disk, a direct upload on object storage, where an object is visible only once complete).
- **A commit record, last.** A JSON file listing the unit's fingerprint and, for each of its files, the size and
  SHA-256. The unit counts as done only when its record exists, holds the wanted fingerprint, and every file is
  there with the recorded size and a whole Parquet footer (and, with `--verify`, the recorded checksum). Anything
  else is recomputed, never carried downstream.
- **Sweeping.** After a node commits, every file in its folders (curate/layout.py) that no current commit record
  names (outputs of inputs that went away, temp files of a killed attempt) is deleted, by one function.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from curate import storage

# Local files up to this size are fingerprinted by their whole content; larger ones (a 1 GB WARC) by their first and
# last HEAD_TAIL_BYTES, so planning a run never reads a corpus end to end. Objects by their version (file_fingerprint).
WHOLE_HASH_MAX_BYTES = 8 << 20
HEAD_TAIL_BYTES = 1 << 20
PARQUET_MAGIC = b"PAR1"


def digest(payload: Any) -> str:
    """A 16-hex-digit hash of a JSON-serialisable value (keys sorted, so equal values give equal digests).

    Example: digest({"b": 1, "a": 2}) == digest({"a": 2, "b": 1})
    """
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def file_fingerprint(path: str, *, whole: bool = False) -> dict[str, Any]:
    """What identifies an input file's content: on object storage, its size and the version the store names
    (storage.object_version: the ETag), so that planning a rerun over a crawl reads no input's content; else size,
    mtime and a content hash (of the whole file when `whole` or when it is small, else of its head and tail: an edit
    in between changes the mtime). `whole` (a model) always hashes the content: a model's fingerprint must not
    change when the same file is uploaded again. `missing` when the file is gone."""
    found = storage.stat(path)
    if found is None:
        return {"missing": True}
    version = None if whole else storage.object_version(path)
    if version is not None:
        return {"size": found.size, "version": version}
    content = hashlib.sha256()
    if whole or found.size <= WHOLE_HASH_MAX_BYTES:
        content.update(storage.read_bytes(path))
    else:
        content.update(storage.read_range(path, 0, HEAD_TAIL_BYTES))
        content.update(storage.read_range(path, found.size - HEAD_TAIL_BYTES, HEAD_TAIL_BYTES))
    return {"size": found.size, "mtime_ns": found.mtime_ns, "sha256": content.hexdigest()[:32]}


def partition_key(identity: str) -> str:
    """The output name of the partition read from `identity` (an input's absolute path or URI).

    Example: partition_key("sample/a.warc.gz") -> "part-3f9c0d7a21b4e6c8" (stable across runs and machines)
    """
    return "part-" + hashlib.sha256(identity.encode()).hexdigest()[:16]


def describe_files(root: str, relative_paths: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of each file, by its path relative to `root`, for a commit record."""
    described = {}
    for rel in sorted(relative_paths):
        path = storage.join(root, rel)
        known = storage.written_digest(path)
        if known is None:
            found = storage.stat(path)
            if found is None:
                raise FileNotFoundError(f"cannot commit {path}: it is not there")
            known = (found.size, storage.sha256(path))
        described[rel] = {"size": known[0], "sha256": known[1]}
    return described


def write_json_atomic(path: str, data: Any) -> None:
    """Write `data` as JSON to `path`, whole or not at all (curate/storage.py)."""
    storage.write_bytes(path, json.dumps(data, indent=1, sort_keys=True).encode())


def read_json(path: str) -> dict[str, Any] | None:
    """The JSON object in `path`, or None when it is missing or not valid JSON (e.g. cut short by a kill)."""
    try:
        data = json.loads(storage.read_bytes(path))
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def commit(record_path: str, root: str, fingerprint: str, files: Iterable[str], **meta: Any) -> dict[str, Any]:
    """Write the commit record of a unit whose `files` (relative to `root`) are all in place; returns it."""
    record = {**meta, "fingerprint": fingerprint, "files": describe_files(root, files)}
    write_json_atomic(record_path, record)
    return record


def _parquet_whole(path: str, size: int) -> bool:
    """True when the file starts and ends with Parquet's magic and its footer length fits: a file cut short or
    overwritten at either end fails this without reading the data (two 8-byte range reads on object storage)."""
    if size < 12:
        return False
    with storage.open_input(path) as handle:
        head, tail = handle.read_at(4, 0), handle.read_at(8, size - 8)
    return head == PARQUET_MAGIC and tail[4:] == PARQUET_MAGIC and int.from_bytes(tail[:4], "little") < size - 8


def check_commit(record_path: str, root: str, fingerprint: str, *, full: bool = False
                 ) -> tuple[dict[str, Any] | None, str]:
    """(the record, "") when the unit committed at `record_path` is complete and current, else (None, why).

    Always checked: the fingerprint, each file's presence and size, Parquet files' magic and footer length. With
    `full`, each file's SHA-256 too (reads every byte)."""
    record = read_json(record_path)
    if record is None:
        return None, "not computed" if not storage.exists(record_path) else "commit record unreadable"
    if record.get("fingerprint") != fingerprint:
        return None, "inputs or config changed"
    for rel, expected in (record.get("files") or {}).items():
        path = storage.join(root, rel)
        found = storage.stat(path)
        if found is None:
            return None, f"{rel} is missing"
        if found.size != expected["size"]:
            return None, f"{rel} has {found.size} bytes, {expected['size']} committed"
        if rel.endswith(".parquet") and not _parquet_whole(path, found.size):
            return None, f"{rel} is not a whole Parquet file"
        if full and storage.sha256(path) != expected["sha256"]:
            return None, f"{rel} does not match its committed checksum"
    return record, ""


def check_committed_file(record_path: str, root: str, path: str) -> str:
    """"" when `path` holds the bytes its commit record names (SHA-256, every byte read), else why not. A partition
    computed from an upstream file checks it first: a bit flipped in that file after its commit would otherwise flow
    downstream into output whose record says it was made from the committed bytes."""
    record = read_json(record_path)
    rel = storage.relative(path, root)
    expected = ((record or {}).get("files") or {}).get(rel)
    if expected is None:
        return f"{rel} has no commit record"
    if storage.sha256(path) != expected["sha256"]:
        return f"{rel} does not match its committed checksum (changed after it was written; --verify recomputes it)"
    return ""


def sweep(root: str, folders: Iterable[str], keep: set[str], keep_dirs: Iterable[str] = ()) -> list[str]:
    """Delete every file in `folders` (relative to `root`) whose path relative to `root` is not in `keep` and that
    lies in no folder of `keep_dirs`; returns what was deleted (relative paths, sorted)."""
    removed = stale_files(root, folders, keep, keep_dirs)
    for rel in removed:
        storage.remove(storage.join(root, rel))
    return removed


def stale_files(root: str, folders: Iterable[str], keep: set[str], keep_dirs: Iterable[str] = ()) -> list[str]:
    """What `sweep` would delete, without deleting it (for `curate run --dry-run`)."""
    kept_dirs = tuple(d.rstrip("/") + "/" for d in keep_dirs)
    found = sorted(storage.join(folder, rel) for folder in folders
                   for rel in storage.list_files(storage.join(root, folder)))
    return [rel for rel in found if rel not in keep and not rel.startswith(kept_dirs)]
