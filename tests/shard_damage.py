"""Damaging a copy of token shards in the ways a disk or a hand edit can: a flipped byte, a cut file, a wrong count."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from curate.shards import manifest_path

DAMAGES = ["flip", "truncate", "count"]


def copy_shards(shards: Path, into: Path) -> Path:
    """Copy a tokenize node's shard folder to `into`, with its manifest and tokenizer (kept in the workdir's
    `_curate/<node>/`, curate/layout.py)."""
    shutil.copytree(shards, into)
    shutil.copytree(Path(manifest_path(str(shards))).parent, Path(manifest_path(str(into))).parent)
    return into


def damaged_copy(shards: Path, into: Path, damage: str) -> Path:
    """Copy the shard folder `shards` to `into` and damage its first shard (or the manifest's count for it)."""
    copy_shards(shards, into)
    first = into / "shard-00000.parquet"
    if damage == "flip":
        data = bytearray(first.read_bytes())
        data[len(data) // 2] ^= 0xFF
        first.write_bytes(bytes(data))
    elif damage == "truncate":
        first.write_bytes(first.read_bytes()[:1000])
    else:
        manifest_file = Path(manifest_path(str(into)))
        manifest = json.loads(manifest_file.read_text())
        manifest["shards"][0]["documents"] += 1
        manifest_file.write_text(json.dumps(manifest))
    return into
