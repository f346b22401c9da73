"""Damaging a copy of token shards in the ways a disk or a hand edit can: a flipped byte, a cut file, a wrong count."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

DAMAGES = ["flip", "truncate", "count"]


def damaged_copy(shards: Path, into: Path, damage: str) -> Path:
    """Copy the shard folder `shards` to `into` and damage its first shard (or the manifest's count for it)."""
    shutil.copytree(shards, into)
    first = into / "shard-00000.parquet"
    if damage == "flip":
        data = bytearray(first.read_bytes())
        data[len(data) // 2] ^= 0xFF
        first.write_bytes(bytes(data))
    elif damage == "truncate":
        first.write_bytes(first.read_bytes()[:1000])
    else:
        manifest = json.loads((into / "manifest.json").read_text())
        manifest["shards"][0]["documents"] += 1
        (into / "manifest.json").write_text(json.dumps(manifest))
    return into
